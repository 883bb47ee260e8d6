//! Helpers shared by the key cache tests.
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keycache::{CryptoKey, KeyClosed};
use securememory::SecretFactory;

/// The tests' clock starts here (Unix milliseconds); keys are created "now" in seconds.
pub const START_MILLIS: i64 = 1_800_000_000_000;
pub const NOW_SECS: i64 = START_MILLIS / 1000;

/// A 32-byte key filled with `fill`, so tests can tell which key they read.
pub fn key(created: i64, revoked: bool, fill: u8) -> CryptoKey {
    let mut bytes = [fill; 32];
    let secret = SecretFactory::default()
        .new(&mut bytes)
        .expect("creating a test secret");
    CryptoKey::new(created, revoked, secret)
}

/// A loader's answer of a key without a secret (`CryptoKey::for_test`, as the
/// `write_unique_keys` bench's loader builds).
#[cfg(feature = "test-util")]
pub fn keyless(created: i64, revoked: bool) -> Result<CryptoKey, Infallible> {
    Ok(CryptoKey::for_test(created, revoked))
}

/// The fill byte of a key made by [`key`].
pub fn fill_of(key: &CryptoKey) -> u8 {
    key.with_bytes(|b| b[0]).expect("reading a test key")
}

/// A loader that counts its calls and returns `key(created, revoked, fill)`.
pub struct CountingLoader {
    pub calls: AtomicUsize,
}

impl CountingLoader {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn load(&self, created: i64, revoked: bool, fill: u8) -> Result<CryptoKey, Infallible> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(key(created, revoked, fill))
    }
}

/// Records every closed key reported by the cache's hook.
#[derive(Clone, Default)]
pub struct Closed(pub Arc<Mutex<Vec<(String, i64, bool)>>>);

impl Closed {
    pub fn hook(&self) -> impl Fn(KeyClosed<'_>) + Send + Sync + 'static {
        let log = Arc::clone(&self.0);
        move |closed: KeyClosed<'_>| {
            log.lock()
                .unwrap()
                .push((closed.id.to_owned(), closed.created, closed.result.is_ok()));
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|c| c.0.clone()).collect()
    }

    pub fn all(&self) -> Vec<(String, i64, bool)> {
        self.0.lock().unwrap().clone()
    }
}

/// A loader that must not run.
pub fn never(meta: keycache::KeyMeta<'_>) -> Result<CryptoKey, String> {
    panic!("loader ran for {meta}")
}

const CHILD_ENV: &str = "KEYCACHE_TEST_CHILD";
/// Printed by a child right before the action under test.
pub const STARTED: &str = "CHILD-STARTED";
/// Printed by a child whose checks all passed.
pub const PASSED: &str = "CHILD-PASSED";

/// Whether this process is the child re-run for `test`.
pub fn in_child(test: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == test)
}

/// Re-runs this test binary for `test` alone, marked as the child.
pub fn run_child(test: &str) -> std::process::Output {
    let exe = std::env::current_exe().expect("test binary path");
    std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .output()
        .expect("running the test binary as a child")
}

/// A key filled with `fill` whose canary a buggy neighbour has overwritten: closing it finds
/// memory corruption.
pub fn corrupted_key(created: i64, fill: u8) -> CryptoKey {
    let mut bytes = [fill; 32];
    let secret = SecretFactory::default()
        .new(&mut bytes)
        .expect("creating a test secret");
    let page = page_size();
    secret
        .with_bytes(|b| {
            let data = b.as_ptr();
            let page_start = (data as usize & !(page - 1)) as *mut libc::c_void;
            // SAFETY: the secret's own data page, readable inside `with_bytes`; the byte in
            // front of the 32-byte data is canary in the same page.
            unsafe {
                assert_eq!(
                    libc::mprotect(page_start, page, libc::PROT_READ | libc::PROT_WRITE),
                    0
                );
                let before = data.sub(1).cast_mut();
                before.write_volatile(!before.read_volatile());
                assert_eq!(libc::mprotect(page_start, page, libc::PROT_READ), 0);
            }
        })
        .expect("reading a test secret");
    CryptoKey::new(created, false, secret)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}
