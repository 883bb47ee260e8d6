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
    let mut group = c.benchmark_group("fixture");
    group.bench_function(BenchmarkId::new(operation, "sequential"), |b| {
        // Criterion calls this closure only for a bench that runs (not for
        // `--list` nor for benches its filter skips), so the counters file
        // is written for exactly the benches that ran, once per process.
        once.call_once(|| {
            if knobs.panics(id) {
                panic!("GATE_FIXTURE_PANIC asked {id} to fail");
            }
            write_counters(id, measure_syscalls_per_op(steps, knobs.extra_syscalls));
            if id == SPIN_ID {
                knobs.mark_ran();
            }
        });
        b.iter(|| op(steps, knobs.extra_syscalls));
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
