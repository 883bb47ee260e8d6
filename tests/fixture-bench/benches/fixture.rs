//! The fixture benches: `fixture/spin/sequential` and
//! `fixture/sleepless/sequential` (see the library's docs for the knobs).
//!
//! Ids are built from a group and a `BenchmarkId` so that criterion's
//! `full_id` is exactly `<group>/<operation>/<mode>`, the scheme of the
//! subject benches.

use std::sync::Once;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use fixture_bench::{
    Knobs, SLEEPLESS_ID, SPIN_ID, measure_syscalls_per_op, op, steps_for, write_counters,
};

fn bench(c: &mut Criterion, knobs: &Knobs, once: &Once, operation: &str, id: &str) {
    let steps = steps_for(id, knobs);
    let setup = || {
        if knobs.panics(id) {
            panic!("GATE_FIXTURE_PANIC asked {id} to fail");
        }
        write_counters(id, measure_syscalls_per_op(steps, knobs.extra_syscalls));
        if id == SPIN_ID {
            knobs.mark_ran();
        }
    };
    let routine = |iters: u64| {
        let start = fixture_bench::thread_cpu_time();
        for _ in 0..iters {
            std::hint::black_box(op(steps, knobs.extra_syscalls));
        }
        fixture_bench::thread_cpu_time() - start
    };
    // `gate check --base`: base and head in lockstep (docs/lockstep.md).
    if let Some(session) = gate_lockstep::Lockstep::for_id(id) {
        session.run(|| once.call_once(setup), routine);
        return;
    }
    let mut group = c.benchmark_group("fixture");
    group.bench_function(BenchmarkId::new(operation, "sequential"), |b| {
        // Criterion calls this closure only for a bench that runs (not for
        // `--list` nor for benches its filter skips), so the counters file
        // is written for exactly the benches that ran, once per process.
        once.call_once(setup);
        // Thread CPU time, not wall time: the fixture stands in for a real
        // bench in the gate's own tests, which run on shared, loaded
        // machines; its figures must move with its work, not with the
        // neighbours' (the real benches measure wall time).
        b.iter_custom(routine);
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    static SPIN: Once = Once::new();
    static SLEEPLESS: Once = Once::new();
    let knobs = Knobs::from_env();
    bench(c, &knobs, &SPIN, "spin", SPIN_ID);
    bench(c, &knobs, &SLEEPLESS, "sleepless", SLEEPLESS_ID);
}

criterion_group!(fixture, benches);
criterion_main!(fixture);
