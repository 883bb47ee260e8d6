//! The work of `keycache/write_unique_keys`, shared by the bench and the `write_split` example.

use std::convert::Infallible;
use std::hint::black_box;
use std::ops::Range;

use keycache::{CryptoKey, KeyCache, KeyMeta};

/// Go's `testKey`: ids are `test_key-N`.
pub const TEST_KEY: &str = "test_key";

/// One thread's share of `write_unique_keys`: for each `i` of `ids`, formats the id
/// `test_key-i`, gets it with a loader that calls `on_load` and builds a key without a secret
/// ([`CryptoKey::for_test`], created at `created`), then gets the id's latest key, which must
/// be the one just inserted (a hit: its loader panics).
///
/// Generic over `on_load` so that the loop is compiled, and can be inlined, in the caller's
/// crate, as the bench's own loop would be.
#[inline]
pub fn write_unique(cache: &KeyCache, ids: Range<u64>, created: i64, on_load: impl Fn()) {
    for i in ids {
        let id = format!("{TEST_KEY}-{i}");
        let key = cache
            .get_or_load(KeyMeta::new(&id, created), |_| {
                on_load();
                Ok::<_, Infallible>(CryptoKey::for_test(created, false))
            })
            .unwrap();
        black_box(&key);
        let latest = cache.get_or_load_latest(&id, must_hit).unwrap();
        assert_eq!(latest.created(), created);
    }
}

/// The loader of the latest lookup, which must hit.
fn must_hit(meta: KeyMeta<'_>) -> Result<CryptoKey, Infallible> {
    panic!("the latest key of {meta} should be cached")
}
