//! Cost of the gate's statistics per compared benchmark, the figures behind
//! the budget "`gate compare` of 200 benchmarks x 100 samples, bootstrap
//! included, under 1 second on a 2-core machine".
//!
//! Run: `cargo bench --bench stats`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gate_core::stats::{
    DEFAULT_RESAMPLES, bootstrap_ratio_ci, holm, mann_whitney, median_ci, significance_reachable,
};

/// Deterministic, skewed, benchmark-like samples (ns/op around `base`), so
/// the bench needs no random generator of its own and always measures the
/// same data.
fn samples(n: usize, base: f64, salt: u64) -> Vec<f64> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ salt;
    (0..n)
        .map(|_| {
            // xorshift64*, then a right-skewed transform of a uniform.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let u = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            base * (1.0 - 0.05 * (1.0 - u).ln())
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let old = samples(100, 2100.0, 1);
    let new = samples(100, 2150.0, 2);

    c.bench_function("stats/bootstrap_ratio_ci/100x100/b2000", |b| {
        b.iter(|| {
            bootstrap_ratio_ci(
                black_box(&old),
                black_box(&new),
                0.95,
                DEFAULT_RESAMPLES,
                42,
            )
            .unwrap()
        })
    });
    c.bench_function("stats/mann_whitney/100x100", |b| {
        b.iter(|| mann_whitney(black_box(&old), black_box(&new)).unwrap())
    });
    let go_old = samples(10, 3200.0, 3);
    let go_new = samples(10, 3250.0, 4);
    c.bench_function("stats/mann_whitney_exact/10x10", |b| {
        b.iter(|| mann_whitney(black_box(&go_old), black_box(&go_new)).unwrap())
    });
    let big_old = samples(50, 3200.0, 5);
    let big_new = samples(50, 3250.0, 6);
    c.bench_function("stats/mann_whitney_exact/50x50", |b| {
        b.iter(|| mann_whitney(black_box(&big_old), black_box(&big_new)).unwrap())
    });

    // One full comparison as `gate compare` does it per benchmark.
    c.bench_function("stats/compare_one/100x100", |b| {
        b.iter(|| {
            let reach = significance_reachable(old.len(), new.len(), 0.05 / 200.0);
            let mw = mann_whitney(black_box(&old), black_box(&new)).unwrap();
            let ci_old = median_ci(black_box(&old), 0.95).unwrap();
            let ci_new = median_ci(black_box(&new), 0.95).unwrap();
            let ratio = bootstrap_ratio_ci(
                black_box(&old),
                black_box(&new),
                0.95,
                DEFAULT_RESAMPLES,
                42,
            )
            .unwrap();
            (reach, mw, ci_old, ci_new, ratio)
        })
    });
    let ps: Vec<f64> = (0..200).map(|i| (i as f64 + 0.5) / 200.0).collect();
    c.bench_function("stats/holm/200", |b| b.iter(|| holm(black_box(&ps))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
