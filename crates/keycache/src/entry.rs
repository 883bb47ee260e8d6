//! A cached key and its bookkeeping; closing the secret happens when the last holder drops it.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use smallvec::SmallVec;

use crate::key::CryptoKey;

/// Reports that a key left the cache and its secret was closed (a `for_test` key, which has
/// none, is reported with `Ok(())`).
///
/// `Drop` cannot return an error, so the outcome of the close is reported here instead of being
/// lost. A broken canary (memory corruption, [`securememory::Error::is_corruption`]) is also
/// handed to [`securememory::corruption_detected`] after the hook returns, which aborts the
/// process unless the application set a corruption hook, as dropping a `Secret` does.
#[derive(Debug)]
pub struct KeyClosed<'a> {
    /// Id of the closed key.
    pub id: &'a str,
    /// Creation time of the closed key (Unix seconds).
    pub created: i64,
    /// Outcome of closing the secret.
    pub result: Result<(), &'a securememory::Error>,
}

/// Called when a key's secret is closed; see [`KeyClosed`].
pub type CloseHook = Arc<dyn Fn(KeyClosed<'_>) + Send + Sync>;

/// Closes `key` where no caller can be told: reports the outcome to `hook`, then hands memory
/// corruption to `securememory` (which aborts unless a corruption hook is set).
pub(crate) fn close_and_report(hook: Option<&CloseHook>, id: &str, key: &CryptoKey) {
    let result = key.close();
    if let Some(hook) = hook {
        hook(KeyClosed {
            id,
            created: key.created(),
            result: result.as_ref().map(|&()| ()),
        });
    }
    if let Err(err) = &result
        && err.is_corruption()
    {
        securememory::corruption_detected(err);
    }
}

/// Bytes of an id kept inside its entry.
const INLINE_ID: usize = 64;

/// An entry's id, inline up to [`INLINE_ID`] bytes (Asherah's ids,
/// `_IK_<partition>_<service>_<product>` and the like, mostly are), so that an insert makes one
/// allocation for the entry instead of two: fewer allocations per insert, and fewer lines
/// that another thread freed last.
pub(crate) struct Id(SmallVec<[u8; INLINE_ID]>);

impl Id {
    fn new(id: &str) -> Self {
        Self(SmallVec::from_slice(id.as_bytes()))
    }
}

impl Deref for Id {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        // SAFETY: the bytes were copied from a `str` and are never changed.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// One cached key. Shared (`Arc`) between bucket snapshots, the eviction order and handles.
pub(crate) struct Entry {
    pub(crate) id: Id,
    /// The `created` this entry is stored under (the requested one, as Go's cache key).
    pub(crate) slot_created: i64,
    pub(crate) key: CryptoKey,
    /// When the key was last read from the metastore (Unix milliseconds).
    pub(crate) loaded_at: AtomicI64,
    /// LRU access stamp, written by hits (only when it changes, see `eviction`).
    pub(crate) last_used: AtomicU64,
    on_close: Option<CloseHook>,
}

impl Entry {
    pub(crate) fn new(
        id: &str,
        slot_created: i64,
        key: CryptoKey,
        loaded_at: i64,
        on_close: Option<CloseHook>,
    ) -> Self {
        Self {
            id: Id::new(id),
            slot_created,
            key,
            loaded_at: AtomicI64::new(loaded_at),
            last_used: AtomicU64::new(0),
            on_close,
        }
    }

    /// Go's `isReloadRequired`: stale when the check interval has passed, unless revoked
    /// (a revoked key cannot become "more revoked", so there is nothing to re-check).
    #[inline]
    pub(crate) fn is_stale(&self, now_millis: i64, revoke_check_millis: i64) -> bool {
        !self.key.is_revoked()
            && self
                .loaded_at
                .load(Ordering::Acquire)
                .saturating_add(revoke_check_millis)
                < now_millis
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        close_and_report(self.on_close.as_ref(), &self.id, &self.key);
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("id", &self.id)
            .field("slot_created", &self.slot_created)
            .field("key", &self.key)
            .field("loaded_at", &self.loaded_at.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{INLINE_ID, Id};

    #[test]
    fn ids_read_back_as_given_inline_or_not() {
        let long = "é".repeat(INLINE_ID);
        for id in ["", "ik", "_IK_partition_service_product", &long] {
            let stored = Id::new(id);
            assert_eq!(&*stored, id);
            assert_eq!(format!("{stored:?}"), format!("{id:?}"));
        }
        assert!(Id::new(&long).0.spilled());
        assert!(!Id::new("_IK_partition_service_product").0.spilled());
    }
}
