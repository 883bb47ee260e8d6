//! The shared harness of the subject's criterion benches.
//!
//! * [`threads()`]: the thread count of parallel benches (`GATE_BENCH_THREADS`,
//!   default: available cores, like Go's GOMAXPROCS).
//! * [`Pool`]: Go's `RunParallel` meaning of ns/op: a persistent pool of N
//!   threads, a start barrier, an exact total of operations split across the
//!   threads, wall time returned (use it from criterion's `iter_custom`).
//!   Idle pool threads sleep, so they cannot slow `mprotect` with TLB
//!   shootdowns while another bench measures.
//! * [`CountingAllocator`]: a global allocator that counts allocations and
//!   bytes while counting is switched on ([`count_allocs`]).
//! * [`CountersFile`]: the per-bench counters file the gate reads
//!   (`docs/bench-counters.md`).
//! * [`Mode`] and [`bench_id`]: the `<group>/<operation>/<mode>[/t<N>]` ids.
//! * [`mlock_setting`]: whether secrets are locked (cargo feature `no-mlock`,
//!   env `GATE_NO_MLOCK=1`), and the matching `securememory::Options`.
//! * [`write_unique`]: one thread's loop of `keycache/write_unique_keys`.

mod alloc;
mod counters_file;
mod ids;
mod mlock;
mod pool;
mod write_unique;

pub use alloc::{AllocCounts, CountingAllocator, count_allocs};
pub use counters_file::{CountersFile, counters_dir, counters_path, criterion_home};
pub use ids::{Mode, bench_id, threads};
pub use mlock::{MlockSetting, mlock_setting};
pub use pool::Pool;
pub use write_unique::{TEST_KEY, write_unique};
