//! A counting global allocator for the bench binaries.
//!
//! Each bench binary installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: subject_benches::CountingAllocator = subject_benches::CountingAllocator;
//! ```
//!
//! It counts only while [`count_allocs`] runs (one relaxed load of a flag
//! otherwise), so criterion's timed loops are unaffected and parallel threads
//! do not contend on shared counters while they are being timed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations (including `realloc`) and
/// requested bytes while counting is on.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAllocator;

impl CountingAllocator {
    #[inline]
    fn record(size: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(size as u64, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; counting touches only atomics and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::record(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::record(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::record(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made while counting was on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocCounts {
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub allocs: u64,
    /// Bytes requested by those calls.
    pub bytes: u64,
}

/// Runs `f` with counting on (in all threads of the process) and returns
/// what it allocated.
///
/// Panics if [`CountingAllocator`] is not the global allocator (a bench that
/// forgot to install it would otherwise report 0 allocations silently), or
/// if called while another `count_allocs` runs.
pub fn count_allocs<R>(f: impl FnOnce() -> R) -> (R, AllocCounts) {
    assert!(
        !COUNTING.swap(true, Ordering::SeqCst),
        "count_allocs is not reentrant"
    );
    let probe_before = ALLOCS.load(Ordering::SeqCst);
    drop(black_box(Box::new(0u64)));
    let installed = ALLOCS.load(Ordering::SeqCst) != probe_before;
    if !installed {
        COUNTING.store(false, Ordering::SeqCst);
        panic!(
            "subject_benches::CountingAllocator is not installed: add \
             `#[global_allocator] static ALLOC: subject_benches::CountingAllocator = \
             subject_benches::CountingAllocator;` to the bench binary"
        );
    }
    let allocs = ALLOCS.load(Ordering::SeqCst);
    let bytes = BYTES.load(Ordering::SeqCst);
    let result = f();
    let counts = AllocCounts {
        allocs: ALLOCS.load(Ordering::SeqCst) - allocs,
        bytes: BYTES.load(Ordering::SeqCst) - bytes,
    };
    COUNTING.store(false, Ordering::SeqCst);
    (result, counts)
}
