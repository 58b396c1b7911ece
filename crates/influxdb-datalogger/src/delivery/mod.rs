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

mod background;
mod options;
mod queue;
mod thread;

pub use crate::stats::DeliveryStats;
pub use background::{flush_detached, BackgroundWriter};
pub use options::{DeliveryOptions, RetryPolicy};

use std::time::Duration;

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

#[cfg(test)]
mod tests;
