//! The [`DataLogger`]: takes points and events from test code, keeps them encoded, and hands
//! them to writers.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::entry::{Batch, DataEntry, Event};
use crate::error::{Error, ErrorKind, Result};
use crate::fork::Origin;
use crate::measure::Timer;
use crate::schema::{FieldInput, Measurement, TagInput};
use crate::spool::{
    self, Kind, ReleasedFiles, ReplayItem, ReplayReport, SpoolLink, SpoolMark, SpoolOptions,
    SpoolStats, SpoolWriter,
};
use crate::store::PointStore;
use crate::value::{FieldValue, Precision, Timestamp};
use crate::writer::DatabaseWriter;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a writer must not make the logger unusable: the data is still consistent,
    // because every mutation under these locks completes or is rolled back before user code runs.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What has been logged and not yet handed to the writers.
#[derive(Debug)]
struct Pending {
    points: PointStore,
    events: Vec<Event>,
    /// Points accepted so far; counted under this lock, which `log` holds anyway.
    points_logged: u64,
    /// Where every complete point and event is appended before it is stored here.
    spool: Option<SpoolWriter>,
    /// An emptied store, taken at the next write instead of a new one (see
    /// [`PointStore::recycle`]).
    spare: Option<PointStore>,
}

/// What [`Pending::take`] took.
struct Taken {
    points: PointStore,
    events: Vec<Event>,
    /// Where the spool stands after them.
    mark: Option<SpoolMark>,
    /// Spool segments that handing them over released: to be dropped (deleted) once the lock
    /// `log` needs is released.
    released: ReleasedFiles,
}

impl Pending {
    /// A copy of the complete points and the events, as a batch.
    fn batch(&self, precision: Precision) -> Batch {
        self.points.to_batch(self.events.clone(), precision)
    }

    /// Takes the complete points and the events, leaving none pending, and where the spool
    /// stands after them. Cheap (it moves the store), so that the batch can be assembled after
    /// the lock that `log` needs is released.
    fn take(&mut self) -> Result<Taken> {
        let (mark, released) = match self.spool.as_mut().map(SpoolWriter::hand_over) {
            Some(handed) => {
                let (mark, released) = handed?;
                (Some(mark), released)
            }
            None => (None, ReleasedFiles::default()),
        };
        let fresh = self.spare.take().unwrap_or_default();
        Ok(Taken {
            points: std::mem::replace(&mut self.points, fresh),
            events: std::mem::take(&mut self.events),
            mark,
            released,
        })
    }

    /// Appends a record to the spool, if there is one.
    #[inline]
    fn journal(&mut self, kind: Kind, parts: &[&[u8]]) -> Result<()> {
        match &mut self.spool {
            Some(spool) => spool.append(kind, parts),
            None => Ok(()),
        }
    }

    /// Stores an event (spooled first).
    fn push_event(&mut self, event: Event) -> Result<()> {
        self.journal(Kind::Event, &[&spool::event_payload(&event)])?;
        self.events.push(event);
        Ok(())
    }

    /// Stores a complete line (spooled first), whose series key is `split` bytes long.
    fn push_line(&mut self, line: &[u8], split: usize) -> Result<()> {
        self.journal(Kind::Point, &[line])?;
        self.points.push_line(line, split);
        Ok(())
    }
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

type PostProcessFn = dyn Fn(&DataLogger, &Entries) -> Result<()> + Send + Sync;

struct PostProcessor {
    measurements: Vec<String>,
    func: Arc<PostProcessFn>,
}

/// The pending entries of the measurements a post-processor registered for.
#[derive(Debug, Default)]
pub struct Entries {
    by_measurement: Vec<(String, Vec<DataEntry>)>,
}

impl Entries {
    /// The entries of measurement `name` (empty when there are none).
    pub fn get(&self, name: &str) -> &[DataEntry] {
        self.by_measurement
            .iter()
            .find(|(m, _)| m == name)
            .map_or(&[], |(_, e)| e)
    }

    /// Every measurement with its entries, in the order the post-processor named them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[DataEntry])> {
        self.by_measurement
            .iter()
            .map(|(m, e)| (m.as_str(), e.as_slice()))
    }
}

/// A writer's numbers, as reported by [`DataLogger::stats`].
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

/// Counters of a [`DataLogger`].
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

/// Configures a [`DataLogger`]; see [`DataLogger::builder`].
#[must_use = "a builder does nothing until it is built"]
pub struct DataLoggerBuilder {
    writers: Vec<Box<dyn DatabaseWriter>>,
    continuous_write: bool,
    precision: Precision,
    close_on_drop: bool,
    spool: Option<SpoolOptions>,
    spool_target: Option<String>,
    hand_over_replay: bool,
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

    /// Times `f`, logs its duration in seconds to `field`, and returns what `f` returned. If `f`
    /// panics, nothing is logged and the panic goes on (see [`crate::measure`] for the rules;
    /// for `Result`s use [`try_measure`](Self::try_measure), for futures
    /// [`measure_future`](Self::measure_future); for events and an outcome tag,
    /// [`timer`](Self::timer)).
    ///
    /// # Errors
    /// The arguments do not fit the measurement; `f` did not run.
    pub fn measure<R, T: TagInput>(
        &self,
        measurement: &Measurement,
        field: &str,
        tags: &[T],
        f: impl FnOnce() -> R,
    ) -> Result<R> {
        self.timer(measurement, field).tags(tags).run(f)
    }

    /// [`measure`](Self::measure) for code that returns a `Result`: the duration of an `Err` is
    /// not logged, and `f`'s error is returned as it is (an error of this crate, for wrong
    /// arguments, is converted into `E`).
    ///
    /// ```
    /// # use influxdb_datalogger::{tags, DataLogger, Field, Measurement, MemoryWriter};
    /// # let m = Measurement::builder("parse").field(Field::new("seconds")).build()?;
    /// # let memory = MemoryWriter::new();
    /// # let logger = DataLogger::builder().writer(memory.clone()).build();
    /// type AnyError = Box<dyn std::error::Error>;
    /// let n = logger.try_measure(&m, "seconds", tags!(), || Ok::<_, AnyError>("42".parse::<u32>()?))?;
    /// let bad = logger.try_measure(&m, "seconds", tags!(), || Ok::<_, AnyError>("x".parse::<u32>()?));
    /// assert_eq!(n, 42);
    /// assert!(bad.is_err());
    /// logger.write_data()?;
    /// assert_eq!(memory.entries().len(), 1, "the failed parse is not a measurement");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// `f`'s error, or the arguments' (converted) when they do not fit the measurement.
    pub fn try_measure<R, E: From<Error>, T: TagInput>(
        &self,
        measurement: &Measurement,
        field: &str,
        tags: &[T],
        f: impl FnOnce() -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        self.timer(measurement, field).tags(tags).try_run(f)
    }

    /// Awaits `future` and logs how long it took to be ready (`measure(|| async { … })` would
    /// time only the creation of the future).
    ///
    /// # Errors
    /// The arguments do not fit the measurement; `future` was not awaited.
    pub fn measure_future<'a, F: std::future::IntoFuture + 'a, T: TagInput>(
        &'a self,
        measurement: &'a Measurement,
        field: &'a str,
        tags: &[T],
        future: F,
    ) -> impl std::future::Future<Output = Result<F::Output>> + 'a {
        // The tags are copied now: the future does not borrow the caller's `tags!`.
        self.timer(measurement, field).tags(tags).run_future(future)
    }

    /// Starts timing a block: the returned guard logs the duration when dropped.
    ///
    /// # Errors
    /// The arguments do not fit the measurement (an unknown field or tag, a bad value).
    pub fn measure_block<'a, T: TagInput>(
        &'a self,
        measurement: &'a Measurement,
        field: &'a str,
        tags: &[T],
    ) -> Result<crate::measure::BlockGuard<'a>> {
        self.timer(measurement, field).tags(tags).start()
    }

    /// A configurable timer for `field` of `measurement`.
    pub fn timer<'a>(&'a self, measurement: &'a Measurement, field: &'a str) -> Timer<'a> {
        Timer::new(self, measurement, field)
    }

    /// Registers a post-processor: before each write it receives the pending entries of
    /// `measurements` and may log derived points (an average, say), which are written too.
    pub fn add_post_processing(
        &self,
        measurements: &[&Measurement],
        func: impl Fn(&DataLogger, &Entries) -> Result<()> + Send + Sync + 'static,
    ) {
        lock(&self.post_processors).push(PostProcessor {
            measurements: measurements.iter().map(|m| m.name().to_string()).collect(),
            func: Arc::new(func),
        });
    }

    /// The pending points, grouped by measurement (in order of first appearance), each group in
    /// logging order. Built on demand from the encoded points.
    pub fn dataset(&self) -> Vec<DataEntry> {
        let mut entries = self.pending_entries();
        let mut order: Vec<&str> = Vec::new();
        for e in &entries {
            if !order.contains(&e.measurement.as_str()) {
                order.push(&e.measurement);
            }
        }
        let rank: Vec<usize> = entries
            .iter()
            .map(|e| order.iter().position(|m| *m == e.measurement).unwrap_or(0))
            .collect();
        let mut indexed: Vec<(usize, DataEntry)> =
            rank.into_iter().zip(entries.drain(..)).collect();
        indexed.sort_by_key(|(rank, _)| *rank);
        indexed.into_iter().map(|(_, e)| e).collect()
    }

    /// The pending points in logging order.
    fn pending_entries(&self) -> Vec<DataEntry> {
        let batch = lock(&self.pending).batch(self.precision);
        batch.entries()
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

    /// Hands everything pending to every writer.
    ///
    /// 1. Runs the post-processors, which may log derived points; if one fails, nothing is
    ///    written or discarded.
    /// 2. Gives the batch to each writer. A writer that fails keeps the batch and gets it again,
    ///    with newer data, at the next call; writers that succeeded get no duplicates.
    ///
    /// Returns the first writer's error, if any failed.
    ///
    /// # Errors
    /// A post-processor's error (nothing is written or discarded), or the first writer's error (see 2).
    pub fn write_data(&self) -> Result<()> {
        self.ensure_own_process()?;
        let Some(_writing) = WritingGuard::enter(self) else {
            // Called from inside this logger's own write (a post-processor or writer logging
            // with continuous write): what it logged is taken by the write in progress.
            return Ok(());
        };
        let mut writers = lock(&self.delivery);
        self.run_post_processors()
            .inspect_err(|e| self.note_error(e))?;
        let Taken {
            points,
            events,
            mark,
            released,
        } = lock(&self.pending)
            .take()
            .inspect_err(|e| self.note_error(e))?;
        // Deleted with the logger unlocked: unlinking a segment takes milliseconds.
        drop(released);
        // Assembled outside the lock: for a million points this takes tens of milliseconds,
        // during which other threads' `log` calls would otherwise wait.
        let parted = self.hand_over_in_parts(&mut writers, &points, &events, mark);
        let batch = match parted {
            Some(whole) => whole,
            None => points
                .to_batch(events, self.precision)
                .with_spool_mark(mark),
        };
        let mut points = points;
        if points.recycle() {
            lock(&self.pending).spare = Some(points);
        }
        if batch.is_empty() && writers.iter().all(|w| w.backlog.is_none()) {
            return Ok(());
        }
        let mut first_error: Option<Error> = None;
        let mut failed = 0;
        for slot in writers.iter_mut() {
            if std::mem::take(&mut slot.took_parts) {
                continue;
            }
            let refused_before = slot.writer.dead_lettered();
            let (result, points) = match slot.backlog.take() {
                None => (slot.writer.write_data(&batch), batch.point_count()),
                Some(mut backlog) => {
                    backlog.append(batch.clone());
                    let result = slot.writer.write_data(&backlog);
                    let points = backlog.point_count();
                    if result.is_err() {
                        slot.backlog = Some(backlog);
                    }
                    (result, points)
                }
            };
            match result {
                Ok(()) => {
                    // Lines the database refused for good went to the dead-letter file: not
                    // written. (A background writer's count is its delivered points.)
                    let refused = slot.writer.dead_lettered().saturating_sub(refused_before);
                    slot.points_written += (points as u64).saturating_sub(refused);
                    slot.last_error = None;
                    if let (Some(link), Some(mark)) = (&slot.acknowledge, mark) {
                        link.acknowledge(mark);
                    }
                }
                Err(e) => {
                    slot.failures += 1;
                    slot.last_error = Some(format!("{e:#}"));
                    if slot.backlog.is_none() {
                        slot.backlog = Some(batch.clone());
                    }
                    failed += 1;
                    if first_error.is_none() {
                        first_error = Some(e.context(format_args!(
                            "writer {} failed; its {points} points are kept and handed to it again at the next write",
                            slot.writer.name()
                        )));
                    }
                }
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => {
                let e = if failed > 1 {
                    e.context(format_args!("{failed} writers failed"))
                } else {
                    e
                };
                self.note_error(&e);
                Err(e)
            }
        }
    }

    /// For a large write, hands the points in parts to the writers that take parts (and have
    /// no backlog), each part as soon as it is assembled, so that a background writer starts
    /// sending while the rest is put together. Returns the whole batch for the other writers
    /// (put together once more, only if there are any; else an empty batch), or `None` when the
    /// write is not handed over in parts.
    fn hand_over_in_parts(
        &self,
        writers: &mut [WriterSlot],
        points: &PointStore,
        events: &[Event],
        mark: Option<SpoolMark>,
    ) -> Option<Batch> {
        const PART_POINTS: usize = 50_000;
        let count = points.len();
        let takers: Vec<usize> = (0..writers.len())
            .filter(|&i| writers[i].backlog.is_none() && writers[i].writer.takes_parts())
            .collect();
        if count < 2 * PART_POINTS || takers.is_empty() {
            return None;
        }
        let mut parts = Vec::with_capacity(count.div_ceil(PART_POINTS));
        let mut failed: Vec<usize> = Vec::new();
        for start in (0..count).step_by(PART_POINTS) {
            let end = (start + PART_POINTS).min(count);
            let last = end == count;
            let part = points
                .range_to_batch(
                    start..end,
                    if last { events.to_vec() } else { Vec::new() },
                    self.precision,
                )
                .with_spool_mark(if last { mark } else { None });
            for &i in &takers {
                // A writer that takes parts only queues them; should it fail anyway, it gets
                // the whole write through the ordinary path (parts it took are sent twice,
                // and overwrite themselves).
                if !failed.contains(&i) && writers[i].writer.write_data(&part).is_err() {
                    failed.push(i);
                }
            }
            parts.push(part);
        }
        for &i in takers.iter().filter(|i| !failed.contains(i)) {
            writers[i].took_parts = true;
            writers[i].points_written += count as u64;
        }
        Some(if takers.len() - failed.len() < writers.len() {
            Batch::concat(parts)
        } else {
            Batch::new(self.precision)
        })
    }

    fn run_post_processors(&self) -> Result<()> {
        let processors: Vec<(Vec<String>, Arc<PostProcessFn>)> = lock(&self.post_processors)
            .iter()
            .map(|p| (p.measurements.clone(), Arc::clone(&p.func)))
            .collect();
        for (measurements, func) in processors {
            let all = self.dataset();
            let by_measurement = measurements
                .into_iter()
                .map(|m| {
                    let entries = all.iter().filter(|e| e.measurement == m).cloned().collect();
                    (m, entries)
                })
                .collect();
            func(self, &Entries { by_measurement })
                .map_err(|e| e.context("post-processing failed"))?;
        }
        Ok(())
    }

    /// Writes what is pending and makes every writer flush what it wrote (a file writer syncs
    /// it to disk, a [`BackgroundWriter`](crate::BackgroundWriter) waits until the server
    /// acknowledged everything, up to its flush timeout).
    ///
    /// # Errors
    /// What [`write_data`](Self::write_data) returns, or a writer that could not flush (its data is
    /// kept; with a spool, the message says where).
    pub fn flush(&self) -> Result<()> {
        self.write_data().and(self.flush_writers(None))
    }

    /// [`flush`](DataLogger::flush), waiting at most `timeout` in all.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub fn flush_within(&self, timeout: std::time::Duration) -> Result<()> {
        self.write_data()
            .and(self.flush_writers(Some(std::time::Instant::now() + timeout)))
    }

    /// Makes every writer flush what it was given, without handing it anything new.
    ///
    /// # Errors
    /// A writer that could not flush (its data is kept; with a spool, the message says where).
    pub fn flush_writers(&self, deadline: Option<std::time::Instant>) -> Result<()> {
        self.flush_writers_within(deadline, false)
    }

    /// What a process exit does: [`flush_writers`](Self::flush_writers) by `deadline`, each
    /// writer waited for at most its own flush timeout (as its `flush` would), and not at all
    /// once its server cannot be reached (the data stays in the spool, if there is one).
    ///
    /// # Errors
    /// As [`flush_writers`](Self::flush_writers).
    pub fn flush_writers_at_exit(&self, deadline: std::time::Instant) -> Result<()> {
        self.flush_writers_within(Some(deadline), true)
    }

    fn flush_writers_within(
        &self,
        deadline: Option<std::time::Instant>,
        at_exit: bool,
    ) -> Result<()> {
        self.ensure_own_process()?;
        let mut flushed = Ok(());
        for slot in lock(&self.delivery).iter_mut() {
            let result = match deadline {
                Some(deadline) if at_exit => {
                    let mut wait = deadline.saturating_duration_since(std::time::Instant::now());
                    if let Some(limit) = slot.writer.flush_timeout() {
                        wait = wait.min(limit);
                    }
                    slot.writer.flush_unless_unreachable(wait)
                }
                Some(deadline) => slot
                    .writer
                    .flush_within(deadline.saturating_duration_since(std::time::Instant::now())),
                None => slot.writer.flush(),
            };
            if let Err(e) = result {
                if flushed.is_ok() {
                    flushed = Err(e.context(format_args!(
                        "writer {} could not flush",
                        slot.writer.name()
                    )));
                }
            }
        }
        if flushed.is_ok() {
            self.release_spool();
        }
        flushed.map_err(|e| match self.spool_dir() {
            Some(dir) => Error::new(
                e.kind(),
                format!(
                    "{e:#}; nothing is lost: the points are kept in the spool {} and delivered by the next logger that opens it (or: influxdb-datalogger replay {})",
                    dir.display(),
                    dir.display()
                ),
            ),
            None => e,
        })
    }

    /// The spool's directory, if the logger has a spool.
    fn spool_dir(&self) -> Option<std::path::PathBuf> {
        lock(&self.pending)
            .spool
            .as_ref()
            .map(|s| s.shared().options().dir.clone())
    }

    /// [`flush`](DataLogger::flush)es, and says whether anything the writers were given was
    /// refused by the database; dropping the logger does the same and says it on stderr.
    ///
    /// # Errors
    /// What `flush` returns; else, if the database refused points for good (they are in the
    /// dead-letter file, not in the database), a [`ErrorKind::Writer`] error counting them.
    pub fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Relaxed);
        self.flush()?;
        let refused: u64 = lock(&self.delivery)
            .iter()
            .map(|w| w.writer.dead_lettered())
            .sum();
        match refused {
            0 => Ok(()),
            n => Err(Error::new(
                ErrorKind::Writer,
                format!(
                    "{n} points were refused by the database and set aside in the dead-letter file; the rest was delivered"
                ),
            )
            .with_retriable(false)),
        }
    }

    /// Deletes the spool's segments if everything in them was acknowledged (after a flush: the
    /// logger may be done, and a segment is megabytes).
    fn release_spool(&self) {
        let released = lock(&self.pending)
            .spool
            .as_mut()
            .map(SpoolWriter::release_if_acknowledged);
        // Deleted with the logger unlocked.
        drop(released);
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

    /// What this logger replayed from its spool when it started.
    pub fn replay_report(&self) -> ReplayReport {
        lock(&self.replayed).clone()
    }

    /// Replays what dead processes left in the spool directory: their points and events are
    /// stored (and spooled) as if just logged, with their original timestamps, and (unless
    /// `hand_over` is false) handed to the writers — every few thousand records, and at the end
    /// of each of their segments, which is deleted once its records are on disk in this
    /// logger's own segment.
    fn replay_dead_owners(&self, hand_over: bool) -> Result<()> {
        const HAND_OVER_EVERY: usize = 5_000;
        if lock(&self.delivery).is_empty() {
            // Nowhere to deliver: leave them for a logger that has writers.
            return Ok(());
        }
        let Some(shared) = lock(&self.pending)
            .spool
            .as_ref()
            .map(|s| Arc::clone(s.shared()))
        else {
            return Ok(());
        };
        let options = shared.options().clone();
        let mut report = ReplayReport::default();
        for owner in spool::claim_dead_owners(&options.dir, shared.owner())? {
            let mut since_hand_over = 0;
            spool::replay_owner(
                owner,
                shared.target(),
                options.adopt,
                self.precision,
                &mut report,
                |item| {
                    match item {
                        ReplayItem::Point(line) => {
                            let split = spool::series_key_len(&line).unwrap_or(line.len());
                            lock(&self.pending).push_line(&line, split)?;
                        }
                        ReplayItem::Event(event) => lock(&self.pending).push_event(event)?,
                        ReplayItem::SegmentDone => {
                            // Failed writers keep their data; it is in this logger's spool too.
                            if hand_over {
                                let _ = self.write_data();
                            }
                            since_hand_over = 0;
                            return lock(&self.pending)
                                .spool
                                .as_ref()
                                .map_or(Ok(()), SpoolWriter::sync);
                        }
                    }
                    since_hand_over += 1;
                    if hand_over && since_hand_over >= HAND_OVER_EVERY {
                        since_hand_over = 0;
                        let _ = self.write_data();
                    }
                    Ok(())
                },
            )?;
        }
        *lock(&self.replayed) = report;
        Ok(())
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

/// A field whose unsigned value is passed on as a signed integer.
struct SignedField<'a, F> {
    input: &'a F,
    value: Option<FieldValue>,
}

impl<F: FieldInput> FieldInput for SignedField<'_, F> {
    fn key(&self) -> &str {
        self.input.key()
    }
    fn value(&self) -> Option<&FieldValue> {
        self.value.as_ref()
    }
    fn schema_index(&self) -> Option<usize> {
        self.input.schema_index()
    }
}

/// `fields` with unsigned values as signed ones, for a target without unsigned integers; an
/// error names a value too large for it.
fn signed_fields<'a, F: FieldInput>(
    measurement: &Measurement,
    fields: &'a [F],
) -> Result<Vec<SignedField<'a, F>>> {
    fields
        .iter()
        .map(|input| {
            let value = match input.value() {
                Some(&FieldValue::UInt(v)) => Some(FieldValue::Int(i64::try_from(v).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidValue,
                        format!(
                            "measurement {:?}, field {}: {v} is larger than the largest integer InfluxDB 1.x stores \
                             ({}; it has no unsigned integers); the point was not logged",
                            measurement.name(),
                            field_label(measurement, input),
                            i64::MAX
                        ),
                    )
                })?)),
                other => other.cloned(),
            };
            Ok(SignedField { input, value })
        })
        .collect()
}

fn field_label<F: FieldInput>(measurement: &Measurement, input: &F) -> String {
    match input.schema_index() {
        Some(i) => measurement
            .fields()
            .nth(i)
            .map_or_else(String::new, |f| format!("{:?}", f.name())),
        None => format!("{:?}", input.key()),
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
        let refused: u64 = lock(&self.delivery)
            .iter()
            .map(|w| w.writer.dead_lettered())
            .sum();
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
