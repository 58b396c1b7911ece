//! The [`DataLogger`]: takes points and events from test code, keeps them encoded, and hands
//! them to writers.
//!
//! `mod.rs` holds the logger and its `log` path; `builder.rs` makes one; `pending.rs` keeps
//! what was logged and not yet handed over; `write.rs` hands it to the writers (post-processing,
//! flush, close); `replay.rs` takes over what dead processes left in the spool; `signed.rs`
//! rewrites unsigned values for targets without them.

mod builder;
mod pending;
mod replay;
mod signed;
mod write;

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use builder::DataLoggerBuilder;
pub use write::Entries;

use crate::entry::{Batch, DataEntry, Event};
use crate::error::{Error, ErrorKind, Result};
use crate::fork::Origin;
use crate::schema::{FieldInput, Measurement, TagInput};
use crate::spool::{Kind, ReplayReport, SpoolLink, SpoolWriter};
use crate::stats::{Stats, WriterStats};
use crate::value::{FieldValue, Precision, Timestamp};
use crate::writer::DatabaseWriter;
use pending::Pending;
use signed::signed_fields;
use write::PostProcessor;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a writer must not make the logger unusable: the data is still consistent,
    // because every mutation under these locks completes or is rolled back before user code runs.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct WriterSlot {
    writer: Box<dyn DatabaseWriter>,
    /// With a spool, for a writer that is done once `write_data` returns: how it acknowledges.
    acknowledge: Option<SpoolLink>,
    /// Data this writer failed to take, handed to it again (with newer data) next time.
    backlog: Option<Batch>,
    /// It was just handed the current write in parts.
    took_parts: bool,
    points_written: u64,
    failures: u64,
    /// The last error of `write_data`, until it succeeds again.
    last_error: Option<String>,
}

/// How long dropping a logger waits at most for its writers to deliver what they were given
/// (each writer also at most its own flush timeout, and not at all once its server cannot be
/// reached). The Python package's exit hook waits as long.
pub const DROP_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Records measurements and events and hands them to writers. `Send + Sync`: share it between
/// threads with an `Arc` or by reference.
///
/// Dropping it hands over what is pending and waits (see [`DROP_FLUSH_TIMEOUT`]) for the
/// writers to deliver; what they could not is said on stderr, and stays in the spool if there
/// is one. [`close`](DataLogger::close) does the same and returns the error instead.
///
/// ```
/// use influxdb_datalogger::{fields, tags, DataLogger, Field, Measurement, MemoryWriter, Tag};
///
/// let duration = Measurement::builder("duration")
///     .field(Field::new("seconds"))
///     .tag(Tag::new("case"))
///     .build()?;
/// let memory = MemoryWriter::new();
/// let logger = DataLogger::builder().writer(memory.clone()).build();
///
/// logger.log(&duration, fields!("seconds" => 0.25), tags!("case" => "login"))?;
/// let answer = logger.measure(&duration, "seconds", tags!("case" => "sum"), || 40 + 2)?;
/// assert_eq!(answer, 42);
/// logger.write_data()?;
///
/// assert_eq!(memory.entries().len(), 2);
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
pub struct DataLogger {
    /// The process that made it (a forked child must not use it; see [`DataLogger::is_forked_copy`]).
    origin: Origin,
    /// A writer's target has no unsigned integers: they are logged as signed ones.
    signed_only: bool,
    pending: Mutex<Pending>,
    /// The writers; holding this lock serialises `write_data`.
    delivery: Mutex<Vec<WriterSlot>>,
    post_processors: Mutex<Vec<PostProcessor>>,
    continuous_write: bool,
    precision: Precision,
    close_on_drop: bool,
    closed: AtomicBool,
    events_logged: AtomicU64,
    log_errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// What was replayed from the spool at start.
    replayed: Mutex<ReplayReport>,
}

impl fmt::Debug for DataLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataLogger")
            .field("continuous_write", &self.continuous_write)
            .field("precision", &self.precision)
            .field("stats", &self.stats())
            .finish()
    }
}

thread_local! {
    /// The loggers this thread is inside `write_data` of, so that a post-processor or writer
    /// that logs with `continuous_write` on does not try to write again and deadlock.
    static WRITING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

struct WritingGuard(usize);

impl WritingGuard {
    fn enter(logger: &DataLogger) -> Option<Self> {
        let id = logger as *const DataLogger as usize;
        WRITING.with(|w| {
            let mut w = w.borrow_mut();
            if w.contains(&id) {
                None
            } else {
                w.push(id);
                Some(WritingGuard(id))
            }
        })
    }
}

impl Drop for WritingGuard {
    fn drop(&mut self) {
        WRITING.with(|w| w.borrow_mut().retain(|&id| id != self.0));
    }
}

impl DataLogger {
    /// A logger with these writers, no continuous write, nanosecond timestamps.
    pub fn new(writers: Vec<Box<dyn DatabaseWriter>>) -> Self {
        writers
            .into_iter()
            .fold(DataLogger::builder(), DataLoggerBuilder::boxed_writer)
            .build()
    }

    /// Starts configuring a logger.
    pub fn builder() -> DataLoggerBuilder {
        DataLoggerBuilder {
            writers: Vec::new(),
            continuous_write: false,
            precision: Precision::Nanoseconds,
            close_on_drop: true,
            spool: None,
            spool_target: None,
            hand_over_replay: true,
        }
    }

    /// Whether logged points go to the writers at once.
    pub fn continuous_write(&self) -> bool {
        self.continuous_write
    }

    /// The precision timestamps are encoded with.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Logs one point, timestamped now. See [`log_at`](DataLogger::log_at).
    ///
    /// # Errors
    /// As [`log_at`](Self::log_at).
    pub fn log<F: FieldInput, T: TagInput>(
        &self,
        measurement: &Measurement,
        fields: &[F],
        tags: &[T],
    ) -> Result<()> {
        self.log_at(measurement, fields, tags, Timestamp::now())
    }

    /// Logs one point with the given timestamp.
    ///
    /// Given values win over the schema's functions, which win over its defaults. A field or
    /// tag the measurement does not define, a value line protocol cannot carry, or a point that
    /// still lacks a field value or a required tag is an error ([`ErrorKind::IncompletePoint`]
    /// for the last) and nothing is stored; what was logged before is not affected.
    ///
    /// # Errors
    /// Those above; [`ErrorKind::SpoolFull`] or an I/O error when the spool cannot take the
    /// point; with continuous write, what [`write_data`](DataLogger::write_data) returns.
    pub fn log_at<F: FieldInput, T: TagInput>(
        &self,
        measurement: &Measurement,
        fields: &[F],
        tags: &[T],
        time: Timestamp,
    ) -> Result<()> {
        self.ensure_own_process()?;
        let stored = if self.signed_only
            && fields
                .iter()
                .any(|f| matches!(f.value(), Some(FieldValue::UInt(_))))
        {
            signed_fields(measurement, fields)
                .and_then(|fields| self.store(measurement, &fields, tags, time))
        } else {
            self.store(measurement, fields, tags, time)
        };
        stored.inspect_err(|e| self.note_error(e))?;
        if self.continuous_write {
            self.write_data()?;
        }
        Ok(())
    }

    fn store<F: FieldInput, T: TagInput>(
        &self,
        measurement: &Measurement,
        fields: &[F],
        tags: &[T],
        time: Timestamp,
    ) -> Result<()> {
        if measurement.has_funcs() {
            // Functions are user code: run them outside the lock (one may log, or be slow).
            let mut line = Vec::with_capacity(128);
            if let Some(split) =
                measurement.encode_fast(&mut line, fields, tags, time, self.precision)
            {
                let mut pending = lock(&self.pending);
                pending.push_line(&line, split)?;
                pending.points_logged += 1;
                return Ok(());
            }
        } else {
            let mut pending = lock(&self.pending);
            let pending = &mut *pending;
            let (series, rest) = pending.points.split_buffers();
            let rest_start = rest.len();
            if measurement.encode_fast_split(series, rest, fields, tags, time, self.precision) {
                if let Some(spool) = &mut pending.spool {
                    let (series, rest) = pending.points.uncommitted_split(rest_start);
                    if let Err(e) = spool.append(Kind::Point, &[series, rest]) {
                        pending.points.discard_uncommitted(rest_start);
                        return Err(e);
                    }
                }
                pending.points.commit_split();
                pending.points_logged += 1;
                return Ok(());
            }
        }
        let resolved = measurement.resolve(fields, tags)?;
        if let Some(missing) = resolved.first_missing() {
            // Refused here, where the caller can still act on it: a point that cannot be
            // written must not hold back the points logged after it.
            return Err(missing);
        }
        let mut pending = lock(&self.pending);
        let start = pending.points.buffer().len();
        let split = resolved.encode(pending.points.buffer(), time, self.precision)?;
        if pending.spool.is_some() {
            let line = pending.points.buffer().split_off(start);
            pending.push_line(&line, split)?;
        } else {
            pending.points.commit(start, split);
        }
        pending.points_logged += 1;
        Ok(())
    }

    /// Records an event from `start` to `stop`, tagged; Grafana shows it as an annotation.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] when `stop` is before `start`; a name or tag value line protocol
    /// cannot carry; the spool refusing it ([`ErrorKind::SpoolFull`]). Nothing is stored then.
    pub fn log_event<T: TagInput>(
        &self,
        measurement: &str,
        start: Timestamp,
        stop: Timestamp,
        tags: &[T],
    ) -> Result<()> {
        self.ensure_own_process()?;
        let owned = tags
            .iter()
            .filter_map(|t| t.value().map(|v| (t.key().to_string(), v.to_string())))
            .collect();
        let event =
            Event::new(measurement, start, stop, owned).inspect_err(|e| self.note_error(e))?;
        lock(&self.pending)
            .push_event(event)
            .inspect_err(|e| self.note_error(e))?;
        self.events_logged.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The pending points, grouped by measurement (in order of first appearance), each group in
    /// logging order. Built on demand from the encoded points.
    pub fn dataset(&self) -> Vec<DataEntry> {
        lock(&self.pending)
            .batch(self.precision)
            .entries_by_measurement()
    }

    /// The pending events, in logging order.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.pending).events.clone()
    }

    /// The most recently logged pending point of the dataset's last measurement group.
    pub fn last_data_entry(&self) -> Option<DataEntry> {
        self.dataset().pop()
    }

    /// The most recently logged pending event.
    pub fn last_event(&self) -> Option<Event> {
        lock(&self.pending).events.last().cloned()
    }

    /// A copy of the pending points (those with every value) and events, as writers would
    /// receive them; nothing is taken.
    pub fn pending_batch(&self) -> Batch {
        lock(&self.pending).batch(self.precision)
    }

    /// The logger's counters.
    pub fn stats(&self) -> Stats {
        let (pending_points, pending_events, points_logged, spool) = {
            let pending = lock(&self.pending);
            (
                pending.points.len(),
                pending.events.len(),
                pending.points_logged,
                pending.spool.as_ref().map(SpoolWriter::stats),
            )
        };
        let writers = match self.delivery.try_lock() {
            Ok(writers) => writers
                .iter()
                .map(|w| {
                    let delivery = w.writer.delivery_stats().unwrap_or_default();
                    let background = w.writer.delivery_stats().is_some();
                    WriterStats {
                        name: w.writer.name(),
                        points_written: if background {
                            delivery.delivered.saturating_sub(delivery.delivered_events)
                        } else {
                            w.points_written
                        },
                        failures: w.failures + delivery.failures,
                        last_error: delivery.last_error.or_else(|| w.last_error.clone()),
                        backlog_points: w.backlog.as_ref().map_or(0, Batch::point_count),
                        dead_lettered: w.writer.dead_lettered(),
                        awaiting_delivery: delivery.pending,
                        retries: delivery.retries,
                        spilled: delivery.spilled,
                    }
                })
                .collect(),
            // A write is in progress (maybe on this very thread): report no per-writer numbers
            // rather than wait for it.
            Err(_) => Vec::new(),
        };
        Stats {
            points_logged,
            events_logged: self.events_logged.load(Ordering::Relaxed),
            log_errors: self.log_errors.load(Ordering::Relaxed),
            pending_points,
            pending_events,
            last_error: lock(&self.last_error)
                .clone()
                .or_else(|| writers.iter().find_map(|w| w.last_error.clone())),
            writers,
            spool,
        }
    }

    /// Whether this is a copy, in a child process forked after the logger was made, of the
    /// parent's logger. Such a copy refuses every call with [`ErrorKind::ForkedProcess`]: its
    /// delivery threads did not survive the fork and its spool is the parent's. Its drop does
    /// nothing (the parent's files stay as they are); the child makes a logger of its own.
    pub fn is_forked_copy(&self) -> bool {
        self.origin.is_forked()
    }

    fn ensure_own_process(&self) -> Result<()> {
        if !self.origin.is_forked() {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::ForkedProcess,
            format!(
                "this DataLogger was made in process {} and this process ({}) is a child forked from it: \
                 its delivery threads and spool belong to that process, so nothing logged here could be delivered; \
                 make a DataLogger in the child",
                self.origin.pid(),
                std::process::id()
            ),
        ))
    }

    /// Counts an error and remembers its message for [`stats`](DataLogger::stats).
    pub(crate) fn note_error(&self, error: &Error) {
        if !matches!(error.kind(), ErrorKind::Writer | ErrorKind::Io) {
            self.log_errors.fetch_add(1, Ordering::Relaxed);
        }
        *lock(&self.last_error) = Some(format!("{error:#}"));
    }
}

impl Drop for DataLogger {
    fn drop(&mut self) {
        if self.origin.is_forked() {
            // The parent's: its threads are not here, and dropping its spool or writers would
            // seal and delete the parent's files. `get_mut` takes no lock (a thread that held
            // one may not exist in this process).
            let pending = self
                .pending
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::forget(pending.spool.take());
            let writers = self
                .delivery
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::forget(std::mem::take(writers));
            return;
        }
        if !self.close_on_drop || self.closed.load(Ordering::Relaxed) {
            return;
        }
        // Also with nothing pending here: a background writer may still hold what an earlier
        // `write_data` handed it.
        let deadline = std::time::Instant::now() + DROP_FLUSH_TIMEOUT;
        let result = self
            .write_data()
            .and_then(|()| self.flush_writers_at_exit(deadline));
        let refused = self.refused_points();
        if refused > 0 {
            eprintln!(
                "influxdb-datalogger: {refused} points were refused by the database and set aside in the dead-letter file"
            );
        }
        if let Err(e) = result {
            // Drop cannot return the error, and silently losing measurements is worse than a
            // line on stderr. (`close()` returns it.)
            let fate = if self.spool_dir().is_some() {
                ""
            } else {
                "; without a spool, what was not delivered is lost when the process exits"
            };
            eprintln!("influxdb-datalogger: when the logger was dropped: {e:#}{fate}");
        }
    }
}
