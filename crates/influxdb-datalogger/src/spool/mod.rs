//! The spool: every point a logger accepts is appended to a segment file before it is sent, and
//! released only after every writer acknowledged it; a later logger with the same spool
//! directory delivers what a dead process left behind.
//!
//! A directory holds the segments of any number of processes ("owners"). An owner holds an
//! exclusive lock on its lock file `<owner>.lock` for as long as it lives, and writes only its
//! own segments `<owner>-<number>.seg`; the kernel drops the lock when the process dies, however
//! it dies. Another process that can take the lock knows the owner is gone and replays its
//! segments — and since it holds the lock while doing so, no third process replays them too.
//! Segments are memory-mapped, so appending costs a copy and a checksum, and a
//! killed process leaves its records in the page cache. [`Fsync`] covers power loss.

mod crc;
mod format;
mod options;
mod platform;
mod replay;
mod segment;
mod shared;
mod writer;

pub use crate::entry::SpoolMark;
pub use crate::stats::SpoolStats;
pub(crate) use format::{encode_event as event_payload, Kind};
pub use options::{Adopt, Fsync, OnFull, SpoolFromEnv, SpoolOptions};
pub(crate) use replay::{claim_dead_owners, replay_owner, ReplayItem};
pub use replay::{inventory, Damage, OwnerSummary, ReplayReport};
pub(crate) use shared::ReleasedFiles;
pub use shared::SpoolLink;
pub(crate) use writer::SpoolWriter;

/// The environment variable that configures the spool, as a connection string (see
/// [`SpoolOptions::parse`]); `off` turns it off.
pub const SPOOL_ENV: &str = "INFLUXDB_DATALOGGER_SPOOL";

/// How far acknowledgements must advance before the header notes them (see `release`).
const ACKED_WRITE_EVERY: u64 = 256 << 10;

/// Where points that were not delivered wait, and how they will be: `kept in the spool DIR and
/// delivered by the next logger that opens it (or: influxdb-datalogger replay DIR)`.
pub(crate) fn kept_in(dir: &std::path::Path) -> String {
    format!(
        "kept in the spool {} and delivered by the next logger that opens it (or: influxdb-datalogger replay {})",
        dir.display(),
        dir.display()
    )
}

/// The spool directory used when none is given: under the working directory.
pub const DEFAULT_SPOOL_DIR: &str = ".influxdb-datalogger-spool";

#[cfg(test)]
mod tests;
