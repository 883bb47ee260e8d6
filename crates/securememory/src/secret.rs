//! [`Secret`] and the [`SecretFactory`] that makes them.

use std::fmt;
use std::io;
use std::sync::OnceLock;

use crate::corruption;
use crate::error::{Error, Result};
use crate::fork;
use crate::options::Options;
use crate::protected::{Access, Protected};
use crate::reader::SecretReader;
use crate::region::Region;
use crate::sys;

/// Creates secrets with one set of [`Options`].
#[derive(Clone, Debug, Default)]
pub struct SecretFactory {
    options: Options,
}

impl SecretFactory {
    /// A factory with the given options.
    pub fn with_options(options: Options) -> Self {
        SecretFactory { options }
    }

    /// The factory's options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Copies `source` into a new secret and wipes `source` (volatile
    /// writes). On error `source` is left as it was, so the caller can retry
    /// (for example without mlock) or wipe it. An empty `source` is refused
    /// with [`Error::Empty`].
    // The name mirrors Go's `SecretFactory.New`; the factory itself is built
    // with `default()` or `with_options`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(&self, source: &mut [u8]) -> Result<Secret> {
        let len = source.len();
        let from = source.as_ptr();
        let secret = self.create(len, |dst, n| {
            // SAFETY: `dst` is valid for `n == len` bytes of writes inside a
            // fresh mapping, which cannot overlap `source`.
            unsafe { std::ptr::copy_nonoverlapping(from, dst, n) };
            Ok(())
        })?;
        wipe_slice(source);
        Ok(secret)
    }

    /// A secret of `len` bytes from the OS random number generator;
    /// `len == 0` is refused with [`Error::Empty`].
    pub fn create_random(&self, len: usize) -> Result<Secret> {
        self.create(len, |dst, n| {
            // SAFETY: `dst` is valid for `n` bytes of writes (a fresh, writable
            // mapping); getrandom only writes into it.
            unsafe { getrandom::fill_uninit(std::slice::from_raw_parts_mut(dst.cast(), n)) }
                .map(|_| ())
                .map_err(Error::Random)
        })
    }

    fn create(
        &self,
        len: usize,
        fill: impl FnOnce(*mut u8, usize) -> Result<()>,
    ) -> Result<Secret> {
        if len == 0 {
            return Err(Error::Empty);
        }
        if self.options.core_dumps_disabled() {
            core_dumps_off()?;
        }
        let owner = fork::owner()?;
        let region = Region::new(len, self.options.mlock_enabled(), fill)?;
        Ok(Secret {
            memory: Protected::new(region, owner),
        })
    }
}

/// Disables core dumps once per process.
fn core_dumps_off() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), i32>> = OnceLock::new();
    let outcome = DONE.get_or_init(|| {
        sys::disable_core_dumps().map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))
    });
    outcome.map_err(|code| Error::DisableCoreDumps(io::Error::from_raw_os_error(code)))
}

/// Zeroes a buffer with volatile writes the optimiser cannot drop.
fn wipe_slice(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// Bytes held in their own guarded, `PROT_NONE` (and by default locked)
/// mapping, readable only inside [`Secret::with_bytes`] and friends.
///
/// Share it between threads by reference or `Arc`: accesses that overlap
/// share one `mprotect` pair. Dropping an open secret closes it; a broken
/// canary found then stops the process unless a corruption hook is set (see
/// [`set_corruption_hook`](crate::corruption::set_corruption_hook)). Call
/// [`Secret::close`] to get that error returned instead. Other close failures
/// (a failed `munmap`) are not memory corruption and are ignored by the drop.
///
/// In a forked child an inherited secret is unreadable: every access returns
/// [`Error::Forked`], and the child's copy of the memory is wiped.
pub struct Secret {
    memory: Protected,
}

impl Secret {
    /// Runs `action` on the bytes, which are readable only for its duration.
    ///
    /// If `action` panics, the page is protected again and the accessor
    /// count restored before the panic continues.
    #[inline]
    pub fn with_bytes<R>(&self, action: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let access = Access::new(&self.memory)?;
        let result = action(access.bytes());
        access.finish()?;
        Ok(result)
    }

    /// Runs a fallible `action` on the bytes and returns what it builds from
    /// them (any type: nothing forces a copy into a `Vec`). An access error
    /// converts into the caller's error type.
    #[inline]
    pub fn with_bytes_func<R, E>(&self, action: impl FnOnce(&[u8]) -> Result<R, E>) -> Result<R, E>
    where
        E: From<Error>,
    {
        let access = Access::new(&self.memory)?;
        let result = action(access.bytes());
        access.finish()?;
        result
    }

    /// A reader over the bytes, implementing [`std::io::Read`].
    pub fn reader(&self) -> SecretReader<'_> {
        SecretReader::new(&self.memory)
    }

    /// Length of the secret in bytes (still known after close).
    pub fn len(&self) -> usize {
        self.memory.len()
    }

    /// Whether the secret holds no bytes: always `false`, since empty
    /// secrets are refused at creation.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `close` has begun; from then on every access returns
    /// [`Error::Closed`].
    pub fn is_closed(&self) -> bool {
        self.memory.is_closed()
    }

    /// Refuses new accessors, waits for the current ones to finish, checks
    /// the canary, wipes and unmaps the memory. Closing twice is `Ok`.
    ///
    /// Returns [`Error::BufferOverflowDetected`] if the canary was changed
    /// (the memory is wiped and released anyway).
    ///
    /// In a forked child it only marks the secret closed and returns `Ok` at
    /// once: it does not wait for accessors the fork copied from other
    /// threads, and leaves the (wiped) memory to the child's exit.
    pub fn close(&self) -> Result<()> {
        self.memory.close()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        if let Err(err) = self.close()
            && err.is_corruption()
        {
            corruption::corruption_detected(&err);
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
