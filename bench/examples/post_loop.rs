//! Posts one pre-encoded 5,000-line body N times through InfluxDBWriter (no background):
//! `cargo run --release --example post_loop -- URL [N]`. For comparing the client's cost per
//! request with a bare HTTP client.

use std::time::Instant;

use influxdb_datalogger::{Batch, DatabaseWriter, InfluxConfig, InfluxDBWriter, Precision};

fn main() {
    let url = std::env::args().nth(1).expect("URL");
    let n: usize = std::env::args().nth(2).map_or(200, |s| s.parse().unwrap());
    let lines: Vec<Vec<u8>> = (0..5000)
        .map(|i| {
            format!(
                "post_loop,host=h{},case=c{} duration={},count={i}i {}\n",
                i % 10,
                i / 10 % 10,
                i as f64 / 1e6,
                1_700_000_000_000_000_000i64 + i
            )
            .into_bytes()
        })
        .collect();
    let batch = Batch::from_lines(lines.iter().map(Vec::as_slice), Precision::Nanoseconds)
        .expect("the lines are well-formed");
    let mut config = InfluxConfig::new(url);
    config.database = Some("b".into());
    config.gzip_threshold = None;
    let mut writer = InfluxDBWriter::new(config).unwrap();
    let started = Instant::now();
    for _ in 0..n {
        writer.write_data(&batch).unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "{n} requests: {:.3} ms each, {:.0} points/s",
        elapsed.as_secs_f64() * 1e3 / n as f64,
        (n * 5000) as f64 / elapsed.as_secs_f64()
    );
}
