//! The delivery thread: takes chunks from the queue (or reads them back from the spool), sends
//! them with retries and backoff, and reports progress.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use super::queue::{take_chunk, wait_while, Shared, Spill};
use super::DeliveryOptions;
use crate::entry::Batch;
use crate::error::Result;
use crate::writer::DatabaseWriter;

/// The delivery thread.
pub(super) fn deliver(
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
                NextSend::Spilled(state.spill.expect("has_data: a spill"))
            } else {
                NextSend::Chunk(take_chunk(&mut state, options))
            }
        };
        let chunk = match taken {
            NextSend::Chunk(chunk) => chunk,
            NextSend::Spilled(spill) => match read_back(shared, spill, options) {
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
                state.failed_attempts += 1;
                state.unreachable = e.is_connect();
                state.last_error = Some(format!("{e:#}"));
                state.flush_requested = false;
                shared.progress.notify_all();
            }
        }
    }
}

enum NextSend {
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
        state.failed_attempts += 1;
        state.unreachable = error.is_connect();
        state.last_error = Some(format!("{error:#}"));
        shared.progress.notify_all();
        // Sleep out the whole wait: new data arriving (with continuous write, every log call)
        // wakes this condition variable, and must not turn the backoff into a retry storm. Only
        // a wait that must know whether the server is reachable (an exit, a close) cuts it short.
        state = wait_while(&shared.wake, state, Instant::now() + wait, |s| !s.retry_now);
        state.retry_now = false;
    }
}

/// A number in [0, 1) that differs from call to call and from process to process: enough to
/// keep clients from retrying in step, no cryptography needed.
pub(super) fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    // `RandomState`'s keys differ between processes; the call count and the wall clock make
    // the input differ between calls.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}
