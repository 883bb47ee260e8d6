//! Time sources for staleness and expiry checks.
//!
//! Every cache hit asks for the current time, so the system clock must be cheap:
//! [`SystemClock`] reads `CLOCK_REALTIME_COARSE` (a vDSO read of about 5 ns on Linux, against
//! about 30 ns for `SystemTime::now`). Its resolution of a few milliseconds is irrelevant for
//! intervals measured in minutes and days. [`ManualClock`] lets tests move time explicitly, so
//! staleness and expiry are tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A source of wall-clock time in milliseconds since the Unix epoch.
///
/// Wall-clock (not monotonic) time because key `created` timestamps are Unix seconds written
/// by other processes; expiry compares against them.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

/// The real clock (coarse wall-clock time; see the module documentation for why coarse).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[cfg(target_os = "linux")]
    #[inline]
    fn now_millis(&self) -> i64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME_COARSE exists on every
        // Linux since 2.6.32 and cannot fail with a valid pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
        ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }

    #[cfg(not(target_os = "linux"))]
    #[inline]
    fn now_millis(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// Give one clone to the cache and keep another in the test to advance it.
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock reading `unix_millis`.
    pub fn new(unix_millis: i64) -> Self {
        Self {
            millis: Arc::new(AtomicI64::new(unix_millis)),
        }
    }

    /// A clock set to the current system time (so that keys created "now" are not expired).
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_millis())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.millis.fetch_add(duration_millis(by), Ordering::SeqCst);
    }

    /// Sets the clock to `unix_millis`.
    pub fn set(&self, unix_millis: i64) {
        self.millis.store(unix_millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_millis(&self) -> i64 {
        self.millis.load(Ordering::SeqCst)
    }
}

/// Converts a duration to whole milliseconds, saturating at `i64::MAX` (an "infinite" interval).
pub(crate) fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
