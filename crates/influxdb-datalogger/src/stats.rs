//! The numbers loggers and writers report: a leaf, so that writers, delivery and the logger all
//! point at it and not at each other.

use std::path::PathBuf;

/// A writer's numbers, as reported by [`DataLogger::stats`](crate::DataLogger::stats).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// The writer's name.
    pub name: String,
    /// Points it wrote: for a background writer, those the database took.
    pub points_written: u64,
    /// Writes it failed (for a background writer: sends that failed after their retries).
    pub failures: u64,
    /// Its most recent error, while it has not succeeded since.
    pub last_error: Option<String>,
    /// Points kept for it after a failure, to be handed over again.
    pub backlog_points: usize,
    /// Lines the database refused for good, set aside in a dead-letter file.
    pub dead_lettered: u64,
    /// For a background writer: points it holds that the database has not acknowledged yet.
    pub awaiting_delivery: u64,
    /// For a background writer: failed sends it retried.
    pub retries: u64,
    /// For a background writer with a spool: points it left in the spool rather than keep in
    /// memory, while the database did not keep up.
    pub spilled: u64,
}

/// Counters of a [`DataLogger`](crate::DataLogger).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Points accepted by `log`.
    pub points_logged: u64,
    /// Events accepted.
    pub events_logged: u64,
    /// Log calls refused, and measurements that could not be recorded when a block ended.
    pub log_errors: u64,
    /// Points logged and not yet handed to the writers.
    pub pending_points: usize,
    /// Events logged and not yet handed to the writers.
    pub pending_events: usize,
    /// Per writer.
    pub writers: Vec<WriterStats>,
    /// The message of the most recent error, if any.
    pub last_error: Option<String>,
    /// The spool's numbers, if the logger has one.
    pub spool: Option<SpoolStats>,
}

/// Numbers of a [`BackgroundWriter`](crate::BackgroundWriter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryStats {
    /// Points handed over.
    pub handed_over: u64,
    /// Points and events the server took (not those it refused: see `refused`).
    pub delivered: u64,
    /// Of `delivered`, events.
    pub delivered_events: u64,
    /// Points the server refused for good, set aside in the dead-letter file.
    pub refused: u64,
    /// Failed tries that were retried.
    pub retries: u64,
    /// Sends that failed for good (after their retries); their data is kept and sent again.
    pub failures: u64,
    /// Points handed over and not yet acknowledged.
    pub pending: u64,
    /// Points the spool dropped at its size cap before they could be sent.
    pub dropped: u64,
    /// Points handed over that wait in the spool rather than in memory.
    pub spilled: u64,
    /// The last error, if the last try failed.
    pub last_error: Option<String>,
}

/// The spool's numbers, as reported by [`DataLogger::stats`](crate::DataLogger::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolStats {
    /// The directory.
    pub dir: PathBuf,
    /// Records (points and events) appended by this process.
    pub records: u64,
    /// Records not yet acknowledged by every writer.
    pub unacknowledged: u64,
    /// Bytes of this process's segments on disk.
    pub bytes: u64,
    /// Points deleted at the size cap ([`OnFull::DropOldest`](crate::OnFull::DropOldest)).
    pub dropped_points: u64,
}
