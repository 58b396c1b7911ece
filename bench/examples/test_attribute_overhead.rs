//! What `#[influxdb_datalogger::test]` adds to a test: `TestRun::start` and `finish` around an
//! empty body, the point handed to the background writer (a line protocol file here), per test.
//!
//! `cargo run --release --example test_attribute_overhead` (from `bench/`).

use std::time::Instant;

use influxdb_datalogger::testing::TestRun;

fn main() {
    let dir = tempfile_dir();
    std::env::set_var("CARGO_TARGET_DIR", &dir);
    // The first test makes the process's logger: not part of a test's cost.
    TestRun::start("bench", "warm_up", false).finish(&());
    let mut per_test = Vec::new();
    for _ in 0..15 {
        let n = 20_000;
        let started = Instant::now();
        for _ in 0..n {
            let run = TestRun::start("bench::module", "a_test_with_a_name", false);
            run.finish(&());
        }
        per_test.push(started.elapsed().as_nanos() as f64 / f64::from(n));
    }
    per_test.sort_by(f64::total_cmp);
    println!(
        "per test: median {:.0} ns (min {:.0}, max {:.0}) over 15 rounds of 20,000",
        per_test[7], per_test[0], per_test[14]
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("attribute-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
