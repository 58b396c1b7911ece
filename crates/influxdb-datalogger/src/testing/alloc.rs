//! [`CountingAllocator`]: the system allocator, counting what each thread allocates, so that
//! `#[influxdb_datalogger::test]` can record a test's memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The system allocator with per-thread counts of bytes allocated and live, for the memory
/// fields of `#[influxdb_datalogger::test]` (`alloc_bytes`, `peak_bytes`). Opt in by making it
/// the global allocator of your test binary:
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: influxdb_datalogger::testing::CountingAllocator =
///     influxdb_datalogger::testing::CountingAllocator::new();
/// ```
///
/// Counts are per thread (a test runs on a thread of its own): memory a test allocates on
/// other threads it spawns is not counted, and memory freed on another thread than the one
/// that allocated it counts as still live for the allocating thread. Its cost is measured
/// by `bench/examples/test_attribute_overhead.rs` (see `bench/RESULTS.md`).
#[derive(Debug, Default)]
pub struct CountingAllocator {
    _private: (),
}

/// Whether a [`CountingAllocator`] is the global allocator (it has allocated something).
static IN_USE: AtomicBool = AtomicBool::new(false);

thread_local! {
    // Plain cells with constant initialisers: reading them never allocates, which an
    // allocator must not do.
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

impl CountingAllocator {
    /// The allocator, for a `#[global_allocator]` static.
    pub const fn new() -> Self {
        CountingAllocator { _private: () }
    }

    fn counted(size: usize, grow: bool) {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        // `try_with`: during a thread's teardown its locals may be gone; that memory is not
        // a test's.
        let _ = LIVE.try_with(|live| {
            let now = if grow {
                live.get().saturating_add(size)
            } else {
                live.get().saturating_sub(size)
            };
            live.set(now);
            if grow {
                let _ = ALLOCATED.try_with(|a| a.set(a.get().saturating_add(size as u64)));
                let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
            }
        });
    }
}

// Allocation is the system's; the counting only touches thread-local cells.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.store(true, Ordering::Relaxed);
        Self::counted(layout.size(), true);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        IN_USE.store(true, Ordering::Relaxed);
        Self::counted(layout.size(), true);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::counted(layout.size(), false);
        // SAFETY: `ptr` came from System with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            Self::counted(new_size - layout.size(), true);
        } else {
            Self::counted(layout.size() - new_size, false);
        }
        // SAFETY: as for `dealloc` and `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What the calling thread has allocated since [`MemoryMark::now`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemoryMark {
    allocated: u64,
    live: i64,
}

impl MemoryMark {
    /// A mark on the calling thread, with its peak reset to what is live now; `None` when no
    /// [`CountingAllocator`] is the global allocator.
    pub(crate) fn now() -> Option<Self> {
        if !IN_USE.load(Ordering::Relaxed) {
            return None;
        }
        let live = LIVE.try_with(Cell::get).ok()?;
        PEAK.try_with(|p| p.set(live)).ok()?;
        Some(MemoryMark {
            allocated: ALLOCATED.try_with(Cell::get).ok()?,
            live,
        })
    }

    /// (bytes allocated since the mark, the most bytes live above the mark at any time).
    pub(crate) fn since(self) -> Option<(u64, u64)> {
        let allocated = ALLOCATED.try_with(Cell::get).ok()?;
        let peak = PEAK.try_with(Cell::get).ok()?;
        Some((
            allocated.saturating_sub(self.allocated),
            u64::try_from(peak.saturating_sub(self.live)).unwrap_or(0),
        ))
    }
}
