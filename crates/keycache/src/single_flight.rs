//! One load at a time per key: the first thread to miss loads, the others wait for it and
//! then find the key in the cache.
//!
//! Each key being loaded gets its own mutex (a "gate"), registered in a map only for the
//! duration of the load. The map lock is held just long enough to find or create a gate, never
//! while a loader runs, so a slow load of one key delays neither hits nor loads of other keys.
//! If a loader fails, the next waiter runs its own loader (as Go's cache does): the error
//! belongs to the caller whose loader produced it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::{Mutex, RawMutex};

type GateKey = (Box<str>, i64);

#[derive(Default)]
pub(crate) struct Gates {
    open: Mutex<HashMap<GateKey, Arc<Mutex<()>>>>,
}

/// Held while loading one key; other threads asking for that key wait in [`Gates::enter`].
pub(crate) struct Passage<'a> {
    gates: &'a Gates,
    key: Option<GateKey>,
    held: Option<ArcMutexGuard<RawMutex, ()>>,
}

impl Gates {
    /// Waits until no other thread is loading `(id, created)`, then holds its gate.
    pub(crate) fn enter(&self, id: &str, created: i64) -> Passage<'_> {
        let key: GateKey = (id.into(), created);
        let gate = {
            let mut open = self.open.lock();
            match open.entry(key.clone()) {
                Entry::Occupied(e) => Arc::clone(e.get()),
                Entry::Vacant(e) => Arc::clone(e.insert(Arc::new(Mutex::new(())))),
            }
        };
        Passage {
            gates: self,
            key: Some(key),
            held: Some(gate.lock_arc()),
        }
    }

    #[cfg(test)]
    fn open_gates(&self) -> usize {
        self.open.lock().len()
    }
}

impl Drop for Passage<'_> {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else { return };
        let gate = ArcMutexGuard::mutex(&held).clone();
        drop(held);
        let mut open = self.gates.open.lock();
        // Only the map and `gate` left: nobody waits, so the gate can go. Every clone is made
        // under the map lock, so no one can take a new reference while we look.
        if Arc::strong_count(&gate) == 2
            && let Some(key) = self.key.take()
        {
            open.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_are_removed_when_the_last_passage_leaves() {
        let gates = Gates::default();
        let first = gates.enter("a", 1);
        let other = gates.enter("b", 1);
        assert_eq!(gates.open_gates(), 2);
        drop(first);
        assert_eq!(gates.open_gates(), 1);
        drop(other);
        assert_eq!(gates.open_gates(), 0);
    }

    #[test]
    fn a_second_passage_waits_for_the_first() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let gates = Arc::new(Gates::default());
        let released = Arc::new(AtomicBool::new(false));
        let first = gates.enter("k", 7);
        let waiter = {
            let gates = Arc::clone(&gates);
            let released = Arc::clone(&released);
            std::thread::spawn(move || {
                let _p = gates.enter("k", 7);
                released.load(Ordering::SeqCst)
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        released.store(true, Ordering::SeqCst);
        drop(first);
        assert!(
            waiter.join().unwrap(),
            "second passage entered before the first left"
        );
        assert_eq!(gates.open_gates(), 0);
    }
}
