//! Go's `keyCache` rules, with a clock the tests move.

mod common;

use std::time::Duration;

use common::*;
use keycache::{CachePolicy, Eviction, KeyCache, KeyMeta, ManualClock};

const HOUR: Duration = Duration::from_secs(3600);

fn cache() -> (KeyCache<ManualClock>, ManualClock, Closed) {
    let clock = ManualClock::new(START_MILLIS);
    let closed = Closed::default();
    let cache =
        KeyCache::with_clock(&CachePolicy::default(), clock.clone()).on_key_closed(closed.hook());
    (cache, clock, closed)
}

#[test]
fn defaults_are_gos() {
    let p = CachePolicy::default();
    assert_eq!(p.revoke_check_interval, Duration::from_secs(60 * 60));
    assert_eq!(p.expire_after, Duration::from_secs(90 * 24 * 3600));
    assert_eq!(p.eviction, Eviction::Simple);
    assert_eq!("lru".parse::<Eviction>(), Ok(Eviction::Lru));
    assert_eq!("".parse::<Eviction>(), Ok(Eviction::Simple));
    let err = "arc".parse::<Eviction>().unwrap_err().to_string();
    assert!(err.contains("\"arc\"") && err.contains("lru"), "{err}");
}

#[test]
fn a_miss_loads_and_a_hit_does_not() {
    let (cache, _, _) = cache();
    let loader = CountingLoader::new();
    let meta = KeyMeta::new("ik", NOW_SECS);
    let first = cache
        .get_or_load(meta, |_| loader.load(NOW_SECS, false, 1))
        .unwrap();
    let second = cache.get_or_load(meta, never).unwrap();
    assert_eq!(loader.calls(), 1);
    assert_eq!((first.created(), fill_of(&second)), (NOW_SECS, 1));
    assert_eq!(cache.len(), 1);
    // Another `created` of the same id is another key.
    cache
        .get_or_load(KeyMeta::new("ik", NOW_SECS - 5), |_| {
            loader.load(NOW_SECS - 5, false, 2)
        })
        .unwrap();
    assert_eq!((loader.calls(), cache.len()), (2, 2));
}

#[test]
fn an_entry_turns_stale_after_the_revoke_check_interval() {
    let (cache, clock, closed) = cache();
    let loader = CountingLoader::new();
    let meta = KeyMeta::new("ik", NOW_SECS);
    cache
        .get_or_load(meta, |_| loader.load(NOW_SECS, false, 1))
        .unwrap();

    clock.advance(HOUR); // exactly the interval: still fresh (Go: stale when *past* it)
    cache.get_or_load(meta, never).unwrap();
    assert_eq!(loader.calls(), 1);

    clock.advance(Duration::from_millis(1));
    let reloaded = cache
        .get_or_load(meta, |_| loader.load(NOW_SECS, true, 2))
        .unwrap();
    assert_eq!(loader.calls(), 2);
    // The cached key is kept, the loaded one (fill 2) is closed, the revoked flag is copied.
    assert_eq!(fill_of(&reloaded), 1);
    assert!(reloaded.is_revoked());
    assert_eq!(closed.all(), vec![("ik".to_owned(), NOW_SECS, true)]);
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_reload_refreshes_loaded_at() {
    let (cache, clock, _) = cache();
    let loader = CountingLoader::new();
    let meta = KeyMeta::new("ik", NOW_SECS);
    cache
        .get_or_load(meta, |_| loader.load(NOW_SECS, false, 1))
        .unwrap();
    clock.advance(HOUR + Duration::from_secs(1));
    cache
        .get_or_load(meta, |_| loader.load(NOW_SECS, false, 1))
        .unwrap();
    clock.advance(HOUR - Duration::from_secs(1));
    cache.get_or_load(meta, never).unwrap();
    assert_eq!(loader.calls(), 2);
}

#[test]
fn a_revoked_key_is_never_stale() {
    let (cache, clock, _) = cache();
    let meta = KeyMeta::new("ik", NOW_SECS);
    let loader = CountingLoader::new();
    cache
        .get_or_load(meta, |_| loader.load(NOW_SECS, true, 1))
        .unwrap();
    clock.advance(HOUR * 1000);
    let hit = cache.get_or_load(meta, never).unwrap();
    assert!(hit.is_revoked());
    assert_eq!(loader.calls(), 1);
}

#[test]
fn latest_resolves_through_the_newest_known_key() {
    let (cache, _, _) = cache();
    let loader = CountingLoader::new();
    for (created, fill) in [(NOW_SECS - 20, 1), (NOW_SECS - 10, 2), (NOW_SECS - 30, 3)] {
        cache
            .get_or_load(KeyMeta::new("sk", created), |_| {
                loader.load(created, false, fill)
            })
            .unwrap();
    }
    let latest = cache.get_or_load_latest("sk", never).unwrap();
    assert_eq!((latest.created(), fill_of(&latest)), (NOW_SECS - 10, 2));
    let via_meta = cache.get_or_load(KeyMeta::latest("sk"), never).unwrap();
    assert_eq!(via_meta.created(), NOW_SECS - 10);
    assert_eq!(loader.calls(), 3);
}

#[test]
fn a_latest_miss_loads_and_is_then_found_by_its_created() {
    let (cache, _, _) = cache();
    let loader = CountingLoader::new();
    let latest = cache
        .get_or_load_latest("sk", |meta| {
            assert!(meta.is_latest(), "the loader is asked for the latest key");
            loader.load(NOW_SECS, false, 4)
        })
        .unwrap();
    assert_eq!(latest.created(), NOW_SECS);
    let exact = cache
        .get_or_load(KeyMeta::new("sk", NOW_SECS), never)
        .unwrap();
    assert_eq!(fill_of(&exact), 4);
    assert_eq!((loader.calls(), cache.len()), (1, 1));
}

#[test]
fn latest_reloads_a_revoked_key() {
    let (cache, _, _) = cache();
    let loader = CountingLoader::new();
    cache
        .get_or_load(KeyMeta::new("sk", NOW_SECS - 60), |_| {
            loader.load(NOW_SECS - 60, true, 1)
        })
        .unwrap();
    // Fresh but revoked: the loader runs (and here returns a new, valid key).
    let latest = cache
        .get_or_load_latest("sk", |_| loader.load(NOW_SECS, false, 2))
        .unwrap();
    assert_eq!((latest.created(), latest.is_revoked()), (NOW_SECS, false));
    assert_eq!(loader.calls(), 2);
    let again = cache.get_or_load_latest("sk", never).unwrap();
    assert_eq!(fill_of(&again), 2);
    // A plain `get_or_load` of the revoked key itself still hits: revoked keys are not stale.
    let old = cache
        .get_or_load(KeyMeta::new("sk", NOW_SECS - 60), never)
        .unwrap();
    assert!(old.is_revoked());
}

#[test]
fn latest_reloads_an_expired_key_but_get_or_load_does_not() {
    let (cache, clock, _) = cache();
    let loader = CountingLoader::new();
    let created = NOW_SECS;
    cache
        .get_or_load(KeyMeta::new("sk", created), |_| {
            loader.load(created, false, 1)
        })
        .unwrap();
    // Past expiry but re-checked recently enough to be fresh.
    clock.advance(Duration::from_secs(90 * 24 * 3600 + 1));
    let meta = KeyMeta::new("sk", created);
    cache
        .get_or_load(meta, |_| loader.load(created, false, 1))
        .unwrap(); // stale: refresh
    assert_eq!(loader.calls(), 2);
    cache.get_or_load(meta, never).unwrap();
    cache.get_or_load(KeyMeta::latest("sk"), never).unwrap();

    let new_created = clock_secs(&clock);
    let latest = cache
        .get_or_load_latest("sk", |_| loader.load(new_created, false, 9))
        .unwrap();
    assert_eq!((latest.created(), fill_of(&latest)), (new_created, 9));
    assert_eq!(loader.calls(), 3);
}

#[test]
fn latest_runs_the_loader_a_second_time_when_the_refreshed_key_is_still_invalid() {
    let (cache, clock, _) = cache();
    let loader = CountingLoader::new();
    cache
        .get_or_load_latest("sk", |_| loader.load(NOW_SECS, false, 1))
        .unwrap();
    clock.advance(HOUR * 2);
    // Stale: the first load says the key is now revoked; the second returns a new key.
    let mut answers = vec![(NOW_SECS + 7200, false, 2), (NOW_SECS, true, 1)];
    let latest = cache
        .get_or_load_latest("sk", |_| {
            let (c, r, f) = answers.pop().unwrap();
            loader.load(c, r, f)
        })
        .unwrap();
    assert_eq!(loader.calls(), 3);
    assert_eq!((latest.created(), fill_of(&latest)), (NOW_SECS + 7200, 2));
    let old = cache
        .get_or_load(KeyMeta::new("sk", NOW_SECS), never)
        .unwrap();
    assert!(old.is_revoked(), "the first reload copied the revoked flag");
}

/// A lagging metastore (a replica behind the primary) answers a latest load with an older key
/// than the cached latest one: the newer key stays the latest, is marked fresh (no reload on
/// every lookup until the next check interval), and keeps its own revoked flag.
#[test]
fn a_latest_load_answered_with_an_older_key_keeps_the_newer_valid_key_fresh() {
    let (cache, clock, _) = cache();
    let loader = CountingLoader::new();
    cache
        .get_or_load_latest("sk", |_| loader.load(NOW_SECS, false, 2))
        .unwrap();
    clock.advance(HOUR * 2);
    let older = NOW_SECS - 3600;
    let latest = cache
        .get_or_load_latest("sk", |_| loader.load(older, true, 1))
        .unwrap();
    assert_eq!((latest.created(), fill_of(&latest)), (NOW_SECS, 2));
    assert!(!latest.is_revoked(), "the older key's flag was copied");
    assert_eq!(loader.calls(), 2);
    for _ in 0..3 {
        let hit = cache.get_or_load_latest("sk", never).unwrap();
        assert_eq!(hit.created(), NOW_SECS);
    }
    // The older key is cached under its own `created`, with its own flag.
    let old = cache.get_or_load(KeyMeta::new("sk", older), never).unwrap();
    assert_eq!((fill_of(&old), old.is_revoked()), (1, true));
    // Fresh for one interval, then asked again.
    clock.advance(HOUR * 2);
    cache
        .get_or_load_latest("sk", |_| loader.load(NOW_SECS, false, 3))
        .unwrap();
    assert_eq!(loader.calls(), 3);
}

/// The cached latest key is revoked and the metastore still answers with an older, valid key:
/// that key becomes the latest (a revoked key is never served as latest), so later lookups hit.
#[test]
fn a_revoked_latest_key_gives_way_to_the_older_valid_key_the_metastore_returns() {
    let (cache, clock, _) = cache();
    let loader = CountingLoader::new();
    cache
        .get_or_load_latest("sk", |_| loader.load(NOW_SECS, false, 2))
        .unwrap();
    clock.advance(HOUR * 2);
    let revoked = cache
        .get_or_load(KeyMeta::new("sk", NOW_SECS), |_| {
            loader.load(NOW_SECS, true, 2)
        })
        .unwrap();
    assert!(revoked.is_revoked());
    let older = NOW_SECS - 3600;
    let latest = cache
        .get_or_load_latest("sk", |_| loader.load(older, false, 1))
        .unwrap();
    assert_eq!((latest.created(), fill_of(&latest)), (older, 1));
    assert_eq!(loader.calls(), 3);
    for _ in 0..3 {
        let hit = cache.get_or_load_latest("sk", never).unwrap();
        assert_eq!(hit.created(), older);
    }
}

#[test]
fn a_loader_error_on_a_miss_is_returned_and_caches_nothing() {
    let (cache, _, _) = cache();
    let err = cache
        .get_or_load(KeyMeta::new("ik", NOW_SECS), |_| Err("metastore down"))
        .unwrap_err();
    assert_eq!(*err.loader_error(), "metastore down");
    assert_eq!((err.id(), err.created()), ("ik", NOW_SECS));
    let message = err.to_string();
    assert!(
        message.contains("\"ik\"") && message.contains("metastore down"),
        "{message}"
    );
    assert!(cache.is_empty());

    let err = cache
        .get_or_load_latest("sk", |_| Err("kms down"))
        .unwrap_err();
    assert!(err.to_string().contains("latest key of \"sk\""), "{err}");
    assert!(cache.is_empty());

    let loader = CountingLoader::new();
    cache
        .get_or_load(KeyMeta::new("ik", NOW_SECS), |_| {
            loader.load(NOW_SECS, false, 1)
        })
        .unwrap();
    assert_eq!(loader.calls(), 1, "the failed load left no entry behind");
}

#[test]
fn a_loader_error_on_a_stale_entry_leaves_it_as_it_was() {
    let (cache, clock, closed) = cache();
    let loader = CountingLoader::new();
    let meta = KeyMeta::new("ik", NOW_SECS);
    let held = cache
        .get_or_load(meta, |_| loader.load(NOW_SECS, false, 1))
        .unwrap();
    clock.advance(HOUR * 2);
    assert!(cache.get_or_load(meta, |_| Err("timeout")).is_err());
    // Still cached, still stale (the next call loads again), still the same open key.
    assert_eq!(cache.len(), 1);
    assert_eq!(fill_of(&held), 1);
    assert!(closed.all().is_empty());
    cache
        .get_or_load(meta, |_| loader.load(NOW_SECS, false, 1))
        .unwrap();
    assert_eq!(loader.calls(), 2);
}

fn clock_secs(clock: &ManualClock) -> i64 {
    use keycache::Clock;
    clock.now_millis() / 1000
}

/// A reload whose loader hands over a key without a secret (`for_test`, as the
/// `write_unique_keys` bench's loader does) closes that redundant key without touching a secret.
#[cfg(feature = "test-util")]
#[test]
fn a_redundant_test_key_is_closed_without_a_secret() {
    let (cache, clock, closed) = cache();
    let meta = KeyMeta::new("ik", NOW_SECS);
    cache
        .get_or_load(meta, |_| keyless(NOW_SECS, false))
        .unwrap();
    clock.advance(HOUR * 2);
    let reloaded = cache
        .get_or_load(meta, |_| keyless(NOW_SECS, true))
        .unwrap();
    assert!(reloaded.is_revoked());
    assert_eq!(closed.all(), vec![("ik".to_owned(), NOW_SECS, true)]);
}
