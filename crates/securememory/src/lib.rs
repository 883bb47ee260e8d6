//! Secrets held in guarded, protected, locked memory: the Asherah
//! `securememory` design, with Go's semantics.
//!
//! * Each secret has its own `mmap`: a `PROT_NONE` guard page before and
//!   after, the data right-aligned against the rear guard (an overflow faults
//!   at once), random canary bytes in front of it (checked on close).
//! * At rest the data pages are `PROT_NONE`. [`Secret::with_bytes`] makes
//!   them readable for the duration of a closure; threads that overlap share
//!   one `mprotect` pair through an accessor counter (Go's protocol).
//! * The data pages are locked in RAM (`mlock`) unless the cargo feature
//!   `no-mlock` or [`Options::mlock`] turns that off, and excluded from core
//!   dumps (`MADV_DONTDUMP`, Linux). Core dumps are also disabled for the
//!   process when the first secret is created, as Go's memguard does; see
//!   [`Options::disable_core_dumps`] for why and how to opt out.
//! * On close the memory is wiped with volatile writes, then unmapped.
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
mod counters;
mod error;
mod options;
mod reader;
mod region;
mod secret;
mod sys;

pub use counters::{Counters, counters};
pub use error::{Error, MemlockLimit, Result};
pub use options::Options;
pub use reader::SecretReader;
pub use secret::{Secret, SecretFactory};
