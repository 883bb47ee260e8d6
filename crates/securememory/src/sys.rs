//! Thin, counted wrappers over the memory system calls.
//!
//! Each wrapper maps a failure to an [`Error`] that names the call, and bumps
//! the matching process-wide counter (see [`crate::counters`]). Calls that
//! exist only on Linux (`MADV_DONTDUMP`) are cfg-gated so the crate builds on
//! macOS too.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::counters::{self, bump};
use crate::error::{Error, MemlockLimit, Result};

/// The protection of a secret's data pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prot {
    None,
    Read,
    ReadWrite,
}

impl Prot {
    fn bits(self) -> libc::c_int {
        match self {
            Prot::None => libc::PROT_NONE,
            Prot::Read => libc::PROT_READ,
            Prot::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        }
    }
}

/// The system page size, read once.
pub(crate) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no memory-safety preconditions.
    let raw = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = usize::try_from(raw)
        .ok()
        .filter(|s| s.is_power_of_two())
        .unwrap_or(4096);
    PAGE.store(size, Ordering::Relaxed);
    size
}

/// Maps `len` bytes of private anonymous memory, inaccessible (`PROT_NONE`).
pub(crate) fn map_none(len: usize) -> Result<NonNull<u8>> {
    bump(&counters::MMAP);
    // SAFETY: a fresh anonymous mapping at an address of the kernel's choice
    // cannot alias any existing Rust object.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANON,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(syscall_error("mmap", len));
    }
    NonNull::new(ptr.cast::<u8>()).ok_or_else(|| Error::Syscall {
        call: "mmap",
        len,
        source: io::Error::other("mmap returned a null address"),
    })
}

/// Changes the protection of `[ptr, ptr + len)`.
///
/// # Safety
/// The range must be page-aligned and lie inside a mapping owned by the
/// caller, and no Rust reference into the range may be used in a way the new
/// protection forbids.
pub(crate) unsafe fn protect(ptr: NonNull<u8>, len: usize, prot: Prot) -> Result<()> {
    bump(&counters::MPROTECT);
    // SAFETY: guaranteed by the caller (see above).
    if unsafe { libc::mprotect(ptr.as_ptr().cast(), len, prot.bits()) } != 0 {
        return Err(syscall_error("mprotect", len));
    }
    Ok(())
}

/// Locks `[ptr, ptr + len)` in RAM so it is never written to swap.
///
/// # Safety
/// The range must lie inside a mapping owned by the caller.
pub(crate) unsafe fn lock(ptr: NonNull<u8>, len: usize) -> Result<()> {
    bump(&counters::MLOCK);
    // SAFETY: guaranteed by the caller; mlock does not touch the contents.
    if unsafe { libc::mlock(ptr.as_ptr().cast(), len) } != 0 {
        let source = io::Error::last_os_error();
        return Err(Error::Mlock {
            len,
            limit: memlock_limit(),
            source,
        });
    }
    Ok(())
}

/// Excludes `[ptr, ptr + len)` from core dumps.
///
/// Besides keeping secrets out of dumps, this gives the data pages flags of
/// their own, so that without mlock the kernel does not merge them with the
/// (equally `PROT_NONE`) guard pages and split them again on every access.
///
/// # Safety
/// The range must be page-aligned and lie inside a mapping owned by the caller.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) unsafe fn exclude_from_core_dumps(ptr: NonNull<u8>, len: usize) -> Result<()> {
    bump(&counters::MADVISE);
    // SAFETY: guaranteed by the caller; MADV_DONTDUMP does not change contents.
    if unsafe { libc::madvise(ptr.as_ptr().cast(), len, libc::MADV_DONTDUMP) } != 0 {
        return Err(syscall_error("madvise(MADV_DONTDUMP)", len));
    }
    Ok(())
}

/// `MADV_DONTDUMP` does not exist here; core dumps are disabled process-wide
/// instead (see [`disable_core_dumps`]).
///
/// # Safety
/// None needed; kept `unsafe` for the same signature on every platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) unsafe fn exclude_from_core_dumps(_ptr: NonNull<u8>, _len: usize) -> Result<()> {
    Ok(())
}

/// Keeps `[ptr, ptr + len)` out of forked children: `MADV_WIPEONFORK` (the
/// child's copy is zero-filled), or `MADV_DONTFORK` (no copy) on kernels
/// older than 4.14, which reject the former with `EINVAL`. See
/// [`crate::fork`] for the choice.
///
/// # Safety
/// The range must be page-aligned and lie inside a private anonymous mapping
/// owned by the caller.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) unsafe fn exclude_from_fork(ptr: NonNull<u8>, len: usize) -> Result<()> {
    bump(&counters::MADVISE);
    // SAFETY: guaranteed by the caller; the advice only affects fork.
    if unsafe { libc::madvise(ptr.as_ptr().cast(), len, libc::MADV_WIPEONFORK) } == 0 {
        return Ok(());
    }
    if io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        return Err(syscall_error("madvise(MADV_WIPEONFORK)", len));
    }
    bump(&counters::MADVISE);
    // SAFETY: as above.
    if unsafe { libc::madvise(ptr.as_ptr().cast(), len, libc::MADV_DONTFORK) } != 0 {
        return Err(syscall_error("madvise(MADV_DONTFORK)", len));
    }
    Ok(())
}

/// No fork advice exists here; a forked child still refuses every access to
/// an inherited secret (see [`crate::fork`]).
///
/// # Safety
/// None needed; kept `unsafe` for the same signature on every platform.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) unsafe fn exclude_from_fork(_ptr: NonNull<u8>, _len: usize) -> Result<()> {
    Ok(())
}

/// Unmaps `[ptr, ptr + len)` (this also unlocks it).
///
/// # Safety
/// The range must be a whole mapping owned by the caller that nothing will
/// access afterwards.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, len: usize) -> Result<()> {
    bump(&counters::MUNMAP);
    // SAFETY: guaranteed by the caller.
    if unsafe { libc::munmap(ptr.as_ptr().cast(), len) } != 0 {
        return Err(syscall_error("munmap", len));
    }
    Ok(())
}

/// The soft `RLIMIT_MEMLOCK`, for error messages.
pub(crate) fn memlock_limit() -> MemlockLimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return MemlockLimit::Unknown;
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        MemlockLimit::Unlimited
    } else {
        #[allow(clippy::useless_conversion)] // rlim_t is u64 on Linux, may differ elsewhere
        MemlockLimit::Bytes(u64::from(lim.rlim_cur))
    }
}

/// Sets `RLIMIT_CORE` to 0 (soft and hard) so the process never writes a
/// core file, which would contain any secret that is readable at the time.
pub(crate) fn disable_core_dumps() -> io::Result<()> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn syscall_error(call: &'static str, len: usize) -> Error {
    Error::Syscall {
        call,
        len,
        source: io::Error::last_os_error(),
    }
}
