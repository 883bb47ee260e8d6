//! One load at a time per key: the first thread to miss loads, the others wait for it and
//! then find the key in the cache.
//!
//! The keys being loaded are recorded on their shard of the index (`table::Writer`), under the
//! shard lock that inserts take anyway: no global map, no per-key allocation. The lock is held
//! only to check and record, never while a loader runs, so a slow load of one key delays
//! neither hits nor loads of other keys. Waiters sleep on the shard's condition variable
//! (after `parking_lot`'s brief spin for the lock) and re-check when any load of the shard
//! ends. If a loader fails (or panics), the next waiter runs its own loader, as Go's cache
//! does: the error belongs to the caller whose loader produced it.

use crate::table::{Index, Writer};

/// This thread's load of one key; other threads asking for it wait until it ends.
///
/// Ends with [`land`](Flight::land) under a lock the caller holds anyway, or on drop (an error
/// or a panic in the loader) by taking the shard lock.
pub(crate) struct Flight<'a, S> {
    index: &'a Index<S>,
    hash: u64,
    id: &'a str,
    created: i64,
    landed: bool,
}

impl<'a, S> Flight<'a, S> {
    /// Waits (releasing `writer`'s lock meanwhile) until no thread loads `(id, created)` or
    /// `ready` finds what it needs, re-checked after every wait. Returns `ready`'s find, or a
    /// flight that makes this thread the loader.
    pub(crate) fn board<T>(
        index: &'a Index<S>,
        writer: &mut Writer<'_, S>,
        hash: u64,
        id: &'a str,
        created: i64,
        mut ready: impl FnMut(&Writer<'_, S>) -> Option<T>,
    ) -> Result<Self, T> {
        loop {
            if let Some(found) = ready(writer) {
                return Err(found);
            }
            if !writer.is_loading(hash, id, created) {
                break;
            }
            writer.wait();
        }
        writer.begin_loading(hash, id, created);
        Ok(Self {
            index,
            hash,
            id,
            created,
            landed: false,
        })
    }

    /// Ends the flight under `writer`'s lock (of this flight's shard).
    pub(crate) fn land(mut self, writer: &mut Writer<'_, S>) {
        writer.end_loading(self.hash, self.id, self.created);
        self.landed = true;
    }
}

impl<S> Drop for Flight<'_, S> {
    fn drop(&mut self) {
        if !self.landed {
            self.index
                .lock(self.hash)
                .end_loading(self.hash, self.id, self.created);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn board<'a>(index: &'a Index<()>, id: &'a str, created: i64) -> Flight<'a, ()> {
        let hash = index.hash(id);
        let mut writer = index.lock(hash);
        match Flight::board(index, &mut writer, hash, id, created, |_| None::<()>) {
            Ok(flight) => flight,
            Err(()) => unreachable!(),
        }
    }

    fn loads(index: &Index<()>) -> usize {
        // Every id below lands in shard 0 of a one-shard index.
        index.lock(0).loads_in_progress()
    }

    #[test]
    fn loads_are_forgotten_when_their_flight_ends() {
        let index = Index::new(1, || ());
        let first = board(&index, "a", 1);
        let other = board(&index, "b", 1);
        assert_eq!(loads(&index), 2);
        drop(first);
        assert_eq!(loads(&index), 1);
        let hash = index.hash("b");
        other.land(&mut index.lock(hash));
        assert_eq!(loads(&index), 0);
    }

    #[test]
    fn a_second_flight_waits_for_the_first() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let index = Arc::new(Index::new(1, || ()));
        let released = Arc::new(AtomicBool::new(false));
        let first = board(&index, "k", 7);
        let waiter = {
            let index = Arc::clone(&index);
            let released = Arc::clone(&released);
            std::thread::spawn(move || {
                let _f = board(&index, "k", 7);
                released.load(Ordering::SeqCst)
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        released.store(true, Ordering::SeqCst);
        drop(first);
        assert!(
            waiter.join().unwrap(),
            "second flight boarded before the first landed"
        );
        assert_eq!(loads(&index), 0);
    }
}
