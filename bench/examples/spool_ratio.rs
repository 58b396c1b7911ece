//! `log()` with a spool against `log()` without, measured in alternating chunks in one process,
//! so that the machine's pace drifting between two separate benchmarks does not move the ratio:
//! `cargo run --release --example spool_ratio -- [rounds] [chunk] [dir]`.
//!
//! Each round times `chunk` calls on the plain logger and `chunk` on the spooled one (which goes
//! first alternates), each logger emptied by `write_data()` outside the timing, as the criterion
//! benchmarks do. Prints the median ns per call of each and the median of the per-round ratios.

use influxdb_datalogger::{DataLogger, SpoolOptions};
use influxdb_datalogger_bench::{log_point, timed_in_chunks, Discard};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(60, |s| s.parse().unwrap());
    let chunk: u64 = args.next().map_or(100_000, |s| s.parse().unwrap());
    let dir: std::path::PathBuf = args.next().map_or_else(
        || std::env::temp_dir().join(format!("datalogger-spool-ratio-{}", std::process::id())),
        Into::into,
    );
    let m = influxdb_datalogger_bench::two_tags_two_fields("bench");
    let plain = DataLogger::builder().writer(Discard).build();
    let spooled = DataLogger::builder()
        .writer(Discard)
        .spool(SpoolOptions::new(&dir))
        .build();
    let mut value = 0.001_234_567_f64;
    let mut time_chunk = |logger: &DataLogger| {
        let elapsed = timed_in_chunks(logger, chunk, || {
            value += 1e-9;
            log_point(logger, &m, value);
        });
        elapsed.as_nanos() as f64 / chunk as f64
    };
    // Warm up both (first segments, buffers).
    time_chunk(&plain);
    time_chunk(&spooled);
    let (mut plain_ns, mut spooled_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (p, s) = if round % 2 == 0 {
            let p = time_chunk(&plain);
            (p, time_chunk(&spooled))
        } else {
            let s = time_chunk(&spooled);
            (time_chunk(&plain), s)
        };
        plain_ns.push(p);
        spooled_ns.push(s);
        ratios.push(s / p);
    }
    println!(
        "plain {:.1} ns, spooled {:.1} ns per log() (medians of {rounds} rounds of {chunk}); spooled/plain {:.3} (median of the rounds' ratios; quartiles {:.3}–{:.3})",
        median(&mut plain_ns),
        median(&mut spooled_ns),
        median(&mut ratios),
        quantile(&mut ratios, 0.25),
        quantile(&mut ratios, 0.75),
    );
    drop(spooled);
    let _ = std::fs::remove_dir_all(&dir);
}

fn median(values: &mut [f64]) -> f64 {
    quantile(values, 0.5)
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}
