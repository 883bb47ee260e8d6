//! Which entry leaves a full cache.
//!
//! LRU without a lock on hits: a hit copies the global access clock into the entry's
//! `last_used` stamp and advances the clock, but only when the stamp differs. Repeated hits on
//! the entry that was used last (the common hot-key case) therefore write nothing at all, and in
//! a single thread the stamps order entries exactly by last use. With concurrent hits two
//! entries may share a stamp; ties then evict either one, which is the usual looseness of a
//! concurrent LRU.
//!
//! The writer keeps entries in a `BTreeMap` ordered by the stamp each had when it was filed.
//! To find a victim it pops the oldest; if that entry has been used since (its stamp moved), it
//! is re-filed under its new stamp and the next one is tried. Each re-file pays for at least one
//! hit that changed a stamp, so eviction is O(log n) amortised.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::entry::Entry;

/// The access clock shared by hits (only used by bounded policies).
#[derive(Debug, Default)]
pub(crate) struct Recency {
    clock: AtomicU64,
}

impl Recency {
    /// Records a use of `entry`.
    #[inline]
    pub(crate) fn touch(&self, entry: &Entry) {
        let now = self.clock.load(Ordering::Relaxed);
        if entry.last_used.load(Ordering::Relaxed) != now {
            entry.last_used.store(now, Ordering::Relaxed);
            self.clock.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Stamps a newly inserted entry as the most recently used.
    fn stamp_new(&self, entry: &Entry) -> u64 {
        let stamp = self.clock.fetch_add(1, Ordering::Relaxed);
        entry.last_used.store(stamp, Ordering::Relaxed);
        stamp
    }
}

/// Writer-side bookkeeping of the eviction policy.
#[derive(Debug)]
pub(crate) enum Evictor {
    /// Unbounded: nothing to track.
    Simple,
    /// Bounded LRU.
    Lru {
        capacity: usize,
        order: BTreeMap<(u64, usize), Arc<Entry>>,
    },
}

impl Evictor {
    pub(crate) fn lru(capacity: usize) -> Self {
        Self::Lru {
            capacity: capacity.max(1),
            order: BTreeMap::new(),
        }
    }

    /// Files a newly inserted entry.
    pub(crate) fn inserted(&mut self, recency: &Recency, entry: &Arc<Entry>) {
        if let Self::Lru { order, .. } = self {
            let stamp = recency.stamp_new(entry);
            order.insert((stamp, address(entry)), Arc::clone(entry));
        }
    }

    /// Gives up every entry (the cache is being closed). The caller drops them after releasing
    /// the lock.
    pub(crate) fn take_all(&mut self) -> Vec<Arc<Entry>> {
        match self {
            Self::Simple => Vec::new(),
            Self::Lru { order, .. } => std::mem::take(order).into_values().collect(),
        }
    }

    /// The entry to evict before inserting one more into a cache holding `len` entries.
    pub(crate) fn victim(&mut self, len: usize) -> Option<Arc<Entry>> {
        let Self::Lru { capacity, order } = self else {
            return None;
        };
        if len < *capacity {
            return None;
        }
        while let Some(((filed, addr), entry)) = order.pop_first() {
            let used = entry.last_used.load(Ordering::Relaxed);
            if used == filed {
                return Some(entry);
            }
            order.insert((used, addr), entry);
        }
        None
    }
}

/// Ties between equal stamps are broken by address, which is unique among live entries.
fn address(entry: &Arc<Entry>) -> usize {
    Arc::as_ptr(entry) as usize
}
