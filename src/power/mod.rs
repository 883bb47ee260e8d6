//! `gate power`: how often the gate's decision cries wolf on this machine,
//! and how small a slowdown it catches.
//!
//! Two figures per bench, from real measurements (`docs/power.md` says how to
//! read them):
//!
//! - **false-alarm rate** (A/A): the share of checks of *unchanged* code that
//!   the full decision would fail: baseline from one run, new figures from
//!   another run, confirmation from a third, each a fresh process;
//! - **min_detectable** (A/B): the smallest slowdown `d` (a fraction, 0.05 is
//!   5%) that the same decision flags, confirmation included, in at least 95%
//!   of checks, when the new side's measured samples are scaled by `1 + d`.
//!
//! How (and why):
//!
//! 1. The configured benches run `R` times within the budget, the whole
//!    selection per pass, each id in its own process (`run.rs`, the settings
//!    of `gate check` or of `--quick`, whichever leaves room for the runs of
//!    a default baseline, a check and its confirmations). Every sample of
//!    every run is kept per id. Between-run variation (a new process,
//!    another page placement, a neighbour's load) is what makes gates
//!    false-alarm, so the sides of a simulated check always come from
//!    *different* runs, never from two halves of one.
//! 2. A replicate is a tuple of distinct runs, each kept whole: `B` runs
//!    pooled as the baseline (`gate baseline update --runs B`, with each
//!    run's median, so the decision widens its interval by their spread as
//!    `gate check` does), one run as the new side, one more per
//!    confirmation. Runs are not resampled inside: a run's samples already
//!    carry its within-run noise (resampling them would count it twice).
//!    When the runs allow no more distinct tuples than the
//!    replicates, every tuple is decided once; otherwise tuples are drawn
//!    at random.
//! 3. Each side pair is decided by [`verdict::decide`] itself (a family of
//!    one row): its Mann-Whitney p-value and its bootstrap interval of the
//!    ratio of medians, with the config's alpha and the gate's seed. A
//!    replicate is a false alarm when the first pair *and* every
//!    confirmation pair (same baseline, next run) regress.
//! 4. The slowdown is a pure multiplicative shift of a measured
//!    distribution. Scaling the new side by `1 + d` scales the bootstrap
//!    interval by exactly `1 + d` (same seed, same draws; the widening
//!    depends on the baseline's runs only), so the interval condition
//!    `lower > 1 + tolerance` gives the smallest `d` directly; the p-value
//!    is recomputed for each `d` on the 0.5% grid (it is monotone in `d`
//!    where the interval condition holds). One set of replicates answers
//!    every tolerance and confirmation count. The tests check that the
//!    shortcut agrees with calling `decide` on the scaled samples.
//! 5. Holm: in a check, a row's p-value is Holm-adjusted across the `m` rows
//!    of the check. Holm can only raise a p-value, and never above `m * p`.
//!    So the false-alarm rate is computed per bench (no correction: an upper
//!    bound) and detection with `m * p` (Bonferroni: a lower bound).
//!
//! What it does not model: the re-judging of a confirmed regression on the
//! runner (`arbitrate`, `src/pipeline/arbitrate.rs`), which can only remove false
//! alarms, and drift of the host over hours, which runs measured within
//! minutes do not show.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use comfy_table::Cell;

use gate_core::report::table::{new_table, right};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};

use gate_core::config::{Config, FloorConfig};
use gate_core::figures::fmt_ns;
use gate_core::model::{BenchId, Benchmark, Lang, Mode};
use gate_core::stats;
use gate_core::verdict::{self, Options, Pairing, RowKind};
use gate_runner::run::{self, ProgressMode, Settings};

pub mod lockstep;
pub mod pairs;
pub mod sequential;

/// Step of the slowdown grid: 0.5%.
pub const STEP: f64 = 0.005;
/// Largest slowdown tried: 50%. Beyond it a bench is reported as "not
/// detected" (`min_detectable: null`).
pub const MAX_STEPS: usize = 100;
/// Detection probability that defines `min_detectable`.
pub const DETECTION: f64 = 0.95;
/// Confidence of the bounds reported with the rates (one-sided,
/// Clopper-Pearson).
pub const BOUND_CONFIDENCE: f64 = 0.95;
/// Replicates per bench when the budget allows.
pub const DEFAULT_REPLICATES: usize = 1000;
/// Fewest replicates the analysis is cut down to when time is short.
pub const MIN_REPLICATES: usize = 200;
/// Most measurement passes (more add little once the between-run spread is
/// well represented, and the analysis grows with them only slightly).
pub const MAX_RUNS: usize = 40;
/// Runs `gate baseline update` pools by default (`--runs`).
pub const BASELINE_RUNS: u32 = 3;
/// Tolerances always tried besides the config's.
pub const SWEEP_TOLERANCES: [f64; 6] = [0.0, 0.01, 0.02, 0.03, 0.04, 0.05];
/// Confirmation counts always tried besides the config's (when the runs allow).
pub const SWEEP_CONFIRMS: [u32; 3] = [0, 1, 2];
/// The figures: at most this false-alarm rate per bench...
pub const TARGET_FALSE_ALARM: f64 = 0.01;
/// ... and this slowdown detected with [`DETECTION`] probability.
pub const TARGET_SLOWDOWN: f64 = 0.05;

/// Every sample of every run of one bench: `runs[r]` holds the per-sample
/// ns/op of run `r`, each run a fresh process.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRuns {
    pub id: String,
    pub runs: Vec<Vec<f64>>,
}

/// What the analysis tries.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The decision's significance level (also sets the interval: 1 - alpha).
    pub alpha: f64,
    /// Rows of a check of this selection: detection needs `family * p < alpha`.
    pub family: usize,
    /// Replicates per bench.
    pub replicates: usize,
    /// Tolerances to estimate (sorted, without repeats).
    pub tolerances: Vec<f64>,
    /// Confirmation counts to estimate (sorted, without repeats).
    pub confirms: Vec<u32>,
    /// Fresh runs pooled into the stored baseline (`gate baseline update
    /// --runs`, default [`BASELINE_RUNS`]); each run's median is kept, so
    /// the decision widens its interval by the spread between them, as
    /// `gate check` does. Settings needing more runs than measured are
    /// skipped.
    pub baseline_runs: Vec<u32>,
    /// Seed of the replicate draws (mixed with the id).
    pub seed: u64,
    /// The benches whose slowdown figure counts.
    pub subjects: Subjects,
}

impl Analysis {
    /// The analysis of one decision only.
    pub fn single(tolerance: f64, alpha: f64, confirm: u32, family: usize) -> Analysis {
        Analysis {
            alpha,
            family: family.max(1),
            replicates: DEFAULT_REPLICATES,
            tolerances: vec![tolerance],
            confirms: vec![confirm],
            baseline_runs: vec![1],
            seed: 0x9e37_79b9_7f4a_7c15,
            subjects: Subjects::default(),
        }
    }
}

/// One bench's figures under one decision setting.
/// The figures of one decision on one bench, from its replicates: what
/// every kind of `gate power` reports per bench (flattened into the JSON
/// rows, so the contract's field names are written once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Replicates that were false alarms.
    pub false_alarms: usize,
    pub replicates: usize,
    /// `false_alarms / replicates`.
    pub false_alarm_rate: f64,
    /// One-sided 95% Clopper-Pearson upper bound of the rate (resampling
    /// error only: the finite number of runs is not in it).
    pub false_alarm_upper: f64,
    /// Smallest slowdown on the 0.5% grid detected in at least 95% of the
    /// replicates (0.05 is 5%); `None` when even 50% is not.
    pub min_detectable: Option<f64>,
    /// Share of replicates detected at `min_detectable` (at 50% when `None`).
    pub detected: f64,
    /// One-sided 95% Clopper-Pearson lower bound of `detected`.
    pub detected_lower: f64,
}

impl Figures {
    /// `rate [upper bound]`, as the tables show false alarms.
    pub fn false_alarm_text(&self) -> String {
        format!(
            "{} [{}]",
            pct(self.false_alarm_rate),
            pct(self.false_alarm_upper)
        )
    }

    /// `min detectable (share detected)`, as the tables show detection.
    pub fn detection_text(&self) -> String {
        format!("{} ({})", md_text(self.min_detectable), pct(self.detected))
    }

    /// The rates and their bounds from the counts.
    pub fn new(
        false_alarms: usize,
        detected: usize,
        replicates: usize,
        min_detectable: Option<f64>,
    ) -> Figures {
        let n = replicates.max(1) as f64;
        Figures {
            false_alarms,
            replicates,
            false_alarm_rate: false_alarms as f64 / n,
            false_alarm_upper: upper_bound(false_alarms, replicates, BOUND_CONFIDENCE),
            min_detectable,
            detected: detected as f64 / n,
            detected_lower: lower_bound(detected, replicates, BOUND_CONFIDENCE),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub tolerance: f64,
    pub confirm: u32,
    /// Runs pooled into the baseline.
    pub baseline_runs: u32,
    #[serde(flatten)]
    pub figures: Figures,
    /// Distinct tuples of real runs (baseline set, new, confirmations...)
    /// the measured runs allow; when there are no more than the
    /// replicates, every one of them was decided once.
    pub run_tuples: u64,
}

/// One bench's figures under every setting tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchPower {
    pub id: String,
    pub runs: usize,
    /// Samples per run (per side of a simulated check); the smallest if runs differ.
    pub samples: usize,
    /// Median of the runs' medians.
    pub median_ns: f64,
    /// Standard deviation of the log of the runs' medians (0.01 is about 1%):
    /// how far two runs of the same code land apart.
    pub between_run_spread: f64,
    /// Median of each run, in the order measured (drift shows here).
    pub run_medians_ns: Vec<f64>,
    pub estimates: Vec<Estimate>,
}

impl BenchPower {
    /// The estimate of a check against a stored baseline under this
    /// setting, with the most baseline runs tried.
    pub fn at(&self, tolerance: f64, confirm: u32) -> Option<&Estimate> {
        self.estimates
            .iter()
            .filter(|e| e.confirm == confirm && (e.tolerance - tolerance).abs() < 1e-12)
            .max_by_key(|e| e.baseline_runs)
    }

    /// The estimate under this setting, with `baseline_runs` runs pooled
    /// into the baseline.
    pub fn at_runs(&self, tolerance: f64, confirm: u32, baseline_runs: u32) -> Option<&Estimate> {
        self.estimates.iter().find(|e| {
            e.confirm == confirm
                && e.baseline_runs == baseline_runs
                && (e.tolerance - tolerance).abs() < 1e-12
        })
    }
}

/// What deciding one pair (old, new) gave at `d = 0`.
#[derive(Debug, Clone, Copy)]
struct PairOutcome {
    /// Raw Mann-Whitney p-value (a family of one: Holm leaves it alone).
    p: f64,
    /// Lower bound of the bootstrap interval of new/old.
    lower: f64,
}

fn benchmark(id: &str, samples: Vec<f64>, run_medians: &[f64]) -> Benchmark {
    let (mode, threads) = BenchId::parse(id)
        .map(|b| (b.mode, b.threads))
        .unwrap_or((Mode::Sequential, 1));
    let mut b = Benchmark::new(id, Lang::Rust, mode, threads, samples);
    if run_medians.len() >= 2 {
        b.metrics
            .insert(verdict::RUN_MEDIANS.to_string(), run_medians.to_vec());
    }
    b
}

/// Decides `new` (one run) against `old` (the samples of the baseline's
/// runs pooled, with each run's median in `old_run_medians`, as `gate
/// baseline update` stores them) with the gate's own [`verdict::decide`],
/// as a Rust-vs-Rust row of a family of one. Returns the row's verdict
/// too, for the tests that check the shortcut.
pub fn decide_pair(
    id: &str,
    old: &[f64],
    old_run_medians: &[f64],
    new: &[f64],
    tolerance: f64,
    alpha: f64,
) -> (verdict::RowVerdict, Option<f64>, Option<[f64; 2]>) {
    let (o, n) = (
        benchmark(id, old.to_vec(), old_run_medians),
        benchmark(id, new.to_vec(), &[]),
    );
    let pairing = Pairing {
        id: id.to_string(),
        kind: RowKind::RustVsRust,
        mode: o.mode,
        threads: o.threads,
        old: Some(&o),
        new: Some(&n),
        go: None,
        max_ratio: None,
        warnings: vec![],
    };
    let opts = Options {
        tolerance,
        alpha,
        ..Options::default()
    };
    let (rows, _) = verdict::decide(&[pairing], &opts);
    let row = &rows[0];
    (row.verdict, row.p_value, row.ratio_ci)
}

fn outcome(
    id: &str,
    old: &[f64],
    old_run_medians: &[f64],
    new: &[f64],
    alpha: f64,
) -> Option<PairOutcome> {
    // The tolerance does not change the p-value nor the interval.
    let (_, p, ci) = decide_pair(id, old, old_run_medians, new, 0.0, alpha);
    match (p, ci) {
        (Some(p), Some([lower, _])) if p.is_finite() && lower.is_finite() => {
            Some(PairOutcome { p, lower })
        }
        // Insufficient or incomparable: such a pair never flags.
        _ => None,
    }
}

fn scaled(samples: &[f64], d: f64) -> Vec<f64> {
    samples.iter().map(|v| v * (1.0 + d)).collect()
}

/// Raw Mann-Whitney p-value of `new * (1 + d)` against `old`.
fn p_at(old: &[f64], new: &[f64], d: f64) -> f64 {
    if d == 0.0 {
        return stats::mann_whitney(old, new).map_or(1.0, |m| m.p_value);
    }
    stats::mann_whitney(old, &scaled(new, d)).map_or(1.0, |m| m.p_value)
}

/// Smallest grid index `i` with `lower * (1 + i STEP) > 1 + tolerance`.
fn first_index_above(lower: f64, tolerance: f64) -> usize {
    let limit = 1.0 + tolerance;
    let mut i = (((limit / lower - 1.0) / STEP).ceil().max(0.0)) as usize;
    i = i.min(MAX_STEPS + 1);
    while i <= MAX_STEPS && lower * (1.0 + i as f64 * STEP) <= limit {
        i += 1;
    }
    while i > 0 && lower * (1.0 + (i - 1) as f64 * STEP) > limit {
        i -= 1;
    }
    i
}

/// The outcome of one replicate, for every setting of the analysis.
struct Replicate {
    /// By confirmation count index: alarm iff tolerance < threshold.
    alarm_below: Vec<f64>,
    /// By (confirm index, tolerance index): grid index of the smallest
    /// detected slowdown, `None` beyond the grid.
    detect_at: Vec<Vec<Option<usize>>>,
}

/// Decides one replicate: `old` (with its runs' medians) and the new sides
/// (first, then confirmations).
fn replicate(
    id: &str,
    old: &[f64],
    old_run_medians: &[f64],
    news: &[&[f64]],
    a: &Analysis,
) -> Replicate {
    let pairs: Vec<Option<PairOutcome>> = news
        .iter()
        .map(|n| outcome(id, old, old_run_medians, n, a.alpha))
        .collect();
    // p-values of pair j at grid index i, computed on demand.
    let mut p_cache: Vec<BTreeMap<usize, f64>> = vec![BTreeMap::new(); news.len()];
    let family = a.family.max(1) as f64;
    let mut alarm_below = Vec::with_capacity(a.confirms.len());
    let mut detect_at = Vec::with_capacity(a.confirms.len());
    for &c in &a.confirms {
        let used = &pairs[..=c as usize];
        // A/A: every pair significant (per bench, no Holm) and above 1 + t.
        let threshold = if used.iter().all(|p| p.is_some_and(|p| p.p < a.alpha)) {
            used.iter()
                .map(|p| p.unwrap().lower - 1.0)
                .fold(f64::INFINITY, f64::min)
        } else {
            f64::NEG_INFINITY
        };
        alarm_below.push(threshold);
        // A/B: smallest grid slowdown at which every pair regresses, with
        // the Bonferroni bound of Holm.
        let mut per_tol = Vec::with_capacity(a.tolerances.len());
        for &t in &a.tolerances {
            if used.iter().any(Option::is_none) {
                per_tol.push(None);
                continue;
            }
            let lower = used
                .iter()
                .map(|p| p.unwrap().lower)
                .fold(f64::INFINITY, f64::min);
            let mut i = first_index_above(lower, t);
            let found = loop {
                if i > MAX_STEPS {
                    break None;
                }
                let d = i as f64 * STEP;
                let all_significant = (0..=c as usize).all(|j| {
                    let p = *p_cache[j].entry(i).or_insert_with(|| p_at(old, news[j], d));
                    family * p < a.alpha
                });
                if all_significant {
                    break Some(i);
                }
                i += 1;
            };
            per_tol.push(found);
        }
        detect_at.push(per_tol);
    }
    Replicate {
        alarm_below,
        detect_at,
    }
}

fn seed_for(id: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `k` distinct run indices out of `r`, in random order.
fn pick(rng: &mut ChaCha8Rng, r: usize, k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..r).collect();
    for i in 0..k {
        let j = rng.random_range(i..r);
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx
}

/// One-sided Clopper-Pearson upper bound of a binomial proportion.
pub fn upper_bound(successes: usize, trials: usize, confidence: f64) -> f64 {
    if trials == 0 || successes >= trials {
        return 1.0;
    }
    Beta::new(successes as f64 + 1.0, (trials - successes) as f64)
        .map(|b| b.inverse_cdf(confidence))
        .unwrap_or(1.0)
}

/// One-sided Clopper-Pearson lower bound of a binomial proportion.
pub fn lower_bound(successes: usize, trials: usize, confidence: f64) -> f64 {
    if trials == 0 || successes == 0 {
        return 0.0;
    }
    Beta::new(successes as f64, (trials - successes + 1) as f64)
        .map(|b| b.inverse_cdf(1.0 - confidence))
        .unwrap_or(0.0)
}

fn log_sd(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (logs.len() - 1) as f64).sqrt()
}

/// Distinct tuples of `set` baseline runs (unordered) and `tail` further
/// runs (ordered: the new side, then confirmations) out of `r` runs:
/// `C(r, set) * (r - set)! / (r - set - tail)!`.
fn tuple_count(r: usize, set: usize, tail: usize) -> u64 {
    if set + tail > r {
        return 0;
    }
    let mut c: u128 = 1;
    for i in 0..set {
        // C(r, i + 1) = C(r, i) * (r - i) / (i + 1), exact at every step.
        c = c * (r - i) as u128 / (i + 1) as u128;
    }
    for i in 0..tail {
        c = c.saturating_mul((r - set - i) as u128);
    }
    c.min(u128::from(u64::MAX)) as u64
}

/// Every increasing `k`-subset of `0..n`.
fn combinations(n: usize, k: usize, start: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if cur.len() == k {
        out.push(cur.clone());
        return;
    }
    for i in start..n {
        cur.push(i);
        combinations(n, k, i + 1, cur, out);
        cur.pop();
    }
}

/// Every ordered `k`-tuple of distinct elements of `from`.
fn arrangements(from: &[usize], k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if cur.len() == k {
        out.push(cur.clone());
        return;
    }
    for &i in from {
        if !cur.contains(&i) {
            cur.push(i);
            arrangements(from, k, cur, out);
            cur.pop();
        }
    }
}

/// Every tuple of [`tuple_count`]: the baseline set first, then the tail.
fn every_tuple(r: usize, set: usize, tail: usize) -> Vec<Vec<usize>> {
    let mut sets = Vec::new();
    combinations(r, set, 0, &mut Vec::new(), &mut sets);
    let mut out = Vec::new();
    for s in sets {
        let rest: Vec<usize> = (0..r).filter(|i| !s.contains(i)).collect();
        let mut tails = Vec::new();
        arrangements(&rest, tail, &mut Vec::new(), &mut tails);
        for t in tails {
            let mut v = s.clone();
            v.extend(t);
            out.push(v);
        }
    }
    out
}

/// Estimates one bench's false-alarm rate and smallest detectable slowdown
/// under every setting of `a`.
///
/// A replicate is a tuple of distinct measured runs, each kept whole: the
/// baseline's runs pooled (with their medians, so the interval is widened
/// by their spread as in `gate check`), the new run, and one run per
/// confirmation. Runs are never resampled inside: a run's samples already
/// carry its noise, and resampling them would count it twice. When the
/// runs allow no more distinct tuples than `a.replicates`, every tuple is
/// decided once (the figures are then exact for these runs); otherwise
/// `a.replicates` tuples are drawn at random. Needs at least
/// `min(baseline_runs) + 1 + max(confirms)` runs; settings that need more
/// runs than there are are skipped.
pub fn analyse(b: &BenchRuns, a: &Analysis) -> Result<BenchPower> {
    let confirm_max = a.confirms.iter().copied().max().unwrap_or(0) as usize;
    let least_set = a.baseline_runs.iter().copied().min().unwrap_or(1).max(1) as usize;
    let least = least_set + 1 + confirm_max;
    let r = b.runs.len();
    if r < least {
        bail!(
            "{}: {r} run(s); a baseline of {least_set} run(s), a check and {confirm_max} confirmation(s) \
             need {least} distinct runs",
            b.id
        );
    }
    if let Some(i) = b.runs.iter().position(|s| s.is_empty()) {
        bail!("{}: run {} has no samples", b.id, i + 1);
    }
    let medians: Vec<f64> = b
        .runs
        .iter()
        .map(|s| stats::median(s).unwrap_or(f64::NAN))
        .collect();
    let mut estimates = Vec::new();
    for &set_runs in &a.baseline_runs {
        let set = set_runs.max(1) as usize;
        let confirms: Vec<u32> = a
            .confirms
            .iter()
            .copied()
            .filter(|&c| set + 1 + c as usize <= r)
            .collect();
        let Some(&cmax) = confirms.iter().max() else {
            continue;
        };
        let sub = Analysis {
            confirms: confirms.clone(),
            ..a.clone()
        };
        let tail = 1 + cmax as usize;
        let run_tuples = tuple_count(r, set, tail);
        let tuples: Vec<Vec<usize>> = if run_tuples <= a.replicates as u64 {
            every_tuple(r, set, tail)
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(seed_for(&b.id, a.seed ^ u64::from(set_runs)));
            (0..a.replicates)
                .map(|_| pick(&mut rng, r, set + tail))
                .collect()
        };
        let reps: Vec<Replicate> = tuples
            .iter()
            .map(|t| {
                let (base, rest) = t.split_at(set);
                let old: Vec<f64> = base
                    .iter()
                    .flat_map(|&i| b.runs[i].iter().copied())
                    .collect();
                let old_medians: Vec<f64> = base.iter().map(|&i| medians[i]).collect();
                let news: Vec<&[f64]> = rest.iter().map(|&i| b.runs[i].as_slice()).collect();
                replicate(&b.id, &old, &old_medians, &news, &sub)
            })
            .collect();
        let n = reps.len();
        let need = (DETECTION * n as f64 - 1e-9).ceil() as usize;
        for (ci, &c) in confirms.iter().enumerate() {
            for (ti, &t) in a.tolerances.iter().enumerate() {
                let false_alarms = reps.iter().filter(|x| t < x.alarm_below[ci]).count();
                let mut at: Vec<usize> = reps
                    .iter()
                    .map(|x| x.detect_at[ci][ti].unwrap_or(usize::MAX))
                    .collect();
                at.sort_unstable();
                let idx = at.get(need.max(1) - 1).copied().unwrap_or(usize::MAX);
                let min_detectable = (idx <= MAX_STEPS).then_some(idx as f64 * STEP);
                let cut = idx.min(MAX_STEPS);
                let detected = at.iter().filter(|&&i| i <= cut).count();
                estimates.push(Estimate {
                    tolerance: t,
                    confirm: c,
                    baseline_runs: set_runs,
                    figures: Figures::new(false_alarms, detected, n, min_detectable),
                    run_tuples,
                });
            }
        }
    }
    let finite: Vec<f64> = medians.iter().copied().filter(|m| m.is_finite()).collect();
    Ok(BenchPower {
        id: b.id.clone(),
        runs: r,
        samples: b.runs.iter().map(Vec::len).min().unwrap_or(0),
        median_ns: stats::median(&finite).unwrap_or(f64::NAN),
        between_run_spread: log_sd(&finite),
        run_medians_ns: finite,
        estimates,
    })
}

/// [`analyse`] for every bench, on all cores, in the order given.
pub fn analyse_all(benches: &[BenchRuns], a: &Analysis) -> Result<Vec<BenchPower>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(benches.len().max(1));
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<BenchPower>>>> =
        Mutex::new((0..benches.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= benches.len() {
                        break;
                    }
                    let r = analyse(&benches[i], a);
                    out.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    out.into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every bench analysed"))
        .collect()
}

/// The worst figures of the suite under one setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub tolerance: f64,
    pub confirm: u32,
    /// Runs pooled into the stored baseline.
    pub baseline_runs: u32,
    /// Highest false-alarm rate of any bench, and its upper bound.
    pub worst_false_alarm_rate: f64,
    pub worst_false_alarm_upper: f64,
    /// Largest `min_detectable` of the benches the slowdown figure is about
    /// (see [`Subjects`]);
    /// `None` when one of them is not detected within 50%.
    pub worst_min_detectable: Option<f64>,
    /// Both figures of the issue met: every false-alarm upper bound at most
    /// 1%, and a 5% slowdown detected with 95% probability.
    pub meets: bool,
}

/// Which benches the slowdown figure is about: every bench but the machine's
/// floor benches (`floor:` in `gate.yaml`: they measure the machine, not the
/// code), or every bench when only floor benches were measured.
#[derive(Debug, Clone)]
pub struct Subjects {
    floor: FloorConfig,
    only_floor: bool,
}

impl Subjects {
    /// The subjects among `ids` under the configured floor benches.
    pub fn new<'a>(floor: &FloorConfig, ids: impl IntoIterator<Item = &'a str>) -> Self {
        let only_floor = ids.into_iter().all(|id| floor.is_floor(id));
        Subjects {
            floor: floor.clone(),
            only_floor,
        }
    }

    /// Whether the slowdown figure counts for bench `id`.
    pub fn counts(&self, id: &str) -> bool {
        self.only_floor || !self.floor.is_floor(id)
    }
}

/// Every bench counts: no floor bench is configured.
impl Default for Subjects {
    fn default() -> Self {
        Subjects {
            floor: FloorConfig {
                mprotect_pair: None,
                syscall: None,
                scales: Vec::new(),
            },
            only_floor: false,
        }
    }
}

/// Suite-level figures for every setting tried.
pub fn candidates(powers: &[BenchPower], a: &Analysis) -> Vec<Candidate> {
    let mut out = Vec::new();
    for &set_runs in &a.baseline_runs {
        for &c in &a.confirms {
            for &t in &a.tolerances {
                let ests: Vec<(&BenchPower, &Estimate)> = powers
                    .iter()
                    .filter_map(|p| p.at_runs(t, c, set_runs).map(|e| (p, e)))
                    .collect();
                if ests.len() < powers.len() {
                    // Not enough runs for this setting.
                    continue;
                }
                let worst_rate = ests
                    .iter()
                    .map(|(_, e)| e.figures.false_alarm_rate)
                    .fold(0.0, f64::max);
                let worst_upper = ests
                    .iter()
                    .map(|(_, e)| e.figures.false_alarm_upper)
                    .fold(0.0, f64::max);
                let mut worst_md = Some(0.0f64);
                for (p, e) in &ests {
                    if !a.subjects.counts(&p.id) {
                        continue;
                    }
                    worst_md = match (worst_md, e.figures.min_detectable) {
                        (Some(w), Some(m)) => Some(w.max(m)),
                        _ => None,
                    };
                }
                let meets = worst_upper <= TARGET_FALSE_ALARM
                    && worst_md.is_some_and(|m| m <= TARGET_SLOWDOWN + 1e-9);
                out.push(Candidate {
                    tolerance: t,
                    confirm: c,
                    baseline_runs: set_runs,
                    worst_false_alarm_rate: worst_rate,
                    worst_false_alarm_upper: worst_upper,
                    worst_min_detectable: worst_md,
                    meets,
                });
            }
        }
    }
    out
}

/// One JSON row of `gate power --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerRow {
    pub id: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// Samples per run, i.e. per side of each simulated check.
    pub samples: usize,
    pub runs: usize,
    /// Distinct pairs of runs, `runs (runs - 1) / 2`.
    pub pairs: usize,
    /// Runs pooled into the baseline of each simulated check.
    pub baseline_runs: u32,
    /// Distinct tuples of runs (baseline set, new, confirmations) decided
    /// or drawn from (see [`analyse`]).
    pub run_tuples: u64,
    pub between_run_spread: f64,
    pub median_ns: f64,
    /// Median of each run, in the order measured.
    pub run_medians_ns: Vec<f64>,
}

/// The settings a `gate power` measured and decided with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerSettings {
    /// `normal` (the settings of `gate check`) or `quick` (`gate check --quick`).
    pub criterion: String,
    pub sample_size: u32,
    pub measurement_secs: f64,
    pub warm_up_secs: f64,
    pub tolerance: f64,
    pub alpha: f64,
    pub confirm: u32,
    pub family: usize,
    pub replicates: usize,
    pub budget_secs: u64,
    pub build_secs: f64,
    pub elapsed_secs: f64,
    pub runs: usize,
    /// Runs pooled into the baseline of the configured figures (the
    /// default of `gate baseline update`, or fewer when the budget allowed
    /// no more runs).
    pub baseline_runs: u32,
}

/// What `gate power --json` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerReport {
    pub schema: u32,
    pub settings: PowerSettings,
    pub rows: Vec<PowerRow>,
    pub candidates: Vec<Candidate>,
    /// The figures met with the configured tolerance and confirm.
    pub figures_met: bool,
    pub notes: Vec<String>,
}

/// Builds the report rows at the configured setting.
pub fn rows_at(powers: &[BenchPower], tolerance: f64, confirm: u32) -> Vec<PowerRow> {
    powers
        .iter()
        .filter_map(|p| {
            let e = p.at(tolerance, confirm)?;
            Some(PowerRow {
                id: p.id.clone(),
                figures: e.figures.clone(),
                samples: p.samples,
                runs: p.runs,
                pairs: p.runs * p.runs.saturating_sub(1) / 2,
                baseline_runs: e.baseline_runs,
                run_tuples: e.run_tuples,
                between_run_spread: p.between_run_spread,
                median_ns: p.median_ns,
                run_medians_ns: p.run_medians_ns.clone(),
            })
        })
        .collect()
}

fn pct(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    format!("{:.1}%", x * 100.0)
}

fn md_text(m: Option<f64>) -> String {
    m.map_or(format!("> {}", pct(MAX_STEPS as f64 * STEP)), pct)
}

/// The terminal rendering: one row per bench, then the settings tried.
pub fn render(report: &PowerReport) -> String {
    let s = &report.settings;
    let mut out = String::new();
    out.push_str(&format!(
        "gate power: {} runs of each bench ({} settings: {} samples, {} s measurement), \
         {} replicates per bench; decision: tolerance {}, alpha {}, confirm {}, {} rows in a check\n",
        s.runs,
        s.criterion,
        s.sample_size,
        s.measurement_secs,
        s.replicates,
        pct(s.tolerance),
        s.alpha,
        s.confirm,
        s.family
    ));
    let mut t = new_table(vec![
        "bench",
        "median",
        "runs x samples",
        "between runs (sd)",
        "baseline runs",
        "false alarms [95% upper]",
        "run tuples",
        "min detectable (P detect)",
    ]);
    for r in &report.rows {
        t.add_row(vec![
            Cell::new(&r.id),
            right(fmt_ns(r.median_ns)),
            right(format!("{} x {}", r.runs, r.samples)),
            right(pct(r.between_run_spread)),
            right(r.baseline_runs.to_string()),
            right(r.figures.false_alarm_text()),
            right(r.run_tuples.to_string()),
            right(r.figures.detection_text()),
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');

    let mut c = new_table(vec![
        "baseline runs",
        "tolerance",
        "confirm",
        "worst false alarms [upper]",
        "worst min detectable",
        "issue figures",
    ]);
    for cand in &report.candidates {
        let configured = (cand.tolerance - s.tolerance).abs() < 1e-12
            && cand.confirm == s.confirm
            && cand.baseline_runs == s.baseline_runs;
        c.add_row(vec![
            Cell::new(cand.baseline_runs),
            Cell::new(format!(
                "{}{}",
                pct(cand.tolerance),
                if configured { " (config)" } else { "" }
            )),
            Cell::new(cand.confirm),
            right(format!(
                "{} [{}]",
                pct(cand.worst_false_alarm_rate),
                pct(cand.worst_false_alarm_upper)
            )),
            right(md_text(cand.worst_min_detectable)),
            Cell::new(if cand.meets { "met" } else { "-" }),
        ]);
    }
    out.push_str("settings tried on the same runs (worst bench of the suite):\n");
    out.push_str(&c.to_string());
    out.push('\n');
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// Sentences saying whether the figures are met, and with what.
fn conclusions(report: &PowerReport, subjects: &Subjects) -> Vec<String> {
    let s = &report.settings;
    let mut notes = Vec::new();
    let target = format!(
        "false alarms at most {} per bench (95% upper bound) and a {} slowdown detected with {} probability{}",
        pct(TARGET_FALSE_ALARM),
        pct(TARGET_SLOWDOWN),
        pct(DETECTION),
        if report.rows.iter().any(|r| !subjects.counts(&r.id)) {
            " (the floor benches aside)"
        } else {
            ""
        }
    );
    if report.figures_met {
        notes.push(format!(
            "figures MET with the configured tolerance {} and confirm {}: {target}",
            pct(s.tolerance),
            s.confirm
        ));
    } else {
        notes.push(format!(
            "figures NOT met with the configured tolerance {} and confirm {}: {target}",
            pct(s.tolerance),
            s.confirm
        ));
        if s.tolerance + 1e-9 >= TARGET_SLOWDOWN {
            notes.push(format!(
                "a tolerance of {} or more can never detect a {} slowdown 95% of the time: \
                 the interval's lower bound must clear 1 + tolerance, and it falls below the true ratio in about half the checks",
                pct(s.tolerance),
                pct(TARGET_SLOWDOWN)
            ));
        }
        let meeting: Vec<String> = report
            .candidates
            .iter()
            .filter(|c| c.meets)
            .map(|c| {
                format!(
                    "a baseline of {} run(s), tolerance {} with confirm {}",
                    c.baseline_runs,
                    pct(c.tolerance),
                    c.confirm
                )
            })
            .collect();
        if meeting.is_empty() {
            notes.push(
                "no tolerance/confirm setting tried meets both figures on these runs; \
                 more samples per run (the normal settings instead of quick) or a quieter runner may"
                    .into(),
            );
        } else {
            notes.push(format!(
                "settings that meet both on these runs: {}",
                meeting.join("; ")
            ));
        }
    }
    notes.push(format!(
        "the between-run part of the variation comes from {} real runs only: \
         the bounds in brackets cover the drawing of tuples, not the choice of runs, \
         and runs measured within minutes do not show how the host drifts over hours \
         (which `arbitrate` answers in `gate check`, README)",
        s.runs
    ));
    if s.criterion == "quick" {
        notes.push(
            "measured with the quick settings (those of `gate check --quick`) to fit enough runs in the budget; \
             the normal settings take more samples and are at least as sensitive"
                .into(),
        );
    }
    notes
}

/// The rows of a check of this selection: its ids, plus the Rust/Go pairs
/// of those ids.
pub(crate) fn family_size(config: &Config, ids: &[String]) -> usize {
    ids.len()
        + config
            .pairs
            .iter()
            .filter(|p| ids.contains(&p.rust))
            .count()
}

/// Seconds the analysis of `ids` benches is expected to take, from the cost
/// of deciding a few pairs of the first run.
fn analysis_estimate(first: &BTreeMap<String, Vec<f64>>, alpha: f64, decides: usize) -> f64 {
    let mut spent = Duration::ZERO;
    let mut done = 0usize;
    for (id, s) in first.iter().take(4) {
        let half = s.len() / 2;
        if half < 2 {
            continue;
        }
        let t = Instant::now();
        for _ in 0..3 {
            let _ = outcome(id, &s[..half], &[], &s[half..], alpha);
        }
        spent += t.elapsed();
        done += 3;
    }
    if done == 0 {
        return 0.0;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    // Half-size samples decide faster than whole ones, and the p-value
    // scans, the plain tuples and a loaded machine add more: a factor 3 in
    // all (on the subject suite with the quick settings, factor 1.5
    // under-estimated the analysis 3-fold, factor 3 by a quarter).
    3.0 * spent.as_secs_f64() / done as f64 * decides as f64 / threads
}

/// The selection built and listed for `gate power`, with a criterion home
/// of its own (removed with it).
pub(crate) struct Built {
    pub config: Config,
    pub plan: gate_runner::run::RunPlan,
    pub prepared: run::Prepared,
    /// When the build started, and how long it and the listing took (not
    /// counted in the budget: `gate check` pays it too).
    pub build_started: Instant,
    pub build_secs: f64,
    _home: tempfile::TempDir,
}

/// Builds and lists the benches `args` select, as `gate check` does.
pub(crate) fn build(args: &PowerOptions) -> Result<Built> {
    let config = Config::load(&args.config)?;
    let selection = crate::pipeline::plan::Selection {
        filter: args.filter.clone(),
        ..Default::default()
    };
    let mut plan = crate::pipeline::plan::plan_for(&config, &selection)?;
    let home = tempfile::Builder::new()
        .prefix("gate-power-")
        .tempdir()
        .context("creating a temporary criterion home")?;
    plan.criterion_home = home.path().join("criterion");
    if plan.progress == ProgressMode::Auto {
        plan.progress = ProgressMode::Lines;
    }
    let build_started = Instant::now();
    let prepared = run::prepare(&plan)?;
    Ok(Built {
        config,
        plan,
        prepared,
        build_started,
        build_secs: build_started.elapsed().as_secs_f64(),
        _home: home,
    })
}

/// A status line of `gate power` (`gate power: ...` on stderr).
fn say(message: impl std::fmt::Display) {
    gate_runner::progress::say_in("power", message);
}

/// What `gate power` measures, and how.
#[derive(Debug, Clone)]
pub struct PowerOptions {
    pub config: std::path::PathBuf,
    pub json: Option<std::path::PathBuf>,
    /// Seconds for the whole measurement and its analysis.
    pub budget: u64,
    pub filter: Option<String>,
    pub kind: Kind,
    /// Lockstep: decide the pairs saved in this report again.
    pub from: Option<std::path::PathBuf>,
}

/// The check `gate power` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `gate check --base`, the pull-request check.
    Lockstep,
    /// `gate check` against `baselines/`.
    Stored,
}

/// `gate power`: returns the rendered table (the JSON report is written
/// to `json` when given).
pub fn run(args: &PowerOptions) -> Result<String> {
    if args.kind == Kind::Lockstep {
        return lockstep::run(args);
    }
    if let Some(path) = &args.from {
        bail!(
            "--from {}: only `--kind lockstep` decides saved measurements again (its report keeps every \
             pair's ratios); a `--kind stored` report keeps no samples",
            path.display()
        );
    }
    let mut built = build(args)?;
    let ids = built.prepared.ids();
    let budget = args.budget as f64;
    let confirm = built.config.confirm;
    let (quick, settings) = choose_settings(&ids, budget, confirm)?;
    if quick {
        built.plan.quick = true;
        built.prepared = run::prepare(&built.plan)?;
    }
    let family = family_size(&built.config, &ids);
    say(format!(
        "{} bench(es), {} settings ({} samples); build and list took {:.1}s (not counted in the budget of {budget:.0}s)",
        ids.len(),
        if quick { "quick" } else { "normal" },
        settings.sample_size,
        built.build_secs,
    ));
    let measured = measure_runs(&built.prepared, &ids, budget, confirm, built.config.alpha)?;
    let config = &built.config;
    let r = measured.runs.values().map(Vec::len).min().unwrap_or(0);
    let analysis = Analysis {
        alpha: config.alpha,
        family,
        replicates: measured.replicates,
        tolerances: sweep_tolerances(config.tolerance),
        confirms: sweep_confirms(confirm, r),
        baseline_runs: sweep_baseline_runs(confirm, r),
        seed: 0x9e37_79b9_7f4a_7c15,
        subjects: Subjects::new(&config.floor, ids.iter().map(String::as_str)),
    };
    say(format!(
        "{r} runs measured in {:.0}s; analysing {} bench(es)",
        measured.started.elapsed().as_secs_f64(),
        ids.len()
    ));
    let mut runs = measured.runs;
    let benches: Vec<BenchRuns> = ids
        .iter()
        .map(|id| BenchRuns {
            id: id.clone(),
            runs: runs.remove(id).unwrap_or_default(),
        })
        .collect();
    let powers = analyse_all(&benches, &analysis)?;
    let settings = PowerSettings {
        criterion: if quick { "quick" } else { "normal" }.into(),
        sample_size: settings.sample_size,
        measurement_secs: settings.measurement_secs,
        warm_up_secs: settings.warm_up_secs,
        tolerance: config.tolerance,
        alpha: config.alpha,
        confirm,
        family,
        replicates: measured.replicates,
        budget_secs: args.budget,
        build_secs: built.build_secs,
        elapsed_secs: measured.started.elapsed().as_secs_f64(),
        runs: r,
        baseline_runs: analysis.baseline_runs.iter().copied().max().unwrap_or(1),
    };
    let report = power_report(settings, &powers, &analysis);
    if let Some(path) = &args.json {
        write_report(&report, path)?;
        say(format!("JSON written to {}", path.display()));
    }
    Ok(render(&report))
}

/// Settings: those of `gate check` when the runs of a default baseline
/// (`gate baseline update`), a check and its confirmations fit in 80% of
/// the budget, else the quick ones. Returns (quick, settings); an error
/// when even the fewest runs (`2 + confirm`) do not fit.
fn choose_settings(ids: &[String], budget: f64, confirm: u32) -> Result<(bool, Settings)> {
    let need = 2 + confirm as usize;
    let want = BASELINE_RUNS as usize + 1 + confirm as usize;
    let per_run = |s: Settings| s.estimated_per_bench().as_secs_f64() * ids.len() as f64;
    let quick = want as f64 * per_run(Settings::NORMAL) > 0.8 * budget;
    let settings = if quick {
        Settings::QUICK
    } else {
        Settings::NORMAL
    };
    if need as f64 * per_run(settings) > budget {
        bail!(
            "a budget of {budget:.0} s is too small: {need} runs (2 + confirm {confirm}) of {} bench(es) \
             at the quick settings take about {:.0} s; raise --budget or narrow --filter",
            ids.len(),
            need as f64 * per_run(settings)
        );
    }
    Ok((quick, settings))
}

/// The runs measured by [`measure_runs`].
struct Measured {
    /// Per id, every sample of every run.
    runs: BTreeMap<String, Vec<Vec<f64>>>,
    /// Replicates per bench the analysis can afford.
    replicates: usize,
    started: Instant,
}

/// Expected analysis time with `runs` runs and `replicates` replicates of
/// `benches` benches: every setting those runs allow, at `unit` seconds per
/// (bench x replicate x single-run decision).
fn analysis_secs(benches: usize, confirm: u32, runs: usize, replicates: usize, unit: f64) -> f64 {
    let decisions: usize = sweep_baseline_runs(confirm, runs)
        .into_iter()
        .map(|s| {
            let c = sweep_confirms(confirm, runs)
                .into_iter()
                .filter(|&c| s as usize + 1 + c as usize <= runs)
                .max()
                .unwrap_or(0);
            1 + c as usize
        })
        .sum();
    unit * (benches * replicates * decisions) as f64
}

/// Runs the whole selection again and again, each id in a fresh process,
/// until the next run and the analysis would not fit in the budget (at
/// least `2 + confirm` runs).
fn measure_runs(
    prepared: &run::Prepared,
    ids: &[String],
    budget: f64,
    confirm: u32,
    alpha: f64,
) -> Result<Measured> {
    let need = 2 + confirm as usize;
    let started = Instant::now();
    let mut runs: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    let mut longest = Duration::ZERO;
    // Seconds per (bench x replicate x single-run decision), from the first run.
    let mut unit_secs = 0.0;
    let mut replicates = DEFAULT_REPLICATES;
    let analysis = |r: usize, replicates: usize, unit: f64| {
        analysis_secs(ids.len(), confirm, r, replicates, unit)
    };
    loop {
        let done = runs.values().map(Vec::len).min().unwrap_or(0);
        let elapsed = started.elapsed().as_secs_f64();
        if done >= MAX_RUNS
            || (done >= need
                && elapsed + longest.as_secs_f64() + analysis(done + 1, replicates, unit_secs)
                    > budget)
        {
            break;
        }
        say(format!(
            "run {} ({} ids), elapsed {elapsed:.0}s of {budget:.0}s",
            done + 1,
            ids.len()
        ));
        let t = Instant::now();
        let first = run_once(prepared, ids, &mut runs)?;
        longest = longest.max(t.elapsed());
        if done == 0 {
            unit_secs = analysis_estimate(&first, alpha, 1);
            // Keep the analysis of the minimum number of runs under 40% of
            // what the budget leaves after them.
            let room = (budget - need as f64 * longest.as_secs_f64()).max(0.0);
            let at_need = analysis(need, replicates, unit_secs);
            if at_need > 0.4 * room && at_need > 0.0 {
                let scale = 0.4 * room / at_need;
                replicates = ((replicates as f64 * scale) as usize)
                    .clamp(MIN_REPLICATES, DEFAULT_REPLICATES);
            }
            let at_need = analysis(need, replicates, unit_secs);
            say(format!(
                "a run takes {:.1}s; analysis of {replicates} replicates per bench about {at_need:.0}s with {need} runs",
                longest.as_secs_f64()
            ));
            if need as f64 * longest.as_secs_f64() + at_need > budget {
                bail!(
                    "a budget of {budget:.0} s is too small: a run of the {} bench(es) took {:.0} s and the decision \
                     with confirm {confirm} needs {need} runs plus about {at_need:.0} s of analysis; \
                     raise --budget or narrow --filter",
                    ids.len(),
                    longest.as_secs_f64()
                );
            }
        }
    }
    Ok(Measured {
        runs,
        replicates,
        started,
    })
}

/// One run of every id: appends each id's samples to `runs`, and returns
/// them.
fn run_once(
    prepared: &run::Prepared,
    ids: &[String],
    runs: &mut BTreeMap<String, Vec<Vec<f64>>>,
) -> Result<BTreeMap<String, Vec<f64>>> {
    prepared.run_ids(ids)?;
    let parsed = gate_core::formats::read_criterion(&prepared.plan().criterion_home, None)
        .with_context(|| "reading the run's criterion results")?;
    let mut this = BTreeMap::new();
    for id in ids {
        let b = parsed
            .set
            .benchmarks
            .iter()
            .find(|b| &b.id == id)
            .with_context(|| format!("bench `{id}` wrote no results"))?;
        runs.entry(id.clone()).or_default().push(b.samples.clone());
        this.insert(id.clone(), b.samples.clone());
    }
    Ok(this)
}

/// The report of the stored check: the rows at the configured setting,
/// the settings table, and whether the configured setting meets the
/// figures.
fn power_report(
    settings: PowerSettings,
    powers: &[BenchPower],
    analysis: &Analysis,
) -> PowerReport {
    let candidates = candidates(powers, analysis);
    let figures_met = candidates.iter().any(|c| {
        c.meets
            && c.baseline_runs == settings.baseline_runs
            && c.confirm == settings.confirm
            && (c.tolerance - settings.tolerance).abs() < 1e-12
    });
    let mut report = PowerReport {
        schema: 1,
        rows: rows_at(powers, settings.tolerance, settings.confirm),
        settings,
        candidates,
        figures_met,
        notes: vec![],
    };
    report.notes = conclusions(&report, &analysis.subjects);
    report
}

/// The tolerances tried: [`SWEEP_TOLERANCES`] and the config's, sorted.
fn sweep_tolerances(configured: f64) -> Vec<f64> {
    let mut tolerances: Vec<f64> = SWEEP_TOLERANCES.to_vec();
    tolerances.push(configured);
    tolerances.sort_by(f64::total_cmp);
    tolerances.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
    tolerances
}

/// The confirmation counts tried: the config's and 0, 1, 2, those that `runs`
/// runs allow (a decision with `c` confirmations needs `2 + c` runs).
fn sweep_confirms(configured: u32, runs: usize) -> Vec<u32> {
    let mut c: Vec<u32> = SWEEP_CONFIRMS
        .iter()
        .copied()
        .filter(|&c| 2 + c as usize <= runs)
        .collect();
    c.push(configured);
    c.sort_unstable();
    c.dedup();
    c
}

/// Baseline sizes tried: 1 run, and [`BASELINE_RUNS`] (the default of
/// `gate baseline update`), those that `runs` runs allow with the
/// configured confirmations (`set + 1 + confirm` distinct runs).
fn sweep_baseline_runs(confirm: u32, runs: usize) -> Vec<u32> {
    let mut r: Vec<u32> = [1, BASELINE_RUNS]
        .into_iter()
        .filter(|&s| s as usize + 1 + confirm as usize <= runs)
        .collect();
    if r.is_empty() {
        r.push(1);
    }
    r.dedup();
    r
}

/// Writes the report as pretty JSON, atomically.
pub fn write_report(report: &PowerReport, path: &std::path::Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report).context("serialising the power report")?;
    gate_core::formats::write_atomic_bytes(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_bounds() {
        // 0 of 1000: the rule of three, 3/n, for 95%.
        let u = upper_bound(0, 1000, 0.95);
        assert!((0.0029..0.0031).contains(&u), "{u}");
        assert_eq!(upper_bound(5, 5, 0.95), 1.0);
        let l = lower_bound(1000, 1000, 0.95);
        assert!((0.9969..0.9971).contains(&l), "{l}");
        assert_eq!(lower_bound(0, 10, 0.95), 0.0);
    }

    #[test]
    fn first_index_above_is_the_smallest_grid_point() {
        assert_eq!(first_index_above(1.2, 0.05), 0);
        assert_eq!(first_index_above(1.0, 0.05), 11); // 1.055 > 1.05; 1.05 is not
        assert_eq!(first_index_above(0.5, 0.05), MAX_STEPS + 1);
        let i = first_index_above(0.98, 0.02);
        assert!(0.98 * (1.0 + i as f64 * STEP) > 1.02);
        assert!(0.98 * (1.0 + (i - 1) as f64 * STEP) <= 1.02);
    }

    /// The shortcut (interval scaled by 1 + d, p-value scanned on the grid)
    /// gives exactly what `verdict::decide` says on the scaled samples.
    #[test]
    fn the_shortcut_agrees_with_decide() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let a = Analysis {
            tolerances: vec![0.0, 0.02, 0.05],
            confirms: vec![0, 1],
            family: 3,
            replicates: 1,
            ..Analysis::single(0.05, 0.05, 1, 3)
        };
        let id = "synthetic/op/sequential";
        let mut checked_detect = 0;
        for case in 0..12 {
            let side = |rng: &mut ChaCha8Rng, shift: f64| -> Vec<f64> {
                (0..15)
                    .map(|_| 1000.0 * (1.0 + shift) * (1.0 + 0.04 * rng.random::<f64>()))
                    .collect()
            };
            let base = [0.0, 0.03, -0.02][case % 3];
            // A baseline of three runs pooled, with their medians: the
            // decision widens its interval by their spread, and the
            // shortcut must agree with that too.
            let runs: Vec<Vec<f64>> = [0.0, 0.01, -0.01]
                .iter()
                .map(|&o| side(&mut rng, o))
                .collect();
            let medians: Vec<f64> = runs.iter().map(|r| stats::median(r).unwrap()).collect();
            let old: Vec<f64> = runs.concat();
            let news = [side(&mut rng, base), side(&mut rng, base / 2.0)];
            let refs: Vec<&[f64]> = news.iter().map(Vec::as_slice).collect();
            let rep = replicate(id, &old, &medians, &refs, &a);
            for (ci, &c) in a.confirms.iter().enumerate() {
                for (ti, &t) in a.tolerances.iter().enumerate() {
                    let flags_at = |d: f64, family: f64| {
                        news[..=c as usize].iter().all(|n| {
                            let (v, p, _) =
                                decide_pair(id, &old, &medians, &scaled(n, d), t, a.alpha);
                            v == verdict::RowVerdict::Regressed
                                && p.is_some_and(|p| family * p < a.alpha)
                        })
                    };
                    assert_eq!(
                        t < rep.alarm_below[ci],
                        flags_at(0.0, 1.0),
                        "A/A, case {case}, confirm {c}, tolerance {t}"
                    );
                    let i = rep.detect_at[ci][ti].expect("detected within 50%");
                    let d = i as f64 * STEP;
                    assert!(
                        flags_at(d, 3.0),
                        "case {case} c {c} t {t}: not flagged at {d}"
                    );
                    if i > 0 {
                        let before = (i - 1) as f64 * STEP;
                        assert!(
                            !flags_at(before, 3.0),
                            "case {case} c {c} t {t}: flagged at {before} already"
                        );
                        checked_detect += 1;
                    }
                }
            }
        }
        assert!(checked_detect > 20);
    }

    #[test]
    fn every_tuple_is_distinct_and_counted() {
        for (r, set, tail) in [(5, 1, 2), (6, 3, 2), (7, 3, 3), (4, 3, 2)] {
            let all = every_tuple(r, set, tail);
            assert_eq!(
                all.len() as u64,
                tuple_count(r, set, tail),
                "{r} {set} {tail}"
            );
            let mut seen = std::collections::BTreeSet::new();
            for t in &all {
                let mut runs = t.clone();
                runs.sort_unstable();
                runs.dedup();
                assert_eq!(runs.len(), set + tail, "distinct runs in {t:?}");
                assert!(t[..set].windows(2).all(|w| w[0] < w[1]), "a set: {t:?}");
                assert!(seen.insert(t.clone()), "twice: {t:?}");
            }
        }
        // 5 * 4 * 3 ordered (old, new, confirmation); C(6, 3) * 3 * 2.
        assert_eq!(tuple_count(5, 1, 2), 60);
        assert_eq!(tuple_count(6, 3, 2), 120);
    }
}
