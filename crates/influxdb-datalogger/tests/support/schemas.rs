//! The measurements and loggers the logger tests share.

#![allow(dead_code)] // each test crate uses part of it

use influxdb_datalogger::{DataLogger, Field, FieldValue, Measurement, MemoryWriter, Tag};

pub fn time_taken() -> Measurement {
    Measurement::builder("time-taken")
        .field(Field::new("duration"))
        .tag(Tag::new("identifier"))
        .optional_tag(Tag::new("outcome"))
        .build()
        .unwrap()
}

pub fn throughput() -> Measurement {
    Measurement::builder("throughput")
        .field(Field::new("mbps"))
        .field(Field::new("samples").with_default(1))
        .tag(Tag::new("link"))
        .build()
        .unwrap()
}

pub fn logger_with_memory() -> (DataLogger, MemoryWriter) {
    let memory = MemoryWriter::new();
    (DataLogger::builder().writer(memory.clone()).build(), memory)
}

pub fn continuous_logger_with_memory() -> (DataLogger, MemoryWriter) {
    let memory = MemoryWriter::new();
    let logger = DataLogger::builder()
        .writer(memory.clone())
        .continuous_write(true)
        .build();
    (logger, memory)
}

pub fn durations(entries: &[influxdb_datalogger::DataEntry]) -> Vec<f64> {
    entries
        .iter()
        .map(|e| e.field("duration").and_then(FieldValue::as_f64).unwrap())
        .collect()
}
