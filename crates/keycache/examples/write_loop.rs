//! The work of `keycache/write_unique_keys/sequential`, for profiles (callgrind, perf):
//! chunks of 512 new ids, each a miss and an insert, then a latest lookup (a hit).
//! The loader builds keys without a secret (`CryptoKey::for_test`), as the bench and Go's do.
//!
//! ```text
//! cargo build --release -p keycache --features test-util --example write_loop
//! valgrind --tool=callgrind target/release/examples/write_loop 20000
//! ```

use std::hint::black_box;

use keycache::{CachePolicy, Clock, CryptoKey, KeyCache, KeyMeta, SystemClock};

const CHUNK: u64 = 512;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(20_000, |a| a.parse().expect("an op count"));
    let created = SystemClock.now_millis() / 1000;
    let never = |_: KeyMeta<'_>| -> Result<CryptoKey, &'static str> { panic!("loaded") };
    let mut next = 0u64;
    let mut left = n;
    while left > 0 {
        let chunk = left.min(CHUNK);
        left -= chunk;
        let cache = KeyCache::new(&CachePolicy::default());
        for _ in 0..chunk {
            let id = format!("test_key-{next}");
            next += 1;
            let key = cache
                .get_or_load(KeyMeta::new(&id, created), |_| {
                    Ok::<_, &str>(CryptoKey::for_test(created, false))
                })
                .unwrap();
            black_box(&key);
            let latest = cache.get_or_load_latest(&id, never).unwrap();
            assert_eq!(latest.created(), created);
        }
        assert_eq!(cache.len() as u64, chunk);
        drop(cache);
    }
}
