//! Rows of two independent sets of samples (a stored baseline, Go, or
//! `gate compare`): the Mann-Whitney test, and the bootstrap interval of
//! the ratio of medians, widened by the spread between whole runs when a
//! side records its run medians.

use super::{Options, RowKind, WarningKind};
use crate::model::Benchmark;
use crate::stats;

/// Metric holding the median of each fresh run pooled into a benchmark
/// (`gate baseline update --runs`, `gate check --base` rounds).
pub const RUN_MEDIANS: &str = "run_median_ns";

/// How much to widen a ratio interval (in log units) for the variation
/// between whole runs, when either side records its run medians.
///
/// Why: criterion's samples of one run share that run's luck (page
/// placement, CPU frequency, a neighbour's load), so the bootstrap interval
/// describes one run, and two runs of the same code differ by more than it
/// allows: the main source of false alarms (measured with `gate power`). The
/// run medians give the between-run spread `s` (pooled sd of log medians);
/// the centre of a side pooled from `k` runs varies by `s / sqrt(k)`, so the
/// interval is widened by `t * s * sqrt(1/k_old + 1/k_new)`, `t` the Student
/// quantile at `1 - alpha/2` with the degrees of freedom of `s`. Returns
/// (widening, s, runs) or None when no side has two runs.
pub fn between_run_widening(
    old: &Benchmark,
    new: &Benchmark,
    alpha: f64,
) -> Option<(f64, f64, usize)> {
    let logs = |b: &Benchmark| -> Vec<f64> {
        b.metrics
            .get(RUN_MEDIANS)
            .map(|v| v.iter().filter(|x| **x > 0.0).map(|x| x.ln()).collect())
            .unwrap_or_default()
    };
    let (lo, ln) = (logs(old), logs(new));
    let mut ss = 0.0;
    let mut df = 0usize;
    let mut runs = 0usize;
    for side in [&lo, &ln] {
        if side.len() >= 2 {
            let mean = side.iter().sum::<f64>() / side.len() as f64;
            ss += side.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
            df += side.len() - 1;
            runs += side.len();
        }
    }
    if df == 0 {
        return None;
    }
    let s = (ss / df as f64).sqrt();
    let k_old = lo.len().max(1) as f64;
    let k_new = ln.len().max(1) as f64;
    // `s` comes from a handful of runs (2 degrees of freedom for a baseline
    // of 3): Student's t with those degrees of freedom, not the normal
    // quantile, which would take the estimate for the truth (1.96 against
    // 4.30 at 2 df) and flag runs that merely landed apart.
    let t = statrs::distribution::StudentsT::new(0.0, 1.0, df as f64)
        .map(|d| statrs::distribution::ContinuousCDF::inverse_cdf(&d, 1.0 - alpha / 2.0))
        .unwrap_or(f64::INFINITY);
    Some((t * s * (1.0 / k_old + 1.0 / k_new).sqrt(), s, runs))
}

/// A stable seed per row, so that the bootstrap gives the same interval for
/// the same data on every machine and every run (FNV-1a of the id).
fn seed_for(id: &str, kind: RowKind) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes().chain([kind as u8]) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The figures of a stored row, before the family's correction.
pub(super) struct StoredTest {
    /// Mann-Whitney p-value.
    pub p_value: f64,
    /// Interval of the ratio of medians new/old, widened as said above.
    pub ratio_ci: [f64; 2],
    pub warnings: Vec<(WarningKind, String)>,
}

/// Tests `old` against `new` as independent samples.
pub(super) fn test(
    id: &str,
    kind: RowKind,
    old: &Benchmark,
    new: &Benchmark,
    opts: &Options,
) -> anyhow::Result<StoredTest> {
    let confidence = 1.0 - opts.alpha;
    let mw = stats::mann_whitney(&old.samples, &new.samples);
    let ci = stats::bootstrap_ratio_ci(
        &old.samples,
        &new.samples,
        confidence,
        opts.resamples,
        seed_for(id, kind),
    );
    let (mw, ci) = (mw?, ci?);
    let (mut lo, mut hi) = (ci.lower, ci.upper);
    let mut warnings = Vec::new();
    if let Some((w, s, runs)) = between_run_widening(old, new, opts.alpha) {
        lo *= (-w).exp();
        hi *= w.exp();
        warnings.push((
            WarningKind::IntervalWidened,
            format!(
                "interval widened by ±{:.1}% for the variation between whole runs \
             (sd {:.1}% of the medians of {runs} runs)",
                (w.exp() - 1.0) * 100.0,
                s * 100.0
            ),
        ));
    }
    Ok(StoredTest {
        p_value: mw.p_value,
        ratio_ci: [lo, hi],
        warnings,
    })
}
