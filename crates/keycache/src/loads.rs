//! The keys a shard is loading (its single-flight board), kept in the shard itself.
//!
//! Loads of one shard seldom overlap, so the first record lives inline and only further ones
//! go to a `Vec`. Boarding a flight then writes no heap memory: an insert touches the shard's
//! own lines and none that a `Vec` buffer would add (which the other thread inserting into the
//! same shard would have written last), and a fresh shard's first load allocates nothing.

use std::ptr;

/// A key being loaded. `id` borrows from the loading thread, which removes this record before
/// the borrow ends (see `single_flight::Flight`).
struct Loading {
    hash: u64,
    created: i64,
    id: *const str,
}

/// The records of the keys being loaded, in no particular order.
#[derive(Default)]
pub(crate) struct Loads {
    first: Option<Loading>,
    more: Vec<Loading>,
}

impl Loads {
    fn iter(&self) -> impl Iterator<Item = &Loading> {
        self.first.iter().chain(self.more.iter())
    }

    /// Whether `(id, created)` is being loaded.
    ///
    /// # Safety
    /// Every recorded id must still be borrowed by its loading thread (guaranteed when records
    /// are removed, with [`remove`](Self::remove), before the borrows end).
    pub(crate) unsafe fn contains(&self, hash: u64, id: &str, created: i64) -> bool {
        self.iter().any(|l| {
            // SAFETY: the caller's guarantee: the id is still borrowed.
            l.hash == hash && l.created == created && unsafe { &*l.id } == id
        })
    }

    /// Records a load of `(id, created)`; the caller removes it before `id`'s borrow ends.
    pub(crate) fn add(&mut self, hash: u64, id: &str, created: i64) {
        let record = Loading {
            hash,
            created,
            id: ptr::from_ref(id),
        };
        if self.first.is_none() {
            self.first = Some(record);
        } else {
            self.more.push(record);
        }
    }

    /// Removes the record of this very borrow of `id` (compared by address), if present.
    pub(crate) fn remove(&mut self, hash: u64, id: &str, created: i64) {
        let this = |l: &Loading| {
            l.hash == hash && l.created == created && ptr::addr_eq(l.id, ptr::from_ref(id))
        };
        if self.first.as_ref().is_some_and(this) {
            self.first = self.more.pop();
        } else if let Some(i) = self.more.iter().position(this) {
            self.more.swap_remove(i);
        }
    }

    /// Number of loads recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_and_go_in_any_order() {
        let ids = [String::from("a"), String::from("b"), String::from("c")];
        let mut loads = Loads::default();
        for (i, id) in ids.iter().enumerate() {
            loads.add(i as u64, id, 1);
        }
        assert_eq!(loads.len(), 3);
        // SAFETY (all `contains` below): the ids outlive `loads`.
        assert!(unsafe { loads.contains(1, "b", 1) });
        assert!(!unsafe { loads.contains(1, "b", 2) });
        // The inline record first: a spilled one takes its place.
        loads.remove(0, &ids[0], 1);
        assert!(!unsafe { loads.contains(0, "a", 1) });
        assert!(unsafe { loads.contains(1, "b", 1) && loads.contains(2, "c", 1) });
        // An equal id at another address is another load: not removed.
        loads.remove(2, &String::from("c"), 1);
        assert_eq!(loads.len(), 2);
        loads.remove(2, &ids[2], 1);
        loads.remove(1, &ids[1], 1);
        assert_eq!(loads.len(), 0);
        assert!(loads.first.is_none() && loads.more.is_empty());
    }
}
