//! A loop of sequential hits, for instruction counts under callgrind:
//!
//! ```text
//! cargo build --release -p keycache --example hit_loop
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/hit_loop 100000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/hit_loop 200000
//! ```
//!
//! The difference of the two totals divided by 100,000 is the cost of one hit
//! (`get_or_load` of a fresh key, as `keycache/read_existing_key/sequential` does).

use std::hint::black_box;

use keycache::{CachePolicy, Clock, CryptoKey, KeyCache, KeyMeta, SystemClock};
use securememory::SecretFactory;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().expect("an op count"));
    let latest = std::env::args().nth(2).is_some_and(|a| a == "latest");
    let created = SystemClock.now_millis() / 1000;
    let cache = KeyCache::new(&CachePolicy::default());
    let factory = SecretFactory::with_options(securememory::Options::default());
    let meta = KeyMeta::new("test_key", created);
    drop(cache.get_or_load(meta, |_| {
        let mut bytes = [0x5a_u8; 32];
        Ok::<_, std::convert::Infallible>(CryptoKey::new(
            created,
            false,
            factory.new(&mut bytes).expect("a secret"),
        ))
    }));
    let never = |_: KeyMeta<'_>| -> Result<CryptoKey, &'static str> { panic!("loaded") };
    for _ in 0..n {
        let key = if latest {
            cache
                .get_or_load_latest(black_box("test_key"), never)
                .unwrap()
        } else {
            cache.get_or_load(black_box(meta), never).unwrap()
        };
        assert_eq!(key.created(), created);
    }
}
