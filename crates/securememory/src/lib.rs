//! Secrets held in guarded, protected, locked memory: the Asherah
//! `securememory` design, with Go's semantics.
//!
//! * Each secret has its own `mmap`: a `PROT_NONE` guard page before and
//!   after, the data right-aligned against the rear guard (an overflow faults
//!   at once), random canary bytes in front of it (checked on close).
//! * At rest the data pages are `PROT_NONE`. [`Secret::with_bytes`] makes
//!   them readable for the duration of a closure; threads that overlap share
//!   one `mprotect` pair through an accessor counter (Go's protocol).
//! * The data pages are locked in RAM (`mlock`) unless the run-time option
//!   [`Options::mlock`] turns that off (there is no cargo feature for it:
//!   features are unified across a build, so one dependency could turn it
//!   off for everybody), and excluded from core dumps (`MADV_DONTDUMP`,
//!   Linux). Core dumps are also disabled for the process when the first
//!   secret is created, as Go's memguard does; see
//!   [`Options::disable_core_dumps`] for why and how to opt out.
//! * On close the memory is wiped with volatile writes, then unmapped. A
//!   changed canary is returned by [`Secret::close`]; found while dropping a
//!   secret, it aborts the process (memory corruption, as in memguard)
//!   unless the application set a hook with [`set_corruption_hook`].
//! * Secrets are not inherited across `fork`: the child's copy of the data
//!   pages is wiped (`MADV_WIPEONFORK`, Linux), every access in the child
//!   returns [`Error::Forked`], and `close` in the child returns at once.
//!   Why `MADV_WIPEONFORK` rather than `MADV_DONTFORK`: the wiped mapping
//!   stays in place in the child, so the child's `Secret` never points at
//!   an address range the child may have reused for other memory.
//! * Empty secrets are refused ([`Error::Empty`]), as in Go.
//! * [`counters()`] reports how many memory system calls the crate made, so
//!   benchmarks can show syscalls per operation.
//!
//! ```
//! use securememory::SecretFactory;
//! let factory = SecretFactory::default();
//! let mut key = *b"0123456789abcdef0123456789abcdef";
//! let secret = factory.new(&mut key).unwrap();
//! assert_eq!(key, [0u8; 32]); // the source was wiped
//! let first = secret.with_bytes(|b| b[0]).unwrap();
//! assert_eq!(first, b'0');
//! secret.close().unwrap();
//! assert!(secret.with_bytes(|_| ()).is_err());
//! ```

mod access;
mod canary;
mod corruption;
mod counters;
mod error;
mod fork;
mod options;
mod protected;
mod reader;
mod region;
mod secret;
mod sys;

pub use corruption::{CorruptionHook, corruption_detected, set_corruption_hook};
pub use counters::{Counters, counters};
pub use error::{Error, MemlockLimit, Result};
pub use options::Options;
pub use reader::SecretReader;
pub use secret::{Secret, SecretFactory};
