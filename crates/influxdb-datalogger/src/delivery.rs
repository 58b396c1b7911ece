//! Background delivery: a [`BackgroundWriter`] puts a thread between the logger and a writer,
//! so that handing a batch over costs a copy, and the network is the thread's business.
//!
//! The thread sends in chunks (by point count and bytes) as soon as a chunk is full, and at the
//! latest one interval after data arrived. A failed chunk is retried with exponential backoff
//! and jitter — honouring the server's `Retry-After` — for as long as the retry budget allows;
//! then it goes back to the head of the queue and is tried again later. Nothing is dropped: an
//! error that retrying cannot fix (refused credentials, a missing database) keeps the data
//! queued, is reported by [`stats`](BackgroundWriter::stats) and `flush`, and the thread tries
//! again only every [`RetryPolicy::max_delay`].
//!
//! With a spool (see [`crate::SpoolOptions`]) the thread acknowledges every chunk the database
//! took, so that the spool can release it; and while the database does not keep up, it keeps
//! at most the spool's `memory_bytes` in memory and reads the rest back from the spool when its
//! turn comes, so that memory stays flat however long the database is away.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::entry::Batch;
use crate::error::{Error, ErrorKind, Result};
use crate::fork::Origin;
use crate::spool::{SpoolLink, SpoolMark};
use crate::writer::DatabaseWriter;

/// When to retry a failed send.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The first wait.
    pub initial_delay: Duration,
    /// The longest wait between two tries.
    pub max_delay: Duration,
    /// How much each wait grows.
    pub multiplier: f64,
    /// Each wait is shortened by a random share up to this (0 to 1), so that many clients do
    /// not retry in step.
    pub jitter: f64,
    /// How long one chunk is retried before it goes back to the queue.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.3,
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `attempt` (1 for the first retry), before jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let grown = self.initial_delay.as_secs_f64()
            * self.multiplier.powi(attempt.saturating_sub(1) as i32);
        Duration::from_secs_f64(grown.min(self.max_delay.as_secs_f64()))
    }
}

/// How a [`BackgroundWriter`] batches and retries.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeliveryOptions {
    /// The most points sent in one request (InfluxDB advises about 5,000).
    pub max_points: usize,
    /// The most bytes sent in one request.
    pub max_bytes: usize,
    /// The longest data waits before it is sent.
    pub interval: Duration,
    /// How failed sends are retried.
    pub retry: RetryPolicy,
    /// How long `flush` (and so `close`) waits for everything handed over to be acknowledged.
    pub flush_timeout: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            max_points: 5_000,
            max_bytes: 4 << 20,
            interval: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            flush_timeout: Duration::from_secs(30),
        }
    }
}

/// Numbers of a [`BackgroundWriter`].
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

#[derive(Default)]
struct State {
    queue: VecDeque<Batch>,
    queued_bytes: usize,
    queued_points: usize,
    /// When the oldest queued data arrived.
    oldest: Option<Instant>,
    handed_over: u64,
    delivered: u64,
    /// Refused by the server and dead-lettered.
    refused: u64,
    /// Of `delivered`, events.
    delivered_events: u64,
    dropped: u64,
    retries: u64,
    /// Chunks that failed for good (after their retries), for a flush to notice.
    failed_sends: u64,
    /// The last send attempt could not connect to the server.
    unreachable: bool,
    /// With a spool: where the last batch handed over ends in it.
    last_mark: Option<SpoolMark>,
    /// Batches handed over but left in the spool, to be read back: from, to, and how many
    /// points and events that is.
    spill: Option<Spill>,
    last_error: Option<String>,
    flush_requested: bool,
    /// The writer was dropped: send what is left without waiting, then stop.
    detached: bool,
    stopped: bool,
}

#[derive(Debug, Clone, Copy)]
struct Spill {
    from: SpoolMark,
    to: SpoolMark,
    records: u64,
}

impl State {
    /// Points and events handed over and neither acknowledged nor dropped.
    fn pending(&self) -> u64 {
        self.handed_over - self.delivered - self.refused - self.dropped
    }

    fn has_data(&self) -> bool {
        !self.queue.is_empty() || self.spill.is_some()
    }

    /// Queues a batch in memory: at the back, or at the front (a chunk to try again).
    fn enqueue(&mut self, batch: Batch, at_front: bool) {
        self.queued_bytes += batch.line_protocol().len();
        self.queued_points += batch.point_count();
        self.oldest.get_or_insert_with(Instant::now);
        if at_front {
            self.queue.push_front(batch);
        } else {
            self.queue.push_back(batch);
        }
    }
}

/// What [`Shared::wait_delivered`] saw.
/// When a wait for delivery gives up before its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitUntil {
    Delivered,
    SendFails,
    SendFailsOrUnreachable,
}

struct Waited {
    /// Points and events still not acknowledged.
    pending: u64,
    /// The last error, or "still sending".
    cause: String,
    /// The wait ended because a send failed for good.
    send_failed: bool,
    /// The wait ended because the server could not be reached.
    unreachable: bool,
}

struct Shared {
    state: Mutex<State>,
    /// The logger's spool, once attached.
    spool: OnceLock<SpoolLink>,
    /// Wakes the thread: data, a flush, a drop.
    wake: Condvar,
    /// Wakes waiters: progress.
    progress: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for everything to be sent and waits until it is acknowledged (or the thread
    /// stopped), at most until `deadline`, and less as `until` says.
    fn wait_delivered(&self, deadline: Instant, until: WaitUntil) -> Waited {
        let mut state = self.lock();
        state.flush_requested = true;
        self.wake.notify_all();
        let failures_before = state.failed_sends;
        let failed =
            |state: &State| until != WaitUntil::Delivered && state.failed_sends != failures_before;
        let unreachable =
            |state: &State| until == WaitUntil::SendFailsOrUnreachable && state.unreachable;
        while state.pending() > 0 && !state.stopped && !failed(&state) && !unreachable(&state) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .progress
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Waited {
            pending: state.pending(),
            cause: state
                .last_error
                .clone()
                .unwrap_or_else(|| "still sending".to_string()),
            send_failed: failed(&state),
            unreachable: unreachable(&state),
        }
    }
}

/// Delivery threads whose writer was dropped with data still undelivered: they go on
/// delivering, and [`flush_detached`] waits for them (a binding calls it at process exit).
static DETACHED: Mutex<Vec<(Origin, Arc<Shared>)>> = Mutex::new(Vec::new());

/// Waits, at most `timeout`, until the delivery threads of dropped writers have delivered what
/// they hold; the error says how many points were not. For bindings whose process exit does not
/// drop loggers (the Python package's exit hook calls it); a Rust program's dropped loggers
/// wait by themselves.
#[doc(hidden)]
pub fn flush_detached(timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let threads: Vec<(Origin, Arc<Shared>)> = DETACHED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect();
    let mut undelivered = 0;
    let mut cause = None;
    for (origin, shared) in threads {
        if origin.is_forked() {
            // A thread of the parent's, which the fork did not copy: the parent waits for it.
            std::mem::forget(shared);
            continue;
        }
        let waited = shared.wait_delivered(deadline, WaitUntil::Delivered);
        undelivered += waited.pending;
        if waited.pending > 0 {
            cause.get_or_insert(waited.cause);
        }
    }
    match undelivered {
        0 => Ok(()),
        n => Err(Error::new(
            ErrorKind::Writer,
            format!(
                "{n} points not delivered within {}: {}",
                human_duration(timeout),
                cause.unwrap_or_else(|| "still sending".into())
            ),
        )),
    }
}

/// Runs a writer on a thread of its own; see the module documentation.
///
/// ```
/// use std::time::Duration;
/// use influxdb_datalogger::{fields, tags, BackgroundWriter, DataLogger, DeliveryOptions, Field, Measurement, MemoryWriter};
///
/// let memory = MemoryWriter::new();
/// let mut options = DeliveryOptions::default();
/// options.interval = Duration::from_millis(100); // send at the latest 100 ms after data arrives
/// let logger = DataLogger::builder()
///     .writer(BackgroundWriter::new(memory.clone(), options))
///     .build();
/// let m = Measurement::builder("m").field(Field::new("v")).build()?;
/// logger.log(&m, fields!("v" => 1.0), tags!())?;
/// logger.flush()?; // hands over and waits until the writer has it
/// assert_eq!(memory.entries().len(), 1);
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
pub struct BackgroundWriter {
    origin: Origin,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    name: String,
    dead_lettered: Arc<AtomicU64>,
    flush_timeout: Duration,
    accepts_unsigned: bool,
}

impl std::fmt::Debug for BackgroundWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundWriter")
            .field("name", &self.name)
            .field("stats", &self.stats())
            .finish()
    }
}

impl BackgroundWriter {
    /// Starts a delivery thread for `writer`.
    ///
    /// # Panics
    /// If the operating system refuses to start a thread (as `std::thread::spawn` does).
    pub fn new(writer: impl DatabaseWriter + 'static, options: DeliveryOptions) -> Self {
        let name = writer.name();
        let accepts_unsigned = writer.accepts_unsigned();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            spool: OnceLock::new(),
            wake: Condvar::new(),
            progress: Condvar::new(),
        });
        let dead_lettered = Arc::new(AtomicU64::new(0));
        let flush_timeout = options.flush_timeout;
        let thread = {
            let (shared, dead_lettered) = (Arc::clone(&shared), Arc::clone(&dead_lettered));
            std::thread::Builder::new()
                .name(format!(
                    "datalogger-delivery-{}",
                    name.chars().take(16).collect::<String>()
                ))
                .spawn(move || deliver(writer, &shared, &options, &dead_lettered))
                .expect("a thread can be started")
        };
        BackgroundWriter {
            origin: Origin::here(),
            shared,
            thread: Some(thread),
            name,
            dead_lettered,
            flush_timeout,
            accepts_unsigned,
        }
    }

    /// The numbers so far.
    pub fn stats(&self) -> DeliveryStats {
        let state = self.shared.lock();
        DeliveryStats {
            handed_over: state.handed_over,
            delivered: state.delivered,
            retries: state.retries,
            pending: state.pending(),
            dropped: state.dropped,
            spilled: state.spill.map_or(0, |s| s.records),
            last_error: state.last_error.clone(),
            refused: state.refused,
            delivered_events: state.delivered_events,
            failures: state.failed_sends,
        }
    }

    /// Waits until everything handed over is acknowledged, or `timeout` passes, or a send
    /// fails for good (waiting on would only delay the same error: refused credentials, a
    /// missing database). Delivery goes on after an error, and the data is kept meanwhile.
    ///
    /// # Errors
    /// [`ErrorKind::Writer`] with how many points are not delivered and why (the last error, or the
    /// time running out); the data is kept and delivery goes on.
    pub fn flush_within(&self, timeout: Duration) -> Result<()> {
        self.wait(timeout, WaitUntil::SendFails)
    }

    /// [`flush_within`](Self::flush_within), giving up also as soon as the server cannot be
    /// reached at all (refused, unreachable): what a process exit does, where the wait is
    /// only a courtesy.
    ///
    /// # Errors
    /// As [`flush_within`](Self::flush_within).
    pub fn flush_unless_unreachable(&self, timeout: Duration) -> Result<()> {
        self.wait(timeout, WaitUntil::SendFailsOrUnreachable)
    }

    fn wait(&self, timeout: Duration, until: WaitUntil) -> Result<()> {
        let waited = self.shared.wait_delivered(Instant::now() + timeout, until);
        if waited.pending == 0 {
            return Ok(());
        }
        let when = if waited.send_failed {
            "(the last send failed)".to_string()
        } else if waited.unreachable {
            "(the server cannot be reached)".to_string()
        } else {
            format!("within {}", human_duration(timeout))
        };
        // After a send that failed for good, waiting longer does not help.
        Err(Error::new(
            ErrorKind::Writer,
            format!(
                "{}: {} points not delivered {when}: {}",
                self.name, waited.pending, waited.cause
            ),
        )
        .with_retriable(!waited.send_failed))
    }
}

impl DatabaseWriter for BackgroundWriter {
    /// Hands the batch to the delivery thread; never blocks on the network.
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.origin.is_forked() {
            return Err(Error::new(
                ErrorKind::ForkedProcess,
                format!(
                    "{}: made in process {}, whose delivery thread a forked child does not have; make the writer in the child",
                    self.name,
                    self.origin.pid()
                ),
            ));
        }
        let records = (batch.point_count() + batch.events().len()) as u64;
        let mut state = self.shared.lock();
        state.handed_over += records;
        state.oldest.get_or_insert_with(Instant::now);
        if let Some(link) = self.shared.spool.get() {
            // Where the batch lies in the spool: from where the previous one ended to its mark.
            // A part of a larger write has no mark, and after it the next start is unknown.
            let mark = batch.spool_mark();
            let start = std::mem::replace(&mut state.last_mark, mark);
            if let (Some(start), Some(mark)) = (start, mark) {
                let in_memory = (state.queued_bytes
                    + batch.line_protocol().len()
                    + (state.queue.len() + 1) * QUEUED_BATCH_OVERHEAD)
                    as u64;
                // While the database takes what it is sent, a burst stays in memory (reading
                // it back would slow delivery), up to a hard cap; once a send failed, what
                // exceeds `memory_bytes` waits in the spool, so memory stays flat through an
                // outage.
                let limit = link.shared.options().memory_bytes;
                let failing = state.last_error.is_some();
                if state.spill.is_some()
                    || (failing && in_memory > limit)
                    || in_memory > limit.saturating_mul(SPILL_WHILE_HEALTHY_FACTOR)
                {
                    // Leave it in the spool; the thread reads it back when its turn comes.
                    let spill = state.spill.get_or_insert(Spill {
                        from: start,
                        to: mark,
                        records: 0,
                    });
                    spill.to = mark;
                    spill.records += records;
                    drop(state);
                    self.shared.wake.notify_all();
                    return Ok(());
                }
            }
        }
        state.enqueue(batch.clone(), false);
        drop(state);
        self.shared.wake.notify_all();
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        BackgroundWriter::flush_within(self, self.flush_timeout)
    }

    fn flush_within(&mut self, timeout: Duration) -> Result<()> {
        BackgroundWriter::flush_within(self, timeout)
    }

    fn flush_unless_unreachable(&mut self, timeout: Duration) -> Result<()> {
        BackgroundWriter::flush_unless_unreachable(self, timeout)
    }

    fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    fn delivery_stats(&self) -> Option<DeliveryStats> {
        Some(self.stats())
    }

    /// Handing over only queues: a large write can come in parts (see the trait).
    fn takes_parts(&self) -> bool {
        true
    }

    fn attach_spool(&mut self, link: SpoolLink) -> bool {
        let start = link.position();
        if self.shared.spool.set(link).is_err() {
            // Already attached to another logger's spool: acknowledgements go there.
            return false;
        }
        self.shared.lock().last_mark = Some(start);
        true
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn accepts_unsigned(&self) -> bool {
        self.accepts_unsigned
    }

    fn flush_timeout(&self) -> Option<Duration> {
        Some(self.flush_timeout)
    }
}

impl Drop for BackgroundWriter {
    /// Never blocks on the network (a drop may happen anywhere, e.g. in a garbage collector):
    /// with everything delivered the thread ends; otherwise it goes on delivering on its own,
    /// and [`flush_detached`] waits for it.
    fn drop(&mut self) {
        if self.origin.is_forked() {
            // In a forked child: the thread is the parent's (not copied), its state may be
            // locked by it, and its spool link must not delete the parent's files on drop.
            std::mem::forget(self.thread.take());
            std::mem::forget(Arc::clone(&self.shared));
            return;
        }
        let idle = {
            let mut state = self.shared.lock();
            state.detached = true;
            state.pending() == 0
        };
        self.shared.wake.notify_all();
        if idle {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        } else {
            DETACHED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((self.origin, Arc::clone(&self.shared)));
        }
    }
}

/// `1.5 s`, `250 ms`: a timeout as a person reads it (also for the command line's messages).
pub fn human_duration(d: Duration) -> String {
    // 999.7 ms (a deadline's remainder of a second) reads as 1 s.
    if d < Duration::from_millis(950) {
        format!("{} ms", d.as_millis())
    } else {
        let text = format!("{:.1}", d.as_secs_f64());
        format!("{} s", text.trim_end_matches(".0"))
    }
}

/// What a queued batch costs in memory besides its bytes (its `Batch` and shared buffers).
const QUEUED_BATCH_OVERHEAD: usize = 128;

/// While sends succeed, a background writer keeps up to this many times the spool's
/// `memory_bytes` in memory before it leaves batches in the spool.
const SPILL_WHILE_HEALTHY_FACTOR: u64 = 16;

/// The delivery thread.
fn deliver(
    mut writer: impl DatabaseWriter,
    shared: &Shared,
    options: &DeliveryOptions,
    dead_lettered: &AtomicU64,
) {
    let mut paused_until: Option<Instant> = None;
    loop {
        let taken = {
            let mut state = shared.lock();
            loop {
                if state.detached && !state.has_data() {
                    state.stopped = true;
                    shared.progress.notify_all();
                    return;
                }
                let now = Instant::now();
                let paused =
                    paused_until.is_some_and(|until| now < until) && !state.flush_requested;
                let full = state.queued_points >= options.max_points
                    || state.queued_bytes >= options.max_bytes
                    || state.spill.is_some();
                let due = state.oldest.is_some_and(|t| now >= t + options.interval);
                if state.has_data()
                    && !paused
                    && (full || due || state.flush_requested || state.detached)
                {
                    break;
                }
                let wait = match (paused_until, state.oldest) {
                    (Some(until), _) if paused => until - now,
                    (_, Some(oldest)) => (oldest + options.interval).saturating_duration_since(now),
                    _ => options.interval,
                };
                state = shared
                    .wake
                    .wait_timeout(state, wait.max(Duration::from_millis(1)))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if state.queue.is_empty() {
                Taken::Spilled(state.spill.expect("has_data: a spill"))
            } else {
                Taken::Chunk(take_chunk(&mut state, options))
            }
        };
        let chunk = match taken {
            Taken::Chunk(chunk) => chunk,
            Taken::Spilled(spill) => match read_back(shared, spill, options) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => continue,
                Err(e) => {
                    paused_until = Some(Instant::now() + options.retry.max_delay);
                    let mut state = shared.lock();
                    state.last_error = Some(format!("{e:#}"));
                    shared.progress.notify_all();
                    continue;
                }
            },
        };
        let points = (chunk.point_count() + chunk.events().len()) as u64;
        let refused_before = writer.dead_lettered();
        let sent = send_with_retries(&mut writer, &chunk, shared, options);
        // Published before the progress below: a flush that returns sees what was refused.
        dead_lettered.store(writer.dead_lettered(), Ordering::Relaxed);
        match sent {
            Ok(()) => {
                // Lines the server refused went to the dead-letter file: acknowledged (they
                // will never be taken), but not delivered.
                let refused = writer.dead_lettered().saturating_sub(refused_before);
                paused_until = None;
                let link = shared.spool.get();
                if let (Some(link), Some(mark)) = (link, chunk.spool_mark()) {
                    link.acknowledge_deferred(mark);
                }
                let mut state = shared.lock();
                state.delivered += points.saturating_sub(refused);
                state.delivered_events += chunk.events().len() as u64;
                state.refused += refused;
                state.last_error = None;
                state.unreachable = false;
                if state.queue.is_empty() {
                    state.flush_requested = false;
                }
                shared.progress.notify_all();
                drop(state);
                // After the progress report: a flush waiting for it need not wait for unlinks.
                if let Some(link) = link {
                    link.delete_released();
                }
            }
            Err(e) => {
                // Keep the data, at the head of the queue, and try again later.
                paused_until = Some(
                    Instant::now()
                        + if e.is_retriable() {
                            options.interval
                        } else {
                            options.retry.max_delay
                        },
                );
                let mut state = shared.lock();
                state.enqueue(chunk, true);
                state.failed_sends += 1;
                state.unreachable = e.is_connect();
                state.last_error = Some(format!("{e:#}"));
                state.flush_requested = false;
                shared.progress.notify_all();
            }
        }
    }
}

enum Taken {
    Chunk(Batch),
    Spilled(Spill),
}

/// Reads the next chunk of spilled data back from the spool (outside the state lock) and moves
/// the spill on; `None` when what it read was dropped at the spool's size cap.
fn read_back(shared: &Shared, spill: Spill, options: &DeliveryOptions) -> Result<Option<Batch>> {
    let link = shared.spool.get().expect("only a spooled writer spills");
    let read = link
        .shared
        .read(spill.from, spill.to, options.max_points, options.max_bytes)?;
    let records = (read.batch.point_count() + read.batch.events().len()) as u64;
    let mut state = shared.lock();
    state.dropped += read.dropped;
    if let Some(current) = state.spill.as_mut() {
        current.from = read.next;
        current.records = current.records.saturating_sub(records + read.dropped);
        if current.from >= current.to {
            state.spill = None;
        }
    }
    if read.dropped > 0 {
        shared.progress.notify_all();
    }
    Ok((!read.batch.is_empty()).then_some(read.batch))
}

/// Takes up to a chunk's worth of queued data.
fn take_chunk(state: &mut State, options: &DeliveryOptions) -> Batch {
    let first = state
        .queue
        .pop_front()
        .expect("the caller checked the queue");
    let head = if first.point_count() > options.max_points {
        let mut parts = first.split(options.max_points).into_iter();
        let head = parts.next().expect("split returns at least one part");
        for part in parts.rev() {
            state.queue.push_front(part);
        }
        head
    } else {
        first
    };
    // Small batches (one per point under continuous write) are merged with a single copy.
    let (mut points, mut bytes) = (head.point_count(), head.line_protocol().len());
    let mut parts = vec![head];
    while let Some(next) = state.queue.front() {
        if points + next.point_count() > options.max_points
            || bytes + next.line_protocol().len() > options.max_bytes
        {
            break;
        }
        points += next.point_count();
        bytes += next.line_protocol().len();
        parts.push(state.queue.pop_front().expect("front exists"));
    }
    let chunk = match parts.len() {
        1 => parts.pop().expect("one part"),
        _ => Batch::concat(parts),
    };
    state.queued_bytes = state
        .queued_bytes
        .saturating_sub(chunk.line_protocol().len());
    state.queued_points = state.queued_points.saturating_sub(chunk.point_count());
    if state.queue.is_empty() {
        state.oldest = None;
    }
    chunk
}

/// Sends a chunk, retrying retriable failures with backoff within the budget.
fn send_with_retries(
    writer: &mut impl DatabaseWriter,
    chunk: &Batch,
    shared: &Shared,
    options: &DeliveryOptions,
) -> Result<()> {
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        let error = match writer.write_data(chunk) {
            Ok(()) => return Ok(()),
            Err(e) if !e.is_retriable() => return Err(e),
            Err(e) => e,
        };
        attempt += 1;
        let base = error
            .retry_after()
            .unwrap_or_else(|| options.retry.delay(attempt));
        let wait = base.mul_f64(1.0 - options.retry.jitter.clamp(0.0, 1.0) * jitter_fraction());
        if started.elapsed() + wait > options.retry.budget {
            return Err(error);
        }
        let mut state = shared.lock();
        state.retries += 1;
        state.unreachable = error.is_connect();
        state.last_error = Some(format!("{error:#}"));
        shared.progress.notify_all();
        // Sleep out the whole wait: new data arriving (with continuous write, every log call)
        // wakes this condition variable, and must not turn the backoff into a retry storm.
        let until = Instant::now() + wait;
        loop {
            let now = Instant::now();
            if now >= until {
                break;
            }
            state = shared
                .wake
                .wait_timeout(state, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A number in [0, 1) that differs from call to call and from process to process: enough to
/// keep clients from retrying in step, no cryptography needed.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::MemoryWriter;
    use crate::{fields, tags, DataLogger, Field, Measurement, Timestamp};

    fn batch_of(n: i64) -> Batch {
        let m = Measurement::builder("m")
            .field(Field::new("f"))
            .build()
            .unwrap();
        let logger = DataLogger::builder().close_on_drop(false).build();
        for i in 0..n {
            logger
                .log_at(&m, fields!("f" => i), tags!(), Timestamp::from_nanos(i))
                .unwrap();
        }
        logger.pending_batch()
    }

    /// Fails with a retriable error the first `failures` times.
    struct Flaky {
        failures: u32,
        retriable: bool,
        seen: MemoryWriter,
    }

    impl DatabaseWriter for Flaky {
        fn write_data(&mut self, batch: &Batch) -> Result<()> {
            if self.failures > 0 {
                self.failures -= 1;
                return Err(Error::new(ErrorKind::Writer, "scripted failure")
                    .with_retriable(self.retriable));
            }
            self.seen.write_data(batch)
        }
    }

    fn fast() -> DeliveryOptions {
        DeliveryOptions {
            max_points: 10,
            interval: Duration::from_millis(50),
            retry: RetryPolicy {
                initial_delay: Duration::from_millis(5),
                budget: Duration::from_secs(5),
                ..RetryPolicy::default()
            },
            flush_timeout: Duration::from_secs(5),
            ..DeliveryOptions::default()
        }
    }

    #[test]
    fn many_small_batches_are_merged_into_full_chunks() {
        let seen = MemoryWriter::new();
        let mut background = BackgroundWriter::new(
            seen.clone(),
            DeliveryOptions {
                interval: Duration::from_secs(60),
                ..fast()
            },
        );
        for _ in 0..25 {
            background.write_data(&batch_of(1)).unwrap();
        }
        background.flush().unwrap();
        assert_eq!(seen.entries().len(), 25);
        assert_eq!(seen.batch_count(), 3, "10 + 10 + 5");
    }

    #[test]
    fn delays_grow_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(
            (p.delay(1), p.delay(2), p.delay(4)),
            (
                Duration::from_millis(100),
                Duration::from_millis(200),
                Duration::from_millis(800)
            )
        );
        assert_eq!(p.delay(30), Duration::from_secs(10));
        let f = jitter_fraction();
        assert!((0.0..1.0).contains(&f));
    }

    #[test]
    fn batches_are_sent_in_chunks_and_flush_waits_for_them() {
        let seen = MemoryWriter::new();
        let mut background = BackgroundWriter::new(seen.clone(), fast());
        background.write_data(&batch_of(25)).unwrap();
        background.write_data(&batch_of(3)).unwrap();
        background.flush().unwrap();
        assert_eq!(seen.entries().len(), 28);
        assert!(seen.batch_count() >= 3, "at most 10 points per request");
        let stats = background.stats();
        assert_eq!(
            (stats.handed_over, stats.delivered, stats.pending),
            (28, 28, 0)
        );
    }

    #[test]
    fn data_goes_out_within_the_interval_without_a_flush() {
        let seen = MemoryWriter::new();
        let mut background = BackgroundWriter::new(seen.clone(), fast());
        background.write_data(&batch_of(2)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.entries().len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(seen.entries().len(), 2);
    }

    #[test]
    fn new_data_does_not_cut_the_backoff_short() {
        let seen = MemoryWriter::new();
        let mut background = BackgroundWriter::new(
            Flaky {
                failures: u32::MAX,
                retriable: true,
                seen,
            },
            DeliveryOptions {
                interval: Duration::from_millis(1),
                retry: RetryPolicy {
                    initial_delay: Duration::from_millis(100),
                    jitter: 0.0,
                    ..RetryPolicy::default()
                },
                ..fast()
            },
        );
        // A point every millisecond for 300 ms, as continuous write hands them over.
        for _ in 0..300 {
            background.write_data(&batch_of(1)).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let retries = background.stats().retries;
        assert!(
            retries <= 5,
            "waits of 100, 200, 400 ms… (five fit in 3 s, for a slow machine); new data must \
             not wake a retry: {retries}"
        );
        // Its thread would retry forever: keep it off the list `flush_detached` waits for.
        std::mem::forget(background);
    }

    #[test]
    fn retriable_failures_are_retried_and_nothing_is_sent_twice() {
        let seen = MemoryWriter::new();
        let mut background = BackgroundWriter::new(
            Flaky {
                failures: 3,
                retriable: true,
                seen: seen.clone(),
            },
            fast(),
        );
        background.write_data(&batch_of(5)).unwrap();
        background.flush().unwrap();
        assert_eq!(seen.entries().len(), 5);
        assert_eq!(background.stats().retries, 3);
    }

    #[test]
    fn an_error_retrying_cannot_fix_keeps_the_data_and_flush_says_so() {
        let seen = MemoryWriter::new();
        let background = BackgroundWriter::new(
            Flaky {
                failures: 1,
                retriable: false,
                seen: seen.clone(),
            },
            fast(),
        );
        let mut background = background;
        background.write_data(&batch_of(4)).unwrap();
        let err = background
            .flush_within(Duration::from_secs(60))
            .unwrap_err();
        assert!(
            err.message()
                .contains("4 points not delivered (the last send failed)"),
            "a failure answers the flush; it does not wait out its timeout: {err}"
        );
        assert!(err.message().contains("scripted failure"), "{err}");
        assert_eq!(background.stats().pending, 4);
        // A flush asks for another try at once: the failure is over, so the data arrives.
        background.flush().unwrap();
        assert_eq!(seen.entries().len(), 4);
    }

    #[test]
    fn a_dropped_writer_never_blocks_and_its_thread_delivers_the_rest() {
        let seen = MemoryWriter::new();
        let mut background = BackgroundWriter::new(
            Flaky {
                failures: 2,
                retriable: true,
                seen: seen.clone(),
            },
            fast(),
        );
        background.write_data(&batch_of(6)).unwrap();
        let started = Instant::now();
        drop(background);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "drop does not wait for the network"
        );
        flush_detached(Duration::from_secs(5)).unwrap();
        assert_eq!(seen.entries().len(), 6);
    }

    /// Records how many points each `write_data` call handed over.
    #[derive(Clone, Default)]
    struct Handovers(Arc<Mutex<Vec<usize>>>);

    impl DatabaseWriter for Handovers {
        fn write_data(&mut self, batch: &Batch) -> Result<()> {
            self.0.lock().unwrap().push(batch.point_count());
            Ok(())
        }
    }

    /// Takes parts, as a background writer does, and records them.
    struct PartTaker(Handovers);

    impl DatabaseWriter for PartTaker {
        fn write_data(&mut self, batch: &Batch) -> Result<()> {
            self.0.write_data(batch)
        }
        fn takes_parts(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_large_write_goes_in_parts_to_writers_that_take_them_and_whole_to_the_others() {
        let m = Measurement::builder("m")
            .field(Field::new("f"))
            .build()
            .unwrap();
        let (parts, whole) = (Handovers::default(), Handovers::default());
        let seen = MemoryWriter::new();
        let logger = DataLogger::builder()
            .writer(PartTaker(parts.clone()))
            .writer(whole.clone())
            .writer(BackgroundWriter::new(seen.clone(), fast()))
            .build();
        for i in 0..120_001 {
            logger
                .log_at(&m, fields!("f" => i), tags!(), Timestamp::from_nanos(i))
                .unwrap();
        }
        logger.write_data().unwrap();
        assert_eq!(*parts.0.lock().unwrap(), vec![50_000, 50_000, 20_001]);
        assert_eq!(*whole.0.lock().unwrap(), vec![120_001]);
        logger.flush().unwrap();
        let entries = seen.entries();
        assert_eq!(entries.len(), 120_001);
        assert!(entries
            .iter()
            .enumerate()
            .all(|(i, e)| e.time == Timestamp::from_nanos(i as i64)));
        let stats = logger.stats();
        assert!(stats.writers.iter().all(|w| w.points_written == 120_001));
    }

    #[test]
    fn a_logger_with_a_background_writer_returns_at_once_and_close_delivers() {
        let seen = MemoryWriter::new();
        let m = Measurement::builder("m")
            .field(Field::new("f"))
            .build()
            .unwrap();
        let logger = DataLogger::builder()
            .writer(BackgroundWriter::new(seen.clone(), fast()))
            .build();
        for i in 0..100 {
            logger.log(&m, fields!("f" => i), tags!()).unwrap();
        }
        logger.write_data().unwrap();
        logger.close().unwrap();
        assert_eq!(seen.entries().len(), 100);
    }
}
