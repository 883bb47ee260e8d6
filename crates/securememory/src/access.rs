//! The accessor counter that decides when a secret's page is readable.
//!
//! This is Go's protocol: the page becomes readable when the number of
//! accessors goes 0 -> 1 and inaccessible when it goes 1 -> 0, so threads
//! whose accesses overlap share one `mprotect` pair instead of paying one
//! each. `close` refuses new accessors and waits for those inside.
//!
//! One atomic word holds the accessor count, an `OPEN` bit (the page is
//! readable) and a `CLOSING` bit. An accessor registers *before* it waits
//! for the page: a thread that arrives while another one is making the page
//! readable counts as inside, so the first one, when it leaves, sees it is
//! not the last and leaves the page open. (Registering only after the page
//! is open makes two threads take turns: each one's 1 -> 0 transition
//! closes the page just before the other gets in, and every access pays
//! the full pair.)
//!
//! * enter: one compare-and-swap; if `OPEN` was set the page is readable and
//!   we are done. Otherwise take the mutex and, if `OPEN` is still clear,
//!   `mprotect(READ)` and set it.
//! * leave: one compare-and-swap while others are inside. The last one takes
//!   the mutex, clears `OPEN` and the count in one compare-and-swap (so no
//!   thread can see `OPEN` while the page is being protected), then
//!   `mprotect(NONE)`.
//!
//! Both protection changes happen under the mutex, so they never race, and
//! `OPEN` is only set after `mprotect(READ)` returned. Waiting threads sleep
//! on the mutex or the condition variable; nothing spins.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};

/// Set once `close` has begun: no new accessor gets in.
const CLOSING: usize = 1 << (usize::BITS - 1);
/// Set while the page is readable.
const OPEN: usize = 1 << (usize::BITS - 2);
/// The accessor count.
const COUNT: usize = OPEN - 1;

#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: AtomicUsize,
    /// Serialises protection changes and close; holds whether the memory has
    /// been released.
    lock: Mutex<bool>,
    /// Signalled when the count reaches zero while closing.
    drained: Condvar,
}

impl Gate {
    /// Registers an accessor and returns once the page is readable; `open`
    /// makes it readable (run under the lock by whoever finds it closed).
    #[inline]
    pub(crate) fn enter(&self, open: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLOSING != 0 {
                return Err(Error::Closed);
            }
            assert!(s & COUNT != COUNT, "accessor count overflow");
            match self
                .state
                .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if s & OPEN != 0 => return Ok(()),
                Ok(_) => return self.wait_open(open),
                Err(now) => s = now,
            }
        }
    }

    /// We are registered but the page was not readable.
    #[cold]
    fn wait_open(&self, open: impl FnOnce() -> Result<()>) -> Result<()> {
        let _guard = self.locked();
        // OPEN is only cleared by the last accessor under the lock, and we
        // are registered: if it is set now it stays set.
        if self.state.load(Ordering::Acquire) & OPEN != 0 {
            return Ok(());
        }
        if let Err(e) = open() {
            let prev = self.state.fetch_sub(1, Ordering::AcqRel);
            if prev & COUNT == 1 && prev & CLOSING != 0 {
                self.drained.notify_all();
            }
            return Err(e);
        }
        self.state.fetch_or(OPEN, Ordering::Release);
        Ok(())
    }

    /// Unregisters an accessor; `shut` makes the page inaccessible (run
    /// under the lock by the last one out).
    #[inline]
    pub(crate) fn leave(&self, shut: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(s & COUNT != 0 && s & OPEN != 0, "leave without enter");
            if s & COUNT == 1 {
                return self.leave_last(shut);
            }
            match self
                .state
                .compare_exchange_weak(s, s - 1, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => s = now,
            }
        }
    }

    #[cold]
    fn leave_last(&self, shut: impl FnOnce() -> Result<()>) -> Result<()> {
        let _guard = self.locked();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & COUNT != 1 {
                // Others registered meanwhile: they keep the page open.
                match self.state.compare_exchange_weak(
                    s,
                    s - 1,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(()),
                    Err(now) => s = now,
                }
                continue;
            }
            // Clear OPEN together with the count: from here on an arriving
            // thread sees a closed page and waits for the lock we hold.
            match self.state.compare_exchange_weak(
                s,
                s & CLOSING,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        let result = shut();
        if s & CLOSING != 0 {
            self.drained.notify_all();
        }
        result
    }

    /// Whether `close` has begun.
    pub(crate) fn is_closing(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSING != 0
    }

    /// Refuses new accessors, waits for the ones inside to leave, then runs
    /// `release` once (later calls return `Ok` without running it).
    pub(crate) fn close(&self, release: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut released = self.locked();
        self.state.fetch_or(CLOSING, Ordering::AcqRel);
        while self.state.load(Ordering::Acquire) & COUNT != 0 {
            released = self
                .drained
                .wait(released)
                .unwrap_or_else(|p| p.into_inner());
        }
        if *released {
            return Ok(());
        }
        *released = true;
        release()
    }

    /// The lock; poisoning is ignored because no user code runs under it.
    fn locked(&self) -> MutexGuard<'_, bool> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn overlapping_accessors_share_one_open_and_shut() {
        let gate = Gate::default();
        let (opens, shuts) = (AtomicU32::new(0), AtomicU32::new(0));
        let open = || {
            opens.fetch_add(1, Ordering::Relaxed);
            Ok(())
        };
        let shut = || {
            shuts.fetch_add(1, Ordering::Relaxed);
            Ok(())
        };
        gate.enter(open).unwrap();
        gate.enter(open).unwrap();
        gate.leave(shut).unwrap();
        assert_eq!(
            (opens.load(Ordering::Relaxed), shuts.load(Ordering::Relaxed)),
            (1, 0)
        );
        gate.leave(shut).unwrap();
        assert_eq!(
            (opens.load(Ordering::Relaxed), shuts.load(Ordering::Relaxed)),
            (1, 1)
        );
        gate.enter(open).unwrap();
        gate.leave(shut).unwrap();
        assert_eq!(
            (opens.load(Ordering::Relaxed), shuts.load(Ordering::Relaxed)),
            (2, 2)
        );
    }

    #[test]
    fn failed_open_unregisters() {
        let gate = Gate::default();
        let failing = || Err(Error::Closed);
        assert!(gate.enter(failing).is_err());
        assert_eq!(gate.state.load(Ordering::Relaxed), 0);
        let released = AtomicU32::new(0);
        gate.close(|| {
            released.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
        gate.close(|| unreachable!("released twice")).unwrap();
        assert_eq!(released.load(Ordering::Relaxed), 1);
        assert!(matches!(gate.enter(|| Ok(())), Err(Error::Closed)));
    }
}
