//! Where `keycache/write_unique_keys/parallel/t2` spends its time beyond half the sequential
//! figure: the bench's own loop ([`write_unique`] on chunks of 512 new ids, a fresh cache per
//! chunk, the pool of the benches), timed per thread as well as in wall time, with the sharing
//! and the ownership of the memory varied one at a time.
//!
//! ```text
//! cargo run --release -p subject-benches --example write_split -- [threads] [chunks]
//! ```
//!
//! Layouts (one line each, medians over the chunks):
//! * `shared`: one cache for all threads, built and dropped by thread 0 (the bench);
//! * `apart`: one cache per thread, built and dropped by thread 0 (no sharing at all);
//! * `apart-own-build`: each thread builds its own cache, thread 0 drops them;
//! * `apart-own`: each thread builds and drops its own cache.
//!
//! A thread that inserts into memory another thread built, or reuses memory another thread
//! freed, pays for lines that thread wrote last: `apart` against `apart-own` is that cost alone,
//! `shared` against `apart` is the cost of sharing the cache.

use std::sync::Mutex;
use std::time::Instant;

use keycache::{CachePolicy, Clock, KeyCache, SystemClock};
use subject_benches::{Pool, write_unique};

/// Ops per fresh cache, as in the bench.
const CHUNK: u64 = 512;

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Shared,
    Apart,
    ApartOwnBuild,
    ApartOwn,
}

impl Layout {
    const ALL: [(Layout, &'static str); 4] = [
        (Layout::Shared, "shared"),
        (Layout::Apart, "apart"),
        (Layout::ApartOwnBuild, "apart-own-build"),
        (Layout::ApartOwn, "apart-own"),
    ];
}

/// One cache slot per thread, filled and emptied by whichever thread the layout names.
type Slots = Vec<Mutex<Option<KeyCache>>>;

fn main() {
    let arg = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let threads = arg(1, 2);
    let chunks = arg(2, 2000);
    let pool = Pool::new(threads);
    for (layout, name) in Layout::ALL {
        let (wall, own) = measure(&pool, layout, chunks);
        let own: Vec<String> = own.iter().map(|ns| format!("{ns:.0}")).collect();
        println!(
            "{name:<16} wall {wall:.0} ns/op; per thread, ns per own op: {}",
            own.join(" ")
        );
    }
}

/// Medians over `chunks` chunks: wall ns per op, and each thread's ns per op of its own share.
fn measure(pool: &Pool, layout: Layout, chunks: usize) -> (f64, Vec<f64>) {
    let threads = pool.threads();
    let created = SystemClock.now_millis() / 1000;
    let mut walls = Vec::with_capacity(chunks);
    let own: Vec<Mutex<Vec<f64>>> = (0..threads).map(|_| Mutex::new(Vec::new())).collect();
    let mut next = 0u64;
    for _ in 0..chunks {
        let slots = build(pool, layout);
        let caches: Vec<KeyCache> = slots.iter().map(take).collect();
        let base = next;
        next += CHUNK + threads as u64;
        let stride = CHUNK / threads as u64 + 1;
        let wall = pool.run(CHUNK, &|thread, n| {
            let cache = &caches[if layout == Layout::Shared { 0 } else { thread }];
            let first = base + thread as u64 * stride;
            let start = Instant::now();
            write_unique(cache, first..first + n, created, || ());
            let ns = start.elapsed().as_nanos() as f64 / n as f64;
            own[thread].lock().expect("not poisoned").push(ns);
        });
        walls.push(wall.as_nanos() as f64 / CHUNK as f64);
        if layout == Layout::ApartOwn {
            let slots: Slots = caches.into_iter().map(|c| Mutex::new(Some(c))).collect();
            pool.run(threads as u64, &|t, _| drop(take(&slots[t])));
        } else {
            drop(caches);
        }
    }
    let own = own
        .into_iter()
        .map(|m| median(m.into_inner().expect("not poisoned")))
        .collect();
    (median(walls), own)
}

/// The chunk's caches: one (shared) or one per thread, built by thread 0 or by their thread.
fn build(pool: &Pool, layout: Layout) -> Slots {
    let count = if layout == Layout::Shared {
        1
    } else {
        pool.threads()
    };
    let slots: Slots = (0..count).map(|_| Mutex::new(None)).collect();
    let fresh = || Some(KeyCache::new(&CachePolicy::default()));
    if matches!(layout, Layout::ApartOwnBuild | Layout::ApartOwn) {
        pool.run(count as u64, &|t, _| {
            *slots[t].lock().expect("not poisoned") = fresh();
        });
    } else {
        for slot in &slots {
            *slot.lock().expect("not poisoned") = fresh();
        }
    }
    slots
}

fn take(slot: &Mutex<Option<KeyCache>>) -> KeyCache {
    slot.lock()
        .expect("not poisoned")
        .take()
        .expect("a cache in every slot")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
