//! `demo`: a small measured workload, logged through the library into the embedded default
//! sink (a line protocol file), to show what the library records.

use std::hint::black_box;
use std::path::Path;

use influxdb_datalogger::{
    fields, tags, DataLogger, Field, LineProtocolFileWriter, Measurement, MemoryWriter, Result,
    Tag, Timestamp,
};

/// The host name, for the `host` tag (asked of the system: `gethostname` on Unix,
/// `GetComputerNameExW` on Windows); "unknown" where it is empty.
pub fn host_name() -> String {
    let name = gethostname::gethostname();
    let name = name.to_string_lossy();
    let name = name.trim();
    if name.is_empty() {
        "unknown".to_string()
    } else {
        name.to_string()
    }
}

/// What the demo logged.
#[derive(Debug)]
pub struct DemoReport {
    /// The line protocol written, points then events.
    pub line_protocol: String,
    /// Points written.
    pub points: usize,
    /// Events written.
    pub events: usize,
}

/// Sorts vectors of a few sizes with two algorithms, `rounds` times each, timing every sort,
/// and appends the points and one event for the whole run to `path`.
pub fn run(path: &Path, rounds: u32) -> Result<DemoReport> {
    let sort = Measurement::builder("demo_sort")
        .description("time to sort a vector of pseudo-random u64s")
        .field(Field::new("duration").with_description("seconds"))
        .field(Field::new("items"))
        .tag(Tag::new("algorithm"))
        .tag(Tag::new("size"))
        .tag(Tag::new("host").with_func(host_name))
        .optional_tag(Tag::new("outcome"))
        .build()?;
    let memory = MemoryWriter::new();
    let logger = DataLogger::builder()
        .writer(LineProtocolFileWriter::new(path))
        .writer(memory.clone())
        .build();

    let started = Timestamp::now();
    for round in 0..rounds {
        for size in [1_000usize, 10_000, 100_000] {
            let data = pseudo_random(size, u64::from(round) + size as u64);
            let size_tag = size.to_string();
            for algorithm in ["stable", "unstable"] {
                let mut copy = data.clone();
                logger
                    .timer(&sort, "duration")
                    .tags(tags!("algorithm" => algorithm, "size" => size_tag))
                    .fields(fields!("items" => size))
                    .outcome_tag("outcome")
                    .run(|| {
                        if algorithm == "stable" {
                            copy.sort();
                        } else {
                            copy.sort_unstable();
                        }
                        black_box(&copy);
                    })?;
            }
        }
    }
    let summary = Measurement::builder("demo_run")
        .field(Field::new("sorts"))
        .tag(Tag::new("host").with_func(host_name))
        .build()?;
    logger.log(&summary, fields!("sorts" => i64::from(rounds) * 6), tags!())?;
    logger.log_event(
        "demo_run",
        started,
        Timestamp::now(),
        tags!("host" => host_name()),
    )?;
    logger.close()?;

    let mut line_protocol =
        String::from_utf8(memory.line_protocol()).expect("encoder writes UTF-8");
    let events: Vec<u8> = memory.events().iter().try_fold(Vec::new(), |mut out, e| {
        e.encode(&mut out, logger.precision()).map(|()| out)
    })?;
    line_protocol.push_str(&String::from_utf8(events).expect("encoder writes UTF-8"));
    Ok(DemoReport {
        line_protocol,
        points: memory.entries().len(),
        events: memory.events().len(),
    })
}

/// A deterministic xorshift sequence: the demo needs unsorted data, not good randomness.
fn pseudo_random(len: usize, seed: u64) -> Vec<u64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_host_name_is_the_systems_without_surrounding_space() {
        let name = super::host_name();
        assert!(!name.is_empty() && name.trim() == name, "{name:?}");
        #[cfg(target_os = "linux")]
        assert_eq!(
            name,
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap()
                .trim()
        );
    }
}
