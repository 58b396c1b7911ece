//! An allocation and its free through the system allocator: the baseline of
//! `test_attribute_memory`'s counting allocator.
//!
//! `cargo run --release --example plain_allocation` (from `bench/`).

fn main() {
    influxdb_datalogger_bench::allocation_cost("the system allocator");
}
