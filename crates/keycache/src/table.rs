//! A hash index whose reads take no lock, and whose writes lock one shard of it.
//!
//! Layout: a table of buckets; each bucket is an immutable array of items behind an `Arc`,
//! published through an `AtomicPtr`. A writer copies the one bucket it changes, so an insert
//! costs O(items in that bucket), about two, not O(cache size).
//!
//! Reads: load the current table pointer (a plain atomic load), then protect the bucket with a
//! hazard slot of the reading thread ([`crate::hazard`]): a plain store and a compiler fence,
//! no shared reference count, so hits from many threads on the same key do not bounce a cache
//! line between cores. The returned [`Pinned`] keeps that bucket snapshot, and so its entries
//! and their secrets, alive; releasing it is the hit's one locked instruction.
//!
//! Writes: buckets are split into shards by the low bits of the hash (bucket `i` belongs to
//! shard `i % shards` in every table, since tables never have fewer buckets than shards). A
//! writer locks only its shard, so inserts of different keys rarely wait for each other. The
//! shard lock also guards the shard's single-flight board (keys being loaded) and its retired
//! buckets. Replaced buckets are retired and reclaimed in batches (one heavy barrier per batch),
//! at once when an entry left the index (so an evicted key is closed as soon as nobody uses
//! it), and always outside the lock.
//!
//! Growth: when a shard is too full, the table doubles under all shard locks: build, publish,
//! then empty and retire every bucket of the old table. Old bucket arrays are kept until the
//! index is dropped (at most about as much memory as the current table, since sizes double),
//! which is what lets readers dereference the table pointer without any protection. A reader
//! that still walks an emptied old table sees a miss and takes the slow path, which re-reads
//! under the shard lock.

use std::hash::BuildHasher;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::entry::Entry;
use crate::hazard::{self, Hazard, Protected};

/// Buckets of a new index (at least the number of shards).
const INITIAL_BUCKETS: usize = 64;
/// A shard grows the table when it holds more than this many items per bucket on average.
const MAX_LOAD: usize = 2;
/// Retired buckets a shard keeps before reclaiming them (one heavy barrier per batch).
const RETIRE_BATCH: usize = 64;

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
        self.hash == hash && self.created == created && *self.entry.id == *id
    }

    fn share(&self) -> Item {
        Item {
            hash: self.hash,
            created: self.created,
            entry: Arc::clone(&self.entry),
        }
    }
}

pub(crate) struct Bucket {
    items: Box<[Item]>,
}

impl Bucket {
    /// A published bucket pointer (`Arc::into_raw`), or null for no items.
    fn publish(items: Vec<Item>) -> *mut Bucket {
        if items.is_empty() {
            return ptr::null_mut();
        }
        Arc::into_raw(Arc::new(Bucket {
            items: items.into_boxed_slice(),
        }))
        .cast_mut()
    }

    #[inline]
    fn find(&self, hash: u64, id: &str, created: i64) -> Option<&Item> {
        self.items
            .iter()
            .find(|item| item.matches(hash, id, created))
    }
}

struct Table {
    buckets: Box<[AtomicPtr<Bucket>]>,
    mask: usize,
}

impl Table {
    fn with_buckets(n: usize) -> Self {
        debug_assert!(n.is_power_of_two());
        Self {
            buckets: (0..n).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
            mask: n - 1,
        }
    }

    #[inline]
    fn bucket(&self, hash: u64) -> &AtomicPtr<Bucket> {
        // Truncation is intended: the mask keeps only low bits.
        &self.buckets[hash as usize & self.mask]
    }
}

/// What a lock-free lookup found.
pub(crate) enum Lookup {
    Hit(Pinned),
    Miss,
    /// This thread holds too many handles from hits to protect one more: ask under the lock.
    Busy,
}

/// A bucket snapshot pinned by a hit, and the entry found in it.
pub(crate) struct Pinned {
    hazard: ManuallyDrop<Hazard>,
    bucket: NonNull<Bucket>,
    entry: NonNull<Entry>,
}

impl Pinned {
    #[inline]
    pub(crate) fn entry(&self) -> &Entry {
        // SAFETY: `entry` points into an `Arc<Entry>` held by the bucket, which the hazard keeps
        // alive until `self` is dropped; entries are only read through `&`.
        unsafe { self.entry.as_ref() }
    }
}

impl Drop for Pinned {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the hazard protects `bucket` and is released once, here.
        unsafe { ManuallyDrop::take(&mut self.hazard).release(self.bucket.as_ptr()) };
    }
}

// SAFETY: `Pinned` is a hazard slot (released with an atomic swap, from any thread) plus shared
// pointers into the data it protects; `Entry` and `Bucket` are `Send + Sync`.
unsafe impl Send for Pinned {}
// SAFETY: see `Send`; only `&Entry` is handed out.
unsafe impl Sync for Pinned {}

/// The hash index of a key cache, plus the writer-side state `S` of each shard (the eviction
/// order; a bounded policy uses a single shard so that its order is global).
pub(crate) struct Index<S> {
    current: AtomicPtr<Table>,
    /// Whether the hazard barriers use `membarrier` (fixed for the process).
    membarrier: bool,
    hasher: foldhash::fast::RandomState,
    shards: Box<[Shard<S>]>,
    shard_mask: usize,
    /// Every table ever published (from `Box::into_raw`); freed when the index is dropped.
    tables: Mutex<Vec<*mut Table>>,
}

#[repr(align(128))]
struct Shard<S> {
    state: Mutex<ShardState<S>>,
    /// Wakes threads waiting for a load of this shard to finish.
    landed: Condvar,
    /// Keys in this shard (latest aliases not counted), for `len()` without the lock.
    len: AtomicUsize,
}

struct ShardState<S> {
    /// Items in this shard's buckets (aliases included).
    items: usize,
    /// Buckets replaced and not reclaimed yet (`Arc::into_raw` pointers).
    retired: Vec<*mut Bucket>,
    /// Keys being loaded.
    loading: Vec<Loading>,
    /// Threads waiting in [`Writer::wait`].
    waiters: usize,
    state: S,
}

/// A key being loaded. `id` borrows from the loading thread, which removes this record before
/// the borrow ends (see `single_flight::Flight`).
struct Loading {
    hash: u64,
    created: i64,
    id: *const str,
}

impl<S> Index<S> {
    /// An index of `shards` shards (a power of two, at most the initial bucket count), each
    /// with the writer state `state()`.
    pub(crate) fn new(shards: usize, mut state: impl FnMut() -> S) -> Self {
        assert!(shards.is_power_of_two() && shards <= INITIAL_BUCKETS);
        let first = Box::into_raw(Box::new(Table::with_buckets(INITIAL_BUCKETS)));
        Self {
            current: AtomicPtr::new(first),
            membarrier: hazard::membarrier_ready(),
            hasher: foldhash::fast::RandomState::default(),
            shards: (0..shards)
                .map(|_| Shard {
                    state: Mutex::new(ShardState {
                        items: 0,
                        retired: Vec::new(),
                        loading: Vec::new(),
                        waiters: 0,
                        state: state(),
                    }),
                    landed: Condvar::new(),
                    len: AtomicUsize::new(0),
                })
                .collect(),
            shard_mask: shards - 1,
            tables: Mutex::new(vec![first]),
        }
    }

    /// The hash of an id; every item of one id lands in the same bucket.
    #[inline]
    pub(crate) fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// Number of keys (latest aliases not counted).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.len.load(Ordering::Relaxed))
            .sum()
    }

    /// Lock-free lookup of `(id, created)`.
    #[inline]
    pub(crate) fn get(&self, hash: u64, id: &str, created: i64) -> Lookup {
        // SAFETY: tables are only freed when `self` is dropped (see the module docs), and the
        // Acquire load pairs with the Release store that published the table fully built.
        let table = unsafe { &*self.current.load(Ordering::Acquire) };
        let (hazard, bucket) = match hazard::protect(table.bucket(hash), self.membarrier) {
            Protected::Ptr(hazard, bucket) => (hazard, bucket),
            Protected::Null => return Lookup::Miss,
            Protected::Busy => return Lookup::Busy,
        };
        // SAFETY: protected by `hazard` until released.
        match unsafe { bucket.as_ref() }.find(hash, id, created) {
            Some(item) => Lookup::Hit(Pinned {
                hazard: ManuallyDrop::new(hazard),
                bucket,
                entry: NonNull::from(&*item.entry),
            }),
            None => {
                // SAFETY: the hazard protects `bucket`.
                unsafe { hazard.release(bucket.as_ptr()) };
                Lookup::Miss
            }
        }
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Shard<S> {
        // Truncation is intended: the mask keeps only low bits.
        &self.shards[hash as usize & self.shard_mask]
    }

    /// Exclusive access to the shard of `hash`; readers are never blocked by it.
    pub(crate) fn lock(&self, hash: u64) -> Writer<'_, S> {
        let shard = self.shard(hash);
        Writer {
            index: self,
            shard,
            state: ManuallyDrop::new(shard.state.lock()),
            reclaim_now: false,
            grow: false,
        }
    }

    /// Drops the references of retired buckets, handing them to readers still using them.
    fn reclaim(&self, retired: Vec<*mut Bucket>) {
        if retired.is_empty() {
            return;
        }
        hazard::heavy_barrier(self.membarrier);
        // SAFETY: retired buckets are unlinked and we hold one reference of each.
        unsafe { hazard::transfer(&retired) };
        for bucket in retired {
            // SAFETY: the reference the index held, given up once, here.
            drop(unsafe { Arc::from_raw(bucket) });
        }
    }

    /// Doubles the table if a shard is too full: build, publish, then empty and retire the
    /// old buckets so that removed entries are not kept alive by a table nobody writes to.
    #[cold]
    fn grow(&self) {
        let mut shards: Vec<MutexGuard<'_, ShardState<S>>> =
            self.shards.iter().map(|s| s.state.lock()).collect();
        // SAFETY: tables live until the index is dropped; growth is excluded by the locks.
        let old = unsafe { &*self.current.load(Ordering::Acquire) };
        let per_shard = old.buckets.len() / self.shards.len();
        if shards.iter().all(|s| s.items <= per_shard * MAX_LOAD) {
            return; // another thread grew it meanwhile
        }
        let grown = Table::with_buckets(old.buckets.len() * 2);
        let mut moved: Vec<Vec<Item>> = (0..grown.buckets.len()).map(|_| Vec::new()).collect();
        for slot in old.buckets.iter() {
            let bucket = slot.load(Ordering::Acquire);
            if bucket.is_null() {
                continue;
            }
            // SAFETY: a current bucket, stable under the shard locks.
            for item in unsafe { &*bucket }.items.iter() {
                moved[item.hash as usize & grown.mask].push(item.share());
            }
        }
        for (slot, items) in grown.buckets.iter().zip(moved) {
            slot.store(Bucket::publish(items), Ordering::Relaxed);
        }
        let grown = Box::into_raw(Box::new(grown));
        self.current.store(grown, Ordering::Release);
        for (i, slot) in old.buckets.iter().enumerate() {
            let bucket = slot.swap(ptr::null_mut(), Ordering::AcqRel);
            if !bucket.is_null() {
                shards[i & self.shard_mask].retired.push(bucket);
            }
        }
        self.tables.lock().push(grown);
        let retired: Vec<*mut Bucket> = shards
            .iter_mut()
            .flat_map(|s| std::mem::take(&mut s.retired))
            .collect();
        drop(shards);
        self.reclaim(retired);
    }
}

impl<S> Drop for Index<S> {
    fn drop(&mut self) {
        let mut retired = Vec::new();
        for shard in self.shards.iter_mut() {
            retired.append(&mut shard.state.get_mut().retired);
        }
        let tables = std::mem::take(self.tables.get_mut());
        for &table in &tables {
            // SAFETY: tables live until here.
            for slot in unsafe { &*table }.buckets.iter() {
                let bucket = slot.swap(ptr::null_mut(), Ordering::AcqRel);
                if !bucket.is_null() {
                    retired.push(bucket);
                }
            }
        }
        // Handles from hits may outlive the cache: they get their bucket's reference.
        self.reclaim(retired);
        for table in tables {
            // SAFETY: each pointer came from `Box::into_raw` and is freed once, here; `&mut self`
            // means no reader can still hold it.
            drop(unsafe { Box::from_raw(table) });
        }
    }
}

// SAFETY: the raw table and bucket pointers are owned by the index (tables freed only in `Drop`,
// buckets reclaimed through hazard slots) and point to `Send + Sync` data; `S` is only reached
// through the shard mutexes; `Loading::id` is only compared under the lock while its owner
// keeps it alive.
unsafe impl<S: Send> Send for Index<S> {}
// SAFETY: see `Send`; readers only take shared references to tables and protected buckets.
unsafe impl<S: Send> Sync for Index<S> {}

/// Holder of one shard's lock.
pub(crate) struct Writer<'a, S> {
    index: &'a Index<S>,
    shard: &'a Shard<S>,
    state: ManuallyDrop<MutexGuard<'a, ShardState<S>>>,
    /// An entry left the index: reclaim at once so that it is closed when unused.
    reclaim_now: bool,
    /// The shard is too full: grow after unlocking.
    grow: bool,
}

impl<S> Writer<'_, S> {
    fn table(&self) -> &Table {
        // SAFETY: tables live until the index is dropped; the current table does not change
        // while a shard lock is held (growth takes them all).
        unsafe { &*self.index.current.load(Ordering::Acquire) }
    }

    fn bucket(&self, hash: u64) -> Option<&Bucket> {
        let bucket = self.table().bucket(hash).load(Ordering::Acquire);
        // SAFETY: only this shard's writers replace (and retire) this bucket, and we hold the lock.
        unsafe { bucket.as_ref() }
    }

    /// The entry stored under `(id, created)`, if any.
    pub(crate) fn find(&self, hash: u64, id: &str, created: i64) -> Option<Arc<Entry>> {
        self.bucket(hash)?
            .find(hash, id, created)
            .map(|item| Arc::clone(&item.entry))
    }

    /// Keys in this shard.
    pub(crate) fn len(&self) -> usize {
        self.shard.len.load(Ordering::Relaxed)
    }

    /// Publishes a new version of the bucket of `hash`: the old items kept by `keep`, plus `add`.
    fn rewrite(
        &mut self,
        hash: u64,
        keep: impl Fn(&Item) -> bool,
        add: &mut dyn Iterator<Item = Item>,
    ) {
        let slot = self.table().bucket(hash);
        let old = slot.load(Ordering::Acquire);
        // SAFETY: as in `bucket`.
        let old_items: &[Item] = unsafe { old.as_ref() }.map_or(&[], |b| &b.items);
        let mut items = Vec::with_capacity(old_items.len() + 2);
        items.extend(old_items.iter().filter(|item| keep(item)).map(Item::share));
        items.extend(add);
        let (before, after) = (old_items.len(), items.len());
        slot.store(Bucket::publish(items), Ordering::Release);
        let limit = self.table().buckets.len() / self.index.shards.len() * MAX_LOAD;
        let state = &mut **self.state;
        if !old.is_null() {
            state.retired.push(old);
        }
        state.items = state.items + after - before;
        self.grow |= after > before && state.items > limit;
    }

    /// Stores a new entry of `id` under `(id, created)` (which must be free) and points the id's
    /// latest alias at it unless the alias names a key at least as new.
    pub(crate) fn insert(&mut self, hash: u64, id: &str, created: i64, entry: Arc<Entry>) {
        let newer_known = self
            .bucket(hash)
            .and_then(|b| b.find(hash, id, 0))
            .is_some_and(|latest| latest.entry.key.created() >= entry.key.created());
        let item = Item {
            hash,
            created,
            entry: Arc::clone(&entry),
        };
        let alias = (!newer_known).then_some(Item {
            hash,
            created: 0,
            entry,
        });
        self.rewrite(
            hash,
            |old| newer_known || !old.matches(hash, id, 0),
            &mut std::iter::once(item).chain(alias),
        );
    }

    /// Points the id's latest alias at `entry` unless it already names a key at least as new.
    pub(crate) fn link_latest(&mut self, hash: u64, entry: &Arc<Entry>) {
        let latest = self.bucket(hash).and_then(|b| b.find(hash, &entry.id, 0));
        if latest.is_some_and(|l| l.entry.key.created() >= entry.key.created()) {
            return;
        }
        self.rewrite(
            hash,
            |old| !old.matches(hash, &entry.id, 0),
            &mut std::iter::once(Item {
                hash,
                created: 0,
                entry: Arc::clone(entry),
            }),
        );
    }

    /// Removes every item pointing at `entry` (its own and the alias, if it is the latest).
    pub(crate) fn remove(&mut self, hash: u64, entry: &Arc<Entry>) {
        self.rewrite(
            hash,
            |old| !Arc::ptr_eq(&old.entry, entry),
            &mut std::iter::empty(),
        );
        self.reclaim_now = true;
    }

    /// Adds `delta` to the number of keys.
    pub(crate) fn add_len(&self, delta: isize) {
        // Under the shard lock: a plain read-modify-write is enough.
        let len = self.shard.len.load(Ordering::Relaxed);
        self.shard
            .len
            .store(len.wrapping_add_signed(delta), Ordering::Relaxed);
    }

    /// Whether some thread is loading `(id, created)`.
    pub(crate) fn is_loading(&self, hash: u64, id: &str, created: i64) -> bool {
        self.state.loading.iter().any(|l| {
            // SAFETY: a `Loading` is removed before the borrow of its id ends.
            l.hash == hash && l.created == created && unsafe { &*l.id } == id
        })
    }

    /// Records that this thread loads `(id, created)`; the caller must call
    /// [`end_loading`](Self::end_loading) before `id`'s borrow ends.
    pub(crate) fn begin_loading(&mut self, hash: u64, id: &str, created: i64) {
        self.state.loading.push(Loading {
            hash,
            created,
            id: ptr::from_ref(id),
        });
    }

    /// Ends a load recorded by [`begin_loading`](Self::begin_loading), waking the waiters.
    pub(crate) fn end_loading(&mut self, hash: u64, id: &str, created: i64) {
        let state = &mut **self.state;
        if let Some(i) = state.loading.iter().position(|l| {
            l.hash == hash && l.created == created && std::ptr::addr_eq(l.id, ptr::from_ref(id))
        }) {
            state.loading.swap_remove(i);
        }
        if state.waiters > 0 {
            self.shard.landed.notify_all();
        }
    }

    /// Releases the lock until a load of this shard ends (or spuriously), then takes it again.
    pub(crate) fn wait(&mut self) {
        self.state.waiters += 1;
        self.shard.landed.wait(&mut self.state);
        self.state.waiters -= 1;
    }

    #[cfg(test)]
    pub(crate) fn loads_in_progress(&self) -> usize {
        self.state.loading.len()
    }
}

impl<S> Drop for Writer<'_, S> {
    fn drop(&mut self) {
        let state = &mut **self.state;
        let retired = if self.reclaim_now || state.retired.len() >= RETIRE_BATCH {
            std::mem::take(&mut state.retired)
        } else {
            Vec::new()
        };
        // SAFETY: dropped once, here; the guard is not used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.state) };
        // Closing secrets costs syscalls: done after the lock is released.
        self.index.reclaim(retired);
        if self.grow {
            self.index.grow();
        }
    }
}

impl<S> Deref for Writer<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.state.state
    }
}

impl<S> DerefMut for Writer<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.state.state
    }
}
