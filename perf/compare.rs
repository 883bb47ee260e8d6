//! How long `gate compare` takes to decide a large check: 200 benchmarks of
//! 100 samples per side, with everything `compare_sets` does (medians and
//! their intervals, Mann-Whitney, the bootstrap interval of the ratio with
//! the default 2,000 resamples, Holm across the 200 rows, exact counters).
//! Issue 4's figure: under 1 second on the 2-vCPU VM.
//!
//! The samples are synthetic and deterministic (a fixed-seed generator):
//! log-normal-ish noise around a per-benchmark centre; a third of the
//! benchmarks 10% slower in the new set, a third 10% faster, the rest
//! unchanged, so every path of the decision is taken.
//!
//! Run: `cargo bench --bench compare`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gate_core::compare::compare_sets;
use gate_core::model::{Benchmark, Environment, Lang, Mode, ResultSet};
use gate_core::verdict::{EXACT_LABEL, Options, RowVerdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BENCHMARKS: usize = 200;
const SAMPLES: usize = 100;

fn set(new: bool, rng: &mut ChaCha8Rng) -> ResultSet {
    let benchmarks = (0..BENCHMARKS)
        .map(|i| {
            let centre = 100.0 * (1.0 + i as f64);
            let shift = match (new, i % 3) {
                (false, _) | (true, 0) => 1.0,
                (true, 1) => 1.10,
                _ => 0.90,
            };
            let samples = (0..SAMPLES)
                .map(|_| {
                    // Right-skewed noise, as benchmark times are.
                    let z: f64 = rng.random::<f64>() + rng.random::<f64>() - 1.0;
                    centre * shift * (0.03 * z).exp() * (1.0 + 0.02 * rng.random::<f64>().powi(4))
                })
                .collect();
            Benchmark {
                id: format!("group{}/op{i}/sequential", i % 7),
                lang: Lang::Rust,
                mode: Mode::Sequential,
                threads: 1,
                unit: "ns/op".into(),
                samples,
                counters: BTreeMap::from([("syscalls_per_op".to_string(), 2.0)]),
                metrics: BTreeMap::new(),
                labels: BTreeMap::from([(EXACT_LABEL.to_string(), "syscalls_per_op".to_string())]),
                reference_only: false,
                source: None,
            }
        })
        .collect();
    ResultSet {
        environment: Environment::default(),
        benchmarks,
        provenance: Some(if new { "new" } else { "old" }.into()),
    }
}

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let old = set(false, &mut rng);
    let new = set(true, &mut rng);
    let opts = Options::default();

    // The data exercise what they should: 200 rows, every third a clear
    // regression, every third a clear improvement.
    let report = compare_sets(&old, &new, &opts);
    assert_eq!(report.rows.len(), BENCHMARKS);
    let count = |v: RowVerdict| report.rows.iter().filter(|r| r.verdict == v).count();
    assert_eq!(count(RowVerdict::Regressed), 67, "every i % 3 == 1");
    assert_eq!(count(RowVerdict::Improved), 66, "every i % 3 == 2");

    let mut group = c.benchmark_group("compare");
    group.sample_size(10);
    group.bench_function("compare_sets/200x100", |b| {
        b.iter(|| compare_sets(black_box(&old), black_box(&new), black_box(&opts)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
