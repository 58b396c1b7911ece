//! How long another thread's `log()` can stall while `write_data()` hands a large backlog to the
//! writers: `cargo run --release --example log_during_write -- [points]`. Prints the slowest
//! `log()` seen while one write of `points` points runs, and the write's own time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use influxdb_datalogger::{fields, tags, DataLogger, MemoryWriter};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |s| s.parse().unwrap());
    let m = influxdb_datalogger_bench::two_tags_two_fields("stall");
    let logger = Arc::new(DataLogger::builder().writer(MemoryWriter::new()).build());
    for i in 0..n {
        let host = format!("h{}", i % 10);
        logger
            .log(
                &m,
                fields!("duration" => i as f64 / 1e6, "count" => i as i64),
                tags!("host" => host.as_str(), "case" => "c"),
            )
            .unwrap();
    }
    let writing = Arc::new(AtomicBool::new(true));
    let other = {
        let (logger, m, writing) = (Arc::clone(&logger), m.clone(), Arc::clone(&writing));
        std::thread::spawn(move || {
            let mut slowest = Duration::ZERO;
            while writing.load(Ordering::Relaxed) {
                let started = Instant::now();
                logger
                    .log(
                        &m,
                        fields!("duration" => 0.5, "count" => 1i64),
                        tags!("host" => "other", "case" => "c"),
                    )
                    .unwrap();
                slowest = slowest.max(started.elapsed());
            }
            slowest
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    logger.write_data().unwrap();
    let write = started.elapsed();
    writing.store(false, Ordering::Relaxed);
    let slowest = other.join().unwrap();
    println!(
        "write_data() of {n} points: {:.1} ms; slowest log() on another thread meanwhile: {:.2} ms",
        write.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3
    );
}
