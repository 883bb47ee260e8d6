//! `keycache/write_unique_keys` on N threads (default 2) without criterion, printing the
//! distribution of ns/op over chunks of 512 ops (each chunk a fresh cache, as in the bench; keys
//! without a secret, `CryptoKey::for_test`, as in the bench).
//!
//! ```text
//! cargo build --release -p keycache --features test-util --example write_par
//! chrt -f 10 target/release/examples/write_par 2000 2
//! ```

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use keycache::{CachePolicy, Clock, CryptoKey, KeyCache, KeyMeta, SystemClock};

const CHUNK: u64 = 512;

fn main() {
    let chunks: usize = std::env::args().nth(1).map_or(1000, |a| a.parse().unwrap());
    let threads: usize = std::env::args().nth(2).map_or(2, |a| a.parse().unwrap());
    // "separate": one cache per thread (the machine's parallel capacity, no sharing).
    let separate = std::env::args().nth(3).is_some_and(|a| a == "separate");
    let created = SystemClock.now_millis() / 1000;
    let never = |_: KeyMeta<'_>| -> Result<CryptoKey, &'static str> { panic!("loaded") };
    let start = Arc::new(Barrier::new(threads + 1));
    let end = Arc::new(Barrier::new(threads + 1));
    type Job = (Arc<KeyCache>, u64, u64);
    let jobs: Arc<Vec<Mutex<Option<Job>>>> =
        Arc::new((0..threads).map(|_| Mutex::new(None)).collect());
    let stamps: Arc<Vec<Mutex<(Instant, Instant)>>> = Arc::new(
        (0..threads)
            .map(|_| Mutex::new((Instant::now(), Instant::now())))
            .collect(),
    );
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (start, end, jobs, stamps) =
                (start.clone(), end.clone(), jobs.clone(), stamps.clone());
            std::thread::spawn(move || {
                for _ in 0..chunks {
                    start.wait();
                    let (cache, base, n) = jobs[t].lock().unwrap().take().unwrap();
                    let t0 = Instant::now();
                    for j in 0..n {
                        let id = format!("test_key-{}", base + j);
                        let key = cache
                            .get_or_load(KeyMeta::new(&id, created), |_| {
                                Ok::<_, &str>(CryptoKey::for_test(created, false))
                            })
                            .unwrap();
                        std::hint::black_box(&key);
                        let latest = cache.get_or_load_latest(&id, never).unwrap();
                        assert_eq!(latest.created(), created);
                    }
                    *stamps[t].lock().unwrap() = (t0, Instant::now());
                    drop(cache);
                    end.wait();
                }
            })
        })
        .collect();
    let mut per_op = Vec::with_capacity(chunks);
    let mut next = 0u64;
    for _ in 0..chunks {
        let cache = Arc::new(KeyCache::new(&CachePolicy::default()));
        for t in 0..threads {
            let share = CHUNK / threads as u64;
            let cache = if separate {
                Arc::new(KeyCache::new(&CachePolicy::default()))
            } else {
                cache.clone()
            };
            *jobs[t].lock().unwrap() = Some((cache, next, share));
            next += share;
        }
        drop(cache);
        start.wait();
        end.wait();
        let s: Vec<(Instant, Instant)> = stamps.iter().map(|m| *m.lock().unwrap()).collect();
        let first = s.iter().map(|x| x.0).min().unwrap();
        let last = s.iter().map(|x| x.1).max().unwrap();
        per_op.push((last - first).as_nanos() as f64 / CHUNK as f64);
    }
    for w in workers {
        w.join().unwrap();
    }
    per_op.sort_by(f64::total_cmp);
    let q = |p: f64| per_op[((per_op.len() - 1) as f64 * p) as usize];
    let mean = per_op.iter().sum::<f64>() / per_op.len() as f64;
    println!(
        "threads {threads}: ns/op p10 {:.0} p50 {:.0} p90 {:.0} p99 {:.0} mean {:.0}",
        q(0.1),
        q(0.5),
        q(0.9),
        q(0.99),
        mean
    );
    let _ = Duration::ZERO;
}
