//! A cache of Asherah keys (system and intermediate keys) with Go `appencryption.keyCache`
//! semantics and a read path that scales: hits take no lock and allocate nothing.
//!
//! ```text
//! get_or_load(meta, loader)          hit: fresh entry  -> pinned handle, no lock
//!                                    miss or stale     -> single-flight gate -> loader -> install
//! get_or_load_latest(id, loader)     as above through the id's latest alias, and also reloads
//!                                    a latest key that is revoked or expired
//! ```
//!
//! Modules: [`key`](KeyMeta) (what is cached), `table` (the lock-free index), `single_flight`
//! (one load per key), `eviction` (simple and LRU), `cache` (the rules tying them together).

mod cache;
mod clock;
mod entry;
mod error;
mod eviction;
mod key;
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
