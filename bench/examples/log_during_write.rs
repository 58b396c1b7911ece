//! How long another thread's `log()` can stall while `write_data()` hands a large backlog to the
//! writers: `cargo run --release --example log_during_write -- [points]`. Prints the slowest
//! `log()` seen while one write of `points` points runs, and the write's own time. With
//! `spool` as a second argument the logger spools (in a fresh directory under the temp dir), so
//! the write also releases the segments the points filled.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use influxdb_datalogger::{fields, tags, DataLogger, MemoryWriter, SpoolOptions};

const WAITING: u8 = 0;
const WRITING: u8 = 1;
const DONE: u8 = 2;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |s| s.parse().unwrap());
    let spooled = std::env::args().nth(2).is_some_and(|mode| mode == "spool");
    let m = influxdb_datalogger_bench::two_tags_two_fields("stall");
    let mut builder = DataLogger::builder().writer(MemoryWriter::new());
    let dir = std::env::temp_dir().join(format!("datalogger-stall-{}", std::process::id()));
    if spooled {
        builder = builder.spool(SpoolOptions::parse(&dir.display().to_string()).unwrap());
    }
    let logger = Arc::new(builder.build());
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
    // The other thread starts logging the moment the write starts: before, its own points
    // would grow the pending store (reallocating ~90 MB under the lock), which is not the
    // stall measured here.
    let phase = Arc::new(AtomicU8::new(WAITING));
    let other = {
        let (logger, m, phase) = (Arc::clone(&logger), m.clone(), Arc::clone(&phase));
        std::thread::spawn(move || {
            while phase.load(Ordering::Acquire) == WAITING {
                std::hint::spin_loop();
            }
            let mut slowest = Duration::ZERO;
            while phase.load(Ordering::Acquire) == WRITING {
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
    std::thread::sleep(Duration::from_millis(20));
    phase.store(WRITING, Ordering::Release);
    let started = Instant::now();
    logger.write_data().unwrap();
    let write = started.elapsed();
    phase.store(DONE, Ordering::Release);
    let slowest = other.join().unwrap();
    drop(logger);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "write_data() of {n} points{}: {:.1} ms; slowest log() on another thread meanwhile: {:.2} ms",
        if spooled { ", spooled" } else { "" },
        write.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3
    );
}
