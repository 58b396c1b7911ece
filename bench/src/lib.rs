//! Benchmarks live in `benches/` and `examples/`; what they share lives here.

use std::hint::black_box;
use std::time::{Duration, Instant};

use influxdb_datalogger::{
    fields, tags, Batch, DataLogger, DatabaseWriter, Field, FieldValue, Measurement, Precision,
    Tag, Timestamp,
};

/// The point every benchmark encodes or logs: these tag values and this timestamp (ns), so
/// that the criterion figures and the callgrind loops measure the same work.
pub const HOST: &str = "ci-runner-07";
/// See [`HOST`].
pub const CASE: &str = "test_login_roundtrip";
/// See [`HOST`].
pub const TIMESTAMP_NS: i64 = 1_764_000_000_123_456_789;

/// What a benchmark passes for one point besides its names and the float: [`HOST`], [`CASE`],
/// the count 3 and [`TIMESTAMP_NS`], each through `black_box`, so that no encoder, once
/// inlined into the benchmark loop, formats them at compile time. (Names stay literals, as at
/// real call sites.)
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    /// The `host` tag's value.
    pub host: &'static str,
    /// The `case` tag's value.
    pub case: &'static str,
    /// The `count` field's value.
    pub count: i64,
    /// The point's timestamp, in nanoseconds.
    pub timestamp_ns: i64,
}

/// The [`Inputs`] of one point, opaque to the optimiser.
#[inline(always)]
pub fn inputs() -> Inputs {
    Inputs {
        host: black_box(HOST),
        case: black_box(CASE),
        count: black_box(3),
        timestamp_ns: black_box(TIMESTAMP_NS),
    }
}

/// The measurement every benchmark logs: 2 fields (`duration`, `count`), 2 tags (`host`,
/// `case`), as in the issues' targets.
pub fn two_tags_two_fields(name: &str) -> Measurement {
    Measurement::builder(name)
        .field(Field::new("duration"))
        .field(Field::new("count"))
        .tag(Tag::new("host"))
        .tag(Tag::new("case"))
        .build()
        .unwrap()
}

/// The measurement the `measure_block` benchmarks time into: `duration` and the same 2 tags.
pub fn block_timing() -> Measurement {
    Measurement::builder("block")
        .field(Field::new("duration"))
        .tag(Tag::new("host"))
        .tag(Tag::new("case"))
        .build()
        .unwrap()
}

/// Encodes the benchmarked point (see [`Inputs`]) of `measurement` (a [`two_tags_two_fields`])
/// into `buf`, with `duration` = `value`.
#[inline]
pub fn encode_point(measurement: &Measurement, buf: &mut Vec<u8>, value: f64) {
    let inputs = inputs();
    measurement
        .encode(
            buf,
            &[
                ("duration", FieldValue::Float(value)),
                ("count", FieldValue::Int(inputs.count)),
            ],
            &[("host", inputs.host), ("case", inputs.case)],
            Timestamp::from_nanos(inputs.timestamp_ns),
            Precision::Nanoseconds,
        )
        .unwrap();
}

/// Logs the benchmarked point (see [`Inputs`]) of `measurement` (a [`two_tags_two_fields`]),
/// with `duration` = `value`, timestamped now.
#[inline]
pub fn log_point(logger: &DataLogger, measurement: &Measurement, value: f64) {
    let inputs = inputs();
    logger
        .log(
            measurement,
            fields!("duration" => value, "count" => inputs.count),
            tags!("host" => inputs.host, "case" => inputs.case),
        )
        .unwrap();
}

/// Discards what it is given, so that `write_data` only empties the logger.
#[derive(Debug)]
pub struct Discard;

impl DatabaseWriter for Discard {
    fn write_data(&mut self, batch: &Batch) -> influxdb_datalogger::Result<()> {
        std::hint::black_box(batch.line_protocol().len());
        Ok(())
    }
}

/// Times `iters` calls of `op`, emptying the logger (untimed) every 100,000 calls so that the
/// measurement does not include an ever-growing buffer.
pub fn timed_in_chunks(logger: &DataLogger, iters: u64, mut op: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(100_000);
        let start = Instant::now();
        for _ in 0..chunk {
            op();
        }
        total += start.elapsed();
        logger.write_data().unwrap();
        left -= chunk;
    }
    total
}

/// Median, min and max nanoseconds per call of `run` over 15 rounds of `n` calls.
pub fn nanos_per_call(n: u32, mut run: impl FnMut(u32)) -> (f64, f64, f64) {
    let mut rounds = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        for i in 0..n {
            run(i);
        }
        rounds.push(started.elapsed().as_nanos() as f64 / f64::from(n));
    }
    rounds.sort_by(f64::total_cmp);
    (rounds[7], rounds[0], rounds[14])
}

/// What `#[influxdb_datalogger::test]` adds to an empty test, per test, into a line protocol
/// file in a directory of its own; `resources` turns on `INFLUXDB_DATALOGGER_RESOURCES`.
/// Prints the figures under `label`.
pub fn attribute_overhead(label: &str, resources: bool) {
    use influxdb_datalogger::testing::TestRun;
    let dir = std::env::temp_dir().join(format!("attribute-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::env::set_var("CARGO_TARGET_DIR", &dir);
    if resources {
        std::env::set_var("INFLUXDB_DATALOGGER_RESOURCES", "1");
    }
    // The first test makes the process's logger: not part of a test's cost.
    TestRun::start("bench", "warm_up", false).finish(&());
    // On a thread named as libtest names a test's thread.
    let (median, min, max) = std::thread::Builder::new()
        .name("module::a_test_with_a_name".into())
        .spawn(|| {
            nanos_per_call(20_000, |_| {
                TestRun::start("bench::module", "a_test_with_a_name", false).finish(&());
            })
        })
        .unwrap()
        .join()
        .unwrap();
    println!("per test{label}: median {median:.0} ns (min {min:.0}, max {max:.0}) over 15 rounds of 20,000");
    let _ = std::fs::remove_dir_all(dir);
}

/// An allocation of 64 to 127 bytes and its free, through the global allocator; prints the
/// median under `label`.
pub fn allocation_cost(label: &str) {
    let (median, _, _) = nanos_per_call(1_000_000, |i| {
        drop(black_box(Vec::<u8>::with_capacity(64 + (i as usize & 63))));
    });
    println!("allocation + free through {label}: median {median:.1} ns");
}
