//! [`DataLoggerBuilder`]: a logger's writers and settings, and opening its spool.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use super::pending::Pending;
use super::{DataLogger, WriterSlot};
use crate::error::Result;
use crate::fork::Origin;
use crate::spool::{ReplayReport, SpoolLink, SpoolOptions, SpoolWriter};
use crate::store::PointStore;
use crate::value::Precision;
use crate::writer::DatabaseWriter;

/// Configures a [`DataLogger`]; see [`DataLogger::builder`].
#[must_use = "a builder does nothing until it is built"]
pub struct DataLoggerBuilder {
    pub(super) writers: Vec<Box<dyn DatabaseWriter>>,
    pub(super) continuous_write: bool,
    pub(super) precision: Precision,
    pub(super) close_on_drop: bool,
    pub(super) spool: Option<SpoolOptions>,
    pub(super) spool_target: Option<String>,
    pub(super) hand_over_replay: bool,
}

impl fmt::Debug for DataLoggerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataLoggerBuilder")
            .field(
                "writers",
                &self.writers.iter().map(|w| w.name()).collect::<Vec<_>>(),
            )
            .field("continuous_write", &self.continuous_write)
            .field("precision", &self.precision)
            .field("spool", &self.spool)
            .finish()
    }
}

impl DataLoggerBuilder {
    /// Adds a writer.
    pub fn writer(mut self, writer: impl DatabaseWriter + 'static) -> Self {
        self.writers.push(Box::new(writer));
        self
    }

    /// Adds a boxed writer.
    pub fn boxed_writer(mut self, writer: Box<dyn DatabaseWriter>) -> Self {
        self.writers.push(writer);
        self
    }

    /// Hand every logged point to the writers at once, without calling
    /// [`write_data`](DataLogger::write_data).
    pub fn continuous_write(mut self, on: bool) -> Self {
        self.continuous_write = on;
        self
    }

    /// The precision timestamps are encoded with (nanoseconds by default).
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Whether dropping the logger writes what is pending (on by default).
    pub fn close_on_drop(mut self, on: bool) -> Self {
        self.close_on_drop = on;
        self
    }

    /// Spools every logged point to disk before it is sent, and replays at start what dead
    /// processes left in the same directory (see [`SpoolOptions`]).
    pub fn spool(mut self, options: impl Into<Option<SpoolOptions>>) -> Self {
        self.spool = options.into();
        self
    }

    /// The target the spool's segments are labelled with (by default the writers' names, which
    /// hold URL and database but no secret). A logger replays only dead processes' segments with
    /// the same label (unless [`Adopt::All`](crate::Adopt::All)); `influxdb-datalogger replay`
    /// keeps the label of what it replays, so that what it cannot deliver waits for the
    /// application's next logger, not for a logger with the replay's target.
    pub fn spool_target(mut self, label: impl Into<String>) -> Self {
        self.spool_target = Some(label.into());
        self
    }

    /// Whether [`try_build`](Self::try_build) hands what it replays to the writers at once (the
    /// default), or leaves it pending for the first `write_data` — for writers that cannot run
    /// before the logger exists (the Python bindings' writers written in Python). Plumbing for
    /// bindings.
    #[doc(hidden)]
    pub fn hand_over_replay(mut self, now: bool) -> Self {
        self.hand_over_replay = now;
        self
    }

    /// Builds the logger.
    ///
    /// # Panics
    /// If a spool was asked for and cannot be opened; [`try_build`](Self::try_build) returns
    /// the error instead.
    pub fn build(self) -> DataLogger {
        self.try_build()
            .unwrap_or_else(|e| panic!("cannot build the DataLogger: {e:#}"))
    }

    /// Builds the logger; with a spool, opens it and replays what dead processes left there
    /// (the writers receive that first). Fails if the spool directory cannot be used.
    ///
    /// # Errors
    /// The spool directory cannot be created, locked or read, or replaying what it holds fails.
    pub fn try_build(self) -> Result<DataLogger> {
        let target = self.spool_target.unwrap_or_else(|| {
            self.writers
                .iter()
                .map(|w| w.name())
                .collect::<Vec<_>>()
                .join(", ")
        });
        let spool = self
            .spool
            .map(|options| SpoolWriter::open(options, self.precision, target))
            .transpose()?;
        let delivery = self
            .writers
            .into_iter()
            .map(|mut writer| {
                let acknowledge = spool.as_ref().and_then(|spool| {
                    let link = SpoolLink {
                        shared: Arc::clone(spool.shared()),
                        consumer: spool.shared().add_consumer(),
                    };
                    (!writer.attach_spool(link.clone())).then_some(link)
                });
                WriterSlot {
                    writer,
                    acknowledge,
                    took_parts: false,
                    backlog: None,
                    points_written: 0,
                    failures: 0,
                    last_error: None,
                }
            })
            .collect::<Vec<WriterSlot>>();
        let replay = spool.is_some();
        let hand_over_replay = self.hand_over_replay;
        let signed_only = delivery.iter().any(|slot| !slot.writer.accepts_unsigned());
        let logger = DataLogger {
            origin: Origin::here(),
            signed_only,
            pending: Mutex::new(Pending {
                points: PointStore::default(),
                events: Vec::new(),
                points_logged: 0,
                spool,
                spare: None,
            }),
            delivery: Mutex::new(delivery),
            post_processors: Mutex::new(Vec::new()),
            continuous_write: self.continuous_write,
            precision: self.precision,
            close_on_drop: self.close_on_drop,
            closed: AtomicBool::new(false),
            events_logged: AtomicU64::new(0),
            log_errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
            replayed: Mutex::new(ReplayReport::default()),
        };
        if replay {
            logger.replay_dead_owners(hand_over_replay)?;
        }
        Ok(logger)
    }
}
