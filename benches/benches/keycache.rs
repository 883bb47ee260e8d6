//! Key cache benches: Go's six `BenchmarkKeyCache_GetOrLoad_*` scenarios, each
//! `keycache/<scenario>/sequential` and `keycache/<scenario>/parallel/t<N>`.
//!
//! Parallel runs use the harness [`Pool`] (Go's `RunParallel`: ns/op = wall time / total ops).
//! Per-op counters (loader calls, heap allocations, `mprotect` calls) are measured in a separate
//! counting pass of a fixed number of operations, never in the timed loop, and written to the
//! gate's counters file.
//!
//! What is timed, scenario by scenario, and how it compares with Go's benchmark:
//!
//! * `read_existing_key`: one fresh entry; every op is a hit (the loader must never run).
//! * `write_same_key`: a fresh, empty cache per criterion call (built and dropped untimed);
//!   every op asks for the same key, the first loads a real secret (timed, as Go's first op
//!   is), the rest hit. Go's loader also sleeps 5 ms; ours does not sleep.
//! * `write_unique_keys`: every op formats a new id, misses, inserts the key its loader builds,
//!   then `get_or_load_latest` of that id (a hit on the new latest alias). As in Go, whose
//!   loader returns `NewCryptoKeyForTest` (a `CryptoKey` with *no* secret), the loader builds a
//!   key without a secret ([`CryptoKey::for_test`], feature `test-util`), inside the timed
//!   section as Go's is: the figure is the cache's miss and insert, not secret creation. The work is cut into chunks of [`CHUNK`] ops, each with a fresh cache dropped outside the
//!   timed section, so that the figure does not depend on how many iterations criterion picks
//!   (a cache that grew to `b.N` keys would make later ops pay for a larger table and more
//!   memory): Go's cache instead grows to `b.N` keys; ours holds at most `CHUNK`. A new cache
//!   starts with 2,048 buckets (32 per writer shard), so a chunk never grows a table: table growth
//!   is amortised O(1) per insert and per shard (it locks only that shard), but its share is
//!   smaller here than in Go's figure, whose map grows to hundreds of thousands of keys.
//!   Thread 0 builds and drops each chunk's cache, so in `parallel/t2` the other thread inserts
//!   into lines thread 0 wrote and reuses memory thread 0 freed (its keys of the chunk before):
//!   that, more than the sharing of the cache, keeps the figure above half the sequential one.
//!   The example `write_split` times this loop per thread with the cache shared or one per
//!   thread, built and freed by thread 0 or by its own thread.
//! * `read_revoked_key` / `need_reload_key`: a fresh cache per criterion call with one entry
//!   loaded 100 minutes ago (stale); the first op reloads (the loader creates a real secret,
//!   revoked or not, timed as in Go), the rest hit. Staleness comes from a clock shifted back
//!   during setup ([`ShiftedClock`]), the same coarse system clock plus one relaxed load.
//! * `read_unique_keys`: 1,000 entries read round-robin; like Go, each op formats the id
//!   (into a stack buffer here, so it allocates nothing).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use keycache::{CachePolicy, Clock, CryptoKey, KeyCache, KeyMeta, SystemClock};
use securememory::SecretFactory;
use subject_benches::{
    AllocCounts, CountersFile, CountingAllocator, Mode, Pool, TEST_KEY, bench_id, count_allocs,
    mlock_setting, threads, write_unique,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Go's `testKey`.
const ID: &str = TEST_KEY;
/// Entries of `read_unique_keys` (Go's `DefaultKeyCacheMaxSize`).
const UNIQUE_KEYS: u64 = 1000;
/// Ops per fresh cache in `write_unique_keys` (see the module docs).
const CHUNK: u64 = 512;
/// Ops of a counting pass (hits are cheap; loads are counted over fewer ops).
const COUNTED_OPS: u64 = 20_000;
const COUNTED_WRITE_OPS: u64 = 4 * CHUNK;

/// Loader calls made by any scenario while a counting pass runs, for the counters file.
static LOADS: AtomicU64 = AtomicU64::new(0);
/// Whether a counting pass runs. Timed sections leave [`LOADS`] alone: a counter that every
/// thread writes on every insert is one cache line shared by all of them, which is the bench's
/// cost, not the cache's (Go's loader counts nothing).
static COUNTING_LOADS: AtomicBool = AtomicBool::new(false);

/// Records a loader call (only during a counting pass, see [`COUNTING_LOADS`]).
#[inline]
fn count_load() {
    if COUNTING_LOADS.load(Ordering::Relaxed) {
        LOADS.fetch_add(1, Ordering::Relaxed);
    }
}

fn now_secs() -> i64 {
    SystemClock.now_millis() / 1000
}

fn factory() -> SecretFactory {
    SecretFactory::with_options(mlock_setting().options())
}

/// A loader's work: a real 32-byte key in protected memory.
fn new_key(factory: &SecretFactory, created: i64, revoked: bool) -> CryptoKey {
    let mut bytes = [0x5a_u8; 32];
    let secret = factory
        .new(&mut bytes)
        .unwrap_or_else(|e| panic!("creating a key secret: {e}"));
    CryptoKey::new(created, revoked, secret)
}

/// The loader of ops that must hit.
fn must_not_load(meta: KeyMeta<'_>) -> Result<CryptoKey, &'static str> {
    count_load();
    panic!("the loader should not run for {meta}")
}

fn counted_load(
    factory: &SecretFactory,
    created: i64,
    revoked: bool,
) -> Result<CryptoKey, Infallible> {
    count_load();
    Ok(new_key(factory, created, revoked))
}

/// The system clock shifted by an offset, so setup can load an entry "100 minutes ago".
/// Clones share the offset.
#[derive(Clone, Default)]
struct ShiftedClock {
    offset_millis: Arc<AtomicI64>,
}

impl Clock for ShiftedClock {
    #[inline]
    fn now_millis(&self) -> i64 {
        SystemClock.now_millis() + self.offset_millis.load(Ordering::Relaxed)
    }
}

/// Either times a section or counts what it does (allocations, loads, `mprotect`).
enum Meter {
    Time,
    Count(Counts),
}

#[derive(Default)]
struct Counts {
    ops: u64,
    allocs: AllocCounts,
    loads: u64,
    mprotect: u64,
}

impl Meter {
    /// Runs the measured section `f` of `ops` operations; returns its wall time.
    fn section(&mut self, ops: u64, f: impl FnOnce() -> Duration) -> Duration {
        let Meter::Count(counts) = self else {
            return f();
        };
        COUNTING_LOADS.store(true, Ordering::SeqCst);
        let loads = LOADS.load(Ordering::SeqCst);
        let syscalls = securememory::counters();
        let (elapsed, allocs) = count_allocs(f);
        COUNTING_LOADS.store(false, Ordering::SeqCst);
        counts.ops += ops;
        counts.loads += LOADS.load(Ordering::SeqCst) - loads;
        counts.mprotect += securememory::counters().since(&syscalls).mprotect;
        counts.allocs.allocs += allocs.allocs;
        counts.allocs.bytes += allocs.bytes;
        elapsed
    }
}

/// One of Go's scenarios. `run` performs exactly `ops` operations on `pool` and returns the
/// time of the measured sections only (setup and teardown are outside them).
trait Scenario {
    fn name(&self) -> &'static str;
    /// Whether repeated counting passes give identical counts in parallel mode too (only
    /// pure hits: loads race at the single-flight gate, which changes what is allocated).
    fn exact_in_parallel(&self) -> bool;
    /// Whether heap allocations per op repeat exactly between processes. Not when the ops
    /// insert: the index's hasher is seeded per process, so which buckets fill up (and when a
    /// table grows) differs from run to run, and so do the allocations (seen: 6.270 vs 6.265).
    fn allocs_exact(&self) -> bool {
        true
    }
    fn run(&self, pool: &Pool, ops: u64, meter: &mut Meter) -> Duration;
    fn counted_ops(&self) -> u64 {
        COUNTED_OPS
    }
}

/// `read_existing_key`: one fresh entry, every op a hit.
struct ReadExistingKey {
    cache: KeyCache,
    created: i64,
}

impl ReadExistingKey {
    fn new() -> Self {
        let created = now_secs();
        let cache = KeyCache::new(&CachePolicy::default());
        let factory = factory();
        drop(cache.get_or_load(KeyMeta::new(ID, created), |_| {
            counted_load(&factory, created, false)
        }));
        Self { cache, created }
    }
}

impl Scenario for ReadExistingKey {
    fn name(&self) -> &'static str {
        "read_existing_key"
    }
    fn exact_in_parallel(&self) -> bool {
        true
    }
    fn run(&self, pool: &Pool, ops: u64, meter: &mut Meter) -> Duration {
        let meta = KeyMeta::new(ID, self.created);
        meter.section(ops, || {
            pool.run(ops, &|_, n| {
                for _ in 0..n {
                    let key = self
                        .cache
                        .get_or_load(black_box(meta), must_not_load)
                        .unwrap();
                    assert_eq!(key.created(), self.created);
                }
            })
        })
    }
}

/// `write_same_key`: an empty cache; every op asks for the same key; the first loads.
struct WriteSameKey {
    factory: SecretFactory,
}

impl Scenario for WriteSameKey {
    fn name(&self) -> &'static str {
        "write_same_key"
    }
    fn exact_in_parallel(&self) -> bool {
        false
    }
    fn run(&self, pool: &Pool, ops: u64, meter: &mut Meter) -> Duration {
        let created = now_secs();
        let cache = KeyCache::new(&CachePolicy::default());
        let meta = KeyMeta::new(ID, created);
        let elapsed = meter.section(ops, || {
            pool.run(ops, &|_, n| {
                for _ in 0..n {
                    let key = cache
                        .get_or_load(black_box(meta), |_| {
                            counted_load(&self.factory, created, false)
                        })
                        .unwrap();
                    assert_eq!(key.created(), created);
                }
            })
        });
        drop(cache); // untimed: closes the one secret
        elapsed
    }
}

/// `write_unique_keys`: every op a new id (miss + insert), then its latest (a hit); the loop is
/// [`write_unique`], shared with the `write_split` example.
struct WriteUniqueKeys {
    next_id: AtomicU64,
}

impl Scenario for WriteUniqueKeys {
    fn allocs_exact(&self) -> bool {
        false
    }
    fn name(&self) -> &'static str {
        "write_unique_keys"
    }
    fn exact_in_parallel(&self) -> bool {
        false
    }
    fn counted_ops(&self) -> u64 {
        COUNTED_WRITE_OPS
    }
    fn run(&self, pool: &Pool, ops: u64, meter: &mut Meter) -> Duration {
        let created = now_secs();
        let threads = pool.threads() as u64;
        let mut elapsed = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let chunk = left.min(CHUNK);
            left -= chunk;
            // Untimed: a fresh cache. Thread i takes ids from its own stride of `base..`.
            let cache = KeyCache::new(&CachePolicy::default());
            let base = self.next_id.fetch_add(chunk + threads, Ordering::Relaxed);
            let stride = chunk / threads + 1;
            elapsed += meter.section(chunk, || {
                pool.run(chunk, &|thread, n| {
                    let start = base + thread as u64 * stride;
                    write_unique(&cache, start..start + n, created, count_load);
                })
            });
            assert_eq!(cache.len() as u64, chunk);
            drop(cache); // untimed: frees the chunk's entries
        }
        elapsed
    }
}

/// `read_revoked_key` (`revoked: true`) and `need_reload_key` (`revoked: false`): one stale
/// entry; the first op reloads it, the rest hit.
struct StaleKey {
    name: &'static str,
    revoked: bool,
    factory: SecretFactory,
}

impl Scenario for StaleKey {
    fn name(&self) -> &'static str {
        self.name
    }
    fn exact_in_parallel(&self) -> bool {
        false
    }
    fn run(&self, pool: &Pool, ops: u64, meter: &mut Meter) -> Duration {
        let clock = ShiftedClock::default();
        let hundred_minutes = 100 * 60 * 1000;
        clock
            .offset_millis
            .store(-hundred_minutes, Ordering::Relaxed);
        let created = (SystemClock.now_millis() - hundred_minutes) / 1000;
        let cache = KeyCache::with_clock(&CachePolicy::default(), clock.clone());
        let meta = KeyMeta::new(ID, created);
        drop(cache.get_or_load(meta, |_| {
            Ok::<_, Infallible>(new_key(&self.factory, created, false))
        }));
        // Back to the present: the entry was loaded 100 minutes ago, past the 60 minute check.
        clock.offset_millis.store(0, Ordering::Relaxed);
        let revoked = self.revoked;
        let elapsed = meter.section(ops, || {
            pool.run(ops, &|_, n| {
                for _ in 0..n {
                    let key = cache
                        .get_or_load(black_box(meta), |_| {
                            counted_load(&self.factory, created, revoked)
                        })
                        .unwrap();
                    assert_eq!(key.is_revoked(), revoked);
                }
            })
        });
        drop(cache);
        elapsed
    }
}

/// `read_unique_keys`: 1,000 entries read round-robin.
struct ReadUniqueKeys {
    cache: KeyCache,
    created: i64,
}

impl ReadUniqueKeys {
    fn new() -> Self {
        let created = now_secs();
        let cache = KeyCache::new(&CachePolicy::default());
        let factory = factory();
        for i in 0..UNIQUE_KEYS {
            let id = format!("{ID}-{i}");
            drop(cache.get_or_load(KeyMeta::new(&id, created), |_| {
                counted_load(&factory, created, false)
            }));
        }
        Self { cache, created }
    }
}

impl Scenario for ReadUniqueKeys {
    fn name(&self) -> &'static str {
        "read_unique_keys"
    }
    fn exact_in_parallel(&self) -> bool {
        true
    }
    fn run(&self, pool: &Pool, ops: u64, meter: &mut Meter) -> Duration {
        let threads = pool.threads() as u64;
        meter.section(ops, || {
            pool.run(ops, &|thread, n| {
                let mut id = IdBuf::default();
                let start = thread as u64 * (UNIQUE_KEYS / threads);
                for j in 0..n {
                    id.len = 0;
                    write!(id, "{ID}-{}", (start + j) % UNIQUE_KEYS).unwrap();
                    let key = self
                        .cache
                        .get_or_load(KeyMeta::new(id.as_str(), self.created), must_not_load)
                        .unwrap();
                    assert_eq!(key.created(), self.created);
                }
            })
        })
    }
}

/// A stack buffer for formatting ids, so that formatting allocates nothing.
#[derive(Default)]
struct IdBuf {
    bytes: [u8; 32],
    len: usize,
}

impl IdBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("ids are formatted from UTF-8")
    }
}

impl std::fmt::Write for IdBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes the counters file of one scenario and mode from a counting pass.
fn write_counters(scenario: &dyn Scenario, pool: &Pool, mode: Mode) {
    // Warm-up: thread-local state (the key cache's per-thread hazard slots) is allocated once per
    // thread on first use; that is not a per-op cost.
    scenario.run(pool, pool.threads() as u64 * 4, &mut Meter::Time);
    let mut meter = Meter::Count(Counts::default());
    scenario.run(pool, scenario.counted_ops(), &mut meter);
    let Meter::Count(counts) = meter else {
        unreachable!()
    };
    let exact = mode == Mode::Sequential || scenario.exact_in_parallel();
    let id = bench_id("keycache", scenario.name(), mode);
    CountersFile::new(id.as_str(), mode, counts.ops)
        .count("loader_calls_per_op", counts.loads, exact)
        .allocs(counts.allocs, exact && scenario.allocs_exact())
        .count("mprotect_per_op", counts.mprotect, exact)
        .write()
        .unwrap_or_else(|e| panic!("writing the counters file of {id}: {e}"));
}

fn keycache(c: &mut Criterion) {
    let factory = factory();
    let scenarios: Vec<Box<dyn Scenario>> = vec![
        Box::new(ReadExistingKey::new()),
        Box::new(WriteSameKey {
            factory: factory.clone(),
        }),
        Box::new(WriteUniqueKeys {
            next_id: AtomicU64::new(0),
        }),
        Box::new(StaleKey {
            name: "read_revoked_key",
            revoked: true,
            factory: factory.clone(),
        }),
        Box::new(StaleKey {
            name: "need_reload_key",
            revoked: false,
            factory: factory.clone(),
        }),
        Box::new(ReadUniqueKeys::new()),
    ];
    let threads = threads();
    let pools = [
        (Mode::Sequential, Pool::new(1)),
        (Mode::parallel(threads), Pool::new(threads)),
    ];
    let mut group = c.benchmark_group("keycache");
    for scenario in &scenarios {
        for (mode, pool) in &pools {
            // `gate check --base`: base and head in lockstep (docs/lockstep.md).
            let id = format!("keycache/{}/{mode}", scenario.name());
            if let Some(session) = gate_lockstep::Lockstep::for_id(&id) {
                session.run(
                    || write_counters(scenario.as_ref(), pool, *mode),
                    |iters| scenario.run(pool, iters, &mut Meter::Time),
                );
                continue;
            }
            let mut counted = false;
            group.bench_function(BenchmarkId::new(scenario.name(), mode.to_string()), |b| {
                // Only benches criterion selected reach this closure; count once each.
                if !counted {
                    write_counters(scenario.as_ref(), pool, *mode);
                    counted = true;
                }
                b.iter_custom(|iters| scenario.run(pool, iters, &mut Meter::Time));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, keycache);
criterion_main!(benches);
