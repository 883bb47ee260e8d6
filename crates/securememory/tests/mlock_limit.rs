//! `mlock` under `RLIMIT_MEMLOCK` = 0, in a child process that cannot bypass
//! the limit (root holds CAP_IPC_LOCK, so the child becomes uid 65534 first).

mod common;

use common::*;
use securememory::{Error, MemlockLimit, Options, SecretFactory};

const TEST: &str = "mlock_fails_with_a_clear_error_under_a_zero_limit";

#[test]
fn mlock_fails_with_a_clear_error_under_a_zero_limit() {
    if in_child(TEST) {
        child();
        return;
    }
    assert_passed(&run_child(TEST));
}

fn child() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on this (child) process's own credentials.
    unsafe {
        assert_eq!(libc::setrlimit(libc::RLIMIT_MEMLOCK, &zero), 0, "setrlimit");
        if libc::geteuid() == 0 {
            // Dropping root drops CAP_IPC_LOCK, which ignores the limit.
            assert_eq!(
                libc::setgid(65534),
                0,
                "setgid: {}",
                std::io::Error::last_os_error()
            );
            assert_eq!(
                libc::setuid(65534),
                0,
                "setuid: {}",
                std::io::Error::last_os_error()
            );
        }
        assert_ne!(libc::geteuid(), 0);
    }

    let locked = SecretFactory::with_options(Options::default().mlock(true));
    let mut source = *PAYLOAD;
    let err = locked
        .new(&mut source)
        .expect_err("mlock must fail under a zero limit");
    assert!(
        matches!(
            err,
            Error::Mlock {
                limit: MemlockLimit::Bytes(0),
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    for needle in ["RLIMIT_MEMLOCK", "0 bytes", "raise", "mlock(false)"] {
        assert!(
            msg.contains(needle),
            "error message lacks {needle:?}: {msg}"
        );
    }
    assert_eq!(
        source, *PAYLOAD,
        "a failed creation leaves the source to the caller"
    );

    let unlocked = SecretFactory::with_options(Options::default().mlock(false));
    let secret = unlocked
        .new(&mut source)
        .expect("without mlock creation succeeds");
    assert!(secret.with_bytes(|b| b == PAYLOAD).unwrap());
    secret.close().unwrap();
    eprintln!("{PASSED}");
}
