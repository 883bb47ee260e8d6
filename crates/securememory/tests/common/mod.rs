//! Helpers shared by the integration tests: child processes for tests that
//! must crash, and `/proc/self/maps` inspection.
#![allow(dead_code)] // each test binary uses a subset

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use securememory::Secret;

pub const PAYLOAD: &[u8; 32] = b"thisismy32bytesecretthatiwilluse";

const CHILD_ENV: &str = "SECUREMEMORY_TEST_CHILD";
/// Printed by a child right before the action under test, so a parent can
/// tell "the action crashed" from "the child never got there".
pub const STARTED: &str = "CHILD-STARTED";
/// Printed by a child whose checks all passed.
pub const PASSED: &str = "CHILD-PASSED";

/// Whether this process is the child re-run for `test`.
pub fn in_child(test: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == test)
}

/// Re-runs this test binary for `test` alone, marked as the child.
pub fn run_child(test: &str) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .output()
        .expect("running the test binary as a child")
}

pub fn started() {
    eprintln!("{STARTED}");
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The child got to the action under test and was killed by SIGSEGV.
pub fn assert_sigsegv(out: &Output) {
    assert_killed_by(out, libc::SIGSEGV);
}

/// The child got to the action under test and was killed by `signal`.
pub fn assert_killed_by(out: &Output, signal: i32) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(STARTED),
        "the child never reached the action: {}",
        describe(out)
    );
    assert_eq!(
        out.status.signal(),
        Some(signal),
        "expected signal {signal}: {}",
        describe(out)
    );
}

/// Plays the buggy neighbour: makes the data page writable, flips the byte
/// in front of the data (the canary), and restores the protection.
pub fn corrupt_canary(secret: &Secret) {
    let page = page_size();
    secret
        .with_bytes(|b| {
            let data = b.as_ptr();
            let page_start = (data as usize & !(page - 1)) as *mut libc::c_void;
            // SAFETY: the page is this secret's own data page, readable while
            // we are inside `with_bytes`; the byte in front of the data is
            // canary, inside the same page (the data is right-aligned and
            // shorter than a page here).
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
        .unwrap();
}

/// The child ran its checks and they passed.
pub fn assert_passed(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains(PASSED),
        "child failed: {}",
        describe(out)
    );
}

/// The permissions column (`r--p`, `---p`, ...) of the mapping holding `addr`.
pub fn protection_of(addr: usize) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("reading /proc/self/maps");
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (range, perms) = (fields.next().unwrap(), fields.next().unwrap());
        let (lo, hi) = range.split_once('-').unwrap();
        let lo = usize::from_str_radix(lo, 16).unwrap();
        let hi = usize::from_str_radix(hi, 16).unwrap();
        if (lo..hi).contains(&addr) {
            return perms.to_owned();
        }
    }
    panic!("address {addr:#x} is not mapped");
}

/// Number of lines of `/proc/self/maps`.
pub fn mapping_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("reading /proc/self/maps")
        .lines()
        .count()
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}
