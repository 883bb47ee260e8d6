//! One guarded mapping per secret.
//!
//! ```text
//! | guard page | canary ... canary data | guard page |
//!   PROT_NONE    inner pages: PROT_NONE     PROT_NONE
//!                except while accessed
//! ```
//!
//! The inner pages get `MADV_DONTDUMP` and `MADV_WIPEONFORK` (Linux) and,
//! unless opted out, `mlock`. Either makes their memory-area flags differ from the guard pages,
//! which matters for speed: if all three had the same flags the kernel would
//! merge them into one area when the data page goes back to `PROT_NONE` and
//! split it again on the next `PROT_READ`, which makes every access about
//! 2.5x slower.
//!
//! Only raw pointers are ever made into this memory: a `&mut [u8]` over pages
//! that change protection under other threads' feet would be unsound.

use std::ptr::NonNull;

use crate::canary;
use crate::error::{Error, Result};
use crate::sys::{self, Prot};

/// Bytes of canary at least in front of the data. The data is right-aligned,
/// so the rest of the first inner page is canary too.
const MIN_CANARY: usize = 16;

/// A mapped, guarded region holding one secret's bytes.
#[derive(Debug)]
pub(crate) struct Region {
    /// Start of the whole mapping (the front guard page).
    base: NonNull<u8>,
    /// Length of the whole mapping.
    total: usize,
    /// Start of the inner (data) pages.
    inner: NonNull<u8>,
    /// Length of the inner pages.
    inner_len: usize,
    /// Length of the secret data, which ends at `inner + inner_len`.
    data_len: usize,
}

impl Region {
    /// Maps a region for `data_len` bytes, lets `fill` write the data through a
    /// raw pointer, and leaves the inner pages `PROT_NONE`.
    ///
    /// On any failure the mapping is wiped and removed again.
    pub(crate) fn new(
        data_len: usize,
        mlock: bool,
        fill: impl FnOnce(*mut u8, usize) -> Result<()>,
    ) -> Result<Region> {
        let page = sys::page_size();
        let inner_len = data_len
            .checked_add(MIN_CANARY + page - 1)
            .map(|n| n / page * page)
            .ok_or_else(|| Error::Syscall {
                call: "mmap",
                len: data_len,
                source: std::io::Error::other("secret length overflows the address space"),
            })?;
        let total = inner_len + 2 * page;
        let pattern = canary::pattern()?;
        let base = sys::map_none(total)?;
        // SAFETY: `page < total`, so this stays inside the mapping.
        let inner = unsafe { base.add(page) };
        let region = Region {
            base,
            total,
            inner,
            inner_len,
            data_len,
        };
        match region.prepare(mlock, pattern, fill) {
            Ok(()) => Ok(region),
            Err(e) => {
                // The data pages may already hold secret bytes: wipe them if
                // we can write, then unmap regardless.
                // SAFETY: we own the mapping; nothing else refers to it.
                if unsafe { sys::protect(inner, inner_len, Prot::ReadWrite) }.is_ok() {
                    region.wipe();
                }
                // SAFETY: the whole mapping is ours and unused from here on.
                let _ = unsafe { sys::unmap(base, total) };
                Err(e)
            }
        }
    }

    fn prepare(
        &self,
        mlock: bool,
        pattern: &[u8],
        fill: impl FnOnce(*mut u8, usize) -> Result<()>,
    ) -> Result<()> {
        // SAFETY (all calls below): `inner..inner + inner_len` is page-aligned
        // and inside our own mapping; no reference into it exists.
        unsafe {
            sys::protect(self.inner, self.inner_len, Prot::ReadWrite)?;
            sys::exclude_from_core_dumps(self.inner, self.inner_len)?;
            sys::exclude_from_fork(self.inner, self.inner_len)?;
            if mlock {
                sys::lock(self.inner, self.inner_len)?;
            }
            canary::write(self.inner.as_ptr(), self.canary_len(), pattern);
            fill(self.data_ptr().cast_mut(), self.data_len)?;
            sys::protect(self.inner, self.inner_len, Prot::None)
        }
    }

    /// Length of the secret data.
    pub(crate) fn data_len(&self) -> usize {
        self.data_len
    }

    fn canary_len(&self) -> usize {
        self.inner_len - self.data_len
    }

    /// First byte of the data (right-aligned against the rear guard page).
    pub(crate) fn data_ptr(&self) -> *const u8 {
        // SAFETY: `canary_len <= inner_len`, so this stays inside the mapping
        // (one past the end of the inner pages for empty data).
        unsafe { self.inner.as_ptr().add(self.canary_len()) }
    }

    /// Makes the data readable.
    ///
    /// # Safety
    /// The region must not have been destroyed.
    pub(crate) unsafe fn open(&self) -> Result<()> {
        // SAFETY: our own, still mapped inner pages (caller's guarantee).
        unsafe { sys::protect(self.inner, self.inner_len, Prot::Read) }
    }

    /// Makes the data inaccessible again.
    ///
    /// # Safety
    /// The region must not have been destroyed, and no thread may still be
    /// reading the data.
    pub(crate) unsafe fn shut(&self) -> Result<()> {
        // SAFETY: our own, still mapped inner pages (caller's guarantee).
        unsafe { sys::protect(self.inner, self.inner_len, Prot::None) }
    }

    /// Checks the canary, wipes the data pages and unmaps everything.
    ///
    /// The wipe and unmap happen even when the canary is broken; the overflow
    /// is reported afterwards.
    ///
    /// # Safety
    /// Must be called once, when no thread accesses the region any more;
    /// the region must not be used afterwards.
    pub(crate) unsafe fn destroy(&self) -> Result<()> {
        // SAFETY: our own, still mapped inner pages; nobody else uses them.
        let writable = unsafe { sys::protect(self.inner, self.inner_len, Prot::ReadWrite) };
        let mut canary_ok = true;
        if writable.is_ok() {
            let pattern = canary::pattern()?;
            // SAFETY: the canary lies in the readable inner pages.
            canary_ok = unsafe { canary::intact(self.inner.as_ptr(), self.canary_len(), pattern) };
            self.wipe();
            #[cfg(test)]
            hooks::before_unmap(self.inner, self.inner_len);
        }
        // SAFETY: the whole mapping is ours and unused from here on.
        let unmapped = unsafe { sys::unmap(self.base, self.total) };
        writable?;
        unmapped?;
        if canary_ok {
            Ok(())
        } else {
            Err(Error::BufferOverflowDetected { len: self.data_len })
        }
    }

    /// Zeroes the inner pages with volatile writes, which the compiler may not
    /// remove even though the memory is unmapped right after.
    fn wipe(&self) {
        let words = self.inner_len / size_of::<u64>();
        let start = self.inner.as_ptr().cast::<u64>();
        for i in 0..words {
            // SAFETY: the inner pages are page-aligned (so u64-aligned), mapped
            // read-write by the caller, and `i < inner_len / 8`.
            unsafe { start.add(i).write_volatile(0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

/// Test hook: lets unit tests see the inner pages right before `munmap`.
#[cfg(test)]
pub(crate) mod hooks {
    use std::cell::RefCell;
    use std::ptr::NonNull;

    thread_local! {
        pub(crate) static BEFORE_UNMAP: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    }

    pub(super) fn before_unmap(inner: NonNull<u8>, len: usize) {
        // SAFETY: called while the inner pages are mapped read-write.
        let bytes = unsafe { std::slice::from_raw_parts(inner.as_ptr(), len) }.to_vec();
        BEFORE_UNMAP.with(|slot| *slot.borrow_mut() = Some(bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_wiped_before_unmap() {
        let region = Region::new(32, false, |dst, n| {
            // SAFETY: `dst` is valid for `n` bytes of writes.
            unsafe { std::ptr::write_bytes(dst, 0xA5, n) };
            Ok(())
        })
        .unwrap();
        // SAFETY: created above, destroyed once, not used afterwards.
        unsafe { region.destroy() }.unwrap();
        let seen = hooks::BEFORE_UNMAP
            .with(|slot| slot.borrow_mut().take())
            .expect("hook ran");
        assert_eq!(seen.len(), sys::page_size());
        assert!(
            seen.iter().all(|&b| b == 0),
            "data or canary left in memory before munmap"
        );
    }

    #[test]
    fn data_is_right_aligned_against_the_rear_guard() {
        let page = sys::page_size();
        for len in [0, 1, 32, page - MIN_CANARY, page - MIN_CANARY + 1, 2 * page] {
            let region = Region::new(len, false, |_, _| Ok(())).unwrap();
            let end = region.data_ptr() as usize + len;
            assert_eq!(end % page, 0, "len {len}");
            assert!(region.canary_len() >= MIN_CANARY);
            // SAFETY: created above, destroyed once.
            unsafe { region.destroy() }.unwrap();
        }
    }
}
