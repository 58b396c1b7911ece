//! Benchmarks live in `benches/` and `examples/`; what they share lives here.

use influxdb_datalogger::{Field, Measurement, Tag};

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
