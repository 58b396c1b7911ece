//! [`BackgroundWriter`]: the writer's side of the thread — handing over, flushing, dropping —
//! and the threads of dropped writers that go on delivering.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::queue::{Shared, Spill, State, WaitUntil};
use super::thread::deliver;
use super::{human_duration, DeliveryOptions, DeliveryStats};
use crate::entry::Batch;
use crate::error::{Error, ErrorKind, Result};
use crate::fork::Origin;
use crate::spool::SpoolLink;
use crate::writer::DatabaseWriter;

/// What a queued batch costs in memory besides its bytes (its `Batch` and shared buffers).
const QUEUED_BATCH_OVERHEAD: usize = 128;

/// While sends succeed, a background writer keeps up to this many times the spool's
/// `memory_bytes` in memory before it leaves batches in the spool.
const SPILL_WHILE_HEALTHY_FACTOR: u64 = 16;

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
    let mut spools = Vec::new();
    // Whether every writer that did not deliver was let go because its server is unreachable.
    let mut gave_up_early = true;
    for (origin, shared) in threads {
        if origin.is_forked() {
            // A thread of the parent's, which the fork did not copy: the parent waits for it.
            std::mem::forget(shared);
            continue;
        }
        // What a spool holds is safe: a server that cannot be reached is not waited for.
        let spool = shared
            .spool
            .get()
            .map(|link| link.shared.options().dir.clone());
        let until = match spool {
            Some(_) => WaitUntil::SendFailsOrUnreachable,
            None => WaitUntil::Delivered,
        };
        let waited = shared.wait_delivered(deadline, until);
        if waited.pending == 0 {
            continue;
        }
        undelivered += waited.pending;
        cause.get_or_insert(waited.cause);
        gave_up_early &= waited.unreachable;
        if let Some(dir) = spool {
            spools.push(dir);
        }
    }
    spools.dedup();
    let kept = spools
        .iter()
        .map(|dir| format!("; {}", crate::spool::kept_in(dir)))
        .collect::<String>();
    let when = if gave_up_early {
        "(the server cannot be reached)".to_string()
    } else {
        format!("within {}", human_duration(timeout))
    };
    match undelivered {
        0 => Ok(()),
        n => Err(Error::new(
            ErrorKind::Writer,
            format!(
                "{n} points not delivered {when}: {}{kept}",
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

    fn flush_at_exit(&mut self, timeout: Duration) -> Result<()> {
        BackgroundWriter::flush_unless_unreachable(self, timeout.min(self.flush_timeout))
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
