//! Telling a forked child from the process that made a logger.
//!
//! `fork()` copies a process with only the calling thread: a logger made before it has, in the
//! child, writers whose delivery threads do not exist, locks that a vanished thread may hold, and
//! a spool whose mapped segments and lock belong to the parent. Such a logger must never be used
//! (points logged there would sit in a queue no thread sends) nor torn down (its drop would
//! delete or seal the parent's files). Every process counts the forks it is the child of; a
//! logger remembers the count it was made under, and compares with one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static WATCH: Once = Once::new();

#[cfg(unix)]
extern "C" fn in_child() {
    // Only an atomic add: what a fork handler may safely do.
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Starts counting forks; called before anything that must know about them is made.
pub(crate) fn watch() {
    WATCH.call_once(|| {
        #[cfg(unix)]
        #[allow(unsafe_code)]
        // SAFETY: `in_child` is an `extern "C" fn()` that lives for the whole program and does
        // only an atomic add, which is async-signal-safe as a fork handler must be.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

/// How many forks this process is the child of (0 in a process that was not forked after
/// [`watch`], and always 0 where there is no `fork`).
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// Who made something fork-sensitive, to tell at once whether this process is a child of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    generation: u64,
    pid: u32,
}

impl Origin {
    pub(crate) fn here() -> Self {
        watch();
        Origin {
            generation: generation(),
            pid: std::process::id(),
        }
    }

    /// Whether this process is a child forked after the thing was made.
    #[inline]
    pub(crate) fn is_forked(&self) -> bool {
        generation() != self.generation
    }

    /// The process that made it.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }
}
