//! What the logger's thread and the delivery thread share: the queue, the counters, and the
//! waiting for progress; and how a chunk is taken from the queue.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use super::DeliveryOptions;
use crate::entry::Batch;
use crate::spool::{SpoolLink, SpoolMark};

#[derive(Default)]
pub(super) struct State {
    pub(super) queue: VecDeque<Batch>,
    pub(super) queued_bytes: usize,
    pub(super) queued_points: usize,
    /// When the oldest queued data arrived.
    pub(super) oldest: Option<Instant>,
    pub(super) handed_over: u64,
    pub(super) delivered: u64,
    /// Refused by the server and dead-lettered.
    pub(super) refused: u64,
    /// Of `delivered`, events.
    pub(super) delivered_events: u64,
    pub(super) dropped: u64,
    pub(super) retries: u64,
    /// Chunks that failed for good (after their retries), for a flush to notice.
    pub(super) failed_sends: u64,
    /// The last send attempt could not connect to the server.
    pub(super) unreachable: bool,
    /// Send attempts that failed: a wait judges reachability only by an attempt made after it
    /// began, not by one from before the server came back.
    pub(super) failed_attempts: u64,
    /// Asked by a wait that gives up on an unreachable server: end the current backoff and try
    /// again now (once), so that the verdict is fresh.
    pub(super) retry_now: bool,
    /// With a spool: where the last batch handed over ends in it.
    pub(super) last_mark: Option<SpoolMark>,
    /// Batches handed over but left in the spool, to be read back: from, to, and how many
    /// points and events that is.
    pub(super) spill: Option<Spill>,
    pub(super) last_error: Option<String>,
    pub(super) flush_requested: bool,
    /// The writer was dropped: send what is left without waiting, then stop.
    pub(super) detached: bool,
    pub(super) stopped: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Spill {
    pub(super) from: SpoolMark,
    pub(super) to: SpoolMark,
    pub(super) records: u64,
}

impl State {
    /// Points and events handed over and neither acknowledged nor dropped.
    pub(super) fn pending(&self) -> u64 {
        self.handed_over - self.delivered - self.refused - self.dropped
    }

    pub(super) fn has_data(&self) -> bool {
        !self.queue.is_empty() || self.spill.is_some()
    }

    /// Queues a batch in memory: at the back, or at the front (a chunk to try again).
    pub(super) fn enqueue(&mut self, batch: Batch, at_front: bool) {
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

/// When a wait for delivery gives up before its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WaitUntil {
    Delivered,
    SendFails,
    SendFailsOrUnreachable,
}

/// What [`Shared::wait_delivered`] saw.
pub(super) struct Waited {
    /// Points and events still not acknowledged.
    pub(super) pending: u64,
    /// The last error, or "still sending".
    pub(super) cause: String,
    /// The wait ended because a send failed for good.
    pub(super) send_failed: bool,
    /// The wait ended because the server could not be reached.
    pub(super) unreachable: bool,
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// The logger's spool, once attached.
    pub(super) spool: OnceLock<SpoolLink>,
    /// Wakes the thread: data, a flush, a drop.
    pub(super) wake: Condvar,
    /// Wakes waiters: progress.
    pub(super) progress: Condvar,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for everything to be sent and waits until it is acknowledged (or the thread
    /// stopped), at most until `deadline`, and less as `until` says.
    pub(super) fn wait_delivered(&self, deadline: Instant, until: WaitUntil) -> Waited {
        let mut state = self.lock();
        state.flush_requested = true;
        let judge_reachability = until == WaitUntil::SendFailsOrUnreachable;
        if judge_reachability {
            state.retry_now = true;
        }
        self.wake.notify_all();
        let failures_before = state.failed_sends;
        let attempts_before = state.failed_attempts;
        let failed =
            |state: &State| until != WaitUntil::Delivered && state.failed_sends != failures_before;
        let unreachable = |state: &State| {
            judge_reachability && state.unreachable && state.failed_attempts > attempts_before
        };
        let mut state = wait_while(&self.progress, state, deadline, |state| {
            state.pending() > 0 && !state.stopped && !failed(state) && !unreachable(state)
        });
        // Not left for a later backoff to be cut short by.
        state.retry_now = false;
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

/// Takes up to a chunk's worth of queued data.
pub(super) fn take_chunk(state: &mut State, options: &DeliveryOptions) -> Batch {
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

/// Waits on `condvar` while `waiting` holds, at most until `deadline`, whatever wakes it.
pub(super) fn wait_while<'a, T>(
    condvar: &Condvar,
    mut guard: MutexGuard<'a, T>,
    deadline: Instant,
    mut waiting: impl FnMut(&T) -> bool,
) -> MutexGuard<'a, T> {
    while waiting(&guard) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        guard = condvar
            .wait_timeout(guard, deadline - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    guard
}
