//! The key cache: Go's `keyCache` semantics with a read path that takes no lock.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::clock::{Clock, SystemClock, duration_millis};
use crate::entry::{CloseHook, Entry, KeyClosed};
use crate::error::LoadError;
use crate::eviction::{Evictor, Recency};
use crate::key::{CryptoKey, KeyMeta};
use crate::policy::{CachePolicy, Eviction};
use crate::single_flight::Gates;
use crate::table::{Index, Pinned, Writer};

/// A cache of keys loaded from a metastore, shared by all threads of a process.
///
/// * A hit (the key is present and fresh) takes no lock, makes no heap allocation and, under
///   the simple policy, writes no shared memory; see [`crate::table`].
/// * A miss or a stale entry runs the loader once, however many threads ask at the same time;
///   see [`crate::single_flight`]. A load of one key never blocks hits on other keys.
/// * Keys handed out ([`KeyRef`]) stay valid while held; an evicted or replaced key's secret is
///   closed when the last holder lets go, never while it is in use.
pub struct KeyCache<C: Clock = SystemClock> {
    index: Index<Evictor>,
    gates: Gates,
    recency: Recency,
    /// Whether hits must record their use (bounded policies only).
    track_use: bool,
    clock: C,
    revoke_check_millis: i64,
    expire_after_millis: i64,
    len: AtomicUsize,
    on_close: Option<CloseHook>,
}

impl KeyCache<SystemClock> {
    /// A cache following `policy`, reading the system clock.
    pub fn new(policy: &CachePolicy) -> Self {
        Self::with_clock(policy, SystemClock)
    }
}

impl<C: Clock> KeyCache<C> {
    /// A cache following `policy`, reading time from `clock` (tests pass a
    /// [`ManualClock`](crate::ManualClock)).
    pub fn with_clock(policy: &CachePolicy, clock: C) -> Self {
        let evictor = match policy.eviction {
            Eviction::Simple => Evictor::Simple,
            Eviction::Lru => Evictor::lru(policy.capacity),
        };
        Self {
            index: Index::new(evictor),
            gates: Gates::default(),
            recency: Recency::default(),
            track_use: policy.eviction != Eviction::Simple,
            clock,
            revoke_check_millis: duration_millis(policy.revoke_check_interval),
            expire_after_millis: duration_millis(policy.expire_after),
            len: AtomicUsize::new(0),
            on_close: None,
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
        self.len.load(Ordering::Relaxed)
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
        let pinned = self.index.get(hash, meta.id, meta.created)?;
        let entry = pinned.entry();
        if entry.is_stale(now, self.revoke_check_millis) {
            return None;
        }
        if self.track_use {
            self.recency.touch(entry);
        }
        Some(KeyRef {
            held: Held::Pinned(pinned),
        })
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
        let _passage = self.gates.enter(meta.id, meta.created);
        // Another thread may have loaded it while we waited at the gate.
        if let Some(hit) = self.fresh(hash, meta, self.clock.now_millis()) {
            return Ok(hit);
        }
        let loaded = loader(meta).map_err(|e| LoadError::new(meta.id, meta.created, e))?;
        Ok(self.install(hash, meta, loaded))
    }

    #[cold]
    fn load_latest<E, F>(&self, hash: u64, id: &str, mut loader: F) -> Result<KeyRef, LoadError<E>>
    where
        F: FnMut(KeyMeta<'_>) -> Result<CryptoKey, E>,
    {
        let meta = KeyMeta::latest(id);
        let _passage = self.gates.enter(id, 0);
        let now = self.clock.now_millis();
        let current = match self.fresh(hash, meta, now) {
            Some(hit) if !self.is_invalid(&hit, now) => return Ok(hit),
            Some(fresh_but_invalid) => fresh_but_invalid,
            None => {
                let loaded = loader(meta).map_err(|e| LoadError::new(id, 0, e))?;
                self.install(hash, meta, loaded)
            }
        };
        if !self.is_invalid(&current, self.clock.now_millis()) {
            return Ok(current);
        }
        drop(current);
        let reloaded = loader(meta).map_err(|e| LoadError::new(id, 0, e))?;
        Ok(self.install(hash, meta, reloaded))
    }

    /// Stores a freshly loaded key and returns the cached key for it.
    ///
    /// The entry is stored under the asked `created` (Go's cache key), or under the key's own
    /// `created` for a latest lookup. If that entry exists it is refreshed and `loaded` is closed;
    /// otherwise `loaded` becomes a new entry, evicting first if the policy is full. Either way
    /// the id's latest alias moves to the newest key known.
    fn install(&self, hash: u64, meta: KeyMeta<'_>, loaded: CryptoKey) -> KeyRef {
        let slot_created = if meta.is_latest() {
            loaded.created()
        } else {
            meta.created
        };
        let now = self.clock.now_millis();
        let mut writer = self.index.write();

        if let Some(existing) = writer.find(hash, meta.id, slot_created) {
            existing.key.set_revoked(loaded.is_revoked());
            existing.loaded_at.store(now, Ordering::Release);
            Self::link_latest(&mut writer, hash, &existing);
            drop(writer);
            self.close_redundant(meta.id, loaded);
            return KeyRef {
                held: Held::Owned(existing),
            };
        }

        let mut evicted = Vec::new();
        while let Some(victim) = writer.victim(self.len()) {
            self.unlink(&mut writer, &victim);
            evicted.push(victim);
        }
        let entry = Arc::new(Entry::new(
            meta.id,
            slot_created,
            loaded,
            now,
            self.on_close.clone(),
        ));
        writer.upsert(hash, slot_created, Arc::clone(&entry));
        writer.inserted(&self.recency, &entry);
        self.len.fetch_add(1, Ordering::Relaxed);
        Self::link_latest(&mut writer, hash, &entry);
        drop(writer);
        // Closing secrets costs syscalls: done after the writer lock is released (and only if
        // no handle still holds them).
        drop(evicted);
        KeyRef {
            held: Held::Owned(entry),
        }
    }

    /// Points the id's latest alias at `entry` unless it already names a key at least as new.
    fn link_latest(writer: &mut Writer<'_, Evictor>, hash: u64, entry: &Arc<Entry>) {
        let newer_known = writer
            .find(hash, &entry.id, 0)
            .is_some_and(|latest| latest.key.created() >= entry.key.created());
        if !newer_known {
            writer.upsert(hash, 0, Arc::clone(entry));
        }
    }

    /// Takes an evicted entry out of the index (its own item and the alias if it is latest).
    fn unlink(&self, writer: &mut Writer<'_, Evictor>, victim: &Arc<Entry>) {
        let hash = self.index.hash(&victim.id);
        writer.remove(hash, &victim.id, victim.slot_created, Some(victim));
        writer.remove(hash, &victim.id, 0, Some(victim));
        self.len.fetch_sub(1, Ordering::Relaxed);
    }

    /// Closes a loaded key that duplicates a cached one, reporting the outcome to the hook.
    fn close_redundant(&self, id: &str, key: CryptoKey) {
        let result = key.secret().close();
        if let Some(hook) = &self.on_close {
            hook(KeyClosed {
                id,
                created: key.created(),
                result,
            });
        }
    }
}

impl<C: Clock> fmt::Debug for KeyCache<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.len())
            .field("revoke_check_millis", &self.revoke_check_millis)
            .field("expire_after_millis", &self.expire_after_millis)
            .field("track_use", &self.track_use)
            .finish_non_exhaustive()
    }
}

/// A key handed out by the cache. It derefs to the [`CryptoKey`] and keeps it (and its secret)
/// valid until dropped, even if the cache evicts or replaces it meanwhile.
///
/// A handle from a hit pins the bucket snapshot it was read from (a hazard-pointer slot of the
/// thread that read it), so an evicted neighbour in that snapshot is closed when this handle is
/// dropped too. Handles are meant to be short-lived, like Go's `cachedCryptoKey` references.
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
