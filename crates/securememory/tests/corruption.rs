//! A broken canary found while dropping a secret stops the process (memory
//! corruption, as in memguard), unless the application set a corruption
//! hook. Each case runs in a child process of this test binary.

mod common;

use common::*;
use securememory::{Error, SecretFactory, set_corruption_hook};

const ABORTS: &str = "dropping_a_secret_with_a_broken_canary_aborts";
const HOOKED: &str = "with_a_corruption_hook_the_hook_is_called_and_the_process_goes_on";
const HOOK_SAW: &str = "HOOK-SAW:";

fn corrupted_then_dropped() {
    let mut bytes = *PAYLOAD;
    let secret = SecretFactory::default().new(&mut bytes).unwrap();
    corrupt_canary(&secret);
    started();
    drop(secret);
}

#[test]
fn dropping_a_secret_with_a_broken_canary_aborts() {
    if in_child(ABORTS) {
        corrupted_then_dropped();
        eprintln!("the drop returned");
        return;
    }
    let out = run_child(ABORTS);
    assert_killed_by(&out, libc::SIGABRT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "memory corruption detected",
        "buffer overflow detected",
        "set_corruption_hook",
    ] {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
    assert!(!stderr.contains("the drop returned"), "{stderr}");
}

fn log_corruption(err: &Error) {
    assert!(err.is_corruption(), "{err:?}");
    eprintln!("{HOOK_SAW} {err}");
}

#[test]
fn with_a_corruption_hook_the_hook_is_called_and_the_process_goes_on() {
    if in_child(HOOKED) {
        assert!(set_corruption_hook(Some(log_corruption)).is_none());
        corrupted_then_dropped();
        eprintln!("{PASSED}");
        return;
    }
    let out = run_child(HOOKED);
    assert_passed(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{HOOK_SAW} buffer overflow detected")),
        "the hook did not see the failure: {stderr}"
    );
    assert!(!stderr.contains("Aborting"), "{stderr}");
}

#[test]
fn the_hook_can_be_replaced_and_removed() {
    fn other(_: &Error) {}
    // Only this test of this binary's parent process touches the hook.
    assert!(set_corruption_hook(Some(log_corruption)).is_none());
    let previous = set_corruption_hook(Some(other)).expect("a hook was set");
    assert_eq!(previous as usize, log_corruption as fn(&Error) as usize);
    assert!(set_corruption_hook(None).is_some());
    assert!(set_corruption_hook(None).is_none());
}
