//! The accessor counter that decides when a secret's page is readable.
//!
//! This is Go's protocol: the page becomes readable when the number of
//! accessors goes 0 -> 1 and inaccessible when it goes 1 -> 0, so threads
//! that overlap share one `mprotect` pair instead of paying one each. `close`
//! refuses new accessors and waits for those inside.
//!
//! The count lives in one atomic word with a `CLOSING` bit. Joining or
//! leaving while others are inside is a single compare-and-swap. The two
//! transitions that change the protection (0 -> 1 and 1 -> 0) and `close`
//! run under a mutex, which orders the `mprotect` calls: a count of zero can
//! only be left under the lock, and a count above zero can only reach zero
//! under the lock, so `open` and `shut` never race. Waiting threads sleep on
//! the mutex or the condition variable; nothing spins.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};

/// Set once `close` has begun: no new accessor gets in.
const CLOSING: usize = 1 << (usize::BITS - 1);
/// The accessor count.
const COUNT: usize = !CLOSING;

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
    /// Registers an accessor; `open` runs (under the lock) on 0 -> 1.
    #[inline]
    pub(crate) fn enter(&self, open: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLOSING != 0 {
                return Err(Error::Closed);
            }
            if s == 0 {
                return self.enter_first(open);
            }
            assert!(s & COUNT != COUNT, "accessor count overflow");
            match self
                .state
                .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => s = now,
            }
        }
    }

    #[cold]
    fn enter_first(&self, open: impl FnOnce() -> Result<()>) -> Result<()> {
        let _guard = self.locked();
        let s = self.state.load(Ordering::Acquire);
        if s & CLOSING != 0 {
            return Err(Error::Closed);
        }
        if s & COUNT != 0 {
            // Someone opened the page while we waited for the lock. The count
            // cannot drop to zero without the lock, so a plain add is safe.
            self.state.fetch_add(1, Ordering::Acquire);
            return Ok(());
        }
        open()?;
        // Nobody changes a zero count without the lock, and CLOSING is only
        // set under it: the state is exactly 0 here.
        self.state.store(1, Ordering::Release);
        Ok(())
    }

    /// Unregisters an accessor; `shut` runs (under the lock) on 1 -> 0.
    #[inline]
    pub(crate) fn leave(&self, shut: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(s & COUNT != 0, "leave without enter");
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
        // Others may have joined since we looked, but nobody else can take
        // the count to zero while we hold the lock.
        let prev = self.state.fetch_sub(1, Ordering::AcqRel);
        if prev & COUNT != 1 {
            return Ok(());
        }
        let result = shut();
        if prev & CLOSING != 0 {
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
