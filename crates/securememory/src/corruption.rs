//! What happens when memory corruption is found where no caller can be told.
//!
//! A changed canary means something wrote into memory it does not own; the
//! process's state can no longer be trusted. `Secret::close` returns that
//! as an error, but dropping a secret has nobody to return it to. As Go's
//! memguard does, the default then stops the process: a message naming the
//! failure goes to stderr and the process aborts (`SIGABRT`). An application
//! that wants to handle it (log, alert, shut down in order) sets a hook with
//! [`set_corruption_hook`]; the hook is called instead and the process goes
//! on. The failure is never silenced without such a choice.

use std::sync::Mutex;

use crate::error::Error;

/// A process-wide handler of corruption found while dropping a secret.
pub type CorruptionHook = fn(&Error);

static HOOK: Mutex<Option<CorruptionHook>> = Mutex::new(None);

/// Sets (`Some`) or removes (`None`) the process-wide corruption hook and
/// returns the previous one.
///
/// With a hook set, corruption found while dropping a secret (or by an owner
/// that closes secrets in its own `Drop`, such as a key cache, through
/// [`corruption_detected`]) calls the hook and the process goes on; the
/// secret's memory is wiped and released either way. Without one, the
/// process prints the failure to stderr and aborts.
///
/// ```
/// fn log_it(err: &securememory::Error) {
///     eprintln!("ALERT: {err}");
/// }
/// securememory::set_corruption_hook(Some(log_it));
/// ```
pub fn set_corruption_hook(hook: Option<CorruptionHook>) -> Option<CorruptionHook> {
    std::mem::replace(&mut *locked(), hook)
}

/// Handles memory corruption found where it cannot be returned to a caller
/// (`err` should satisfy [`Error::is_corruption`]): calls the hook set with
/// [`set_corruption_hook`], or prints `err` to stderr and aborts the process.
///
/// `Drop` of a secret calls this; so should any owner that closes secrets in
/// its own `Drop` and cannot return the error.
pub fn corruption_detected(err: &Error) {
    // Copy the hook out: a hook that drops a corrupted secret itself must not
    // find the lock held.
    let hook = *locked();
    match hook {
        Some(hook) => hook(err),
        None => {
            eprintln!(
                "securememory: memory corruption detected while dropping a secret: {err}. \
                 Aborting the process (set securememory::set_corruption_hook to handle this \
                 instead)."
            );
            std::process::abort();
        }
    }
}

/// The hook's lock; poisoning is ignored because no user code runs under it.
fn locked() -> std::sync::MutexGuard<'static, Option<CorruptionHook>> {
    HOOK.lock().unwrap_or_else(|p| p.into_inner())
}
