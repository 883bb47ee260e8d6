//! [`Secret`] and the [`SecretFactory`] that makes them.

use std::fmt;
use std::io;
use std::sync::OnceLock;

use crate::access::Gate;
use crate::error::{Error, Result};
use crate::options::Options;
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
    /// (for example without mlock) or wipe it.
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

    /// A secret of `len` bytes from the OS random number generator.
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
        if self.options.core_dumps_disabled() {
            core_dumps_off()?;
        }
        let region = Region::new(len, self.options.mlock_enabled(), fill)?;
        Ok(Secret {
            region,
            gate: Gate::default(),
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
/// share one `mprotect` pair. Dropping an open secret closes it (ignoring a
/// detected overflow; call [`Secret::close`] to see it).
pub struct Secret {
    region: Region,
    gate: Gate,
}

// SAFETY: the region's raw pointers refer to a mapping owned by this secret;
// the bytes are never written after creation, every read happens between
// `Gate::enter` and `Gate::leave`, and the mapping is released only by
// `Gate::close`, after all accessors have left. So the secret can be moved to
// and shared with other threads.
unsafe impl Send for Secret {}
// SAFETY: see `Send`; all shared state is atomic or behind the gate's mutex.
unsafe impl Sync for Secret {}

impl Secret {
    /// Runs `action` on the bytes, which are readable only for its duration.
    ///
    /// If `action` panics, the page is protected again and the accessor
    /// count restored before the panic continues.
    #[inline]
    pub fn with_bytes<R>(&self, action: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let access = Access::new(self)?;
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
        let access = Access::new(self)?;
        let result = action(access.bytes());
        access.finish()?;
        result
    }

    /// A reader over the bytes, implementing [`std::io::Read`].
    pub fn reader(&self) -> SecretReader<'_> {
        SecretReader::new(self)
    }

    /// Length of the secret in bytes (still known after close).
    pub fn len(&self) -> usize {
        self.region.data_len()
    }

    /// Whether the secret holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `close` has begun; from then on every access returns
    /// [`Error::Closed`].
    pub fn is_closed(&self) -> bool {
        self.gate.is_closing()
    }

    /// Refuses new accessors, waits for the current ones to finish, checks
    /// the canary, wipes and unmaps the memory. Closing twice is `Ok`.
    ///
    /// Returns [`Error::BufferOverflowDetected`] if the canary was changed
    /// (the memory is wiped and released anyway).
    pub fn close(&self) -> Result<()> {
        // SAFETY: the gate runs this once, after every accessor has left and
        // with new ones refused, so nothing touches the region afterwards.
        self.gate.close(|| unsafe { self.region.destroy() })
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let _ = self.close();
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

/// One registered accessor: the page is readable while it lives. Dropping
/// it without `finish` (a panic in the user's closure) still leaves.
pub(crate) struct Access<'a> {
    secret: &'a Secret,
    finished: bool,
}

impl<'a> Access<'a> {
    #[inline]
    pub(crate) fn new(secret: &'a Secret) -> Result<Self> {
        // SAFETY: `enter` fails with `Closed` once closing began, and the
        // region is destroyed only after that, so it is still mapped here.
        secret.gate.enter(|| unsafe { secret.region.open() })?;
        Ok(Access {
            secret,
            finished: false,
        })
    }

    /// The data, readable while `self` lives.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: we are a registered accessor, so the pages are mapped and
        // PROT_READ until we leave; nobody writes them after creation; the
        // slice cannot outlive `self`.
        unsafe { std::slice::from_raw_parts(self.secret.region.data_ptr(), self.secret.len()) }
    }

    /// Leaves, reporting a failure to re-protect the page.
    #[inline]
    pub(crate) fn finish(mut self) -> Result<()> {
        self.finished = true;
        self.leave()
    }

    #[inline]
    fn leave(&self) -> Result<()> {
        // SAFETY: we are still registered, so the region is mapped; if we
        // are the last accessor nobody else reads the page any more.
        self.secret
            .gate
            .leave(|| unsafe { self.secret.region.shut() })
    }
}

impl Drop for Access<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Unwinding from the user's closure: nowhere to report an error.
            let _ = self.leave();
        }
    }
}
