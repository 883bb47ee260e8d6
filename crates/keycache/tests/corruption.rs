//! A cached key whose canary is broken stops the process when the cache closes it (as dropping
//! a `Secret` does), after the cache's close hook has seen the failure; with a corruption hook
//! set, the process goes on. Each case runs in a child process of this test binary.

mod common;

use std::os::unix::process::ExitStatusExt;

use common::*;
use keycache::{CachePolicy, KeyCache, KeyMeta};

const ABORTS: &str = "a_corrupted_cached_key_aborts_when_the_cache_closes_it";
const HOOKED: &str =
    "with_a_corruption_hook_a_corrupted_cached_key_is_reported_and_the_process_goes_on";

/// Caches a corrupted key and drops the cache, logging what the close hook sees.
fn cache_and_drop_a_corrupted_key() {
    let cache = KeyCache::new(&CachePolicy::default()).on_key_closed(|closed| {
        let outcome = closed
            .result
            .map_or_else(|e| e.to_string(), |()| "ok".into());
        eprintln!("KEY-CLOSED {} {}: {outcome}", closed.id, closed.created);
    });
    let key = cache
        .get_or_load(KeyMeta::new("ik", NOW_SECS), |_| {
            Ok::<_, String>(corrupted_key(NOW_SECS, 1))
        })
        .unwrap();
    assert_eq!(fill_of(&key), 1);
    drop(key);
    eprintln!("{STARTED}");
    drop(cache);
}

#[test]
fn a_corrupted_cached_key_aborts_when_the_cache_closes_it() {
    if in_child(ABORTS) {
        cache_and_drop_a_corrupted_key();
        eprintln!("the cache was dropped");
        return;
    }
    let out = run_child(ABORTS);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(STARTED), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    for needle in [
        "KEY-CLOSED ik",
        "buffer overflow detected",
        "memory corruption detected",
    ] {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
    assert!(!stderr.contains("the cache was dropped"), "{stderr}");
}

fn report(err: &securememory::Error) {
    eprintln!("CORRUPTION-HOOK {err}");
}

#[test]
fn with_a_corruption_hook_a_corrupted_cached_key_is_reported_and_the_process_goes_on() {
    if in_child(HOOKED) {
        securememory::set_corruption_hook(Some(report));
        cache_and_drop_a_corrupted_key();
        eprintln!("{PASSED}");
        return;
    }
    let out = run_child(HOOKED);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains(PASSED), "{stderr}");
    assert!(
        stderr.contains("CORRUPTION-HOOK buffer overflow detected"),
        "{stderr}"
    );
}
