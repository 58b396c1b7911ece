//! A fixed loop of `log` calls with or without a spool, for timing and instruction-level
//! profiling: `cargo run --release --example spool_loop -- [n] [spool|plain] [dir] [fsync]
//! [continuous] [slowest]`, fsync being `never`, `batch` or a period like `100ms`, continuous
//! `0` or `1` (every point handed over at once, as with `continuous_write`), slowest `1` to time
//! each call as well and print the slowest and how many took over a millisecond (costs a clock
//! read per call).

use std::time::Instant;

use influxdb_datalogger::{DataLogger, SpoolOptions};
use influxdb_datalogger_bench::{log_point, Discard};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().map_or(1_000_000, |s| s.parse().unwrap());
    let spooled = args.next().is_none_or(|mode| mode == "spool");
    let dir: std::path::PathBuf = args.next().map_or_else(
        || std::env::temp_dir().join("datalogger-spool-loop"),
        Into::into,
    );
    let fsync = args.next().unwrap_or_else(|| "never".into());
    let continuous = args.next().is_some_and(|c| c == "1");
    let time_each = args.next().is_some_and(|c| c == "1");
    let m = influxdb_datalogger_bench::two_tags_two_fields("bench");
    let mut builder = DataLogger::builder()
        .writer(Discard)
        .continuous_write(continuous);
    if spooled {
        let options = SpoolOptions::parse(&format!("{}?fsync={fsync}", dir.display())).unwrap();
        builder = builder.spool(options);
    }
    let logger = builder.build();
    let mut value = 0.001_234_567_f64;
    let mut slowest = std::time::Duration::ZERO;
    let mut over_a_millisecond = 0u32;
    let started = Instant::now();
    for i in 0..n {
        value += 1e-9;
        if time_each {
            let call = Instant::now();
            log_point(&logger, &m, value);
            let took = call.elapsed();
            slowest = slowest.max(took);
            over_a_millisecond += u32::from(took.as_micros() > 1_000);
        } else {
            log_point(&logger, &m, value);
        }
        if i % 100_000 == 99_999 {
            logger.write_data().unwrap();
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{} ns per log ({}, fsync {fsync}, continuous write {continuous}){}",
        elapsed.as_nanos() / u128::from(n),
        if spooled { "spooled" } else { "plain" },
        if time_each {
            format!(
                "; slowest {:.2} ms, {over_a_millisecond} calls over 1 ms",
                slowest.as_secs_f64() * 1e3
            )
        } else {
            String::new()
        }
    );
    drop(logger);
    let _ = std::fs::remove_dir_all(&dir);
}
