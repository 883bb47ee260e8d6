//! The crate's error type.
//!
//! Every variant carries the context a user needs to act on it: which call
//! failed, on how many bytes, and for `mlock` which limit was hit and how to
//! raise it or opt out.

use std::fmt;
use std::io;

/// The soft `RLIMIT_MEMLOCK` of the process, as read when an `mlock` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemlockLimit {
    /// The limit in bytes.
    Bytes(u64),
    /// `RLIM_INFINITY`.
    Unlimited,
    /// `getrlimit` itself failed.
    Unknown,
}

impl fmt::Display for MemlockLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemlockLimit::Bytes(b) => write!(f, "{b} bytes"),
            MemlockLimit::Unlimited => f.write_str("unlimited"),
            MemlockLimit::Unknown => f.write_str("unknown (getrlimit failed)"),
        }
    }
}

/// Errors of secret creation, access and close.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The secret was closed (or is being closed): its memory is gone, so no
    /// access is possible. Accessing a closed secret is always this error,
    /// never undefined behaviour.
    Closed,
    /// A secret must hold at least one byte (`new` of an empty slice,
    /// `create_random(0)`), as in Go.
    Empty,
    /// This process is a forked child of the one that created the secret.
    /// Secrets are not inherited across `fork`: the child's copy of the
    /// memory is wiped, and every access in the child is refused.
    Forked {
        /// Process id of the creating process.
        owner: i32,
    },
    /// The canary bytes in front of the data changed: something wrote past
    /// the bounds of a neighbouring buffer into this secret's page.
    BufferOverflowDetected {
        /// Length of the secret's data.
        len: usize,
    },
    /// `mlock` failed, almost always because `RLIMIT_MEMLOCK` is too small.
    Mlock {
        /// Bytes we tried to lock.
        len: usize,
        /// The soft `RLIMIT_MEMLOCK` at the time of the failure.
        limit: MemlockLimit,
        /// The OS error (`ENOMEM` over the limit, `EPERM` when the limit is 0).
        source: io::Error,
    },
    /// A memory-management system call failed (`mmap`, `mprotect`, `madvise`,
    /// `munmap`).
    Syscall {
        /// Name of the call.
        call: &'static str,
        /// Length of the range it was applied to.
        len: usize,
        /// The OS error.
        source: io::Error,
    },
    /// The OS random number generator failed (canary or `create_random`).
    Random(getrandom::Error),
    /// Setting `RLIMIT_CORE` to 0 failed.
    DisableCoreDumps(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("secret has already been closed"),
            Error::Empty => f.write_str(
                "refused to create an empty secret: a secret must hold at least one byte",
            ),
            Error::Forked { owner } => write!(
                f,
                "secret belongs to process {owner}, of which this process is a forked child: \
                 secrets are not inherited across fork (the child's copy is wiped)"
            ),
            Error::BufferOverflowDetected { len } => write!(
                f,
                "buffer overflow detected: the canary in front of a {len}-byte secret was \
                 overwritten"
            ),
            Error::Mlock { len, limit, source } => write!(
                f,
                "mlock of {len} bytes failed ({source}); RLIMIT_MEMLOCK (soft) is {limit}. \
                 Either raise RLIMIT_MEMLOCK (`ulimit -l`, limits.conf `memlock`, systemd \
                 `LimitMEMLOCK=`, `docker run --ulimit memlock=...`), or opt out of mlock at run \
                 time with `SecretFactory::with_options(Options::default().mlock(false))`"
            ),
            Error::Syscall { call, len, source } => {
                write!(f, "{call} on {len} bytes failed: {source}")
            }
            Error::Random(e) => write!(f, "the OS random number generator failed: {e}"),
            Error::DisableCoreDumps(e) => {
                write!(
                    f,
                    "could not disable core dumps (setrlimit RLIMIT_CORE 0): {e}"
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Mlock { source, .. } | Error::Syscall { source, .. } => Some(source),
            Error::DisableCoreDumps(e) => Some(e),
            Error::Random(e) => Some(e),
            Error::Closed
            | Error::Empty
            | Error::Forked { .. }
            | Error::BufferOverflowDetected { .. } => None,
        }
    }
}

impl Error {
    /// Whether the error means the memory was corrupted (a changed canary).
    /// Found while dropping a secret, such an error stops the process unless
    /// a corruption hook is set (`securememory::set_corruption_hook`).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::BufferOverflowDetected { .. })
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::other(e)
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
