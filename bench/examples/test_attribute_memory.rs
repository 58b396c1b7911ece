//! `test_attribute_overhead` with the [`CountingAllocator`] as the global allocator: each test
//! also records the memory fields (`alloc_bytes`, `peak_bytes`), and every allocation of the
//! process is counted; with `resources`, the CPU time too. And what the allocator adds to an
//! allocation (against `plain_allocation`).
//!
//! `cargo run --release --example test_attribute_memory [-- resources]` (from `bench/`).

use influxdb_datalogger::testing::CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

fn main() {
    let resources = std::env::args().any(|a| a == "resources");
    let label = if resources {
        " (memory and CPU time)"
    } else {
        " (memory)"
    };
    influxdb_datalogger_bench::attribute_overhead(label, resources);
    influxdb_datalogger_bench::allocation_cost("CountingAllocator");
}
