//! Cache policy: how long entries stay fresh, when keys expire, and how the cache is bounded.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Go's `DefaultRevokeCheckInterval`: a cached key is re-read from the metastore after this long.
pub const DEFAULT_REVOKE_CHECK_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Go's `DefaultExpireAfter`: a latest key older than this is replaced.
pub const DEFAULT_EXPIRE_AFTER: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// Go's `DefaultKeyCacheMaxSize`, used by bounded policies unless set.
pub const DEFAULT_CAPACITY: usize = 1000;

/// Which entry leaves a bounded cache when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eviction {
    /// Unbounded: nothing is ever evicted (Go's default `simple` cache). Hits record nothing.
    #[default]
    Simple,
    /// Bounded: the least recently used entry is evicted when `capacity` is reached.
    Lru,
}

impl FromStr for Eviction {
    type Err = UnknownEviction;

    /// Parses Go's policy names (`"simple"`, `"lru"`; `""` means simple, as in Go).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "simple" => Ok(Self::Simple),
            "lru" => Ok(Self::Lru),
            other => Err(UnknownEviction(other.to_owned())),
        }
    }
}

/// An eviction policy name this crate does not implement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEviction(pub String);

impl fmt::Display for UnknownEviction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown key cache eviction policy {:?}: expected \"simple\" or \"lru\" \
             (lfu, slru and tinylfu are not implemented)",
            self.0
        )
    }
}

impl std::error::Error for UnknownEviction {}

/// The knobs of a key cache; `Default` gives Go's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    /// An entry loaded longer ago than this is reloaded on its next use (unless revoked).
    pub revoke_check_interval: Duration,
    /// A latest key created longer ago than this is replaced by `get_or_load_latest`.
    pub expire_after: Duration,
    /// Maximum number of keys held by a bounded policy (ignored by [`Eviction::Simple`]).
    pub capacity: usize,
    /// How the cache is bounded.
    pub eviction: Eviction,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            revoke_check_interval: DEFAULT_REVOKE_CHECK_INTERVAL,
            expire_after: DEFAULT_EXPIRE_AFTER,
            capacity: DEFAULT_CAPACITY,
            eviction: Eviction::Simple,
        }
    }
}

impl CachePolicy {
    /// An LRU policy holding at most `capacity` keys (at least one), Go's other settings.
    pub fn lru(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            eviction: Eviction::Lru,
            ..Self::default()
        }
    }
}
