//! [`SecretReader`]: `std::io::Read` over a secret's memory.

use std::io::{self, Read};

use crate::protected::{Access, Protected};

/// Reads a secret's bytes, tracking the offset so that reaching the end
/// costs no access: once everything was read, `read` returns `Ok(0)`
/// without touching the page. `read_to_end` of a whole secret is therefore
/// one access (one `mprotect` pair), like Go's reader, which returns the
/// data and `io.EOF` in one call.
#[derive(Debug)]
pub struct SecretReader<'a> {
    memory: &'a Protected,
    offset: usize,
}

impl<'a> SecretReader<'a> {
    pub(crate) fn new(memory: &'a Protected) -> Self {
        SecretReader { memory, offset: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.memory.len() - self.offset
    }
}

impl Read for SecretReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.remaining().min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        let access = Access::new(self.memory)?;
        buf[..n].copy_from_slice(&access.bytes()[self.offset..self.offset + n]);
        access.finish()?;
        self.offset += n;
        Ok(n)
    }

    /// One access for all remaining bytes (the default would probe with
    /// extra reads).
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let n = self.remaining();
        if n == 0 {
            return Ok(0);
        }
        buf.try_reserve(n)?;
        let access = Access::new(self.memory)?;
        buf.extend_from_slice(&access.bytes()[self.offset..]);
        access.finish()?;
        self.offset += n;
        Ok(n)
    }
}
