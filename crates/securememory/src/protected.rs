//! [`Protected`]: a secret's memory with its access gate and owning process;
//! [`Access`]: one registered accessor. `Secret` and `SecretReader` are both
//! built on these, so neither needs the other.

use crate::access::Gate;
use crate::error::{Error, Result};
use crate::fork;
use crate::region::Region;

/// The guarded memory of one secret and the protocol that opens it.
#[derive(Debug)]
pub(crate) struct Protected {
    region: Region,
    gate: Gate,
    /// The process that created the memory; any other one is a forked child.
    owner: i32,
}

// SAFETY: the region's raw pointers refer to a mapping owned by this value;
// the bytes are never written after creation, every read happens between
// `Gate::enter` and `Gate::leave`, and the mapping is released only by
// `Gate::close`, after all accessors have left. So it can be moved to and
// shared with other threads.
unsafe impl Send for Protected {}
// SAFETY: see `Send`; all shared state is atomic or behind the gate's mutex.
unsafe impl Sync for Protected {}

impl Protected {
    pub(crate) fn new(region: Region, owner: i32) -> Self {
        Protected {
            region,
            gate: Gate::default(),
            owner,
        }
    }

    /// Length of the data in bytes.
    pub(crate) fn len(&self) -> usize {
        self.region.data_len()
    }

    /// Whether `close` has begun.
    pub(crate) fn is_closed(&self) -> bool {
        self.gate.is_closing()
    }

    /// Whether this process is a forked child of the owner.
    #[inline]
    fn in_forked_child(&self) -> bool {
        self.owner != fork::current()
    }

    /// Refuses new accessors, waits for the current ones, checks the canary,
    /// wipes and unmaps. In a forked child it only marks the memory closed:
    /// see `crate::fork` for why it must neither wait nor touch the memory.
    pub(crate) fn close(&self) -> Result<()> {
        if self.in_forked_child() {
            self.gate.abandon();
            return Ok(());
        }
        // SAFETY: the gate runs this once, after every accessor has left and
        // with new ones refused, so nothing touches the region afterwards.
        self.gate.close(|| unsafe { self.region.destroy() })
    }
}

/// One registered accessor: the page is readable while it lives. Dropping
/// it without `finish` (a panic in the user's closure) still leaves.
pub(crate) struct Access<'a> {
    memory: &'a Protected,
    finished: bool,
}

impl<'a> Access<'a> {
    #[inline]
    pub(crate) fn new(memory: &'a Protected) -> Result<Self> {
        if memory.in_forked_child() {
            return Err(Error::Forked {
                owner: memory.owner,
            });
        }
        // SAFETY: `enter` fails with `Closed` once closing began, and the
        // region is destroyed only after that, so it is still mapped here.
        memory.gate.enter(|| unsafe { memory.region.open() })?;
        Ok(Access {
            memory,
            finished: false,
        })
    }

    /// The data, readable while `self` lives.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: we are a registered accessor, so the pages are mapped and
        // PROT_READ until we leave; nobody writes them after creation; the
        // slice cannot outlive `self`.
        unsafe { std::slice::from_raw_parts(self.memory.region.data_ptr(), self.memory.len()) }
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
        self.memory
            .gate
            .leave(|| unsafe { self.memory.region.shut() })
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
