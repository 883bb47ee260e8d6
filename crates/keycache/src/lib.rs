//! A cache of Asherah keys (system and intermediate keys) with Go `appencryption.keyCache`
//! semantics and a read path that scales: hits take no lock and allocate nothing.
//!
//! ```text
//! get_or_load(meta, loader)          hit: fresh entry  -> pinned handle, no lock
//!                                    miss or stale     -> shard lock, single flight -> loader
//!                                                         -> shard lock, install
//! get_or_load_latest(id, loader)     as above through the id's latest alias, and also reloads
//!                                    a latest key that is revoked or expired
//! ```
//!
//! # Rules beyond Go's
//!
//! * **Latest key and a lagging metastore.** The id's latest alias points at the newest key
//!   known. When a latest load returns a key *older* than the cached latest one (a metastore
//!   replica behind the primary), the cached key stays the latest if it is still valid (not
//!   revoked, not expired): it is marked fresh (`loaded_at` = now) and handed out, and its own
//!   revoked flag is kept (the loaded key is another key; its flag says nothing about this one).
//!   So lookups hit again instead of reloading until the metastore catches up; a revocation of
//!   the newer key is then learned at its next check interval. The older key is cached under
//!   its own `created`. If the cached latest key is revoked or expired, the loaded key becomes
//!   the latest, even if older: an invalid key is never served as latest, and keeping it would
//!   reload on every lookup. (Go's `load` always keeps the cached latest entry and copies the
//!   loaded key's revoked flag onto it, whichever key that is.)
//! * **LRU refresh.** A reload of a cached key moves it to the most recently used position, as
//!   Go's `Set` does.
//! * **Close.** [`KeyCache::close`] (Go's `Close`) empties the cache; each key is closed at once,
//!   or when the last [`KeyRef`] to it is dropped. It is idempotent. A closed cache keeps
//!   answering, as Go's does, but stores nothing: every lookup runs its loader, and the key is
//!   closed when its handle is dropped.
//! * **Handles read, the cache owns.** A [`KeyRef`] gives the key's bytes, `created` and
//!   revoked flag; it cannot close the secret or mark the key revoked. Revocation is learned
//!   from the metastore, through the loader's answer on a reload.
//! * **Corruption.** A broken canary found when the cache closes a key goes to the close hook
//!   ([`KeyCache::on_key_closed`]) and then to `securememory::corruption_detected`, which aborts
//!   the process unless a corruption hook is set.
//!
//! Modules: [`key`](KeyMeta) (what is cached), `table` (the index: lock-free reads, sharded
//! writes), `hazard` (how a hit pins what it read), `single_flight` (one load per key),
//! `eviction` (simple and LRU), `cache` (the rules tying them together).

mod cache;
mod clock;
mod entry;
mod error;
mod eviction;
mod hazard;
mod key;
mod loads;
mod policy;
mod single_flight;
mod table;

pub use cache::{KeyCache, KeyRef};
pub use clock::{Clock, ManualClock, SystemClock};
pub use entry::{CloseHook, KeyClosed};
pub use error::LoadError;
pub use key::{CryptoKey, KeyMeta};
pub use policy::{
    CachePolicy, DEFAULT_CAPACITY, DEFAULT_EXPIRE_AFTER, DEFAULT_REVOKE_CHECK_INTERVAL, Eviction,
    UnknownEviction,
};
