//! The accessor counter that decides when a secret's page is readable.
//!
//! This is Go's protocol: the page becomes readable when the number of
//! accessors goes 0 -> 1 and inaccessible when it goes 1 -> 0, so threads
//! whose accesses overlap share one `mprotect` pair instead of paying one
//! each. `close` refuses new accessors and waits for those inside.
//!
//! One atomic word holds the accessor count and four flags:
//!
//! * `OPEN`: the page is readable. Set only after `mprotect(READ)` returned;
//!   cleared (together with the count reaching 0) before `mprotect(NONE)`,
//!   so a thread that sees it can read.
//! * `BUSY`: a protection change is in progress. It makes the word its own
//!   lock for the two transitions, so a sequential access is four atomic
//!   operations and two `mprotect` calls, with no mutex.
//! * `WAITERS`: a thread sleeps on the condition variable (waiting for `BUSY`
//!   to clear, or `close` waiting for the accessors); whoever clears `BUSY`
//!   wakes it.
//! * `CLOSING`: `close` has begun; new accessors are refused.
//!
//! An accessor registers (counts itself) *before* it waits for the page: a
//! thread that arrives while another one is making the page readable counts
//! as inside, so the first one, when it leaves, sees it is not the last and
//! leaves the page open. (Registering only after the page is open makes two
//! threads take turns, each closing the page just before the other gets in.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};

const CLOSING: usize = 1 << (usize::BITS - 1);
const OPEN: usize = 1 << (usize::BITS - 2);
const BUSY: usize = 1 << (usize::BITS - 3);
const WAITERS: usize = 1 << (usize::BITS - 4);
/// The accessor count.
const COUNT: usize = WAITERS - 1;

#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: AtomicUsize,
    /// Guards sleeping (with `wake`) and holds whether the memory has been
    /// released. Never held during a protection change.
    lock: Mutex<bool>,
    wake: Condvar,
}

impl Gate {
    /// Registers an accessor and returns once the page is readable. `open`
    /// makes it readable; it runs in the thread that finds the page closed
    /// and no change in progress.
    #[inline]
    pub(crate) fn enter(&self, open: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLOSING != 0 {
                return Err(Error::Closed);
            }
            assert!(s & COUNT != COUNT, "accessor count overflow");
            // Open page: join. Closed page, nothing in progress: join and
            // take BUSY to open it. Change in progress: join and wait.
            let next = if s & (OPEN | BUSY) == 0 {
                (s + 1) | BUSY
            } else {
                s + 1
            };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if s & OPEN != 0 => return Ok(()),
                Ok(_) if s & BUSY == 0 => return self.open(open),
                Ok(_) => return self.wait_open(open),
                Err(now) => s = now,
            }
        }
    }

    /// We hold BUSY, are registered, and the page is closed: open it.
    fn open(&self, open: impl FnOnce() -> Result<()>) -> Result<()> {
        match open() {
            Ok(()) => {
                // BUSY is set and OPEN clear: flipping both sets OPEN and
                // ends the change.
                let prev = self.state.fetch_xor(BUSY | OPEN, Ordering::AcqRel);
                self.wake_if_waiting(prev);
                Ok(())
            }
            Err(e) => {
                // Unregister and end the change; another thread may retry.
                let prev = self
                    .state
                    .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |s| {
                        Some((s - 1) & !BUSY)
                    })
                    .expect("the closure always returns Some");
                self.wake_if_waiting(prev);
                Err(e)
            }
        }
    }

    /// We are registered and a change was in progress: wait for it, then
    /// either the page is open or we open it.
    #[cold]
    fn wait_open(&self, open: impl FnOnce() -> Result<()>) -> Result<()> {
        loop {
            self.wait_while(|s| s & BUSY != 0);
            let s = self.state.load(Ordering::Acquire);
            if s & OPEN != 0 {
                // We are registered, so it stays open.
                return Ok(());
            }
            if s & BUSY == 0
                && self
                    .state
                    .compare_exchange(s, s | BUSY, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return self.open(open);
            }
        }
    }

    /// Unregisters an accessor; `shut` makes the page inaccessible and runs
    /// in the last one out.
    #[inline]
    pub(crate) fn leave(&self, shut: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(s & COUNT != 0 && s & OPEN != 0, "leave without enter");
            if s & COUNT == 1 {
                // Last one out. Nothing is in progress while the page is open
                // and we are inside, so we can take BUSY; clearing OPEN in the
                // same step means nobody joins a page about to be protected.
                let next = ((s - 1) & !OPEN) | BUSY;
                match self
                    .state
                    .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
                {
                    Ok(_) => {
                        let result = shut();
                        let prev = self.state.fetch_and(!BUSY, Ordering::AcqRel);
                        self.wake_if_waiting(prev);
                        return result;
                    }
                    Err(now) => s = now,
                }
            } else {
                match self.state.compare_exchange_weak(
                    s,
                    s - 1,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(()),
                    Err(now) => s = now,
                }
            }
        }
    }

    /// Whether `close` has begun.
    pub(crate) fn is_closing(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSING != 0
    }

    /// Refuses new accessors without waiting for anything or taking the
    /// lock, and never releases: the close of a forked child, whose count
    /// may hold accessors that exist only in the parent and whose lock may
    /// have been held by a thread that did not survive the fork.
    pub(crate) fn abandon(&self) {
        self.state.fetch_or(CLOSING, Ordering::AcqRel);
    }

    /// Refuses new accessors, waits for the ones inside to leave (and for a
    /// change in progress to end), then runs `release` once; later calls
    /// return `Ok` without running it.
    pub(crate) fn close(&self, release: impl FnOnce() -> Result<()>) -> Result<()> {
        self.state.fetch_or(CLOSING, Ordering::AcqRel);
        self.wait_while(|s| s & (COUNT | BUSY) != 0);
        let mut released = self.locked();
        if *released {
            return Ok(());
        }
        *released = true;
        release()
    }

    /// Blocks while `busy(state)` holds: sleeps on the condition variable
    /// with `WAITERS` set.
    ///
    /// It does not spin first. A transition is one `mprotect`, about a
    /// microsecond, so spinning looks cheaper than sleeping; but a thread of
    /// this process running on another CPU makes that `mprotect` send it a
    /// TLB-shootdown interrupt (a VM exit on a virtual machine), so the spin
    /// slows down the very change it waits for. Measured with `gate check
    /// --base` on the project's 2-vCPU VM, sleeping at once instead of 100
    /// spins first made the parallel secret benches 27-50% faster (e.g.
    /// `secret/reader_read/parallel/t2` 167 -> 82 ns) and left the
    /// sequential ones unchanged.
    fn wait_while(&self, busy: impl Fn(usize) -> bool) {
        let mut guard = self.locked();
        loop {
            let s = self.state.load(Ordering::Acquire);
            if !busy(s) {
                return;
            }
            // Set WAITERS only if nothing changed since we looked; whoever
            // ends the change then needs the lock we hold to wake us, so the
            // wake-up cannot be lost.
            if s & WAITERS != 0
                || self
                    .state
                    .compare_exchange(s, s | WAITERS, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                guard = self.wake.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// Wakes sleepers if `prev` (the state before our change) had WAITERS.
    #[inline]
    fn wake_if_waiting(&self, prev: usize) {
        if prev & WAITERS != 0 {
            self.wake_all();
        }
    }

    #[cold]
    fn wake_all(&self) {
        let _guard = self.locked();
        self.state.fetch_and(!WAITERS, Ordering::AcqRel);
        self.wake.notify_all();
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
        assert_eq!(gate.state.load(Ordering::Relaxed), 0);
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

    #[test]
    fn abandon_returns_with_accessors_inside_and_refuses_new_ones() {
        let gate = Gate::default();
        gate.enter(|| Ok(())).unwrap();
        // A forked child's view: an accessor that will never leave.
        gate.abandon();
        assert!(gate.is_closing());
        assert!(matches!(gate.enter(|| Ok(())), Err(Error::Closed)));
        // Nothing was released: a real close would still run `release`.
        gate.leave(|| Ok(())).unwrap();
        let released = AtomicU32::new(0);
        gate.close(|| {
            released.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
        assert_eq!(released.load(Ordering::Relaxed), 1);
    }

    fn busy_for(spins: u32) {
        for _ in 0..spins {
            std::hint::spin_loop();
        }
    }

    /// Many threads hammer the gate; the "page" is a flag that open and
    /// shut flip. Every accessor must find it readable, open and shut must
    /// never overlap or run twice in a row, and close must find it shut.
    #[test]
    fn protection_changes_never_race() {
        use std::sync::atomic::AtomicBool;
        let gate = Gate::default();
        let readable = AtomicBool::new(false);
        let changing = AtomicBool::new(false);
        let open = || {
            assert!(
                !changing.swap(true, Ordering::SeqCst),
                "two changes at once"
            );
            assert!(!readable.swap(true, Ordering::SeqCst), "opened twice");
            busy_for(200);
            changing.store(false, Ordering::SeqCst);
            Ok(())
        };
        let shut = || {
            assert!(
                !changing.swap(true, Ordering::SeqCst),
                "two changes at once"
            );
            assert!(readable.swap(false, Ordering::SeqCst), "shut twice");
            busy_for(200);
            changing.store(false, Ordering::SeqCst);
            Ok(())
        };
        std::thread::scope(|scope| {
            for t in 0..4u32 {
                let (gate, readable) = (&gate, &readable);
                scope.spawn(move || {
                    for i in 0..20_000u32 {
                        gate.enter(open).unwrap();
                        assert!(readable.load(Ordering::SeqCst), "accessor in a closed page");
                        busy_for(i.wrapping_mul(t + 7) % 50);
                        gate.leave(shut).unwrap();
                        // Vary the time outside so the count often drops to 0.
                        busy_for(i.wrapping_mul(2_654_435_761) % 300);
                    }
                });
            }
        });
        gate.close(|| {
            assert!(
                !readable.load(Ordering::SeqCst),
                "closed with the page open"
            );
            Ok(())
        })
        .unwrap();
        assert_eq!(gate.state.load(Ordering::Relaxed) & !(CLOSING | WAITERS), 0);
    }
}
