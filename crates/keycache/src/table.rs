//! A hash index whose reads take no lock and write no shared memory.
//!
//! Layout: a table of buckets; each bucket is an immutable array of items published through an
//! [`ArcSwapOption`]. A writer (serialised by a mutex) copies the one bucket it changes, so an
//! insert costs O(items in that bucket), about one, not O(cache size).
//!
//! Reads: load the current table pointer (a plain atomic load), then `load()` the bucket.
//! arc-swap protects the loaded bucket with a debt in a slot owned by the reading thread (a
//! hazard pointer) rather than by incrementing the bucket's shared reference count, so hits from
//! many threads on the same key do not bounce a cache line between cores. The returned
//! [`Pinned`] keeps that bucket snapshot, and so its entries and their secrets, alive.
//!
//! Growth: when the table is too full the writer builds a table twice as large, publishes it,
//! then empties every bucket of the old table. The old table's bucket array itself is kept until
//! the index is dropped (at most about as much memory as the current table, since sizes
//! double), which is what lets readers dereference the table pointer without any protection. A
//! reader that still walks an emptied old table sees a miss and takes the slow path, which
//! re-reads the current table under the single-flight gate, so the miss is never wrong for long.

use std::hash::BuildHasher;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};

use arc_swap::{ArcSwapOption, Guard};
use parking_lot::{Mutex, MutexGuard};

use crate::entry::Entry;

/// Buckets of a new index; small, because a key cache often holds a handful of system keys.
const INITIAL_BUCKETS: usize = 64;
/// The table doubles when it holds more than this many items per bucket on average.
const MAX_LOAD: usize = 2;

/// One lookup key in a bucket. `created == 0` is the "latest" alias of an id: a second item
/// pointing at the same entry as the id's newest key, so a latest lookup is one probe.
pub(crate) struct Item {
    hash: u64,
    created: i64,
    entry: Arc<Entry>,
}

impl Item {
    #[inline]
    fn matches(&self, hash: u64, id: &str, created: i64) -> bool {
        self.hash == hash && self.created == created && &*self.entry.id == id
    }
}

struct Bucket {
    items: Box<[Item]>,
}

struct Table {
    buckets: Box<[ArcSwapOption<Bucket>]>,
    mask: usize,
}

impl Table {
    fn with_buckets(n: usize) -> Self {
        debug_assert!(n.is_power_of_two());
        Self {
            buckets: (0..n).map(|_| ArcSwapOption::empty()).collect(),
            mask: n - 1,
        }
    }

    #[inline]
    fn bucket(&self, hash: u64) -> &ArcSwapOption<Bucket> {
        // Truncation is intended: the mask keeps only low bits.
        &self.buckets[hash as usize & self.mask]
    }
}

/// A bucket snapshot pinned by a hit, and the entry found in it.
pub(crate) struct Pinned {
    /// Keeps the bucket, and so `entry`, alive.
    _bucket: Guard<Option<Arc<Bucket>>>,
    entry: NonNull<Entry>,
}

impl Pinned {
    #[inline]
    pub(crate) fn entry(&self) -> &Entry {
        // SAFETY: `entry` points into an `Arc<Entry>` held by the pinned bucket, which cannot be
        // freed while `_bucket` (a protected snapshot) lives; entries are only read through `&`.
        unsafe { self.entry.as_ref() }
    }
}

// SAFETY: `Pinned` is a guard plus a shared pointer into the data it guards; `Entry` is
// `Send + Sync`, and arc-swap guards may be dropped on any thread (paying a debt is an atomic
// operation on the debt slot, whichever thread does it).
unsafe impl Send for Pinned {}
// SAFETY: see `Send`; only `&Entry` is handed out.
unsafe impl Sync for Pinned {}

/// The hash index of a key cache, plus the writer-side state `S` that must change atomically
/// with it (the eviction order).
pub(crate) struct Index<S> {
    current: AtomicPtr<Table>,
    hasher: foldhash::fast::RandomState,
    writer: Mutex<Tables<S>>,
}

struct Tables<S> {
    /// Every table ever published (from `Box::into_raw`); the last one is current. Freed only
    /// when the index is dropped.
    all: Vec<*mut Table>,
    items: usize,
    state: S,
}

impl<S> Index<S> {
    pub(crate) fn new(state: S) -> Self {
        let first = Box::into_raw(Box::new(Table::with_buckets(INITIAL_BUCKETS)));
        Self {
            current: AtomicPtr::new(first),
            hasher: foldhash::fast::RandomState::default(),
            writer: Mutex::new(Tables {
                all: vec![first],
                items: 0,
                state,
            }),
        }
    }

    /// The hash of an id; every item of one id lands in the same bucket.
    #[inline]
    pub(crate) fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// Lock-free lookup of `(id, created)`.
    #[inline]
    pub(crate) fn get(&self, hash: u64, id: &str, created: i64) -> Option<Pinned> {
        // SAFETY: tables are only freed when `self` is dropped (see the module docs), and the
        // Acquire load pairs with the Release store that published the table fully built.
        let table = unsafe { &*self.current.load(Ordering::Acquire) };
        let bucket = table.bucket(hash).load();
        let entry = bucket
            .as_ref()?
            .items
            .iter()
            .find(|item| item.matches(hash, id, created))
            .map(|item| NonNull::from(&*item.entry))?;
        Some(Pinned {
            _bucket: bucket,
            entry,
        })
    }

    /// Exclusive access for changes; readers are never blocked by it.
    pub(crate) fn write(&self) -> Writer<'_, S> {
        Writer {
            index: self,
            tables: self.writer.lock(),
        }
    }
}

/// Holder of the index's writer lock.
pub(crate) struct Writer<'a, S> {
    index: &'a Index<S>,
    tables: MutexGuard<'a, Tables<S>>,
}

impl<S> Writer<'_, S> {
    fn table(&self) -> &Table {
        let current = *self.tables.all.last().expect("an index always has a table");
        // SAFETY: tables live until the index is dropped, which outlives this writer.
        unsafe { &*current }
    }

    /// The entry stored under `(id, created)`, if any.
    pub(crate) fn find(&self, hash: u64, id: &str, created: i64) -> Option<Arc<Entry>> {
        let bucket = self.table().bucket(hash).load();
        let bucket = bucket.as_ref()?;
        bucket
            .items
            .iter()
            .find(|item| item.matches(hash, id, created))
            .map(|item| Arc::clone(&item.entry))
    }

    /// Stores `entry` under `(id, created)`, returning the entry it replaced.
    pub(crate) fn upsert(
        &mut self,
        hash: u64,
        created: i64,
        entry: Arc<Entry>,
    ) -> Option<Arc<Entry>> {
        let slot = self.table().bucket(hash);
        let old = slot.load_full();
        let mut items: Vec<Item> =
            Vec::with_capacity(old.as_ref().map_or(0, |b| b.items.len()) + 1);
        let mut replaced = None;
        for item in old.iter().flat_map(|b| b.items.iter()) {
            if item.matches(hash, &entry.id, created) {
                replaced = Some(Arc::clone(&item.entry));
            } else {
                items.push(Item {
                    hash: item.hash,
                    created: item.created,
                    entry: Arc::clone(&item.entry),
                });
            }
        }
        items.push(Item {
            hash,
            created,
            entry,
        });
        slot.store(Some(Arc::new(Bucket {
            items: items.into_boxed_slice(),
        })));
        if replaced.is_none() {
            self.tables.items += 1;
            self.grow_if_full();
        }
        replaced
    }

    /// Removes the item `(id, created)` if it points at `expected` (or at anything when
    /// `expected` is `None`); returns the removed entry.
    pub(crate) fn remove(
        &mut self,
        hash: u64,
        id: &str,
        created: i64,
        expected: Option<&Arc<Entry>>,
    ) -> Option<Arc<Entry>> {
        let slot = self.table().bucket(hash);
        let old = slot.load_full()?;
        let position = old.items.iter().position(|item| {
            item.matches(hash, id, created) && expected.is_none_or(|e| Arc::ptr_eq(e, &item.entry))
        })?;
        let removed = Arc::clone(&old.items[position].entry);
        let items: Vec<Item> = old
            .items
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != position)
            .map(|(_, item)| Item {
                hash: item.hash,
                created: item.created,
                entry: Arc::clone(&item.entry),
            })
            .collect();
        slot.store((!items.is_empty()).then(|| {
            Arc::new(Bucket {
                items: items.into_boxed_slice(),
            })
        }));
        self.tables.items -= 1;
        Some(removed)
    }

    /// Doubles the table when it is too full: build, publish, then empty the old buckets so
    /// that removed entries are not kept alive by a table nobody writes to any more.
    fn grow_if_full(&mut self) {
        let old = self.table();
        if self.tables.items <= old.buckets.len() * MAX_LOAD {
            return;
        }
        let grown = Table::with_buckets(old.buckets.len() * 2);
        let mut moved: Vec<Vec<Item>> = (0..grown.buckets.len()).map(|_| Vec::new()).collect();
        for slot in old.buckets.iter() {
            for item in slot.load().iter().flat_map(|b| b.items.iter()) {
                moved[item.hash as usize & grown.mask].push(Item {
                    hash: item.hash,
                    created: item.created,
                    entry: Arc::clone(&item.entry),
                });
            }
        }
        for (slot, items) in grown.buckets.iter().zip(moved) {
            if !items.is_empty() {
                slot.store(Some(Arc::new(Bucket {
                    items: items.into_boxed_slice(),
                })));
            }
        }
        let grown = Box::into_raw(Box::new(grown));
        self.index.current.store(grown, Ordering::Release);
        for slot in old.buckets.iter() {
            slot.store(None);
        }
        self.tables.all.push(grown);
    }
}

impl<S> Drop for Index<S> {
    fn drop(&mut self) {
        for table in self.writer.get_mut().all.drain(..) {
            // SAFETY: each pointer came from `Box::into_raw` and is freed once, here; `&mut self`
            // means no reader can still hold it.
            drop(unsafe { Box::from_raw(table) });
        }
    }
}

// SAFETY: the raw table pointers are owned by the index (freed only in `Drop`) and tables are
// made of `ArcSwapOption`s of `Send + Sync` data, so sharing or moving the index across threads
// is as safe as sharing those tables; `S` is only reached through the mutex.
unsafe impl<S: Send> Send for Index<S> {}
// SAFETY: see `Send`; readers only take shared references to tables.
unsafe impl<S: Send> Sync for Index<S> {}

impl<S> Deref for Writer<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.tables.state
    }
}

impl<S> DerefMut for Writer<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.tables.state
    }
}
