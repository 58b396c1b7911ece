//! [`SpoolOptions`]: where and how a logger spools, from arguments, a connection string or the
//! environment.

use std::path::PathBuf;
use std::time::Duration;

use super::SPOOL_ENV;
use crate::conn_str::{parse_duration, parse_size};
use crate::error::{Error, Result};

/// When the spool asks the operating system to put what it wrote on the disk.
///
/// A killed process loses nothing in any mode: its records are in the page cache, which the
/// kernel writes out. Only a power loss or a kernel crash can lose what was not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fsync {
    /// Never explicitly (the kernel writes dirty pages within about 30 s). No cost to `log`.
    Never,
    /// At every `write_data` (with continuous write: every point) — milliseconds each.
    PerBatch,
    /// From a thread of the spool's own, this often; `log` does not wait for it.
    Every(Duration),
}

/// What `log` does when the spool reached [`SpoolOptions::max_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnFull {
    /// Refuse the point with an error (of kind [`ErrorKind::SpoolFull`](crate::ErrorKind::SpoolFull)); nothing accepted is
    /// lost.
    Refuse,
    /// Delete the oldest unacknowledged segment and count its points in
    /// [`SpoolStats::dropped_points`](super::SpoolStats::dropped_points).
    DropOldest,
}

/// Whose leftovers a logger replays when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Adopt {
    /// Only those of processes that wrote to the same writers (by their names, which hold the
    /// URL and database but never a secret), so that nothing reaches a database it was not
    /// meant for.
    SameTarget,
    /// Every dead process's, whatever its target (`influxdb-datalogger replay`).
    All,
}

/// How a logger spools; see the module documentation.
///
/// ```
/// use influxdb_datalogger::{Fsync, SpoolOptions};
///
/// let options = SpoolOptions::parse("spool-dir?max_bytes=2GiB&fsync=100ms")?;
/// assert_eq!(options.max_bytes, 2 << 30);
/// assert_eq!(options.fsync, Fsync::Every(std::time::Duration::from_millis(100)));
/// let mut by_hand = SpoolOptions::new("spool-dir");
/// by_hand.max_bytes = 2 << 30;
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolOptions {
    /// The directory; shared by any number of processes.
    pub dir: PathBuf,
    /// The size of a segment file.
    pub segment_bytes: u64,
    /// The most unacknowledged bytes this process keeps on disk.
    pub max_bytes: u64,
    /// What happens at `max_bytes`.
    pub on_full: OnFull,
    /// When to sync to disk.
    pub fsync: Fsync,
    /// Whose leftovers to replay at start.
    pub adopt: Adopt,
    /// How many bytes of points a background writer keeps in memory while the database does
    /// not keep up; beyond that it reads them back from the spool when their turn comes.
    pub memory_bytes: u64,
}

impl SpoolOptions {
    /// Defaults in `dir`: 8 MiB segments, at most 1 GiB, refuse when full, no explicit sync.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolOptions {
            dir: dir.into(),
            segment_bytes: 8 << 20,
            max_bytes: 1 << 30,
            on_full: OnFull::Refuse,
            fsync: Fsync::Never,
            adopt: Adopt::SameTarget,
            memory_bytes: 16 << 20,
        }
    }

    /// Parses a connection string: a directory, optionally followed by settings, e.g.
    /// `/var/spool/tests?max_bytes=2GiB&segment_bytes=16MiB&fsync=100ms&on_full=drop-oldest`.
    /// `fsync` is `never`, `batch` or a duration (`100ms`, `1s`); `on_full` is `refuse` or
    /// `drop-oldest`; sizes take `KiB`, `MiB`, `GiB` (or none).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument): an unknown setting, a value it cannot take, sizes that do not fit
    /// together.
    pub fn parse(text: &str) -> Result<Self> {
        let (dir, query) = text.split_once('?').unwrap_or((text, ""));
        if dir.is_empty() {
            return Err(Error::invalid_argument(format!(
                "spool connection string {text:?} names no directory"
            )));
        }
        let mut options = SpoolOptions::new(dir);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                Error::invalid_argument(format!("spool setting {pair:?} has no value"))
            })?;
            match key {
                "max_bytes" => options.max_bytes = parse_size(&format!("spool {key}"), value)?,
                "segment_bytes" => {
                    options.segment_bytes = parse_size(&format!("spool {key}"), value)?
                }
                "memory_bytes" => {
                    options.memory_bytes = parse_size(&format!("spool {key}"), value)?
                }
                "fsync" => {
                    options.fsync = match value {
                        "never" => Fsync::Never,
                        "batch" => Fsync::PerBatch,
                        other => {
                            Fsync::Every(parse_duration("spool fsync", other).map_err(|e| {
                                Error::invalid_argument(format!("{e}; or never, or batch"))
                            })?)
                        }
                    }
                }
                "on_full" => {
                    options.on_full = match value {
                        "refuse" => OnFull::Refuse,
                        "drop-oldest" | "drop_oldest" => OnFull::DropOldest,
                        other => {
                            return Err(Error::invalid_argument(format!(
                                "spool on_full {other:?} is neither refuse nor drop-oldest"
                            )))
                        }
                    }
                }
                "adopt" => {
                    options.adopt = match value {
                        "same-target" | "same_target" => Adopt::SameTarget,
                        "all" => Adopt::All,
                        other => {
                            return Err(Error::invalid_argument(format!(
                                "spool adopt {other:?} is neither same-target nor all"
                            )))
                        }
                    }
                }
                other => {
                    return Err(Error::invalid_argument(format!(
                        "unknown spool setting {other:?}"
                    )))
                }
            }
        }
        options.check()?;
        Ok(options)
    }

    /// What the environment says ([`SPOOL_ENV`]).
    ///
    /// # Errors
    /// The variable is set to something [`parse`](Self::parse) refuses.
    pub fn from_env() -> Result<SpoolFromEnv> {
        match std::env::var(SPOOL_ENV) {
            Err(_) => Ok(SpoolFromEnv::Unset),
            Ok(v) if v.trim().eq_ignore_ascii_case("off") => Ok(SpoolFromEnv::Off),
            Ok(v) => SpoolOptions::parse(v.trim()).map(SpoolFromEnv::On),
        }
    }

    /// Checks that the sizes fit together.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) naming the sizes that do not fit.
    pub fn check(&self) -> Result<()> {
        if self.segment_bytes < 64 << 10 {
            return Err(Error::invalid_argument(format!(
                "spool segment_bytes {} is below the minimum of 64 KiB",
                self.segment_bytes
            )));
        }
        if self.max_bytes < 2 * self.segment_bytes {
            return Err(Error::invalid_argument(format!(
                "spool max_bytes {} must hold at least two segments of {} bytes",
                self.max_bytes, self.segment_bytes
            )));
        }
        Ok(())
    }
}

/// What [`SPOOL_ENV`] says: nothing, no spool, or a spool with these options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpoolFromEnv {
    /// The variable is not set: the caller's default applies.
    Unset,
    /// `off`: no spool.
    Off,
    /// A spool.
    On(SpoolOptions),
}
