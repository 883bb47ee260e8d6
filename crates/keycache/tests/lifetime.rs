//! Eviction and the lifetime of keys handed out.

mod common;

use std::time::Duration;

use common::*;
use keycache::{CachePolicy, KeyCache, KeyMeta, ManualClock};

fn lru(capacity: usize) -> (KeyCache<ManualClock>, Closed) {
    let closed = Closed::default();
    let cache = KeyCache::with_clock(&CachePolicy::lru(capacity), ManualClock::new(START_MILLIS))
        .on_key_closed(closed.hook());
    (cache, closed)
}

fn load(cache: &KeyCache<ManualClock>, loader: &CountingLoader, id: &str, fill: u8) {
    drop(
        cache
            .get_or_load(KeyMeta::new(id, NOW_SECS), |_| {
                loader.load(NOW_SECS, false, fill)
            })
            .unwrap(),
    );
}

#[test]
fn lru_evicts_the_least_recently_used_key_at_capacity() {
    let (cache, closed) = lru(3);
    let loader = CountingLoader::new();
    for (id, fill) in [("a", 1), ("b", 2), ("c", 3)] {
        load(&cache, &loader, id, fill);
    }
    // Use order now: b (oldest), c, a.
    drop(
        cache
            .get_or_load(KeyMeta::new("a", NOW_SECS), never)
            .unwrap(),
    );
    load(&cache, &loader, "d", 4);
    assert_eq!(cache.len(), 3);
    assert_eq!(closed.ids(), vec!["b"]);
    for id in ["a", "c", "d"] {
        drop(
            cache
                .get_or_load(KeyMeta::new(id, NOW_SECS), never)
                .unwrap(),
        );
    }
    // Use order: a, c, d. Touch a again so c is the oldest; reloading b evicts c.
    drop(
        cache
            .get_or_load(KeyMeta::new("a", NOW_SECS), never)
            .unwrap(),
    );
    load(&cache, &loader, "b", 2);
    assert_eq!(closed.ids(), vec!["b", "c"]);
    assert_eq!(loader.calls(), 5);
}

/// Go's `Set` of an existing key refreshes its place in the eviction order; so does a reload.
#[test]
fn an_lru_reload_of_a_stale_key_makes_it_the_most_recently_used() {
    let clock = ManualClock::new(START_MILLIS);
    let closed = Closed::default();
    let cache =
        KeyCache::with_clock(&CachePolicy::lru(2), clock.clone()).on_key_closed(closed.hook());
    let loader = CountingLoader::new();
    load(&cache, &loader, "a", 1);
    load(&cache, &loader, "b", 2);
    // Use order: a (oldest), b. Both turn stale; reloading a closes the loaded duplicate.
    clock.advance(Duration::from_secs(2 * 3600));
    load(&cache, &loader, "a", 1);
    assert_eq!((loader.calls(), closed.ids()), (3, vec!["a".to_owned()]));
    // Use order: b, a. Inserting c evicts b.
    load(&cache, &loader, "c", 3);
    assert_eq!(closed.ids(), vec!["a", "b"]);
    drop(
        cache
            .get_or_load(KeyMeta::new("a", NOW_SECS), never)
            .unwrap(),
    );
}

/// Go's `Close`: every key leaves the cache and is closed (a held one when released); a second
/// call does nothing; later lookups load and cache nothing.
#[test]
fn close_closes_every_key_once_and_a_closed_cache_caches_nothing() {
    for policy in [CachePolicy::default(), CachePolicy::lru(4)] {
        let closed = Closed::default();
        let cache = KeyCache::with_clock(&policy, ManualClock::new(START_MILLIS))
            .on_key_closed(closed.hook());
        let loader = CountingLoader::new();
        load(&cache, &loader, "a", 1);
        // Held from its load (a handle from a hit would also keep its bucket's neighbours).
        let held = cache
            .get_or_load(KeyMeta::new("b", NOW_SECS), |_| {
                loader.load(NOW_SECS, false, 2)
            })
            .unwrap();
        load(&cache, &loader, "c", 3);
        cache.close();
        assert!(cache.is_closed());
        assert_eq!(cache.len(), 0);
        let mut ids = closed.ids();
        ids.sort();
        assert_eq!(ids, vec!["a", "c"], "{policy:?}");
        assert!(!held.is_closed(), "closed while in use");
        assert_eq!(fill_of(&held), 2);
        drop(held);
        assert_eq!(closed.ids().last().map(String::as_str), Some("b"));
        cache.close();
        assert_eq!(closed.all().len(), 3, "closed twice");

        let late = cache
            .get_or_load(KeyMeta::new("a", NOW_SECS), |_| {
                loader.load(NOW_SECS, false, 9)
            })
            .unwrap();
        assert_eq!((fill_of(&late), cache.len()), (9, 0));
        drop(late);
        assert_eq!(
            closed.all().len(),
            4,
            "a key loaded after close is closed when dropped"
        );
        cache
            .get_or_load_latest("a", |_| loader.load(NOW_SECS, false, 9))
            .unwrap();
        assert_eq!((loader.calls(), cache.len()), (5, 0));
        assert!(closed.all().iter().all(|(_, _, ok)| *ok));
    }
}

#[test]
fn the_simple_policy_never_evicts() {
    let closed = Closed::default();
    let cache = KeyCache::with_clock(&CachePolicy::default(), ManualClock::new(START_MILLIS))
        .on_key_closed(closed.hook());
    let loader = CountingLoader::new();
    for i in 0..1200 {
        load(&cache, &loader, &format!("id-{i}"), 0);
    }
    assert_eq!(cache.len(), 1200);
    assert!(closed.all().is_empty());
}

#[test]
fn an_evicted_key_in_use_stays_readable_until_dropped_then_is_closed() {
    let (cache, closed) = lru(1);
    let loader = CountingLoader::new();
    load(&cache, &loader, "a", 1);
    // A handle from a hit (the lock-free path) and one from a load.
    let from_hit = cache
        .get_or_load(KeyMeta::new("a", NOW_SECS), never)
        .unwrap();
    load(&cache, &loader, "b", 2); // evicts a
    assert!(closed.all().is_empty(), "closed while in use");
    assert!(!from_hit.is_closed());
    assert_eq!(fill_of(&from_hit), 1);
    drop(from_hit);
    assert_eq!(closed.all(), vec![("a".to_owned(), NOW_SECS, true)]);

    let from_load = cache
        .get_or_load(KeyMeta::new("c", NOW_SECS), |_| {
            loader.load(NOW_SECS, false, 3)
        })
        .unwrap();
    load(&cache, &loader, "d", 4); // evicts c
    assert_eq!(fill_of(&from_load), 3);
    assert_eq!(closed.ids(), vec!["a", "b"]);
    drop(from_load);
    assert_eq!(closed.ids(), vec!["a", "b", "c"]);
}

#[test]
fn an_evicted_latest_key_is_loaded_again_by_a_latest_lookup() {
    let (cache, _) = lru(1);
    let loader = CountingLoader::new();
    drop(
        cache
            .get_or_load_latest("a", |_| loader.load(NOW_SECS, false, 1))
            .unwrap(),
    );
    load(&cache, &loader, "b", 2);
    let again = cache
        .get_or_load_latest("a", |_| loader.load(NOW_SECS, false, 1))
        .unwrap();
    assert_eq!(fill_of(&again), 1);
    assert_eq!(loader.calls(), 3);
}

#[test]
fn dropping_the_cache_closes_keys_not_in_use() {
    let (cache, closed) = lru(4);
    let loader = CountingLoader::new();
    load(&cache, &loader, "a", 1);
    let held = cache
        .get_or_load(KeyMeta::new("a", NOW_SECS), never)
        .unwrap();
    load(&cache, &loader, "b", 2);
    drop(cache);
    assert_eq!(closed.ids(), vec!["b"]);
    assert_eq!(fill_of(&held), 1);
    drop(held);
    assert_eq!(closed.ids(), vec!["b", "a"]);
}

#[cfg(feature = "test-util")]
#[test]
fn keys_without_a_secret_are_cached_and_dropped_like_any_other() {
    let closed = Closed::default();
    let cache = KeyCache::with_clock(&CachePolicy::default(), ManualClock::new(START_MILLIS))
        .on_key_closed(closed.hook());
    for i in 0..3 {
        let id = format!("id-{i}");
        let key = cache
            .get_or_load(KeyMeta::new(&id, NOW_SECS), |_| keyless(NOW_SECS, false))
            .unwrap();
        assert_eq!(key.created(), NOW_SECS);
        let latest = cache.get_or_load_latest(&id, never).unwrap();
        assert_eq!(latest.created(), NOW_SECS);
    }
    assert_eq!(cache.len(), 3);
    drop(cache);
    let mut ids = closed.ids();
    ids.sort();
    assert_eq!(ids, vec!["id-0", "id-1", "id-2"]);
    assert!(
        closed.all().iter().all(|(_, _, ok)| *ok),
        "{:?}",
        closed.all()
    );
}
