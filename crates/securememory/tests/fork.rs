//! A forked child never reads its parent's secrets and never hangs closing
//! them, even when the fork happened while another thread was inside
//! `with_bytes` (the child inherits an accessor count whose thread it lacks).
//! Alone in its binary: it forks the test process.
#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::PAYLOAD;
use securememory::{Error, Secret, SecretFactory};

/// How long the child may take before it counts as hung.
const CHILD_DEADLINE: Duration = Duration::from_secs(5);

/// The child's exit codes, each naming one failed check.
const CHILD_FAILURES: [(i32, &str); 6] = [
    (
        10,
        "the child's copy of the data page still holds the parent's bytes",
    ),
    (11, "with_bytes in the child returned the bytes"),
    (
        12,
        "with_bytes in the child failed with another error than Error::Forked",
    ),
    (13, "close in the child returned an error"),
    (14, "the secret is not closed after close in the child"),
    (15, "with_bytes after close in the child was not refused"),
];

fn secret() -> Secret {
    let mut bytes = *PAYLOAD;
    SecretFactory::default().new(&mut bytes).unwrap()
}

#[test]
fn a_child_forked_during_an_access_cannot_read_the_secret_and_closes_it_at_once() {
    let shared = Arc::new(secret());
    let unshared = secret();
    let inside = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    let data_addr = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (shared, inside, release, data_addr) = (
            Arc::clone(&shared),
            Arc::clone(&inside),
            Arc::clone(&release),
            Arc::clone(&data_addr),
        );
        std::thread::spawn(move || {
            shared
                .with_bytes(|b| {
                    data_addr.store(b.as_ptr() as usize, Ordering::SeqCst);
                    inside.wait();
                    while !release.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    b == PAYLOAD
                })
                .unwrap()
        })
    };
    inside.wait();
    // The reader is inside with_bytes: the page is readable, the count is 1.
    // SAFETY: the child only runs `child_checks` (atomic loads, plain reads,
    // no allocation, no lock) and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = child_checks(&shared, unshared, data_addr.load(Ordering::SeqCst));
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    release.store(true, Ordering::SeqCst);
    assert!(
        reader.join().unwrap(),
        "the parent's reader saw other bytes"
    );
    let status = wait_or_kill(pid);
    assert!(
        libc::WIFEXITED(status),
        "the child died abnormally (status {status:#x})"
    );
    let code = libc::WEXITSTATUS(status);
    if let Some((_, what)) = CHILD_FAILURES.iter().find(|(c, _)| *c == code) {
        panic!("in the child: {what}");
    }
    assert_eq!(code, 0, "the child exited with {code}");
    // The parent's secret is untouched by the child.
    assert!(shared.with_bytes(|b| b == PAYLOAD).unwrap());
    shared.close().unwrap();
}

/// The child's side; returns its exit code (0: every check passed).
fn child_checks(shared: &Secret, unshared: Secret, data_addr: usize) -> i32 {
    // The page was readable at the fork, so the child can look at its copy.
    let page_copy = data_addr as *const u8;
    // SAFETY: the mapping exists in the child (MADV_WIPEONFORK keeps it) and
    // is PROT_READ there, as it was in the parent at the fork.
    let wiped = (0..PAYLOAD.len()).all(|i| unsafe { page_copy.add(i).read_volatile() } == 0);
    if !wiped {
        return 10;
    }
    match shared.with_bytes(|b| b[0]) {
        Ok(_) => return 11,
        Err(Error::Forked { .. }) => {}
        Err(_) => return 12,
    }
    // The count holds the parent's reader, which does not exist here.
    if shared.close().is_err() {
        return 13;
    }
    if !shared.is_closed() {
        return 14;
    }
    if !matches!(
        shared.with_bytes(|_| ()),
        Err(Error::Closed | Error::Forked { .. })
    ) {
        return 15;
    }
    drop(unshared);
    0
}

/// Waits for `pid` up to the deadline; a child still running then is killed
/// and the test fails.
fn wait_or_kill(pid: libc::pid_t) -> i32 {
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, writing its status into `status`.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(done >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if done == pid {
            return status;
        }
        if start.elapsed() > CHILD_DEADLINE {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the child hung (killed after {CHILD_DEADLINE:?})");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
