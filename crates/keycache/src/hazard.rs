//! Hazard slots: how a hit keeps a bucket snapshot alive without touching its reference count.
//!
//! Every thread that reads owns a [`Record`] of [`SLOTS`] slots (records are leaked, kept in a
//! global list and reused after their thread exits). To protect the bucket pointer in an
//! `AtomicPtr`, a reader
//!
//! 1. loads the pointer, stores it in a free slot of its own record (a plain store),
//! 2. runs the *light* barrier (a compiler fence when `membarrier` is available),
//! 3. loads the pointer again: if unchanged, the bucket is protected until the slot is released.
//!
//! A writer that unlinked buckets ("retired" them) runs the *heavy* barrier
//! (`membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which acts as a full fence on every thread
//! of the process), then scans all slots. The pair of barriers orders the reader's slot store
//! before its re-load as a full fence would: either the reader saw the retired pointer gone
//! and retries, or the writer sees the slot. This is the asymmetric-fence hazard pointer of
//! folly and of the Linux kernel's `sys_membarrier` users. Without `membarrier` (old kernels,
//! other systems, `KEYCACHE_NO_MEMBARRIER=1`) both barriers are `fence(SeqCst)`.
//!
//! Instead of deferring the free of a protected bucket, the writer *transfers* one reference
//! of it to the slot: it increments the bucket's `Arc` count and offers that reference in the
//! slot's `owed` word. The reader's release is a store that marks the slot released (not yet
//! free), the light barrier, a load of `owed` and a store that frees the slot (without
//! `membarrier`, the first store and the load are a sequentially consistent exchange and
//! load, which the writer's fence orders as well); the writer, after offering, runs the heavy
//! barrier and loads the slot. The barrier pair orders each side's store before its load, so
//! at least one of them sees the other's store: a reader that sees its pointer offered takes
//! the reference and drops it, and a writer that sees the slot released takes its offer back.
//! Both take with a compare-and-swap of `owed`, so the reference is dropped exactly once. So a
//! bucket (and the keys only it still references) is freed exactly when the last reader lets
//! go, and a hit costs no locked instruction where `membarrier` is available (otherwise a full
//! fence to protect and a sequentially consistent exchange to release).

use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, compiler_fence, fence};

/// Slots per thread: handles from hits that one thread can hold at once before further hits
/// fall back to the locked path.
pub(crate) const SLOTS: usize = 8;
/// Tag of a slot whose handle is being released (see [`Hazard::mark_released`]).
const RELEASING: usize = 1;

#[repr(align(128))]
struct Record {
    slots: [Slot; SLOTS],
    next: AtomicPtr<Record>,
    owned: AtomicBool,
}

/// One protection: the protected pointer (0 when free), written by the thread that protects
/// through the slot and by the one that releases the handle (which may have moved to another
/// thread), and a reference a writer offers to that reader (0 when none, see [`transfer`]).
#[derive(Default)]
struct Slot {
    ptr: AtomicUsize,
    owed: AtomicUsize,
}

/// All records ever made (a push-only list).
static RECORDS: AtomicPtr<Record> = AtomicPtr::new(ptr::null_mut());

thread_local! {
    /// This thread's record (null until its first protection, and after its exit began).
    static LOCAL: Cell<*const Record> = const { Cell::new(ptr::null()) };
    /// Gives the record back when the thread exits.
    static OWNER: Owner = const { Owner };
}

struct Owner;

impl Drop for Owner {
    fn drop(&mut self) {
        let record = LOCAL.replace(ptr::null());
        if !record.is_null() {
            // SAFETY: records are leaked, so always valid. Busy slots (handles still held
            // elsewhere) stay busy; the next owner only claims free ones.
            unsafe { (*record).owned.store(false, Ordering::Release) };
        }
    }
}

/// Whether the light barrier may be a compiler fence (`membarrier` is registered).
///
/// Decided once per process, before any index exists, so readers and writers of an index always
/// agree on it.
pub(crate) fn membarrier_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(register_membarrier)
}

#[cfg(target_os = "linux")]
fn register_membarrier() -> bool {
    const QUERY: libc::c_long = 0;
    const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;
    if std::env::var_os("KEYCACHE_NO_MEMBARRIER").is_some_and(|v| v != "0") {
        return false;
    }
    // SAFETY: membarrier takes two integers and has no memory arguments.
    let supported = unsafe { libc::syscall(libc::SYS_membarrier, QUERY, 0) };
    supported >= 0
        && supported & PRIVATE_EXPEDITED != 0
        // SAFETY: as above.
        && unsafe { libc::syscall(libc::SYS_membarrier, REGISTER_PRIVATE_EXPEDITED, 0) } == 0
}

#[cfg(not(target_os = "linux"))]
fn register_membarrier() -> bool {
    false
}

/// The reader's side of the barrier pair.
#[inline(always)]
fn light_barrier(membarrier: bool) {
    if membarrier {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The writer's side: a full fence on every thread of the process.
pub(crate) fn heavy_barrier(membarrier: bool) {
    #[cfg(target_os = "linux")]
    if membarrier {
        const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        // SAFETY: membarrier takes two integers and has no memory arguments.
        let done = unsafe { libc::syscall(libc::SYS_membarrier, PRIVATE_EXPEDITED, 0) } == 0;
        if !done {
            // Registered earlier, so this cannot fail; if it did, readers would be unsafe.
            eprintln!(
                "keycache: membarrier failed after registration: {}",
                std::io::Error::last_os_error()
            );
            std::process::abort();
        }
        return;
    }
    let _ = membarrier;
    fence(Ordering::SeqCst);
}

/// A slot protecting one `Arc` pointer; give it back with [`Hazard::release`].
pub(crate) struct Hazard(&'static Slot);

/// The outcome of [`protect`].
pub(crate) enum Protected<T> {
    /// The source held null.
    Null,
    /// Every slot of this thread is in use (or the thread is exiting).
    Busy,
    /// The pointer, protected by the hazard.
    Ptr(Hazard, NonNull<T>),
}

/// Protects the `Arc` pointer currently stored in `src` (from `Arc::into_raw`).
#[inline]
pub(crate) fn protect<T>(src: &AtomicPtr<T>, membarrier: bool) -> Protected<T> {
    const { assert!(align_of::<T>() > RELEASING) };
    let mut current = src.load(Ordering::Acquire);
    if current.is_null() {
        return Protected::Null;
    }
    let mut record = LOCAL.get();
    if record.is_null() {
        record = acquire_record();
        if record.is_null() {
            return Protected::Busy;
        }
    }
    // SAFETY: records are leaked, never freed.
    let record = unsafe { &*record };
    let Some(slot) = record
        .slots
        .iter()
        // Acquire, and Release below: a handle released on another thread (a release store
        // of 0) then happens before a writer that reads this slot's next pointer, so that a
        // writer seeing the slot moved on may free what the released handle read.
        .find(|s| s.ptr.load(Ordering::Acquire) == 0)
    else {
        return Protected::Busy;
    };
    loop {
        slot.ptr.store(current as usize, Ordering::Release);
        light_barrier(membarrier);
        let again = src.load(Ordering::Acquire);
        if again == current {
            // SAFETY: `current` is non-null (checked before the loop and below).
            return Protected::Ptr(Hazard(slot), unsafe { NonNull::new_unchecked(current) });
        }
        // Changed under us: the slot may even have been offered a reference already.
        // SAFETY: the slot protects `current`, an `Arc<T>` pointer.
        unsafe { Hazard(slot).release(current) };
        current = again;
        if current.is_null() {
            return Protected::Null;
        }
    }
}

impl Hazard {
    /// Stops protecting `ptr`, dropping the reference a writer handed over, if any.
    ///
    /// # Safety
    /// `ptr` is the `Arc<T>` pointer this hazard protects.
    #[inline]
    pub(crate) unsafe fn release<T>(self, ptr: *const T) {
        let owed = self.mark_released(ptr);
        // SAFETY: as this function's.
        unsafe { self.finish_release(ptr, owed) };
    }

    /// The first half of [`release`](Self::release): marks the slot released but not free
    /// (`ptr | RELEASING`, which no writer offers to), then reads the offer word. The slot
    /// stays busy until [`finish_release`](Self::finish_release), so that its owner cannot
    /// protect through it again meanwhile: an offer made for that protection would look like
    /// one for this, when the release runs on another thread (a handle is `Send`).
    #[inline(always)]
    fn mark_released<T>(&self, ptr: *const T) -> usize {
        let releasing = ptr as usize | RELEASING;
        if membarrier_ready() {
            self.0.ptr.store(releasing, Ordering::Release);
            light_barrier(true);
            self.0.owed.load(Ordering::Relaxed)
        } else {
            // A sequentially consistent exchange and load: ordered as a store, a full fence
            // and a load would be, against the writer's fence, for one locked instruction.
            self.0.ptr.swap(releasing, Ordering::SeqCst);
            self.0.owed.load(Ordering::SeqCst)
        }
    }

    /// The second half of [`release`](Self::release): takes the offer of `ptr` if
    /// [`mark_released`](Self::mark_released) read one, then frees the slot.
    ///
    /// # Safety
    /// As [`release`](Self::release)'s; `owed` is what `mark_released` returned.
    #[inline(always)]
    unsafe fn finish_release<T>(&self, ptr: *const T, owed: usize) {
        if owed == ptr as usize {
            // SAFETY: as this function's.
            unsafe { self.take_owed(ptr) };
        }
        self.0.ptr.store(0, Ordering::Release);
    }

    /// Takes the reference offered for `ptr`, unless its writer took it back first.
    ///
    /// # Safety
    /// `ptr` is the `Arc<T>` pointer this hazard protected.
    #[cold]
    unsafe fn take_owed<T>(&self, ptr: *const T) {
        let offered = ptr as usize;
        let taken = self
            .0
            .owed
            .compare_exchange(offered, 0, Ordering::AcqRel, Ordering::Relaxed);
        if taken.is_ok() {
            // SAFETY: the writer incremented the count on our behalf (see `transfer`).
            unsafe { Arc::decrement_strong_count(ptr) };
        }
    }
}

#[cold]
fn acquire_record() -> *const Record {
    // Registers the exit hook first; during thread exit this fails and the caller falls back.
    if OWNER.try_with(|_| ()).is_err() {
        return ptr::null();
    }
    let mut record = RECORDS.load(Ordering::Acquire);
    while !record.is_null() {
        // SAFETY: records are leaked, never freed.
        let r = unsafe { &*record };
        if !r.owned.load(Ordering::Relaxed)
            && r.owned
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            LOCAL.set(record);
            return record;
        }
        record = r.next.load(Ordering::Acquire);
    }
    let new: &'static Record = Box::leak(Box::new(Record {
        slots: Default::default(),
        next: AtomicPtr::new(ptr::null_mut()),
        owned: AtomicBool::new(true),
    }));
    let new_ptr = ptr::from_ref(new).cast_mut();
    let mut head = RECORDS.load(Ordering::Acquire);
    loop {
        new.next.store(head, Ordering::Relaxed);
        match RECORDS.compare_exchange_weak(head, new_ptr, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(now) => head = now,
        }
    }
    LOCAL.set(new_ptr);
    new_ptr
}

/// Hands one reference of each retired `Arc` pointer to every slot protecting it.
///
/// Call after [`heavy_barrier`]; afterwards the caller may drop its own references: readers
/// that still hold a retired pointer drop theirs on release.
///
/// # Safety
/// Every pointer in `retired` is an `Arc<T>` pointer the caller holds a reference of, already
/// unlinked from wherever readers could load it.
pub(crate) unsafe fn transfer<T>(retired: &[*mut T], membarrier: bool) {
    // SAFETY: as this function's.
    let offers = unsafe { offer_all(retired) };
    if offers.is_empty() {
        return;
    }
    // Orders the offers before the loads of `settle`, as the release's light barrier orders
    // the reader's store before its load of `owed`.
    heavy_barrier(membarrier);
    // SAFETY: the offers were just made, for `Arc<T>` pointers.
    unsafe { settle::<T>(&offers) };
}

/// An offer of one reference of the pointer `.1` to the reader of slot `.0`.
type Offer = (&'static Slot, usize);

/// Offers one reference of each retired pointer to every slot protecting it.
///
/// # Safety
/// As [`transfer`]'s.
unsafe fn offer_all<T>(retired: &[*mut T]) -> Vec<Offer> {
    let mut offers = Vec::new();
    let mut record = RECORDS.load(Ordering::Acquire);
    while !record.is_null() {
        // SAFETY: records are leaked, never freed.
        let r: &'static Record = unsafe { &*record };
        for slot in &r.slots {
            let held = slot.ptr.load(Ordering::Acquire);
            // SAFETY: as this function's.
            if held != 0
                && retired.contains(&(held as *mut T))
                && unsafe { offer(slot, held as *const T) }
            {
                offers.push((slot, held));
            }
        }
        record = r.next.load(Ordering::Acquire);
    }
    offers
}

/// Takes back each offer whose reader let go of the slot without seeing it (after the heavy
/// barrier, a reader that has not let go yet will see it).
///
/// # Safety
/// Every offer was made by [`offer`] for an `Arc<T>` pointer and is settled once.
unsafe fn settle<T>(offers: &[Offer]) {
    for &(slot, held) in offers {
        let released = slot.ptr.load(Ordering::Acquire) != held;
        if released
            && slot
                .owed
                .compare_exchange(held, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            // SAFETY: incremented by `offer`; the caller's reference keeps the count above 0.
            unsafe { Arc::decrement_strong_count(held as *const T) };
        }
    }
}

/// Offers the reader of `slot`, which protected `ptr` when the caller scanned it, one
/// reference of it; `false` if the reader let go of `ptr` first (nothing is offered then).
///
/// # Safety
/// As [`transfer`]'s, for `ptr`.
unsafe fn offer<T>(slot: &Slot, ptr: *const T) -> bool {
    // Counted before it is offered: a reader may take and drop it as soon as it is visible.
    // SAFETY: we hold a reference, so the count is at least one.
    unsafe { Arc::increment_strong_count(ptr) };
    loop {
        let free = slot
            .owed
            .compare_exchange_weak(0, ptr as usize, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if free {
            return true;
        }
        // Another offer is pending. If the slot no longer holds `ptr`, its reader is done
        // with it: do not wait (that offer may be for a pointer the reader still holds).
        if slot.ptr.load(Ordering::Acquire) != ptr as usize {
            // SAFETY: incremented above; our own reference keeps the count above 0.
            unsafe { Arc::decrement_strong_count(ptr) };
            return false;
        }
        // The slot still holds `ptr`, so the pending offer is for a pointer released before
        // the slot protected `ptr`: it is taken by that release, finishing, or by its
        // writer's `settle`, and neither waits on a reader. Writers walk the slots in one
        // order and wait only at the slot they reached, so these waits form no cycle.
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Weak;

    /// A source holding a new `Arc` of `value` (its only reference), a weak reference to
    /// watch it, and a protection of it.
    fn protected(value: u64) -> (AtomicPtr<u64>, Weak<u64>, Hazard, NonNull<u64>) {
        let value = Arc::new(value);
        let weak = Arc::downgrade(&value);
        let src = AtomicPtr::new(Arc::into_raw(value).cast_mut());
        let Protected::Ptr(hazard, ptr) = protect(&src, membarrier_ready()) else {
            panic!("not protected")
        };
        (src, weak, hazard, ptr)
    }

    #[test]
    fn a_protected_pointer_outlives_its_retirement_and_is_freed_on_release() {
        let membarrier = membarrier_ready();
        let (src, weak, hazard, ptr) = protected(42);
        // Retire: unlink, barrier, transfer, drop the writer's reference.
        let retired = src.swap(ptr::null_mut(), Ordering::AcqRel);
        heavy_barrier(membarrier);
        unsafe { transfer(&[retired], membarrier) };
        drop(unsafe { Arc::from_raw(retired) });
        assert_eq!(unsafe { *ptr.as_ref() }, 42);
        assert!(weak.upgrade().is_some());
        unsafe { hazard.release(ptr.as_ptr()) };
        assert!(weak.upgrade().is_none(), "not freed on release");
        assert!(matches!(protect(&src, membarrier), Protected::Null));
    }

    #[test]
    fn a_thread_runs_out_of_slots_then_gets_them_back() {
        let membarrier = membarrier_ready();
        let src = AtomicPtr::new(Arc::into_raw(Arc::new(7_u64)).cast_mut());
        let held: Vec<_> = (0..SLOTS)
            .map(|_| match protect(&src, membarrier) {
                Protected::Ptr(h, p) => (h, p),
                _ => panic!("a slot should be free"),
            })
            .collect();
        assert!(matches!(protect(&src, membarrier), Protected::Busy));
        for (h, p) in held {
            unsafe { h.release(p.as_ptr()) };
        }
        let Protected::Ptr(h, p) = protect(&src, membarrier) else {
            panic!("slots not given back")
        };
        unsafe { h.release(p.as_ptr()) };
        drop(unsafe { Arc::from_raw(src.load(Ordering::Relaxed)) });
    }

    #[test]
    fn an_offer_the_reader_did_not_see_is_taken_back() {
        let membarrier = membarrier_ready();
        let value = Arc::new(5_u64);
        let src = AtomicPtr::new(Arc::into_raw(Arc::clone(&value)).cast_mut());
        let Protected::Ptr(hazard, ptr) = protect(&src, membarrier) else {
            panic!("not protected")
        };
        let retired = src.swap(ptr::null_mut(), Ordering::AcqRel);
        heavy_barrier(membarrier);
        let offers = unsafe { offer_all(&[retired]) };
        assert_eq!(offers.len(), 1);
        assert_eq!(Arc::strong_count(&value), 3, "ours, the index's, the offer");
        // The reader lets go between the offer and the barrier, and misses the offer.
        hazard.0.ptr.store(0, Ordering::Release);
        heavy_barrier(membarrier);
        unsafe { settle::<u64>(&offers) };
        assert_eq!(Arc::strong_count(&value), 2, "the offer is taken back");
        assert_eq!(hazard.0.owed.load(Ordering::Relaxed), 0);
        // Releasing the slot again (as the reader would) must not take anything.
        unsafe { hazard.release(ptr.as_ptr()) };
        assert_eq!(Arc::strong_count(&value), 2);
        drop(unsafe { Arc::from_raw(retired) });
        assert_eq!(Arc::strong_count(&value), 1);
    }

    #[test]
    fn a_reader_takes_only_the_offer_made_for_its_own_pointer() {
        let membarrier = membarrier_ready();
        let first = Arc::new(1_u64);
        let second = Arc::new(2_u64);
        let src = AtomicPtr::new(Arc::into_raw(Arc::clone(&first)).cast_mut());
        let Protected::Ptr(hazard, _) = protect(&src, membarrier) else {
            panic!("not protected")
        };
        let slot = hazard.0;
        // An offer of `first` pending on the slot while the slot protects `second`.
        let offers = unsafe { offer_all(&[src.load(Ordering::Relaxed)]) };
        slot.ptr
            .store(Arc::as_ptr(&second) as usize, Ordering::Release);
        unsafe { Hazard(slot).release(Arc::as_ptr(&second)) };
        assert_eq!(Arc::strong_count(&second), 1, "nothing taken for `second`");
        assert_eq!(
            Arc::strong_count(&first),
            3,
            "the offer of `first` is still pending"
        );
        unsafe { settle::<u64>(&offers) };
        assert_eq!(Arc::strong_count(&first), 2, "taken back by its writer");
        drop(unsafe { Arc::from_raw(src.load(Ordering::Relaxed)) });
    }

    #[test]
    fn readers_racing_retirement_drop_every_pointer_once() {
        // Readers protect and release the current pointer while a writer replaces and retires
        // it; every value must be dropped exactly once, whichever side takes each offer. (On a
        // 2-vCPU VM a run makes hundreds of offers in either form of the protocol.)
        use std::sync::atomic::AtomicU64;
        static DROPS: AtomicU64 = AtomicU64::new(0);
        /// Aligned like the buckets, whose low pointer bit the protocol uses.
        struct Counted(#[expect(dead_code, reason = "only its alignment matters")] u64);
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let membarrier = membarrier_ready();
        let src = Arc::new(AtomicPtr::new(
            Arc::into_raw(Arc::new(Counted(0))).cast_mut(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (src, stop, reads) = (Arc::clone(&src), Arc::clone(&stop), Arc::clone(&reads));
                std::thread::spawn(move || {
                    // Holds from one to 4,096 spins, so that on any machine some are as long
                    // as a writer's scan: writers then find slots held, and see some of them
                    // released between their offer and their check.
                    let mut holds = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        if let Protected::Ptr(hazard, ptr) = protect(&src, membarrier) {
                            std::hint::black_box(unsafe { ptr.as_ref() });
                            reads.fetch_add(1, Ordering::Relaxed);
                            holds += 1;
                            for _ in 0..1u32 << (holds % 13) {
                                std::hint::spin_loop();
                            }
                            unsafe { hazard.release(ptr.as_ptr()) };
                        }
                    }
                })
            })
            .collect();
        const REPLACED: u64 = 2000;
        for _ in 0..REPLACED {
            // Each replacement waits for a read, so that the writer does not outrun the readers.
            let seen = reads.load(Ordering::Relaxed);
            while reads.load(Ordering::Relaxed) == seen {
                std::thread::yield_now();
            }
            let new = Arc::into_raw(Arc::new(Counted(0))).cast_mut();
            let old = src.swap(new, Ordering::AcqRel);
            heavy_barrier(membarrier);
            unsafe { transfer(&[old], membarrier) };
            drop(unsafe { Arc::from_raw(old) });
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(
            DROPS.load(Ordering::Relaxed),
            REPLACED,
            "each replaced value once"
        );
        drop(unsafe { Arc::from_raw(src.load(Ordering::Relaxed)) });
        assert_eq!(DROPS.load(Ordering::Relaxed), REPLACED + 1);
    }

    #[test]
    fn an_offer_does_not_wait_for_a_reader_that_let_go() {
        // A writer scanned the slot while it held `p`; since then the reader let go of `p`,
        // protected `q`, and another writer left an offer of `q` for it. The first writer's
        // offer of `p` must give up at once, not wait until the reader drops `q`.
        let membarrier = membarrier_ready();
        let p = Arc::new(1_u64);
        let q = Arc::new(2_u64);
        let src = AtomicPtr::new(Arc::as_ptr(&q).cast_mut());
        let Protected::Ptr(hazard, _) = protect(&src, membarrier) else {
            panic!("not protected")
        };
        let slot = hazard.0;
        let q_offer = unsafe { offer_all(&[Arc::as_ptr(&q).cast_mut()]) };
        assert_eq!(q_offer.len(), 1);
        let (done, waited) = std::sync::mpsc::channel();
        let p_addr = Arc::as_ptr(&p) as usize;
        std::thread::spawn(move || {
            let offered = unsafe { offer(slot, p_addr as *const u64) };
            done.send(offered).unwrap();
        });
        let offered = waited
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the offer of a pointer the slot no longer holds waits for nothing");
        assert!(!offered);
        assert_eq!(Arc::strong_count(&p), 1, "nothing offered, nothing kept");
        // The reader lets go of `q` and takes its offer.
        unsafe { hazard.release(Arc::as_ptr(&q)) };
        assert_eq!(Arc::strong_count(&q), 1);
        assert_eq!(slot.owed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_release_on_another_thread_keeps_its_slot_until_it_checked_for_an_offer() {
        // Thread A protects `value` and hands the handle to thread B, whose release pauses
        // between marking the slot and checking for an offer. A protects `value` again, and a
        // writer retires it and offers a reference for A's new protection. B must not take
        // that offer: `value` has to outlive A's second handle.
        let membarrier = membarrier_ready();
        let (src, weak, first, ptr) = protected(9);
        // B's release, first half.
        let owed = first.mark_released(ptr.as_ptr());
        let Protected::Ptr(second, again) = protect(&src, membarrier) else {
            panic!("not protected")
        };
        assert!(
            !ptr::eq(first.0, second.0),
            "a slot being released is not free"
        );
        // The writer retires it; the offer goes to the second protection.
        let retired = src.swap(ptr::null_mut(), Ordering::AcqRel);
        heavy_barrier(membarrier);
        unsafe { transfer(&[retired], membarrier) };
        drop(unsafe { Arc::from_raw(retired) });
        // B's release, second half.
        unsafe { first.finish_release(ptr.as_ptr(), owed) };
        assert!(
            weak.upgrade().is_some(),
            "freed while the second handle protects it"
        );
        assert_eq!(unsafe { *again.as_ref() }, 9);
        unsafe { second.release(again.as_ptr()) };
        assert!(weak.upgrade().is_none(), "not freed on the last release");
    }
}
