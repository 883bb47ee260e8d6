//! Many threads at once: one load per key, and a slow load blocks nobody else.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use common::*;
use keycache::{CachePolicy, CryptoKey, KeyCache, KeyMeta, KeyRef, ManualClock};

const THREADS: usize = 16;

/// Runs `ask` on 16 threads released together; returns every handle they got.
fn ask_together(ask: impl Fn() -> KeyRef + Send + Sync + 'static) -> Vec<KeyRef> {
    let ask = Arc::new(ask);
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (ask, start) = (Arc::clone(&ask), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                ask()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// All handles name the same cached key object (not merely equal values).
fn same_key(handles: &[KeyRef]) -> bool {
    let first: *const CryptoKey = &*handles[0];
    handles.iter().all(|h| std::ptr::eq(&**h, first))
}

/// A loader slow enough that the other threads arrive while it runs.
fn slow_load(loader: &CountingLoader, created: i64) -> Result<CryptoKey, std::convert::Infallible> {
    std::thread::sleep(Duration::from_millis(50));
    loader.load(created, false, 7)
}

#[test]
fn sixteen_threads_asking_for_one_missing_key_load_it_once() {
    let cache = Arc::new(KeyCache::new(&CachePolicy::default()));
    let loader = CountingLoader::new();
    let (c, l) = (Arc::clone(&cache), Arc::clone(&loader));
    let handles = ask_together(move || {
        c.get_or_load(KeyMeta::new("ik", NOW_SECS), |_| slow_load(&l, NOW_SECS))
            .unwrap()
    });
    assert_eq!(loader.calls(), 1);
    assert!(same_key(&handles), "threads got different key objects");
    assert_eq!(cache.len(), 1);
}

#[test]
fn sixteen_threads_asking_for_one_missing_latest_key_load_it_once() {
    let cache = Arc::new(KeyCache::new(&CachePolicy::default()));
    let loader = CountingLoader::new();
    let (c, l) = (Arc::clone(&cache), Arc::clone(&loader));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let handles = ask_together(move || c.get_or_load_latest("sk", |_| slow_load(&l, now)).unwrap());
    assert_eq!(loader.calls(), 1);
    assert!(same_key(&handles));
}

#[test]
fn sixteen_threads_asking_for_one_stale_key_reload_it_once() {
    let clock = ManualClock::new(START_MILLIS);
    let cache = Arc::new(KeyCache::with_clock(&CachePolicy::default(), clock.clone()));
    let loader = CountingLoader::new();
    let meta = KeyMeta::new("ik", NOW_SECS);
    cache
        .get_or_load(meta, |_| loader.load(NOW_SECS, false, 7))
        .unwrap();
    clock.advance(Duration::from_secs(2 * 3600));
    let (c, l) = (Arc::clone(&cache), Arc::clone(&loader));
    let handles = ask_together(move || {
        c.get_or_load(KeyMeta::new("ik", NOW_SECS), |_| slow_load(&l, NOW_SECS))
            .unwrap()
    });
    assert_eq!(loader.calls(), 2);
    assert!(same_key(&handles));
}

#[test]
fn a_blocked_load_does_not_stop_hits_or_loads_of_other_keys() {
    let cache = Arc::new(KeyCache::new(&CachePolicy::default()));
    let loader = CountingLoader::new();
    cache
        .get_or_load(KeyMeta::new("cached", NOW_SECS), |_| {
            loader.load(NOW_SECS, false, 1)
        })
        .unwrap();

    let (started_tx, started_rx) = mpsc::channel();
    let release = Arc::new(Barrier::new(2));
    let blocked = {
        let (cache, release, loader) = (
            Arc::clone(&cache),
            Arc::clone(&release),
            Arc::clone(&loader),
        );
        std::thread::spawn(move || {
            cache
                .get_or_load(KeyMeta::new("slow", NOW_SECS), |_| {
                    started_tx.send(()).unwrap();
                    release.wait(); // held until the other keys have been served
                    loader.load(NOW_SECS, false, 2)
                })
                .map(|k| fill_of(&k))
        })
    };
    started_rx.recv().unwrap();

    // On another thread, so that a bug shows as a failed receive, not a hung test.
    let (done_tx, done_rx) = mpsc::channel();
    {
        let (cache, loader) = (Arc::clone(&cache), Arc::clone(&loader));
        std::thread::spawn(move || {
            let hit = cache
                .get_or_load(KeyMeta::new("cached", NOW_SECS), never)
                .map(|k| fill_of(&k));
            let other_load = cache
                .get_or_load(KeyMeta::new("other", NOW_SECS), |_| {
                    loader.load(NOW_SECS, false, 3)
                })
                .map(|k| fill_of(&k));
            done_tx.send((hit.unwrap(), other_load.unwrap())).unwrap();
        });
    }
    let served = done_rx.recv_timeout(Duration::from_secs(10));
    release.wait();
    assert_eq!(
        served,
        Ok((1, 3)),
        "a hit or another key's load waited for the blocked load"
    );
    assert_eq!(blocked.join().unwrap().unwrap(), 2);
}

#[test]
fn hits_and_loads_from_many_threads_agree() {
    // A stress run across table growth: every thread reads every id; each id loads once.
    let cache = Arc::new(KeyCache::new(&CachePolicy::default()));
    let loader = CountingLoader::new();
    let ids: Arc<Vec<String>> = Arc::new((0..300).map(|i| format!("id-{i}")).collect());
    let wrong = Arc::new(AtomicBool::new(false));
    let (c, l, ids2, w) = (
        Arc::clone(&cache),
        Arc::clone(&loader),
        Arc::clone(&ids),
        Arc::clone(&wrong),
    );
    ask_together(move || {
        for (i, id) in ids2.iter().enumerate() {
            let k = c
                .get_or_load(KeyMeta::new(id, NOW_SECS), |_| {
                    l.load(NOW_SECS, false, i as u8)
                })
                .unwrap();
            if fill_of(&k) != i as u8 {
                w.store(true, Ordering::SeqCst);
            }
        }
        c.get_or_load(KeyMeta::new(&ids2[0], NOW_SECS), never)
            .unwrap()
    });
    assert!(
        !wrong.load(Ordering::SeqCst),
        "a thread read another id's key"
    );
    assert_eq!((loader.calls(), cache.len()), (300, 300));
    for id in ids.iter() {
        cache
            .get_or_load(KeyMeta::new(id, NOW_SECS), never)
            .unwrap();
        cache.get_or_load_latest(id, never).unwrap();
    }
}

#[test]
fn evictions_racing_hits_close_every_key_once_and_never_while_held() {
    // A small LRU cache churned by many threads: hits race evictions (bucket snapshots are
    // retired and reclaimed while readers hold them), handles are held across other calls.
    let closed = Closed::default();
    let cache = Arc::new(
        KeyCache::with_clock(&CachePolicy::lru(6), ManualClock::new(START_MILLIS))
            .on_key_closed(closed.hook()),
    );
    let loader = CountingLoader::new();
    let wrong = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (cache, loader, wrong, start) = (
                Arc::clone(&cache),
                Arc::clone(&loader),
                Arc::clone(&wrong),
                Arc::clone(&start),
            );
            std::thread::spawn(move || {
                start.wait();
                let mut held = Vec::new();
                for i in 0..3000usize {
                    let n = (i * 7 + t * 3) % 20;
                    let id = format!("id-{n}");
                    let k = if i % 3 == 0 {
                        cache.get_or_load_latest(&id, |_| loader.load(NOW_SECS, false, n as u8))
                    } else {
                        cache.get_or_load(KeyMeta::new(&id, NOW_SECS), |_| {
                            loader.load(NOW_SECS, false, n as u8)
                        })
                    }
                    .unwrap();
                    if k.is_closed() || fill_of(&k) != n as u8 || k.id() != id {
                        wrong.store(true, Ordering::SeqCst);
                    }
                    held.push((k, n as u8));
                    if held.len() > 10 {
                        // Keep up to 10 handles: more than a thread's hazard slots.
                        let (old, fill) = held.remove(i % held.len());
                        if old.is_closed() || fill_of(&old) != fill {
                            wrong.store(true, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        !wrong.load(Ordering::SeqCst),
        "a held key was closed or wrong"
    );
    assert!(cache.len() <= 6);
    let cached = cache.len();
    let closed_while_running = closed.all().len();
    assert_eq!(
        closed_while_running + cached,
        loader.calls(),
        "every key loaded and no longer cached is closed, once"
    );
    drop(cache);
    let all = closed.all();
    assert_eq!(
        all.len(),
        loader.calls(),
        "dropping the cache closes the rest"
    );
    assert!(all.iter().all(|c| c.2), "a close failed (closed twice?)");
}

#[test]
fn hits_racing_table_growth_find_every_key() {
    // Enough ids for every shard's table to grow while other threads read, given the index's
    // constants (src/table.rs): an unbounded cache has 64 shards, each starting with
    // INITIAL_BUCKETS = 32 buckets and growing past MAX_LOAD = 4 items per bucket, two items
    // per id, so past 64 ids. 10,000 ids are about 156 per shard (a standard deviation of
    // about 12): every shard grows once, to 128 buckets. With INITIAL_BUCKETS at 128 these ids
    // would grow no table (IDS must grow with it); no public API tells whether a table grew.
    const IDS: usize = 10_000;
    let cache = Arc::new(KeyCache::new(&CachePolicy::default()));
    let loader = CountingLoader::new();
    let wrong = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (cache, loader, wrong, start) = (
                Arc::clone(&cache),
                Arc::clone(&loader),
                Arc::clone(&wrong),
                Arc::clone(&start),
            );
            std::thread::spawn(move || {
                start.wait();
                for i in 0..IDS {
                    // Thread t walks the ids from its own offset, so loads and hits interleave.
                    let n = (i + t * IDS / 4) % IDS;
                    let id = format!("id-{n}");
                    let k = cache
                        .get_or_load(KeyMeta::new(&id, NOW_SECS), |_| {
                            loader.load(NOW_SECS, false, (n % 251) as u8)
                        })
                        .unwrap();
                    let latest = cache.get_or_load_latest(&id, never).unwrap();
                    if fill_of(&k) != (n % 251) as u8 || !std::ptr::eq(&*k, &*latest) {
                        wrong.store(true, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(!wrong.load(Ordering::SeqCst), "a thread read a wrong key");
    assert_eq!((loader.calls(), cache.len()), (IDS, IDS));
}

#[test]
fn close_racing_loads_and_hits_leaves_nothing_cached_and_closes_every_key_once() {
    for policy in [CachePolicy::default(), CachePolicy::lru(8)] {
        let closed = Closed::default();
        let cache = Arc::new(
            KeyCache::with_clock(&policy, ManualClock::new(START_MILLIS))
                .on_key_closed(closed.hook()),
        );
        let loader = CountingLoader::new();
        let wrong = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(5));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (cache, loader, wrong, start) = (
                    Arc::clone(&cache),
                    Arc::clone(&loader),
                    Arc::clone(&wrong),
                    Arc::clone(&start),
                );
                std::thread::spawn(move || {
                    start.wait();
                    for i in 0..2000usize {
                        let n = (i * 5 + t) % 30;
                        let id = format!("id-{n}");
                        let k = cache
                            .get_or_load(KeyMeta::new(&id, NOW_SECS), |_| {
                                loader.load(NOW_SECS, false, n as u8)
                            })
                            .unwrap();
                        if k.is_closed() || fill_of(&k) != n as u8 {
                            wrong.store(true, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        start.wait();
        std::thread::sleep(Duration::from_millis(5));
        cache.close();
        // From here on no load is stored, whatever the threads are doing.
        assert_eq!(cache.len(), 0, "{policy:?}");
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(cache.len(), 0, "{policy:?}");
        assert!(
            !wrong.load(Ordering::SeqCst),
            "a handed-out key was closed or wrong"
        );
        drop(cache);
        let all = closed.all();
        assert_eq!(
            all.len(),
            loader.calls(),
            "every loaded key is closed, once"
        );
        assert!(all.iter().all(|c| c.2), "a close failed (closed twice?)");
    }
}

/// Whether this process runs with full fences instead of `membarrier` (the child below).
const FENCES: &str = "KEYCACHE_NO_MEMBARRIER";

#[test]
fn every_test_here_also_passes_with_full_fences() {
    // The hazard protocol has two forms, chosen once per process: `membarrier` where Linux has
    // it, full fences elsewhere (and with KEYCACHE_NO_MEMBARRIER=1). This process uses the
    // first; a child runs this file's other tests with the second.
    if std::env::var_os(FENCES).is_some() {
        return;
    }
    let name = "every_test_here_also_passes_with_full_fences";
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(FENCES, "1")
        .args(["--skip", name, "--test-threads", "4"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "with full fences:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("test result: ok. "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(
        passed.is_some_and(|n| n >= 8),
        "the child ran this file's tests: {stdout}"
    );
}
