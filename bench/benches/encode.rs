//! Encoding one point (2 tags, 2 fields, a timestamp) with this crate and with its peers, and
//! the cost of `log()` and `measure_block` through the DataLogger. Run with `make bench`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use influxdb_datalogger::{tags, DataLogger, Measurement, SpoolOptions};

const MEASUREMENT: &str = "time-taken";
use influxdb_datalogger_bench::{
    encode_point, inputs, log_point, timed_in_chunks, Discard, CASE, HOST,
};

fn schema() -> Measurement {
    influxdb_datalogger_bench::two_tags_two_fields(MEASUREMENT)
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_point");
    let m = schema();
    let mut value = 0.001_234_567_f64;

    group.bench_function("influxdb-datalogger Measurement::encode", |b| {
        let mut buf = Vec::with_capacity(256);
        b.iter(|| {
            buf.clear();
            value += 1e-9;
            encode_point(&m, &mut buf, value);
            black_box(&buf);
        })
    });

    group.bench_function("questdb-rs Buffer", |b| {
        let mut buf = questdb::ingress::Buffer::new(questdb::ingress::ProtocolVersion::V1);
        b.iter(|| {
            buf.clear();
            value += 1e-9;
            let inputs = inputs();
            buf.table(MEASUREMENT)
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
        })
    });

    group.bench_function("influxdb-line-protocol LineProtocolBuilder", |b| {
        let mut buf = Vec::with_capacity(256);
        b.iter(|| {
            buf.clear();
            value += 1e-9;
            let inputs = inputs();
            buf = influxdb_line_protocol::LineProtocolBuilder::new_with(std::mem::take(&mut buf))
                .measurement(MEASUREMENT)
                .tag("case", inputs.case)
                .tag("host", inputs.host)
                .field("duration", value)
                .field("count", inputs.count)
                .timestamp(inputs.timestamp_ns)
                .close_line()
                .build();
            black_box(&buf);
        })
    });

    group.bench_function("influxdb WriteQuery", |b| {
        use influxdb::Query;
        b.iter(|| {
            value += 1e-9;
            let inputs = inputs();
            let query = influxdb::WriteQuery::new(
                influxdb::Timestamp::Nanoseconds(inputs.timestamp_ns as u128),
                MEASUREMENT,
            )
            .add_tag("host", inputs.host)
            .add_tag("case", inputs.case)
            .add_field("duration", value)
            .add_field("count", inputs.count);
            black_box(query.build().unwrap());
        })
    });
    group.finish();
}

fn logger(c: &mut Criterion) {
    let mut group = c.benchmark_group("datalogger");
    let m = schema();
    let logger = DataLogger::builder().writer(Discard).build();
    let mut value = 0.001_234_567_f64;

    group.bench_function("log (2 tags, 2 fields, now)", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(&logger, iters, || {
                value += 1e-9;
                log_point(&logger, &m, value);
            })
        })
    });

    // The same, with every point appended to a spool segment before it is stored.
    let spool_dir =
        std::env::temp_dir().join(format!("datalogger-bench-spool-{}", std::process::id()));
    let spooled = DataLogger::builder()
        .writer(Discard)
        .spool(SpoolOptions::new(&spool_dir))
        .build();
    group.bench_function("log (2 tags, 2 fields, now), spooled", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(&spooled, iters, || {
                value += 1e-9;
                log_point(&spooled, &m, value);
            })
        })
    });
    drop(spooled);
    let _ = std::fs::remove_dir_all(&spool_dir);

    let timing = influxdb_datalogger_bench::block_timing();
    group.bench_function("measure_block (empty block)", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(&logger, iters, || {
                let _guard = logger
                    .measure_block(&timing, "duration", tags!("host" => HOST, "case" => CASE))
                    .unwrap();
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = encode, logger
}
criterion_main!(benches);
