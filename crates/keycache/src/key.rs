//! Keys and the metadata that names them.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use securememory::Secret;

/// Names a key: an id (system or intermediate key id) and its creation time in Unix seconds.
///
/// `created == 0` means "the latest key of this id", as in Go. The id is borrowed so that a
/// lookup never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyMeta<'a> {
    /// The key id.
    pub id: &'a str,
    /// Creation time in Unix seconds; 0 for "latest".
    pub created: i64,
}

impl<'a> KeyMeta<'a> {
    /// Metadata of one specific key.
    pub fn new(id: &'a str, created: i64) -> Self {
        Self { id, created }
    }

    /// Metadata asking for the latest key of `id`.
    pub fn latest(id: &'a str) -> Self {
        Self { id, created: 0 }
    }

    /// Whether this asks for the latest key of its id.
    pub fn is_latest(&self) -> bool {
        self.created == 0
    }
}

impl fmt::Display for KeyMeta<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_latest() {
            write!(f, "{:?} (latest)", self.id)
        } else {
            write!(f, "{:?} (created {})", self.id, self.created)
        }
    }
}

/// A key held in protected memory, with its creation time and revocation flag (a key made by
/// `for_test`, feature `test-util`, holds no memory at all).
///
/// A holder can read the bytes ([`with_bytes`](Self::with_bytes)) and the metadata, but cannot
/// close the secret or change the revocation flag: the key may be cached and shared, and only
/// the cache closes it (when it leaves the cache and its last holder lets go) or updates its
/// flag (from a reload). The revocation flag is atomic because a reload updates it on a key
/// that other threads are using at that moment (Go's `SetRevoked`).
pub struct CryptoKey {
    created: i64,
    revoked: AtomicBool,
    /// Always present, except in keys made by `for_test` (feature `test-util`).
    secret: Option<Secret>,
}

impl CryptoKey {
    /// A key created at `created` (Unix seconds) holding `secret`.
    pub fn new(created: i64, revoked: bool, secret: Secret) -> Self {
        Self {
            created,
            revoked: AtomicBool::new(revoked),
            secret: Some(secret),
        }
    }

    /// A key with no secret, as Go's `internal.NewCryptoKeyForTest`: for benches and tests of
    /// the cache alone, whose loaders would otherwise pay for a protected mapping per key
    /// (about 17 us to create and close, against 0.3 us for the cache's own miss and insert).
    /// Only the cache's bookkeeping works on such a key: [`secret`](Self::secret) panics.
    #[cfg(feature = "test-util")]
    pub fn for_test(created: i64, revoked: bool) -> Self {
        Self {
            created,
            revoked: AtomicBool::new(revoked),
            secret: None,
        }
    }

    /// Creation time in Unix seconds.
    pub fn created(&self) -> i64 {
        self.created
    }

    /// Whether the key has been revoked.
    #[inline]
    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }

    /// Marks the key revoked or not: the cache copies the flag of a reloaded key (Go's
    /// `SetRevoked`). Not public: revocation is learned from the metastore through the loader,
    /// never set by a holder of the key.
    pub(crate) fn set_revoked(&self, revoked: bool) {
        self.revoked.store(revoked, Ordering::Release);
    }

    /// Runs `action` on the key's bytes, readable only for its duration (see
    /// [`Secret::with_bytes`]).
    ///
    /// # Panics
    /// On a key made by `for_test` (feature `test-util`), which holds none.
    #[track_caller]
    #[inline]
    pub fn with_bytes<R>(&self, action: impl FnOnce(&[u8]) -> R) -> securememory::Result<R> {
        self.secret().with_bytes(action)
    }

    /// Runs a fallible `action` on the key's bytes and returns what it builds from them (see
    /// [`Secret::with_bytes_func`]).
    ///
    /// # Panics
    /// On a key made by `for_test` (feature `test-util`), which holds none.
    #[track_caller]
    #[inline]
    pub fn with_bytes_func<R, E>(&self, action: impl FnOnce(&[u8]) -> Result<R, E>) -> Result<R, E>
    where
        E: From<securememory::Error>,
    {
        self.secret().with_bytes_func(action)
    }

    /// Whether the key's secret has been closed (never, while a handle from the cache holds it;
    /// `false` for a `for_test` key).
    pub fn is_closed(&self) -> bool {
        self.secret.as_ref().is_some_and(Secret::is_closed)
    }

    /// The protected key material. Not public: a holder may read the bytes, not close them.
    #[track_caller]
    fn secret(&self) -> &Secret {
        self.secret
            .as_ref()
            .expect("a key made by CryptoKey::for_test holds no secret")
    }

    /// Closes the secret (wipes and unmaps it); nothing to do for a `for_test` key. Only the
    /// cache calls this.
    pub(crate) fn close(&self) -> securememory::Result<()> {
        self.secret.as_ref().map_or(Ok(()), Secret::close)
    }

    /// Whether the key has expired: created more than `expire_after_millis` before `now_millis`
    /// (Go's `internal.IsKeyExpired`).
    pub(crate) fn is_expired(&self, now_millis: i64, expire_after_millis: i64) -> bool {
        self.created
            .saturating_mul(1000)
            .saturating_add(expire_after_millis)
            < now_millis
    }
}

impl fmt::Debug for CryptoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoKey")
            .field("created", &self.created)
            .field("revoked", &self.is_revoked())
            .field(
                "secret",
                &if self.secret.is_some() {
                    "<protected>"
                } else {
                    "<none: for_test>"
                },
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_key_is_closed_by_close() {
        let mut bytes = [1_u8; 32];
        let secret = securememory::SecretFactory::default()
            .new(&mut bytes)
            .unwrap();
        let key = CryptoKey::new(7, false, secret);
        assert!(!key.is_closed());
        assert_eq!(key.with_bytes(|b| b[0]).unwrap(), 1);
        key.close().unwrap();
        assert!(key.is_closed());
        assert!(key.with_bytes(|_| ()).is_err());
    }

    // Built with the feature only: `cargo test --workspace` has it (the subject benches turn it
    // on); `cargo test -p keycache --features test-util` for this crate alone.
    #[cfg(feature = "test-util")]
    #[test]
    fn a_test_key_has_no_secret_and_closes_as_a_no_op() {
        let key = CryptoKey::for_test(7, true);
        assert_eq!(key.created(), 7);
        assert!(key.is_revoked());
        assert!(key.close().is_ok());
        assert!(!key.is_closed());
        assert!(format!("{key:?}").contains("for_test"));
    }

    #[cfg(feature = "test-util")]
    #[test]
    #[should_panic(expected = "holds no secret")]
    fn a_test_key_refuses_to_hand_out_a_secret() {
        let _ = CryptoKey::for_test(7, false).with_bytes(|b| b.len());
    }
}
