//! Runtime options of a `SecretFactory`.

/// How secrets are protected.
///
/// `mlock` is on by default. Turning it off is a run-time choice of the
/// application that creates the factory (for machines whose
/// `RLIMIT_MEMLOCK` is small: macOS, some CI runners), deliberately not a
/// cargo feature: cargo unifies features, so one dependency enabling it would
/// turn mlock off for every secret in the program. Core dumps are disabled by
/// default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    mlock: bool,
    disable_core_dumps: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mlock: true,
            disable_core_dumps: true,
        }
    }
}

impl Options {
    /// Whether secrets' pages are locked in RAM (never swapped). Turning it
    /// off keeps every other protection (guard pages, `PROT_NONE` at rest,
    /// canary, `MADV_DONTDUMP`, wipe) and does not change the access cost.
    pub fn mlock(mut self, on: bool) -> Self {
        self.mlock = on;
        self
    }

    /// Whether the first secret created disables core dumps for the whole
    /// process (`RLIMIT_CORE` = 0), as Go's memguard does at start-up. This
    /// is an explicit choice because it is process-wide: a crash while a
    /// secret is readable would otherwise write it to disk. `MADV_DONTDUMP`
    /// already keeps idle secrets out of dumps on Linux; this also covers
    /// the moment of access and platforms without `MADV_DONTDUMP`.
    pub fn disable_core_dumps(mut self, on: bool) -> Self {
        self.disable_core_dumps = on;
        self
    }

    /// Whether mlock is on.
    pub fn mlock_enabled(&self) -> bool {
        self.mlock
    }

    /// Whether creating a secret disables core dumps.
    pub fn core_dumps_disabled(&self) -> bool {
        self.disable_core_dumps
    }
}
