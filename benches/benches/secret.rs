//! Benches of `securememory`: ids `secret/<operation>/<mode>[/t<N>]`.
//!
//! Each bench shares one 32-byte secret (Go's payload) between its threads,
//! as Go's `b.RunParallel` benchmarks share one secret between goroutines.
//! The first time criterion calls a bench, a counting pass of `COUNTED_OPS`
//! operations writes its per-op counters (see `docs/bench-counters.md`).

use std::hint::black_box;
use std::io::Read;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use securememory::{Secret, SecretFactory};
use subject_benches::{
    CountersFile, CountingAllocator, MlockSetting, Mode, Pool, bench_id, count_allocs,
    mlock_setting, threads,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// The secret of Go's securememory benchmarks.
const PAYLOAD: &[u8; 32] = b"thisismy32bytesecretthatiwilluse";

/// Operations of the counting pass (not timed).
const COUNTED_OPS: u64 = 10_000;

const GROUP: &str = "secret";

/// The two ways of running a bench: the calling thread alone, or the pool.
struct Runners {
    sequential: Pool,
    parallel: Pool,
}

impl Runners {
    fn for_mode(&self, mode: Mode) -> &Pool {
        match mode {
            Mode::Sequential => &self.sequential,
            Mode::Parallel { .. } => &self.parallel,
        }
    }
}

/// Registers `operation` in `mode`: a counting pass on the first call, then
/// criterion's timed batches through the pool.
///
/// Parallel benches use `run_batched`, Go's `RunParallel` work sharing: with
/// a fixed share per thread, the thread that finishes last runs its rest
/// alone, where every access pays the full `mprotect` pair (about 25x the
/// shared cost), and that tail, not the shared throughput, sets the figure.
fn bench_op(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runners: &Runners,
    operation: &str,
    mode: Mode,
    mlock: MlockSetting,
    op: impl Fn() + Sync,
) {
    let pool = runners.for_mode(mode);
    let body = |_thread: usize, ops: u64| {
        for _ in 0..ops {
            op();
        }
    };
    let id = bench_id(GROUP, operation, mode);
    // `gate check --base` runs base and head of one id in lockstep
    // (docs/lockstep.md): the same routine, its samples taken in turns.
    // Parallel samples also count their `mprotect` calls: how often the
    // threads' accesses stop overlapping sets most of their time, and the
    // gate compares base and head at the same rate (docs/lockstep.md).
    if let Some(session) = gate_lockstep::Lockstep::for_id(&id) {
        let covariate = (mode != Mode::Sequential).then_some("mprotect_per_op");
        session.run_counted(
            || write_counters(&id, mode, mlock, pool, &body),
            covariate,
            |iters| {
                let before = securememory::counters();
                let t = pool.run_batched(iters, &body);
                (t, securememory::counters().since(&before).mprotect)
            },
        );
        return;
    }
    let mut counted = false;
    group.bench_function(BenchmarkId::new(operation, mode), |b| {
        if !counted {
            counted = true;
            write_counters(&id, mode, mlock, pool, &body);
        }
        b.iter_custom(|iters| pool.run_batched(iters, &body));
    });
}

/// The counting pass: syscalls from the crate's counters, allocations from
/// the counting allocator. Syscalls per op are deterministic only when one
/// thread runs (in parallel they depend on how accesses overlap).
fn write_counters(
    id: &str,
    mode: Mode,
    mlock: MlockSetting,
    pool: &Pool,
    body: &(dyn Fn(usize, u64) + Sync),
) {
    let before = securememory::counters();
    let ((), allocs) = count_allocs(|| {
        pool.run_batched(COUNTED_OPS, body);
    });
    let calls = securememory::counters().since(&before);
    let sequential = mode == Mode::Sequential;
    let file = CountersFile::new(id, mode, COUNTED_OPS)
        .count("mprotect_per_op", calls.mprotect, sequential)
        .count("mlock_per_op", calls.mlock, true)
        .count("mmap_per_op", calls.mmap, true)
        .allocs(allocs, true)
        .mlock(&mlock);
    if let Err(e) = file.write() {
        panic!("writing the counters of {id}: {e}");
    }
}

fn new_secret(factory: &SecretFactory) -> Secret {
    let mut bytes = *PAYLOAD;
    factory
        .new(&mut bytes)
        .unwrap_or_else(|e| panic!("creating the bench secret: {e}"))
}

fn check(bytes: &[u8]) {
    assert!(
        black_box(bytes) == PAYLOAD,
        "secret bytes differ from the payload"
    );
}

fn access_benches(c: &mut Criterion) {
    let mlock = mlock_setting();
    let factory = SecretFactory::with_options(mlock.options());
    let runners = Runners {
        sequential: Pool::new(1),
        parallel: Pool::new(threads()),
    };
    let modes = [Mode::Sequential, Mode::parallel(runners.parallel.threads())];
    let mut group = c.benchmark_group(GROUP);

    for mode in modes {
        let secret = new_secret(&factory);
        bench_op(&mut group, &runners, "with_bytes", mode, mlock, || {
            secret.with_bytes(check).expect("with_bytes");
        });
        let secret = new_secret(&factory);
        bench_op(&mut group, &runners, "with_bytes_func", mode, mlock, || {
            let first: Result<u8, securememory::Error> = secret.with_bytes_func(|b| {
                check(b);
                Ok(b[0])
            });
            black_box(first.expect("with_bytes_func"));
        });
        let secret = new_secret(&factory);
        bench_op(&mut group, &runners, "reader_read_all", mode, mlock, || {
            let mut out = Vec::new();
            secret.reader().read_to_end(&mut out).expect("read_to_end");
            check(&out);
        });
        let secret = new_secret(&factory);
        bench_op(
            &mut group,
            &runners,
            "reader_read_full",
            mode,
            mlock,
            || {
                let mut out = [0u8; 32];
                secret.reader().read_exact(&mut out).expect("read_exact");
                check(&out);
            },
        );
        let secret = new_secret(&factory);
        bench_op(&mut group, &runners, "reader_read", mode, mlock, || {
            let mut out = [0u8; 32];
            let mut filled = 0;
            let mut reader = secret.reader();
            loop {
                let n = reader.read(&mut out[filled..]).expect("read");
                if n == 0 {
                    break;
                }
                filled += n;
                if filled == out.len() {
                    // The next read returns EOF (0) without an access.
                    assert_eq!(reader.read(&mut [0u8; 1]).expect("read"), 0);
                    break;
                }
            }
            check(&out[..filled]);
        });
    }

    let secret = new_secret(&factory);
    bench_op(
        &mut group,
        &runners,
        "reader_read_partial",
        Mode::Sequential,
        mlock,
        || {
            let mut out = [0u8; 16];
            secret.reader().read_exact(&mut out).expect("read_exact");
            assert!(black_box(&out) == &PAYLOAD[..16]);
        },
    );
    bench_op(
        &mut group,
        &runners,
        "create_random",
        Mode::Sequential,
        mlock,
        || {
            // Includes the close on drop: a secret cannot be left mapped.
            let secret = factory.create_random(32).expect("create_random");
            black_box(&secret);
        },
    );
    bench_op(
        &mut group,
        &runners,
        "lifecycle",
        Mode::Sequential,
        mlock,
        || {
            let secret = new_secret(&factory);
            secret.with_bytes(check).expect("with_bytes");
            secret.close().expect("close");
        },
    );

    // The same access with mlock off, measured in the same run, so the cost
    // of `no-mlock` (which must be none: the data page keeps flags of its
    // own through MADV_DONTDUMP) is a ratio of one run.
    let no_mlock = MlockSetting {
        enabled: false,
        ..mlock
    };
    let unlocked = SecretFactory::with_options(no_mlock.options());
    let secret = new_secret(&unlocked);
    bench_op(
        &mut group,
        &runners,
        "with_bytes_no_mlock",
        Mode::Sequential,
        no_mlock,
        || {
            secret.with_bytes(check).expect("with_bytes");
        },
    );
    group.finish();
}

criterion_group!(benches, access_benches);
criterion_main!(benches);
