//! Record measurements from tests — durations, throughputs, counts — tagged with their
//! circumstances, and deliver them to InfluxDB (or any line-protocol sink), with events that
//! Grafana shows as annotations.
//!
//! ```
//! use influxdb_datalogger::{fields, tags, DataLogger, Field, LineProtocolFileWriter, Measurement, Tag};
//!
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("points.lp");
//! let request = Measurement::builder("request")
//!     .field(Field::new("duration"))
//!     .field(Field::new("bytes").with_default(0))
//!     .tag(Tag::new("endpoint"))
//!     .tag(Tag::new("host").with_func(|| "ci-runner-7"))
//!     .build()?;
//! let logger = DataLogger::builder().writer(LineProtocolFileWriter::new(&path)).build();
//!
//! logger.log(&request, fields!("duration" => 0.012, "bytes" => 512), tags!("endpoint" => "/login"))?;
//! {
//!     let _timing = logger.measure_block(&request, "duration", tags!("endpoint" => "/logout"))?;
//!     // … the code being measured …
//! }
//! logger.write_data()?;
//!
//! let written = std::fs::read_to_string(&path)?;
//! assert!(written.starts_with("request,endpoint=/login,host=ci-runner-7 duration=0.012,bytes=512i "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Rules that hold everywhere
//!
//! - **A point that cannot be written is refused at `log()`**: a field without a value, a
//!   required tag without one, a value line protocol cannot carry, an integer the target cannot
//!   store. The error names the measurement and the field or tag; nothing is stored, and
//!   nothing logged before or after it is held back. The Python package and its pytest plugin
//!   follow the same rule.
//! - **Forked processes make their own logger.** `fork()` copies only the calling thread: in the
//!   child, a logger made before the fork has no delivery threads, and its spool is the
//!   parent's. Such a copy ([`DataLogger::is_forked_copy`]) refuses every call with
//!   [`ErrorKind::ForkedProcess`], and dropping it leaves the parent's files and threads alone;
//!   build a new logger in the child. (The Python bindings do that for you at the child's first
//!   use of an inherited logger.)
//! - **Dropping a logger delivers.** A [`BackgroundWriter`] sends on a thread of its own; when
//!   the logger is dropped (the end of `main`), it hands over what is pending and waits up to
//!   [`DROP_FLUSH_TIMEOUT`] for the writers to deliver, saying on stderr what they could not
//!   (with a spool, that stays on disk for the next run). [`DataLogger::close`] does the same
//!   and returns the error instead.

// Every fallible or panicking public function says when, in its documentation.
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

mod conn_str;
pub mod dashboard;
pub mod delivery;
mod entry;
mod error;
mod fork;
#[cfg(feature = "http")]
mod grafana;
#[cfg(feature = "http")]
mod http;
mod logger;
pub mod measure;
pub mod regress;
pub mod report;
mod schema;
pub mod spool;
mod stats;
mod store;
pub mod summary;
#[cfg(feature = "macros")]
pub mod testing;
mod value;
mod writer;

pub mod influx;
pub mod line_protocol;
#[cfg(feature = "http")]
pub mod read;

#[doc(hidden)] // a formatting helper the command line shares, not part of the API
pub use conn_str::parse_duration;
pub use delivery::human_duration;
pub use delivery::{flush_detached, BackgroundWriter, DeliveryOptions, DeliveryStats, RetryPolicy};
pub use entry::{Batch, DataEntry, Event, EVENTS_MEASUREMENT};
pub use error::{shorten, Error, ErrorKind, Result};
#[cfg(feature = "http")]
pub use grafana::GrafanaAnnotationWriter;
#[cfg(feature = "http")]
pub use influx::InfluxDBWriter;
pub use influx::{Api, InfluxConfig, Secret};
/// `#[influxdb_datalogger::test]`: `#[test]` that records one point per test (see [`testing`]).
#[cfg(feature = "macros")]
pub use influxdb_datalogger_macros::test;
pub use logger::{DataLogger, DataLoggerBuilder, Entries, DROP_FLUSH_TIMEOUT};
pub use measure::{BlockGuard, Outcome, Timer};
pub use schema::{
    Field, FieldArg, FieldInput, FieldType, IntoFieldArg, Measurement, MeasurementBuilder, Tag,
    TagInput,
};
pub use spool::{
    inventory as spool_inventory, Adopt, Damage, Fsync, OnFull, OwnerSummary, ReplayReport,
    SpoolFromEnv, SpoolLink, SpoolMark, SpoolOptions, SpoolStats, DEFAULT_SPOOL_DIR, SPOOL_ENV,
};
pub use stats::{Stats, WriterStats};
pub use value::{FieldValue, Precision, Timestamp};
pub use writer::{DatabaseWriter, JsonLinesFileWriter, LineProtocolFileWriter, MemoryWriter};

/// Field values for a log call: `fields!("duration" => 0.5, "count" => 3)`.
///
/// Expands to a slice of [`FieldArg`]s. A value is anything a [`FieldValue`] is made from
/// (numbers, `bool`, text, `Duration` as seconds), or an `Option` of it: `None` leaves the field
/// out, so that its default or function applies.
///
/// ```
/// use influxdb_datalogger::{fields, tags, DataLogger, Field, Measurement, MemoryWriter};
///
/// let m = Measurement::builder("request")
///     .field(Field::new("duration"))
///     .field(Field::new("retries").with_default(0))
///     .build()?;
/// let memory = MemoryWriter::new();
/// let logger = DataLogger::builder().writer(memory.clone()).build();
/// let retries: Option<u32> = None;
/// logger.log(&m, fields!("duration" => 0.25, "retries" => retries), tags!())?;
/// logger.write_data()?;
/// assert_eq!(memory.entries()[0].field("retries"), Some(&0.into()));
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[macro_export]
macro_rules! fields {
    () => {
        &[] as &[$crate::FieldArg<'_>]
    };
    ($($key:expr => $value:expr),+ $(,)?) => {
        &[$($crate::FieldArg($key, $crate::IntoFieldArg::into_field_arg($value))),+]
    };
}

/// Tag values for a log call: `tags!("host" => "a", "case" => name)`.
///
/// Expands to a slice of `(&str, &str)` pairs; values may be anything that is `AsRef<str>`.
#[macro_export]
macro_rules! tags {
    () => {
        &[] as &[(&str, &str)]
    };
    ($($key:expr => $value:expr),+ $(,)?) => {
        &[$(($key, ::core::convert::AsRef::<str>::as_ref(&$value))),+]
    };
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn data_logger_is_send_and_sync() {
        assert_send_sync::<crate::DataLogger>();
        assert_send_sync::<crate::Measurement>();
    }
}

/// Compiles the README's Rust example, so that it cannot rot (the integration tests also run
/// it, and the docs' examples, against a real InfluxDB).
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Compiles the Rust examples of `docs/influxdb.md`.
#[doc = include_str!("../../../docs/influxdb.md")]
#[cfg(doctest)]
pub struct InfluxDbDocDoctests;

/// Compiles the Rust examples of `docs/spool.md`.
#[doc = include_str!("../../../docs/spool.md")]
#[cfg(doctest)]
pub struct SpoolDocDoctests;
