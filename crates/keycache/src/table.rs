//! A hash index whose reads take no lock, and whose writes lock one shard of it.
//!
//! Layout: per shard, a table of buckets; each bucket is an immutable array of items behind an `Arc`,
//! published through an `AtomicPtr`. A writer copies the one bucket it changes, so an insert
//! costs O(items in that bucket), about two, not O(cache size).
//!
//! Reads: load the shard's current table pointer (a plain atomic load), then protect the bucket with a
//! hazard slot of the reading thread ([`crate::hazard`]): a plain store and a compiler fence
//! (a full fence where Linux's `membarrier` is not available),
//! no shared reference count, so hits from many threads on the same key do not bounce a cache
//! line between cores. The returned [`Pinned`] keeps that bucket snapshot, and so its entries
//! and their secrets, alive; releasing it is two stores to the slot, a compiler fence and a
//! load of the slot's own line, so a hit runs no locked instruction (without `membarrier`,
//! protecting takes a full fence and releasing an exchange).
//!
//! Writes: the index is split into shards by the low bits of the hash; each shard has its own
//! table of buckets (indexed by the next bits) and its own lock. A writer locks only its shard,
//! so inserts of different keys rarely wait for each other, and growth (fourfold, when the
//! shard is too full) copies and blocks only that shard. The shard lock also guards the
//! shard's single-flight board (keys being loaded) and its retired buckets. Replaced buckets
//! are retired and reclaimed in batches (one heavy barrier per batch), at once when an entry
//! left the index (so an evicted key is closed as soon as nobody uses it), and always outside
//! the lock.
//!
//! Old bucket arrays (tables) are kept until the index is dropped (less memory than the current
//! ones, since sizes quadruple), which is what lets readers dereference a table pointer without
//! any protection. A reader that still walks an emptied old table sees a miss and takes the
//! slow path, which re-reads under the shard lock.

use std::hash::BuildHasher;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::entry::Entry;
use crate::hazard::{self, Hazard, Protected};
use crate::loads::Loads;

/// Buckets of a new index's shard (four cache lines; 16 KiB of tables for the 64 shards of an
/// unbounded cache). Inserts of different keys from two threads land in the same shard, so the
/// more lines and buckets a shard starts with, the less often one insert writes a table line or
/// copies a bucket (and increments the counts of its entries) that the other thread wrote
/// last. A 512-key cache (a chunk of the `write_unique_keys` bench) holds about 8 ids per
/// shard, spread over these 32 buckets in four lines, and never grows: a shard grows past
/// 64 ids (`MAX_LOAD` items per bucket, two items per id).
const INITIAL_BUCKETS: usize = 4 * LINE;
/// A shard grows the table when it holds more than this many items per bucket on average
/// (an id has two items, its key and its latest alias).
const MAX_LOAD: usize = 4;
/// Growth multiplies the bucket count by this.
const GROWTH: usize = 4;
/// Retired buckets a shard keeps before reclaiming them. The heavy barrier interrupts every
/// CPU running a thread of the process (about 12 us on a loaded 2-vCPU VM, for both sides),
/// so it is paid per batch; buckets retired by inserts only hold keys that are still cached,
/// so keeping them a while delays no close.
const RETIRE_BATCH: usize = 256;

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
        self.hash == hash
            && self.created == created
            && same_bytes(self.entry.id.as_bytes(), id.as_bytes())
    }

    fn share(&self) -> Item {
        Item {
            hash: self.hash,
            created: self.created,
            entry: Arc::clone(&self.entry),
        }
    }
}

/// `a == b`, inlined: ids are short, and a call to `bcmp` costs more than comparing them.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a == b;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    // Whole words, then the last (possibly overlapping) word.
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

pub(crate) struct Bucket {
    items: Box<[Item]>,
    /// Once retired: the bucket retired before it in the same shard (see [`Retired`]).
    next_retired: AtomicPtr<Bucket>,
}

impl Bucket {
    /// A published bucket pointer (`Arc::into_raw`), or null for no items.
    fn publish(items: Vec<Item>) -> *mut Bucket {
        if items.is_empty() {
            return ptr::null_mut();
        }
        Arc::into_raw(Arc::new(Bucket {
            items: items.into_boxed_slice(),
            next_retired: AtomicPtr::new(ptr::null_mut()),
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

/// Bucket pointers per cache line: tables are made of whole, aligned lines, so that writers of
/// different shards never write to the same line.
const LINE: usize = 8;

#[repr(align(64))]
struct Line(
    #[expect(dead_code, reason = "read through the pointer casts of `Table`")]
    [AtomicPtr<Bucket>; LINE],
);

struct Table {
    lines: Box<[Line]>,
    mask: usize,
}

impl Table {
    fn with_buckets(n: usize) -> Self {
        debug_assert!(n.is_power_of_two() && n >= LINE);
        Self {
            lines: (0..n / LINE).map(|_| Line(Default::default())).collect(),
            mask: n - 1,
        }
    }

    /// All bucket slots, in order.
    #[inline]
    fn buckets(&self) -> &[AtomicPtr<Bucket>] {
        // SAFETY: `Line` is an array of `LINE` slots with no padding (64 bytes), so the lines
        // are `lines.len() * LINE` consecutive slots.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.lines.len() * LINE) }
    }

    /// The bucket of `key`: the hash without the shard bits.
    #[inline]
    fn bucket(&self, key: u64) -> &AtomicPtr<Bucket> {
        // Truncation is intended: the mask keeps only low bits.
        let i = key as usize & self.mask;
        // SAFETY: `i <= mask < lines.len() * LINE`, see `buckets`.
        unsafe { &*self.lines.as_ptr().cast::<AtomicPtr<Bucket>>().add(i) }
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

// SAFETY: `Pinned` is a hazard slot (released with atomic operations, from any thread) plus shared
// pointers into the data it protects; `Entry` and `Bucket` are `Send + Sync`.
unsafe impl Send for Pinned {}
// SAFETY: see `Send`; only `&Entry` is handed out.
unsafe impl Sync for Pinned {}

/// The hash index of a key cache, plus the writer-side state `S` of each shard (the eviction
/// order; a bounded policy uses a single shard so that its order is global).
pub(crate) struct Index<S> {
    /// Whether the hazard barriers use `membarrier` (fixed for the process).
    membarrier: bool,
    hasher: foldhash::fast::RandomState,
    shards: Box<[Shard<S>]>,
    shard_bits: u32,
}

#[repr(align(128))]
struct Shard<S> {
    /// The current table (from `Box::into_raw`; every table ever published is in
    /// `ShardState::tables`, freed when the index is dropped). Read by every lookup, written
    /// only by growth: it has lines of its own, apart from the lock and `len` that every
    /// insert into the shard writes, so that a lookup does not miss on them after another
    /// thread's insert.
    table: Apart<AtomicPtr<Table>>,
    state: Mutex<ShardState<S>>,
    /// Wakes threads waiting for a load of this shard to finish.
    landed: Condvar,
    /// Keys in this shard (latest aliases not counted), for `len()` without the lock.
    len: AtomicUsize,
}

/// A value alone on its pair of cache lines (adjacent-line prefetch pulls lines in pairs).
#[repr(align(128))]
struct Apart<T>(T);

impl<T> Deref for Apart<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<S> Shard<S> {
    /// The current table, for the holder of this shard's lock (a [`Writer`]).
    fn locked_table(&self) -> &Table {
        // SAFETY: tables live until the index is dropped; the shard's table only changes under
        // its lock, which the caller holds.
        unsafe { &*self.table.load(Ordering::Acquire) }
    }
}

struct ShardState<S> {
    /// Items in this shard's buckets (aliases included).
    items: usize,
    /// Buckets replaced and not reclaimed yet.
    retired: Retired,
    /// Every table this shard published, the current one last.
    tables: Vec<*mut Table>,
    /// Keys being loaded.
    loading: Loads,
    /// Threads waiting in [`Writer::wait`].
    waiters: usize,
    state: S,
}

/// A shard's retired buckets (`Arc::into_raw` pointers of which the index holds one reference
/// each), chained through [`Bucket::next_retired`], newest first.
///
/// The chain lives in the buckets themselves: retiring writes the old bucket, whose line the
/// writer has just read to copy its items, instead of a `Vec` buffer that the other thread
/// inserting into the shard may have written last (and that grows by reallocation).
struct Retired {
    head: *mut Bucket,
    len: usize,
}

impl Retired {
    const EMPTY: Retired = Retired {
        head: ptr::null_mut(),
        len: 0,
    };

    /// Adds a bucket just unlinked from its table slot (each bucket is retired once).
    fn push(&mut self, bucket: *mut Bucket) {
        // SAFETY: a retired bucket stays alive until reclaimed (the index holds a reference),
        // and only this shard's lock holder links it, once.
        unsafe { &*bucket }
            .next_retired
            .store(self.head, Ordering::Relaxed);
        self.head = bucket;
        self.len += 1;
    }

    /// The buckets, for reclamation; the chain is left empty.
    fn take(&mut self) -> Vec<*mut Bucket> {
        let mut all = Vec::with_capacity(self.len);
        let mut next = std::mem::replace(self, Self::EMPTY).head;
        while !next.is_null() {
            all.push(next);
            // SAFETY: as in `push`: not reclaimed before this list is handed over.
            next = unsafe { &*next }.next_retired.load(Ordering::Relaxed);
        }
        all
    }
}

impl<S> Index<S> {
    /// An index of `shards` shards (a power of two), each with the writer state `state()`.
    pub(crate) fn new(shards: usize, mut state: impl FnMut() -> S) -> Self {
        assert!(shards.is_power_of_two());
        Self {
            membarrier: hazard::membarrier_ready(),
            hasher: foldhash::fast::RandomState::default(),
            shards: (0..shards)
                .map(|_| {
                    let first = Box::into_raw(Box::new(Table::with_buckets(INITIAL_BUCKETS)));
                    Shard {
                        table: Apart(AtomicPtr::new(first)),
                        state: Mutex::new(ShardState {
                            items: 0,
                            retired: Retired::EMPTY,
                            tables: vec![first],
                            loading: Loads::default(),
                            waiters: 0,
                            state: state(),
                        }),
                        landed: Condvar::new(),
                        len: AtomicUsize::new(0),
                    }
                })
                .collect(),
            shard_bits: shards.trailing_zeros(),
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
        let shard = self.shard(hash);
        // SAFETY: tables are only freed when `self` is dropped (see the module docs), and the
        // Acquire load pairs with the Release store that published the table fully built.
        let table = unsafe { &*shard.table.load(Ordering::Acquire) };
        let slot = table.bucket(hash >> self.shard_bits);
        let (hazard, bucket) = match hazard::protect(slot, self.membarrier) {
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
        &self.shards[hash as usize & (self.shards.len() - 1)]
    }

    /// Number of shards.
    pub(crate) fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Exclusive access to shard number `n` (below [`shards`](Self::shards)).
    pub(crate) fn lock_shard(&self, n: usize) -> Writer<'_, S> {
        let shard = &self.shards[n];
        Writer {
            index: self,
            shard,
            state: ManuallyDrop::new(shard.state.lock()),
            reclaim_now: false,
        }
    }

    /// Exclusive access to the shard of `hash`; readers are never blocked by it.
    pub(crate) fn lock(&self, hash: u64) -> Writer<'_, S> {
        // Truncation is intended: the mask keeps only low bits.
        self.lock_shard(hash as usize & (self.shards.len() - 1))
    }

    /// Drops the references of retired buckets, handing them to readers still using them.
    fn reclaim(&self, retired: Vec<*mut Bucket>) {
        if retired.is_empty() {
            return;
        }
        hazard::heavy_barrier(self.membarrier);
        // SAFETY: retired buckets are unlinked and we hold one reference of each.
        unsafe { hazard::transfer(&retired, self.membarrier) };
        for bucket in retired {
            // SAFETY: the reference the index held, given up once, here.
            drop(unsafe { Arc::from_raw(bucket) });
        }
    }
}

impl<S> Drop for Index<S> {
    fn drop(&mut self) {
        let mut retired = Vec::new();
        let mut tables = Vec::new();
        for shard in self.shards.iter_mut() {
            let state = shard.state.get_mut();
            retired.append(&mut state.retired.take());
            tables.append(&mut state.tables);
        }
        for &table in &tables {
            // SAFETY: tables live until here.
            for slot in unsafe { &*table }.buckets().iter() {
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

/// Where an install leaves the id's latest alias (`created == 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alias {
    /// Point it at the entry unless it names a key at least as new (a load of a specific key).
    IfNewer,
    /// Point it at the entry (a latest load whose answer replaces the cached latest key).
    Always,
    /// Leave it (a latest load that returned an older key than the valid cached latest one).
    Keep,
}

/// Holder of one shard's lock.
pub(crate) struct Writer<'a, S> {
    index: &'a Index<S>,
    shard: &'a Shard<S>,
    state: ManuallyDrop<MutexGuard<'a, ShardState<S>>>,
    /// An entry left the index: reclaim at once so that it is closed when unused.
    reclaim_now: bool,
}

impl<S> Writer<'_, S> {
    fn table(&self) -> &Table {
        self.shard.locked_table()
    }

    fn slot(&self, hash: u64) -> &AtomicPtr<Bucket> {
        self.table().bucket(hash >> self.index.shard_bits)
    }

    fn bucket(&self, hash: u64) -> Option<&Bucket> {
        let bucket = self.slot(hash).load(Ordering::Acquire);
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
        let slot = self.slot(hash);
        let old = slot.load(Ordering::Acquire);
        // SAFETY: as in `bucket`.
        let old_items: &[Item] = unsafe { old.as_ref() }.map_or(&[], |b| &b.items);
        let mut items = Vec::with_capacity(old_items.len() + 2);
        items.extend(old_items.iter().filter(|item| keep(item)).map(Item::share));
        items.extend(add);
        let (before, after) = (old_items.len(), items.len());
        slot.store(Bucket::publish(items), Ordering::Release);
        let limit = self.table().buckets().len() * MAX_LOAD;
        let state = &mut **self.state;
        if !old.is_null() {
            state.retired.push(old);
        }
        state.items = state.items + after - before;
        if after > before && state.items > limit {
            self.grow();
        }
    }

    /// Replaces the shard's table by one `GROWTH` times larger: build, publish, then empty and
    /// retire the old buckets (so that the old table keeps nothing alive).
    #[cold]
    fn grow(&mut self) {
        let shift = self.index.shard_bits;
        let old = self.shard.locked_table();
        let old_len = old.buckets().len();
        let grown = Table::with_buckets(old_len * GROWTH);
        // Old bucket `i` splits into new buckets `i + k * old_len`, k < GROWTH.
        let part = |item: &Item| ((item.hash >> shift) as usize & grown.mask) / old_len;
        let mut split: [Vec<Item>; GROWTH] = Default::default();
        for (i, slot) in old.buckets().iter().enumerate() {
            let bucket = slot.load(Ordering::Acquire);
            // SAFETY: a current bucket of our shard, stable under its lock.
            let Some(bucket) = (unsafe { bucket.as_ref() }) else {
                continue;
            };
            let mut counts = [0usize; GROWTH];
            for item in bucket.items.iter() {
                counts[part(item)] += 1;
            }
            for (k, items) in split.iter_mut().enumerate() {
                *items = Vec::with_capacity(counts[k]);
            }
            for item in bucket.items.iter() {
                split[part(item)].push(item.share());
            }
            for (k, items) in split.iter_mut().enumerate() {
                grown.buckets()[i + k * old_len]
                    .store(Bucket::publish(std::mem::take(items)), Ordering::Relaxed);
            }
        }
        let grown = Box::into_raw(Box::new(grown));
        self.shard.table.store(grown, Ordering::Release);
        let state = &mut **self.state;
        for slot in old.buckets().iter() {
            let bucket = slot.swap(ptr::null_mut(), Ordering::AcqRel);
            if !bucket.is_null() {
                state.retired.push(bucket);
            }
        }
        state.tables.push(grown);
    }

    /// Stores a new entry of `id` under `(id, created)` (which must be free) and points the id's
    /// latest alias at it as `alias` says.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        id: &str,
        created: i64,
        entry: Arc<Entry>,
        alias: Alias,
    ) {
        let link = self.should_link(hash, &entry, alias);
        let item = Item {
            hash,
            created,
            entry: Arc::clone(&entry),
        };
        let alias = link.then_some(Item {
            hash,
            created: 0,
            entry,
        });
        self.rewrite(
            hash,
            |old| !link || !old.matches(hash, id, 0),
            &mut std::iter::once(item).chain(alias),
        );
    }

    /// Points the id's latest alias at `entry` (already stored) as `alias` says.
    pub(crate) fn link_latest(&mut self, hash: u64, entry: &Arc<Entry>, alias: Alias) {
        if !self.should_link(hash, entry, alias) {
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

    /// Whether the id's latest alias must be (re)pointed at `entry`.
    fn should_link(&self, hash: u64, entry: &Arc<Entry>, alias: Alias) -> bool {
        let current = self.bucket(hash).and_then(|b| b.find(hash, &entry.id, 0));
        match alias {
            Alias::Keep => false,
            Alias::Always => current.is_none_or(|l| !Arc::ptr_eq(&l.entry, entry)),
            Alias::IfNewer => current.is_none_or(|l| l.entry.key.created() < entry.key.created()),
        }
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

    /// Empties the shard: every bucket of its table is retired (reclaimed when this writer is
    /// dropped, so the entries no handle holds are closed then, outside the lock).
    pub(crate) fn clear(&mut self) {
        let table = self.shard.locked_table();
        let state = &mut **self.state;
        for slot in table.buckets() {
            let bucket = slot.swap(ptr::null_mut(), Ordering::AcqRel);
            if !bucket.is_null() {
                state.retired.push(bucket);
            }
        }
        state.items = 0;
        self.shard.len.store(0, Ordering::Relaxed);
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
        // SAFETY: `end_loading` removes a record before the borrow of its id ends (the
        // contract of `begin_loading`).
        unsafe { self.state.loading.contains(hash, id, created) }
    }

    /// Records that this thread loads `(id, created)`; the caller must call
    /// [`end_loading`](Self::end_loading) before `id`'s borrow ends.
    pub(crate) fn begin_loading(&mut self, hash: u64, id: &str, created: i64) {
        self.state.loading.add(hash, id, created);
    }

    /// Ends a load recorded by [`begin_loading`](Self::begin_loading), waking the waiters.
    pub(crate) fn end_loading(&mut self, hash: u64, id: &str, created: i64) {
        let state = &mut **self.state;
        state.loading.remove(hash, id, created);
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
        let retired = if self.reclaim_now || state.retired.len >= RETIRE_BATCH {
            state.retired.take()
        } else {
            Vec::new()
        };
        // SAFETY: dropped once, here; the guard is not used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.state) };
        // Closing secrets costs syscalls: done after the lock is released.
        self.index.reclaim(retired);
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

#[cfg(test)]
mod tests {
    use super::{Bucket, Retired, same_bytes};
    use std::ptr;
    use std::sync::Arc;
    use std::sync::atomic::AtomicPtr;

    #[test]
    fn retired_buckets_are_handed_over_once_each_newest_first() {
        let buckets: Vec<Arc<Bucket>> = (0..3)
            .map(|_| {
                Arc::new(Bucket {
                    items: Box::new([]),
                    next_retired: AtomicPtr::new(ptr::null_mut()),
                })
            })
            .collect();
        let raw: Vec<*mut Bucket> = buckets
            .iter()
            .map(|b| Arc::into_raw(Arc::clone(b)).cast_mut())
            .collect();
        let mut retired = Retired::EMPTY;
        for &bucket in &raw {
            retired.push(bucket);
        }
        assert_eq!(retired.len, 3);
        let taken = retired.take();
        assert_eq!(taken, raw.iter().rev().copied().collect::<Vec<_>>());
        assert!(retired.head.is_null() && retired.len == 0);
        assert!(retired.take().is_empty(), "a taken chain is empty");
        for bucket in taken {
            // SAFETY: the reference made by `into_raw` above, given back once.
            drop(unsafe { Arc::from_raw(bucket) });
        }
        assert!(buckets.iter().all(|b| Arc::strong_count(b) == 1));
    }

    #[test]
    fn same_bytes_is_slice_equality() {
        let ids = [
            "",
            "a",
            "abcdefg",
            "abcdefgh",
            "abcdefgi",
            "test_key",
            "test_key-1",
            "test_key-2",
            "_IK_partition_service_product",
            "_IK_partition_service_producT",
            "_SK_service_product_0123456789abcdef",
            "XSK_service_product_0123456789abcdef",
        ];
        for a in ids {
            for b in ids {
                assert_eq!(
                    same_bytes(a.as_bytes(), b.as_bytes()),
                    a == b,
                    "{a:?} vs {b:?}"
                );
            }
        }
    }
}
