//! The paired decision: one row of lockstep pairs (`gate check --base`),
//! and every check `gate power` simulates, decided by the same code.
//!
//! A row's pairs of processes each give their per-sample log ratios
//! `d_i = ln(head_i / base_i)` (and, for a bench that counts the event its
//! time follows, the same ratios at the same rate of it, for the pairs the
//! adjustment applied to). [`PairedRow::of`] computes the row's figures:
//! per set of ratios, the random-effects pooled shift of the pairs' medians
//! and the signed-rank test of the differences of the pairs it keeps
//! ([`PairedTest`]; `docs/statistics.md`). [`PairedRow::verdict`] decides
//! from those figures and the tests' p-values once adjusted for the family
//! of tests they belong to: Holm over the whole check in
//! [`super::decide`], a bound of it in `gate power` and in
//! [`decide_paired`]. [`flags`] is the rule of one test.

use anyhow::Result;

use super::{ADJUSTED_WARNING, AdjustedTest, PAIRED_WARNING, RowVerdict, WarningKind};
use crate::model::Benchmark;
use crate::stats;

/// Metric holding, on both sides of a lockstep comparison, every per-sample
/// `ln(head_i / base_i)` of every pair, in order (`docs/lockstep.md`).
pub const PAIRED_LOG_RATIO: &str = "paired_log_ratio";
/// Metric holding, beside [`PAIRED_LOG_RATIO`], the round (pair of
/// processes) each ratio came from.
pub const PAIRED_ROUND: &str = "paired_round";
/// Metric holding the ratios at the same rate of the event the bench counts
/// per sample (`Pair::adjusted_log_ratios`), when it counts one: those of
/// the pairs the adjustment applied to only (present and possibly empty
/// when none did), each pair's under its round in
/// [`PAIRED_ROUND_ADJUSTED`].
pub const PAIRED_LOG_RATIO_ADJUSTED: &str = "paired_log_ratio_adjusted";
/// Metric holding, beside [`PAIRED_LOG_RATIO_ADJUSTED`], the round each
/// adjusted ratio came from (the same rounds as [`PAIRED_ROUND`]).
pub const PAIRED_ROUND_ADJUSTED: &str = "paired_round_adjusted";

/// The rounds of paired log ratios of a lockstep comparison, when `old`
/// and `new` are the two sides of the same lockstep runs (both carry the
/// same ratios; a head compared with anything else is not paired).
pub fn paired_rounds(old: &Benchmark, new: &Benchmark) -> Option<Vec<Vec<f64>>> {
    let rounds = paired_groups(old, new, PAIRED_LOG_RATIO, PAIRED_ROUND)?;
    (!rounds.is_empty()).then(|| rounds.into_iter().map(|(_, v)| v).collect())
}

/// The adjusted ratios of the same comparison, aligned with
/// [`paired_rounds`]: per round, its adjusted ratios, or None for a round
/// the adjustment did not apply to. None when the bench counts no event
/// (or the adjustment is off).
pub fn adjusted_rounds(old: &Benchmark, new: &Benchmark) -> Option<Vec<Option<Vec<f64>>>> {
    let raw = paired_groups(old, new, PAIRED_LOG_RATIO, PAIRED_ROUND)?;
    let mut adjusted = paired_groups(old, new, PAIRED_LOG_RATIO_ADJUSTED, PAIRED_ROUND_ADJUSTED)?;
    Some(
        raw.iter()
            .map(|(round, _)| {
                let at = adjusted.iter().position(|(r, _)| r == round)?;
                Some(adjusted.swap_remove(at).1)
            })
            .collect(),
    )
}

/// The values of `metric` grouped by the round in `round_metric`, in the
/// order rounds first appear, when both sides carry the same ones.
fn paired_groups(
    old: &Benchmark,
    new: &Benchmark,
    metric: &str,
    round_metric: &str,
) -> Option<Vec<(f64, Vec<f64>)>> {
    let ratios = new.metrics.get(metric)?;
    let rounds = new.metrics.get(round_metric)?;
    if old.metrics.get(metric) != Some(ratios)
        || old.metrics.get(round_metric) != Some(rounds)
        || ratios.len() != rounds.len()
    {
        return None;
    }
    let mut out: Vec<(f64, Vec<f64>)> = Vec::new();
    for (d, r) in ratios.iter().zip(rounds) {
        match out.iter_mut().find(|(k, _)| k == r) {
            Some((_, v)) => v.push(*d),
            None => out.push((*r, vec![*d])),
        }
    }
    Some(out)
}

/// Whether one paired test flags a regression: the lower bound of its
/// interval of the log shift above `ln(1 + tolerance)`, and its p-value
/// (adjusted for the family of tests it belongs to) below `alpha`.
/// Significance alone would flag shifts far inside the tolerance that many
/// pairs resolve; size alone would flag noise. `p_value` is asked for only
/// when the interval clears the tolerance: `gate power` computes a p-value
/// under each slowdown it tries, and most of them never need one.
pub fn flags(lower: f64, p_value: impl FnOnce() -> f64, tolerance: f64, alpha: f64) -> bool {
    lower > tolerance.ln_1p() && p_value() < alpha
}

/// Whether one paired test shows an improvement: significant, and the
/// upper bound of its interval below `ln(1 - tolerance)`.
pub fn improves(upper: f64, p_value: f64, tolerance: f64, alpha: f64) -> bool {
    p_value < alpha && upper < (-tolerance).ln_1p()
}

/// One test of a paired row: the pooled shift of its pairs and the
/// signed-rank test of the differences of the pairs the shift keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedTest {
    /// Random-effects pooled shift of the pairs' medians (log units).
    pub shift: stats::PooledShift,
    /// Signed-rank p-value, before any adjustment for the family.
    pub p_value: f64,
    /// The differences the signed-rank test ranked: those of the pairs the
    /// shift keeps (lone outlier pairs aside:
    /// [`stats::PooledShift::kept_differences`]).
    pub ranked: Vec<f64>,
    /// Pairs tested.
    pub pairs: usize,
}

impl PairedTest {
    /// The test of `pairs` (per pair, its log ratios), with the interval at
    /// `confidence`. The signed-rank test ranks the pairs the interval
    /// keeps, so that both judge the same pairs.
    pub fn of<R: AsRef<[f64]>>(pairs: &[R], confidence: f64) -> Result<PairedTest> {
        let shift = stats::pooled_shift(pairs, confidence)?;
        let ranked = shift.kept_differences(pairs);
        let p_value = stats::signed_rank(&ranked)?.p_value;
        Ok(PairedTest {
            shift,
            p_value,
            ranked,
            pairs: pairs.len(),
        })
    }

    /// The pooled shift as a ratio head/base.
    pub fn ratio(&self) -> f64 {
        self.shift.centre.exp()
    }

    /// The interval of [`Self::ratio`].
    pub fn ratio_ci(&self) -> [f64; 2] {
        [self.shift.lower.exp(), self.shift.upper.exp()]
    }
}

/// The figures of a paired row: the test of its raw log ratios and, for a
/// bench that counts an event, the test of its ratios at the same rate of
/// that event. The row regresses when either test flags.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedRow {
    pub raw: PairedTest,
    /// None when the bench counts no event, or when the adjustment applied
    /// to fewer than half of the pairs (`stats::comparable_rounds`).
    pub adjusted: Option<PairedTest>,
    /// Raw log ratios in all (samples per side).
    pub samples: usize,
}

impl PairedRow {
    /// The figures of a row of `raw` pairs and, when the bench counts an
    /// event, `adjusted`: per pair, its adjusted ratios, or None for a pair
    /// the adjustment did not apply to (left out of the adjusted test).
    /// Intervals at `confidence`. An error when the raw ratios cannot be
    /// compared (a pair of fewer than 6 samples, a value that is not a
    /// number); an adjusted test that cannot be run is left out.
    pub fn of<R: AsRef<[f64]>>(
        raw: &[R],
        adjusted: Option<&[Option<&[f64]>]>,
        confidence: f64,
    ) -> Result<PairedRow> {
        let raw_test = PairedTest::of(raw, confidence)?;
        let adjusted = adjusted.and_then(|a| {
            let pairs: Vec<Option<&&[f64]>> = a.iter().map(Option::as_ref).collect();
            let kept = stats::comparable_rounds(&pairs)?;
            PairedTest::of(&kept, confidence).ok()
        });
        Ok(PairedRow {
            raw: raw_test,
            adjusted,
            samples: raw.iter().map(|r| r.as_ref().len()).sum(),
        })
    }

    /// The tests of the row: the raw one, then the adjusted one.
    pub fn tests(&self) -> impl Iterator<Item = &PairedTest> {
        std::iter::once(&self.raw).chain(&self.adjusted)
    }

    /// The row's verdict, given each test's p-value adjusted for its family
    /// (`adjusted_p` None: the adjusted test does not count): regressed
    /// when either test flags ([`flags`]); improved when the raw test shows
    /// an improvement and no test flags; else unchanged. The adjusted test
    /// can only add a regression: it takes out what a change acting through
    /// the event's rate does, which the raw test still sees.
    pub fn verdict(
        &self,
        raw_p: f64,
        adjusted_p: Option<f64>,
        tolerance: f64,
        alpha: f64,
    ) -> RowVerdict {
        let adjusted_flags = match (&self.adjusted, adjusted_p) {
            (Some(t), Some(p)) => flags(t.shift.lower, || p, tolerance, alpha),
            _ => false,
        };
        if flags(self.raw.shift.lower, || raw_p, tolerance, alpha) || adjusted_flags {
            RowVerdict::Regressed
        } else if improves(self.raw.shift.upper, raw_p, tolerance, alpha) {
            RowVerdict::Improved
        } else {
            RowVerdict::Unchanged
        }
    }

    /// The adjusted test as the results JSON gives it (its p-value is
    /// filled in once adjusted for the family).
    pub fn adjusted_test(&self) -> Option<AdjustedTest> {
        self.adjusted.as_ref().map(|t| AdjustedTest {
            ratio: t.ratio(),
            ratio_ci: t.ratio_ci(),
            p_value: None,
            spread: t.shift.tau,
        })
    }

    /// The row's warnings: how it was measured and decided, and the
    /// adjusted test's figures.
    pub fn notes(&self) -> Vec<(WarningKind, String)> {
        let (pairs, shift) = (self.raw.pairs, &self.raw.shift);
        let aside = match shift.set_aside {
            0 => String::new(),
            n => format!(
                "; {n} pair(s) left out of the interval as lone outliers (pair medians {})",
                shift
                    .round_medians
                    .iter()
                    .map(|m| format!("{:+.1}%", m.exp_m1() * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut notes = vec![(
            WarningKind::Paired,
            format!(
                "{PAIRED_WARNING}{pairs} lockstep pair(s) x {} samples, signed-rank test; spread between pairs {:.1}%{}{aside}",
                self.samples / pairs.max(1),
                shift.tau * 100.0,
                if pairs == 1 {
                    " (one pair: not known)"
                } else {
                    ""
                },
            ),
        )];
        if let Some(t) = &self.adjusted {
            let [lo, hi] = t.ratio_ci();
            let over = if t.pairs < pairs {
                format!(
                    ", over {} of {pairs} pairs (the others had no line to adjust by, \
                     or a head outside the base's rates)",
                    t.pairs
                )
            } else {
                String::new()
            };
            notes.push((
                WarningKind::Adjusted,
                format!(
                    "{ADJUSTED_WARNING}{:.3} [{lo:.3}, {hi:.3}], spread between pairs {:.1}%{over} \
                 (also decided; the row regresses when either test flags)",
                    t.ratio(),
                    t.shift.tau * 100.0,
                ),
            ));
        }
        notes
    }
}

/// What a paired decision is made with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedSettings {
    /// `lockstep.tolerance`, else `tolerance`.
    pub tolerance: f64,
    pub alpha: f64,
    /// Tests of the family the row's tests belong to (Holm's `m`).
    pub family: usize,
}

/// One paired row decided on its own.
#[derive(Debug)]
pub struct PairedDecision {
    /// The row's figures; an error when its pairs cannot be compared.
    pub row: Result<PairedRow>,
    pub verdict: RowVerdict,
}

/// Decides one row of `raw` pairs (and `adjusted`, as [`PairedRow::of`]
/// takes them) in a family of `settings.family` tests, each p-value
/// multiplied by the family (Bonferroni: Holm's bound for any test of the
/// family, reached when the family's p-values are equal). What
/// [`super::decide`] gives the same pairs in a check of `family` such
/// rows: `insufficient` when the samples cannot reach significance in that
/// family, `incomparable` when the pairs cannot be compared.
pub fn decide_paired<R: AsRef<[f64]>>(
    raw: &[R],
    adjusted: Option<&[Option<&[f64]>]>,
    settings: &PairedSettings,
) -> PairedDecision {
    let PairedSettings {
        tolerance,
        alpha,
        family,
    } = *settings;
    let confidence = 1.0 - alpha;
    let row = PairedRow::of(raw, adjusted, confidence);
    let samples: usize = raw.iter().map(|r| r.as_ref().len()).sum();
    let in_family = |p: f64| (p * family.max(1) as f64).min(1.0);
    // In the order `decide` meets them: samples that cannot reach
    // significance even alone, pairs that cannot be compared, then a
    // family too large for the samples.
    let best = stats::min_p_value(samples, samples);
    let verdict = match &row {
        _ if best > alpha => RowVerdict::Insufficient,
        Err(_) => RowVerdict::Incomparable,
        Ok(_) if in_family(best) >= alpha => RowVerdict::Insufficient,
        Ok(r) => r.verdict(
            in_family(r.raw.p_value),
            r.adjusted.as_ref().map(|t| in_family(t.p_value)),
            tolerance,
            alpha,
        ),
    };
    PairedDecision { row, verdict }
}
