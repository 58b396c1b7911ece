//! A fixed loop of empty `measure_block`s for instruction-level profiling
//! (`valgrind --tool=callgrind`): `cargo run --release --example measure_block_loop -- [n]`.

use influxdb_datalogger::{tags, DataLogger};
use influxdb_datalogger_bench::{CASE, HOST};

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().unwrap());
    let block = influxdb_datalogger_bench::block_timing();
    let logger = DataLogger::builder().build();
    for i in 0..n {
        let _guard = logger
            .measure_block(&block, "duration", tags!("host" => HOST, "case" => CASE))
            .unwrap();
        // Keep the pending store small, as a test suite that writes now and then would.
        if i % 10_000 == 0 {
            logger.write_data().unwrap();
        }
    }
}
