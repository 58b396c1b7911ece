//! A fixed loop of encodes for instruction-level profiling (`valgrind --tool=callgrind`):
//! `cargo run --release --example encode_loop -- ours|questdb [iterations]`.

use std::hint::black_box;

use influxdb_datalogger_bench::{encode_point, inputs};

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "ours".into());
    let n: u64 = std::env::args()
        .nth(2)
        .map_or(100_000, |s| s.parse().unwrap());
    let m = influxdb_datalogger_bench::two_tags_two_fields("time-taken");
    let mut value = 0.001_234_567_f64;
    match which.as_str() {
        "ours" => {
            let mut buf = Vec::with_capacity(256);
            for _ in 0..n {
                buf.clear();
                value += 1e-9;
                encode_point(&m, &mut buf, value);
                black_box(&buf);
            }
        }
        "questdb" => {
            let mut buf = questdb::ingress::Buffer::new(questdb::ingress::ProtocolVersion::V1);
            for _ in 0..n {
                buf.clear();
                value += 1e-9;
                let inputs = inputs();
                buf.table("time-taken")
                    .unwrap()
                    .symbol("host", inputs.host)
                    .unwrap()
                    .symbol("case", inputs.case)
                    .unwrap()
                    .column_f64("duration", value)
                    .unwrap()
                    .column_i64("count", inputs.count)
                    .unwrap()
                    .at(questdb::ingress::TimestampNanos::new(inputs.timestamp_ns))
                    .unwrap();
                black_box(buf.as_bytes());
            }
        }
        "floor" => {
            // The same line from pre-escaped pieces with the same primitives and no schema work:
            // what any encoder must at least spend.
            let mut buf = Vec::with_capacity(256);
            for _ in 0..n {
                buf.clear();
                value += 1e-9;
                let inputs = inputs();
                buf.extend_from_slice(b"time-taken,case=");
                buf.extend_from_slice(inputs.case.as_bytes());
                buf.extend_from_slice(b",host=");
                buf.extend_from_slice(inputs.host.as_bytes());
                buf.extend_from_slice(b" duration=");
                buf.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
                buf.extend_from_slice(b",count=");
                buf.extend_from_slice(itoa::Buffer::new().format(inputs.count).as_bytes());
                buf.extend_from_slice(b"i ");
                buf.extend_from_slice(itoa::Buffer::new().format(inputs.timestamp_ns).as_bytes());
                buf.push(b'\n');
                black_box(&buf);
            }
        }
        other => panic!("unknown {other}"),
    }
}
