//! What `#[influxdb_datalogger::test]` adds to a test: `TestRun::start` and `finish` around an
//! empty body, the point handed to the background writer (a line protocol file here), per test.
//! With `resources` as its argument, with `INFLUXDB_DATALOGGER_RESOURCES=1`: the thread's CPU
//! time read at the start and the end of each test, and recorded. (The memory fields, with the
//! counting allocator: `test_attribute_memory`.)
//!
//! `cargo run --release --example test_attribute_overhead [-- resources]` (from `bench/`).

fn main() {
    let resources = std::env::args().any(|a| a == "resources");
    let label = if resources { " (with CPU time)" } else { "" };
    influxdb_datalogger_bench::attribute_overhead(label, resources);
}
