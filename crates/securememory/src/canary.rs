//! The random canary written in front of each secret's data.
//!
//! The data is right-aligned against the rear guard page, so an overflow
//! past its end faults at once. The bytes between the front of the data page
//! and the data hold a canary: a write that runs into the secret from below
//! (an underflow, or an overflow of something mapped in front of it that
//! crossed the front guard) changes it, and `close` reports that. As in
//! memguard, one random pattern is drawn per process; each secret copies the
//! part it needs.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The process-wide canary pattern, drawn on first use.
static PATTERN: OnceLock<Box<[u8]>> = OnceLock::new();

/// Length of the pattern; canaries longer than this repeat it.
const PATTERN_LEN: usize = 4096;

/// The pattern, drawn from the OS generator on first use.
pub(crate) fn pattern() -> Result<&'static [u8]> {
    if let Some(p) = PATTERN.get() {
        return Ok(p);
    }
    let mut fresh = vec![0u8; PATTERN_LEN].into_boxed_slice();
    getrandom::fill(&mut fresh).map_err(Error::Random)?;
    // A racing thread may have set it first; both patterns are random, keep theirs.
    let _ = PATTERN.set(fresh);
    Ok(PATTERN.get().expect("set above"))
}

/// Writes the canary over `len` bytes at `dst`.
///
/// # Safety
/// `dst` must be valid for `len` bytes of writes.
pub(crate) unsafe fn write(dst: *mut u8, len: usize, pattern: &[u8]) {
    let mut done = 0;
    while done < len {
        let n = (len - done).min(pattern.len());
        // SAFETY: `dst + done .. dst + done + n` is inside the range the caller
        // vouched for; the pattern lives on the heap, so they cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(pattern.as_ptr(), dst.add(done), n) };
        done += n;
    }
}

/// Whether the `len` bytes at `src` still hold the canary.
///
/// # Safety
/// `src` must be valid for `len` bytes of reads.
pub(crate) unsafe fn intact(src: *const u8, len: usize, pattern: &[u8]) -> bool {
    let mut done = 0;
    while done < len {
        let n = (len - done).min(pattern.len());
        // SAFETY: inside the range the caller vouched for, readable, and no
        // `&mut` to it exists (we only ever use raw pointers on it).
        let found = unsafe { std::slice::from_raw_parts(src.add(done), n) };
        if found != &pattern[..n] {
            return false;
        }
        done += n;
    }
    true
}
