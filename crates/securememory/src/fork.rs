//! Which process owns a secret, so that a forked child refuses the secrets it
//! inherited.
//!
//! Secrets are not inherited across `fork` in readable form. The data pages
//! get `MADV_WIPEONFORK` (Linux >= 4.14): the child's copy of them is
//! zero-filled, while the mapping itself stays in place. `MADV_DONTFORK` (no
//! mapping at all in the child) was the alternative; it was not chosen
//! because the child's `Secret` would then point at an address range that
//! the child's own allocations may reuse, so any later touch of it (a close,
//! a stray read) could hit unrelated memory, whereas a wiped mapping stays
//! reserved and harmless. `MADV_DONTFORK` is used only as a fallback on
//! kernels without `MADV_WIPEONFORK`.
//!
//! The wipe alone would make the child read zeros as if they were the key.
//! So every secret also records the process that created it, and in any
//! other process every access returns [`Error::Forked`](crate::error::Error) and
//! `close` only marks the secret closed. It does not wait for accessors (a
//! fork during an access copies the accessor count, but not the threads that
//! would bring it back to zero, so waiting would hang forever), does not take
//! any lock (another thread may have held it at the fork) and does not touch
//! the memory (the child's copy is wiped, or absent under the fallback). The
//! child's mapping is released when the child exits or execs.
//!
//! The current process id is kept in a static that a `pthread_atfork` child
//! handler refreshes, so the check on every access is one relaxed load, not
//! a `getpid` system call. The handler runs for children made through the C
//! library (`fork`, and the fork inside `std::process::Command`); a raw
//! `clone` system call bypasses it.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::error::{Error, Result};

/// The id of the current process, refreshed in every forked child.
static PID: AtomicI32 = AtomicI32::new(0);

/// The id of this process, installing the fork handler on first use.
pub(crate) fn owner() -> Result<i32> {
    static INSTALLED: OnceLock<std::result::Result<(), i32>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        refresh();
        // SAFETY: registers a handler that only makes an async-signal-safe
        // call (getpid) and an atomic store, as a child handler must.
        match unsafe { libc::pthread_atfork(None, None, Some(in_child)) } {
            0 => Ok(()),
            code => Err(code),
        }
    });
    match installed {
        Ok(()) => Ok(current()),
        Err(code) => Err(Error::Syscall {
            call: "pthread_atfork",
            len: 0,
            source: io::Error::from_raw_os_error(*code),
        }),
    }
}

/// The id of this process as last recorded (0 before the first secret).
#[inline]
pub(crate) fn current() -> i32 {
    PID.load(Ordering::Relaxed)
}

/// Runs in the child right after `fork`, in the forking thread.
extern "C" fn in_child() {
    refresh();
}

fn refresh() {
    // SAFETY: getpid has no preconditions and is async-signal-safe.
    PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
}
