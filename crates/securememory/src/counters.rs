//! Process-wide counts of the memory system calls this crate made.
//!
//! Benchmarks report system calls per operation, a deterministic figure that
//! shows whether the access protocol works (two `mprotect` calls per
//! sequential access, far fewer when threads overlap) independently of timing
//! noise. The counts are relaxed atomic increments next to calls that cost a
//! microsecond or more, so they stay on in release builds.

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) static MMAP: AtomicU64 = AtomicU64::new(0);
pub(crate) static MUNMAP: AtomicU64 = AtomicU64::new(0);
pub(crate) static MPROTECT: AtomicU64 = AtomicU64::new(0);
pub(crate) static MLOCK: AtomicU64 = AtomicU64::new(0);
pub(crate) static MADVISE: AtomicU64 = AtomicU64::new(0);

#[inline]
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A snapshot of the counts; subtract two with [`Counters::since`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// `mmap` calls (one per secret).
    pub mmap: u64,
    /// `munmap` calls (one per closed secret).
    pub munmap: u64,
    /// `mprotect` calls (creation, each 0 -> 1 and 1 -> 0 accessor transition, close).
    pub mprotect: u64,
    /// `mlock` calls (one per secret when mlock is on).
    pub mlock: u64,
    /// `madvise` calls (`MADV_DONTDUMP`, Linux only).
    pub madvise: u64,
}

impl Counters {
    /// The counts made between `earlier` and `self`.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            mmap: self.mmap - earlier.mmap,
            munmap: self.munmap - earlier.munmap,
            mprotect: self.mprotect - earlier.mprotect,
            mlock: self.mlock - earlier.mlock,
            madvise: self.madvise - earlier.madvise,
        }
    }
}

/// The current process-wide counts.
pub fn counters() -> Counters {
    Counters {
        mmap: MMAP.load(Ordering::Relaxed),
        munmap: MUNMAP.load(Ordering::Relaxed),
        mprotect: MPROTECT.load(Ordering::Relaxed),
        mlock: MLOCK.load(Ordering::Relaxed),
        madvise: MADVISE.load(Ordering::Relaxed),
    }
}
