//! The key cache: Go's `keyCache` semantics with a read path that takes no lock.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::clock::{Clock, SystemClock, duration_millis};
use crate::entry::{CloseHook, Entry, KeyClosed, close_and_report};
use crate::error::LoadError;
use crate::eviction::{Evictor, Recency};
use crate::key::{CryptoKey, KeyMeta};
use crate::policy::{CachePolicy, Eviction};
use crate::single_flight::Flight;
use crate::table::{Alias, Index, Lookup, Pinned, Writer};

/// Writer shards of an unbounded cache: inserts of different keys rarely share a lock.
const SHARDS: usize = 64;

/// A cache of keys loaded from a metastore, shared by all threads of a process.
///
/// * A hit (the key is present and fresh) takes no lock, makes no heap allocation, writes no
///   shared memory under the simple policy, and runs no locked instruction (where Linux's
///   `membarrier` is available); see [`crate::table`].
/// * A miss or a stale entry runs the loader once, however many threads ask at the same time;
///   see [`crate::single_flight`]. A load of one key never blocks hits on other keys, nor
///   loads of other keys.
/// * Keys handed out ([`KeyRef`]) stay valid while held; an evicted or replaced key's secret is
///   closed when the last holder lets go, never while it is in use.
pub struct KeyCache<C: Clock = SystemClock> {
    index: Index<Evictor>,
    recency: Recency,
    /// Whether hits must record their use and inserts may evict (bounded policies only; their
    /// index has a single shard, so the eviction order is global).
    bounded: bool,
    clock: C,
    revoke_check_millis: i64,
    expire_after_millis: i64,
    on_close: Option<CloseHook>,
    /// Set by [`close`](KeyCache::close); while set, loaded keys are not stored.
    closed: AtomicBool,
}

impl KeyCache<SystemClock> {
    /// A cache following `policy`, reading the system clock.
    pub fn new(policy: &CachePolicy) -> Self {
        Self::with_clock(policy, SystemClock)
    }
}

impl<C: Clock> KeyCache<C> {
    /// A cache following `policy`, reading time from `clock` (tests pass a
    /// [`ManualClock`](crate::clock::ManualClock)).
    pub fn with_clock(policy: &CachePolicy, clock: C) -> Self {
        let index = match policy.eviction {
            Eviction::Simple => Index::new(SHARDS, || Evictor::Simple),
            Eviction::Lru => Index::new(1, || Evictor::lru(policy.capacity)),
        };
        Self {
            index,
            recency: Recency::default(),
            bounded: policy.eviction != Eviction::Simple,
            clock,
            revoke_check_millis: duration_millis(policy.revoke_check_interval),
            expire_after_millis: duration_millis(policy.expire_after),
            on_close: None,
            closed: AtomicBool::new(false),
        }
    }

    /// Calls `hook` whenever a key that went through this cache has its secret closed:
    /// evicted or replaced keys when their last holder drops them, redundant reloads at once.
    pub fn on_key_closed(mut self, hook: impl Fn(KeyClosed<'_>) + Send + Sync + 'static) -> Self {
        self.on_close = Some(Arc::new(hook));
        self
    }

    /// Number of keys in the cache (latest aliases are not counted).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the cache holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key named by `meta` (the id's latest key when `meta.created == 0`), loading it with
    /// `loader` when it is missing or stale (Go's `GetOrLoad`).
    ///
    /// On a reload of a key already cached, the cached key is kept (so holders and new callers
    /// share it), its revoked flag is copied from the loaded key and the loaded key is closed.
    /// A loader error is returned and leaves the cache unchanged.
    #[inline]
    pub fn get_or_load<E, F>(&self, meta: KeyMeta<'_>, loader: F) -> Result<KeyRef, LoadError<E>>
    where
        F: FnOnce(KeyMeta<'_>) -> Result<CryptoKey, E>,
    {
        let hash = self.index.hash(meta.id);
        if let Some(hit) = self.fresh(hash, meta, self.clock.now_millis()) {
            return Ok(hit);
        }
        self.load(hash, meta, loader)
    }

    /// The latest key of `id` (Go's `GetOrLoadLatest`): like [`get_or_load`](Self::get_or_load)
    /// with `created == 0`, and the key is also reloaded when it is revoked or older than
    /// `expire_after`. The loader may then run twice: once to refresh the cached latest key, and
    /// once more if that key is still invalid (the loader is expected to create a new key then).
    #[inline]
    pub fn get_or_load_latest<E, F>(&self, id: &str, loader: F) -> Result<KeyRef, LoadError<E>>
    where
        F: FnMut(KeyMeta<'_>) -> Result<CryptoKey, E>,
    {
        let hash = self.index.hash(id);
        let now = self.clock.now_millis();
        if let Some(hit) = self.fresh(hash, KeyMeta::latest(id), now)
            && !self.is_invalid(&hit, now)
        {
            return Ok(hit);
        }
        self.load_latest(hash, id, loader)
    }

    /// The read path: a present, fresh entry, pinned without a lock.
    #[inline]
    fn fresh(&self, hash: u64, meta: KeyMeta<'_>, now: i64) -> Option<KeyRef> {
        match self.index.get(hash, meta.id, meta.created) {
            Lookup::Hit(pinned) => {
                if !self.usable(pinned.entry(), now) {
                    return None;
                }
                Some(KeyRef {
                    held: Held::Pinned(pinned),
                })
            }
            Lookup::Miss => None,
            Lookup::Busy => self.fresh_locked(&self.index.lock(hash), hash, meta, now),
        }
    }

    /// The read path under the shard lock (while loading, or when this thread holds too many
    /// handles from hits).
    #[cold]
    fn fresh_locked(
        &self,
        writer: &Writer<'_, Evictor>,
        hash: u64,
        meta: KeyMeta<'_>,
        now: i64,
    ) -> Option<KeyRef> {
        let entry = writer.find(hash, meta.id, meta.created)?;
        self.usable(&entry, now).then_some(KeyRef {
            held: Held::Owned(entry),
        })
    }

    /// Whether a found entry is fresh (recording its use if the policy needs it).
    #[inline]
    fn usable(&self, entry: &Entry, now: i64) -> bool {
        if entry.is_stale(now, self.revoke_check_millis) {
            return false;
        }
        if self.bounded {
            self.recency.touch(entry);
        }
        true
    }

    /// Go's `IsInvalid`: revoked or expired.
    fn is_invalid(&self, key: &CryptoKey, now: i64) -> bool {
        key.is_revoked() || key.is_expired(now, self.expire_after_millis)
    }

    #[cold]
    fn load<E, F>(&self, hash: u64, meta: KeyMeta<'_>, loader: F) -> Result<KeyRef, LoadError<E>>
    where
        F: FnOnce(KeyMeta<'_>) -> Result<CryptoKey, E>,
    {
        let mut writer = self.index.lock(hash);
        // Another thread may have loaded it meanwhile, or may be loading it now.
        let flight =
            match Flight::board(&self.index, &mut writer, hash, meta.id, meta.created, |w| {
                self.fresh_locked(w, hash, meta, self.clock.now_millis())
            }) {
                Ok(flight) => flight,
                Err(hit) => return Ok(hit),
            };
        drop(writer);
        let loaded = loader(meta).map_err(|e| LoadError::new(meta.id, meta.created, e))?;
        let mut writer = self.index.lock(hash);
        let installed = self.install(&mut writer, hash, meta, loaded);
        flight.land(&mut writer);
        drop(writer);
        Ok(self.finish(meta.id, installed))
    }

    #[cold]
    fn load_latest<E, F>(&self, hash: u64, id: &str, mut loader: F) -> Result<KeyRef, LoadError<E>>
    where
        F: FnMut(KeyMeta<'_>) -> Result<CryptoKey, E>,
    {
        let meta = KeyMeta::latest(id);
        let mut writer = self.index.lock(hash);
        let mut found = None;
        let flight = match Flight::board(&self.index, &mut writer, hash, id, 0, |w| {
            let now = self.clock.now_millis();
            found = self.fresh_locked(w, hash, meta, now);
            found.take_if(|hit| !self.is_invalid(hit, now))
        }) {
            Ok(flight) => flight,
            Err(hit) => return Ok(hit),
        };
        drop(writer);
        let current = match found {
            Some(fresh_but_invalid) => fresh_but_invalid,
            None => {
                let loaded = loader(meta).map_err(|e| LoadError::new(id, 0, e))?;
                let installed = self.install(&mut self.index.lock(hash), hash, meta, loaded);
                self.finish(id, installed)
            }
        };
        if !self.is_invalid(&current, self.clock.now_millis()) {
            return Ok(current);
        }
        drop(current);
        let reloaded = loader(meta).map_err(|e| LoadError::new(id, 0, e))?;
        let mut writer = self.index.lock(hash);
        let installed = self.install(&mut writer, hash, meta, reloaded);
        flight.land(&mut writer);
        drop(writer);
        Ok(self.finish(id, installed))
    }

    /// Stores a freshly loaded key and returns the cached key to hand out for it.
    ///
    /// The entry is stored under the asked `created` (Go's cache key), or under the key's own
    /// `created` for a latest lookup; see [`store`](Self::store). A latest lookup also decides
    /// where the id's latest alias points (the rule for a lagging metastore, in the crate
    /// docs): at the loaded key, unless the cached latest key is newer and still valid, in which
    /// case that key stays the latest, is marked fresh and is the one handed out. After
    /// [`close`](Self::close) nothing is stored: the loaded key is handed out alone.
    fn install(
        &self,
        writer: &mut Writer<'_, Evictor>,
        hash: u64,
        meta: KeyMeta<'_>,
        loaded: CryptoKey,
    ) -> Installed {
        let now = self.clock.now_millis();
        let slot_created = if meta.is_latest() {
            loaded.created()
        } else {
            meta.created
        };
        if self.is_closed() {
            return Installed::alone(self.new_entry(meta.id, slot_created, loaded, now));
        }
        let slot = KeyMeta::new(meta.id, slot_created);
        if !meta.is_latest() {
            return self.store(writer, hash, slot, loaded, Alias::IfNewer, now);
        }
        let Some(newer) = self.newer_valid_latest(writer, hash, meta.id, slot_created, now) else {
            return self.store(writer, hash, slot, loaded, Alias::Always, now);
        };
        let mut installed = self.store(writer, hash, slot, loaded, Alias::Keep, now);
        newer.loaded_at.store(now, Ordering::Release);
        if self.bounded {
            self.recency.touch(&newer);
        }
        installed.entry = newer;
        installed
    }

    /// The id's cached latest entry, if it holds a key newer than `created` that is neither
    /// revoked nor expired.
    fn newer_valid_latest(
        &self,
        writer: &Writer<'_, Evictor>,
        hash: u64,
        id: &str,
        created: i64,
        now: i64,
    ) -> Option<Arc<Entry>> {
        writer
            .find(hash, id, 0)
            .filter(|latest| latest.key.created() > created && !self.is_invalid(&latest.key, now))
    }

    /// Stores `loaded` under `slot` (id and `created`). If that entry exists it is refreshed (revoked
    /// flag copied, `loaded_at` set, and, under LRU, moved to the most recently used position,
    /// as Go's `Set` does) and `loaded` is to be closed; otherwise `loaded` becomes a new entry,
    /// evicting first if the policy is full. Closing keys (evicted or redundant) is left to
    /// [`finish`](Self::finish), after the lock is released.
    fn store(
        &self,
        writer: &mut Writer<'_, Evictor>,
        hash: u64,
        slot: KeyMeta<'_>,
        loaded: CryptoKey,
        alias: Alias,
        now: i64,
    ) -> Installed {
        if let Some(existing) = writer.find(hash, slot.id, slot.created) {
            existing.key.set_revoked(loaded.is_revoked());
            existing.loaded_at.store(now, Ordering::Release);
            if self.bounded {
                self.recency.touch(&existing);
            }
            writer.link_latest(hash, &existing, alias);
            return Installed {
                entry: existing,
                redundant: Some(loaded),
                evicted: Vec::new(),
            };
        }
        let evicted = self.make_room(writer);
        let entry = self.new_entry(slot.id, slot.created, loaded, now);
        writer.insert(hash, slot.id, slot.created, Arc::clone(&entry), alias);
        writer.inserted(&self.recency, &entry);
        writer.add_len(1);
        Installed {
            entry,
            redundant: None,
            evicted,
        }
    }

    /// Under a bounded policy, removes entries until one more fits; returns them.
    fn make_room(&self, writer: &mut Writer<'_, Evictor>) -> Vec<Arc<Entry>> {
        let mut evicted = Vec::new();
        if !self.bounded {
            return evicted;
        }
        while let Some(victim) = {
            let len = writer.len();
            writer.victim(len)
        } {
            writer.remove(self.index.hash(&victim.id), &victim);
            writer.add_len(-1);
            evicted.push(victim);
        }
        evicted
    }

    fn new_entry(&self, id: &str, slot_created: i64, key: CryptoKey, now: i64) -> Arc<Entry> {
        Arc::new(Entry::new(
            id,
            slot_created,
            key,
            now,
            self.on_close.clone(),
        ))
    }

    /// After the shard lock is released: closes what `install` left to close.
    fn finish(&self, id: &str, installed: Installed) -> KeyRef {
        let Installed {
            entry,
            redundant,
            evicted,
        } = installed;
        drop(evicted);
        if let Some(key) = redundant {
            close_and_report(self.on_close.as_ref(), id, &key);
        }
        KeyRef {
            held: Held::Owned(entry),
        }
    }

    /// Closes the cache (Go's `Close`): every cached key leaves it and is closed, at once if no
    /// handle holds it, else when its last [`KeyRef`] is dropped (a key is never closed while in
    /// use). Calling it again does nothing.
    ///
    /// The cache stays usable afterwards, as Go's closed cache does, but caches nothing:
    /// every lookup runs its loader and the key handed out is closed when its `KeyRef` is
    /// dropped. This keeps a late user working without holding locked memory past the close.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for shard in 0..self.index.shards() {
            let mut writer = self.index.lock_shard(shard);
            writer.clear();
            let ordered = writer.take_all();
            drop(writer);
            drop(ordered);
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// What [`KeyCache::install`] did.
struct Installed {
    /// The entry to hand out.
    entry: Arc<Entry>,
    /// The loaded key, when an entry already held that key.
    redundant: Option<CryptoKey>,
    /// Entries evicted to make room.
    evicted: Vec<Arc<Entry>>,
}

impl Installed {
    /// An entry stored nowhere (the cache is closed).
    fn alone(entry: Arc<Entry>) -> Self {
        Self {
            entry,
            redundant: None,
            evicted: Vec::new(),
        }
    }
}

impl<C: Clock> fmt::Debug for KeyCache<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.len())
            .field("revoke_check_millis", &self.revoke_check_millis)
            .field("expire_after_millis", &self.expire_after_millis)
            .field("bounded", &self.bounded)
            .finish_non_exhaustive()
    }
}

/// A key handed out by the cache. It derefs to the [`CryptoKey`] and keeps it (and its secret)
/// valid until dropped, even if the cache evicts or replaces it meanwhile.
///
/// A holder can read the key's bytes and metadata, not close the secret or change its
/// revocation flag; the key is shared with every other user of the cache:
///
/// ```
/// # use keycache::{CachePolicy, CryptoKey, KeyCache, KeyMeta};
/// # let cache = KeyCache::new(&CachePolicy::default());
/// # let mut bytes = [7_u8; 32];
/// # let secret = securememory::SecretFactory::default().new(&mut bytes).unwrap();
/// # let mut key = Some(CryptoKey::new(1, false, secret));
/// let handle = cache.get_or_load(KeyMeta::new("ik", 1), |_| key.take().ok_or("once")).unwrap();
/// assert_eq!(handle.with_bytes(|b| b[0]).unwrap(), 7);
/// assert_eq!((handle.created(), handle.is_revoked()), (1, false));
/// ```
///
/// ```compile_fail
/// # use keycache::{CachePolicy, CryptoKey, KeyCache, KeyMeta};
/// # fn closes(cache: &KeyCache) {
/// let handle = cache.get_or_load(KeyMeta::new("ik", 1), |_| Err::<CryptoKey, _>(())).unwrap();
/// handle.secret().close(); // no access to the `Secret`
/// # }
/// ```
///
/// ```compile_fail
/// # use keycache::{CachePolicy, CryptoKey, KeyCache, KeyMeta};
/// # fn revokes(cache: &KeyCache) {
/// let handle = cache.get_or_load(KeyMeta::new("ik", 1), |_| Err::<CryptoKey, _>(())).unwrap();
/// handle.set_revoked(true); // revocation comes from the metastore, through a reload
/// # }
/// ```
///
/// A handle from a hit pins the bucket snapshot it was read from (a hazard slot of the thread
/// that read it; see [`crate::hazard`]), so an evicted neighbour in that snapshot is closed
/// when this handle is dropped too. Handles are meant to be short-lived, like Go's `cachedCryptoKey` references.
pub struct KeyRef {
    held: Held,
}

enum Held {
    /// From a hit: no reference count was touched.
    Pinned(Pinned),
    /// From a load: the slow path already paid for an `Arc`.
    Owned(Arc<Entry>),
}

impl KeyRef {
    #[inline]
    fn entry(&self) -> &Entry {
        match &self.held {
            Held::Pinned(pinned) => pinned.entry(),
            Held::Owned(entry) => entry,
        }
    }

    /// The id of the key.
    pub fn id(&self) -> &str {
        &self.entry().id
    }
}

impl Deref for KeyRef {
    type Target = CryptoKey;

    #[inline]
    fn deref(&self) -> &CryptoKey {
        &self.entry().key
    }
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRef")
            .field("id", &self.id())
            .field("key", &**self)
            .finish()
    }
}
