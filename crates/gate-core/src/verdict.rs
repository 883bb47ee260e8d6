//! Decide: turn compared pairs into row verdicts and one check verdict.
//!
//! The types here are the JSON contract of `gate check --json` (issue 4):
//! `{"schema": 1, "verdict", "environment", "rows": [...]}`. Field names are
//! fixed; other tools read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Environment, Lang, Mode};

/// The verdict of a whole check; decides the exit code (0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Regression,
    Error,
}

/// What a row compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowKind {
    /// Rust now against the stored Rust baseline.
    #[serde(rename = "rust-vs-rust")]
    RustVsRust,
    /// Rust now against Go (stored or measured in the same run); `old` is Go.
    #[serde(rename = "rust-vs-go")]
    RustVsGo,
    /// `gate compare OLD NEW`: two arbitrary result sets.
    #[serde(rename = "compare")]
    Compare,
}

/// The verdict of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowVerdict {
    /// Significant, and the ratio CI's lower bound above 1 + tolerance (or above `max_ratio`).
    Regressed,
    /// Significant, and the ratio CI's upper bound below 1 - tolerance.
    Improved,
    /// Not significant, or inside the tolerance.
    Unchanged,
    /// Too few samples to ever be significant.
    Insufficient,
    /// The two sides cannot be compared (different units, reference-only figure, ...).
    Incomparable,
    /// Only in the new set.
    New,
    /// Only in the old set.
    Missing,
    /// Lockstep pairs whose interval still reached past the tolerance band
    /// when the check's budget (or the most pairs) ran out: neither
    /// regressed nor unchanged; `min_detectable` says what it could see.
    Undecided,
}

/// One side of a row: summary of a benchmark's samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub median_ns: f64,
    /// Number of samples.
    pub n: usize,
    #[serde(default)]
    pub counters: BTreeMap<String, f64>,
    /// Every per-sample ns/op, so a saved report can be compared and
    /// rendered again (`gate compare`, `gate report --format gobench`) (added field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<f64>,
    /// Names of the counters that are deterministic for this bench and so
    /// compared exactly (added field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exact_counters: Vec<String>,
    /// Distribution-free confidence interval of the median (added field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ci: Option<[f64; 2]>,
}

/// One compared pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub kind: RowKind,
    pub mode: Mode,
    pub threads: u32,
    pub old: Option<Side>,
    pub new: Option<Side>,
    /// new median / old median.
    pub ratio: Option<f64>,
    /// Bootstrap confidence interval of the ratio of medians.
    pub ratio_ci: Option<[f64; 2]>,
    /// Mann-Whitney U p-value, Holm-adjusted across the rows of one check.
    pub p_value: Option<f64>,
    pub verdict: RowVerdict,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The kind of each warning, at the same position as its text (added
    /// field; absent in older reports, whose warnings read as `other`).
    /// Add a warning with [`Row::warn`], which keeps the two in step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warning_kinds: Vec<WarningKind>,
    /// For a Rust/Go row: the Go benchmark name (with `-N` when GOMAXPROCS > 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<String>,
    /// For a Rust/Go row: the allowed Rust/Go ratio, if the pair sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ratio: Option<f64>,
    /// Earlier measurements of this row that flagged a regression and were
    /// measured again in a fresh process (confirmation runs); the row's own
    /// figures are the latest measurement, which decided (added field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<Attempt>,
    /// The runner this row was measured on, in a report merged from several
    /// runners by `gate merge` (added field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// For a lockstep row whose bench counts a covariate (the parallel
    /// secret benches count `mprotect`): the same pairs compared at the
    /// same rate of it. The row regresses when this test or the row's own
    /// (raw) test flags (added field; `docs/lockstep.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjusted: Option<AdjustedTest>,
    /// Paired rows of a sequential check: the smallest slowdown (0.05 is 5%)
    /// the row's interval could have shown on this runner
    /// (`crate::sequential::min_detectable`) (added field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_detectable: Option<f64>,
    /// A `gate compare` row of a Go unit other than time (`B/op`,
    /// `allocs/op`, `MB/s`, custom): the unit of its sides' figures, which
    /// are then in that unit rather than ns/op (added field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// With `unit`: which values are better (`lower` or `higher`); a row
    /// regresses when its figure moves the other way (added field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub better: Option<crate::units::Better>,
}

/// The test of a lockstep row's ratios at the same rate of the counted
/// event (see [`Row::adjusted`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdjustedTest {
    /// Pooled shift of the adjusted log ratios, as a ratio new/old.
    pub ratio: f64,
    pub ratio_ci: [f64; 2],
    /// Signed-rank p-value, Holm-adjusted with the check's other tests.
    pub p_value: Option<f64>,
    /// Spread between pairs of the adjusted ratios (sd of the log shift).
    pub spread: f64,
}

/// One earlier measurement of a row (see [`Row::earlier`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub new: Option<Side>,
    pub ratio: Option<f64>,
    pub ratio_ci: Option<[f64; 2]>,
    pub p_value: Option<f64>,
    pub verdict: RowVerdict,
}

/// How the warning of a paired (lockstep) row begins: the row compares
/// base and head measured in lockstep on this runner, not a stored baseline.
pub const PAIRED_WARNING: &str = "paired: ";
/// Start of the warning that gives a lockstep row's adjusted test.
pub const ADJUSTED_WARNING: &str = "at the same rate of the counted event: ";

impl Row {
    /// A row of `id` with no sides, figures or warnings yet, and `verdict`:
    /// the start every row is built from (`Row { old, new, ..Row::new(..) }`),
    /// so that a field added to rows has one default.
    pub fn new(
        id: impl Into<String>,
        kind: RowKind,
        mode: Mode,
        threads: u32,
        verdict: RowVerdict,
    ) -> Row {
        Row {
            id: id.into(),
            kind,
            mode,
            threads,
            old: None,
            new: None,
            ratio: None,
            ratio_ci: None,
            p_value: None,
            verdict,
            warnings: Vec::new(),
            warning_kinds: Vec::new(),
            go: None,
            max_ratio: None,
            earlier: Vec::new(),
            runner: None,
            adjusted: None,
            min_detectable: None,
            unit: None,
            better: None,
        }
    }

    /// Whether the row compares lockstep pairs (`gate check --base`, or a
    /// stored-baseline regression re-judged on this runner).
    pub fn is_paired(&self) -> bool {
        self.warnings.iter().any(|w| w.starts_with(PAIRED_WARNING))
    }

    /// Adds a warning of `kind`.
    pub fn warn(&mut self, kind: WarningKind, text: impl Into<String>) {
        // A report without kinds (`warning_kinds` absent) reads its
        // warnings as `other`, at their own positions.
        self.warning_kinds
            .resize(self.warnings.len(), WarningKind::Other);
        self.warnings.push(text.into());
        self.warning_kinds.push(kind);
    }

    /// Adds each warning with its kind, in order.
    pub fn warn_all(&mut self, warnings: impl IntoIterator<Item = (WarningKind, String)>) {
        for (kind, text) in warnings {
            self.warn(kind, text);
        }
    }

    /// Each warning with its kind (`other` where none was recorded).
    pub fn kinded_warnings(&self) -> impl Iterator<Item = (WarningKind, &str)> {
        self.warnings.iter().enumerate().map(|(i, w)| {
            (
                self.warning_kinds
                    .get(i)
                    .copied()
                    .unwrap_or(WarningKind::Other),
                w.as_str(),
            )
        })
    }

    /// Adds every warning of `other` (with its kind) after this row's.
    pub fn extend_warnings(&mut self, other: &Row) {
        let copied: Vec<(WarningKind, String)> = other
            .kinded_warnings()
            .map(|(k, w)| (k, w.to_string()))
            .collect();
        self.warn_all(copied);
    }

    /// The id as shown to people: with the runner in a merged report.
    pub fn display_id(&self) -> String {
        match &self.runner {
            Some(r) => format!("{} [{r}]", self.id),
            None => self.id.clone(),
        }
    }

    /// The language of the row's new side: Rust for a check's rows (the
    /// Rust side of a Rust/Go row); for a `gate compare` row, which does
    /// not record it, Go when the id is a Go benchmark name.
    pub fn lang(&self) -> Lang {
        match self.kind {
            RowKind::RustVsRust | RowKind::RustVsGo => Lang::Rust,
            RowKind::Compare if crate::formats::gobench::names::is_benchmark_name(&self.id) => {
                Lang::Go
            }
            RowKind::Compare => Lang::Rust,
        }
    }

    /// This row's figures as an earlier attempt.
    pub fn attempt(&self) -> Attempt {
        Attempt {
            new: self.new.clone(),
            ratio: self.ratio,
            ratio_ci: self.ratio_ci,
            p_value: self.p_value,
            verdict: self.verdict,
        }
    }

    /// Whether two rows describe the same comparison (same bench, same kind, same Go name).
    pub fn same_pair(&self, other: &Row) -> bool {
        self.id == other.id
            && self.runner == other.runner
            && self.kind == other.kind
            && self.threads == other.threads
            && self.go == other.go
    }
}

impl Report {
    /// The report of a command that failed (exit 2): verdict `error`, no
    /// rows, the message as the only note.
    pub fn error(environment: &Environment, message: String) -> Report {
        Report {
            schema: crate::model::SCHEMA_VERSION,
            verdict: Verdict::Error,
            environment: environment.clone(),
            baseline_environments: BTreeMap::new(),
            rows: Vec::new(),
            notes: vec![message],
            builds: Default::default(),
        }
    }

    /// "2 undecided within the budget: `a` (could detect >= 6.5%), `b`":
    /// the rows that could not decide, named in the report's first lines;
    /// `None` when every row decided.
    pub fn undecided_line(&self) -> Option<String> {
        let rows: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.verdict == RowVerdict::Undecided)
            .map(|r| match r.min_detectable {
                Some(m) => format!(
                    "{} (could detect >= {})",
                    r.id,
                    crate::figures::fmt_slowdown(m)
                ),
                None => r.id.clone(),
            })
            .collect();
        (!rows.is_empty()).then(|| {
            format!(
                "{} undecided within the budget (neither regressed nor inside the tolerance): {}",
                rows.len(),
                rows.join(", ")
            )
        })
    }

    /// Recomputes the check verdict from the rows.
    pub fn refresh_verdict(&mut self) {
        if self.verdict != Verdict::Error {
            self.verdict = if self.rows.iter().any(|r| r.verdict == RowVerdict::Regressed) {
                Verdict::Regression
            } else {
                Verdict::Pass
            };
        }
    }
}

/// The result of one check: what `--json` writes and what every reporter renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub verdict: Verdict,
    /// Where the new figures were measured.
    pub environment: Environment,
    /// Where each baseline was measured, by name (`rust`, `go`) (added field).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub baseline_environments: BTreeMap<String, Environment>,
    pub rows: Vec<Row>,
    /// Sentences about how the figures were obtained (quick mode, same
    /// runner or stored baseline, normalisation) (added field).
    #[serde(default)]
    pub notes: Vec<String>,
    /// What each side ran, by side: `head`, `base` (`--base`) and
    /// `baseline-commit` (the re-judging against the baseline's commit)
    /// (added field).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub builds: BTreeMap<String, crate::model::Build>,
}

mod counters;
mod family;
mod paired;
pub mod stopping;
mod stored;
mod warning;

pub use crate::formats::EXACT_LABEL;
pub use paired::{
    PAIRED_LOG_RATIO, PAIRED_LOG_RATIO_ADJUSTED, PAIRED_ROUND, PAIRED_ROUND_ADJUSTED,
    PairedDecision, PairedRow, PairedSettings, PairedTest, adjusted_rounds, decide_paired, flags,
    improves, paired_rounds,
};
pub use stored::{RUN_MEDIANS, between_run_widening};
pub use warning::WarningKind;

use crate::formats::exact_counters;
use crate::model::Benchmark;
use crate::stats;
use crate::units;
use family::{Pending, Tested};

/// Thresholds and settings of one decision.
#[derive(Debug, Clone)]
pub struct Options {
    /// Relative change inside which a significant difference is not a regression.
    pub tolerance: f64,
    /// Family-wise significance level (Holm across the rows of one check).
    pub alpha: f64,
    /// Bootstrap resamples for the ratio interval.
    pub resamples: usize,
    /// Allowed increases of exact counters, by bench id then counter name.
    pub allow_counters: BTreeMap<String, BTreeMap<String, f64>>,
    /// Tolerance of paired (lockstep) rows, when it differs from
    /// `tolerance` (`lockstep.tolerance` in `gate.yaml`): lockstep pairs see
    /// the same machine, so they can afford a tighter one.
    pub paired_tolerance: Option<f64>,
    /// When set, paired rows are decided by this sequential design
    /// (`crate::sequential`): their interval at the level the design leaves
    /// for their last look, and [`stopping::stop_of`] for the verdict.
    pub sequential: Option<crate::sequential::Design>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tolerance: 0.05,
            alpha: 0.05,
            resamples: stats::DEFAULT_RESAMPLES,
            allow_counters: BTreeMap::new(),
            paired_tolerance: None,
            sequential: None,
        }
    }
}

/// Two benchmarks to compare, as the caller paired them (Rust now with the
/// Rust baseline, Rust now with Go, or two arbitrary sets).
#[derive(Debug, Clone)]
pub struct Pairing<'a> {
    pub id: String,
    pub kind: RowKind,
    pub mode: Mode,
    pub threads: u32,
    pub old: Option<&'a Benchmark>,
    pub new: Option<&'a Benchmark>,
    pub go: Option<String>,
    pub max_ratio: Option<f64>,
    /// Warnings found while pairing (carried into the row), with their kinds.
    pub warnings: Vec<(WarningKind, String)>,
}

/// Summarises one benchmark for a row.
pub fn side(b: &Benchmark, confidence: f64) -> Side {
    let ci = stats::median_ci(&b.samples, confidence);
    Side {
        median_ns: stats::median(&b.samples).unwrap_or(f64::NAN),
        n: b.samples.len(),
        counters: b.counters.clone(),
        samples: b.samples.clone(),
        exact_counters: exact_counters(b).into_iter().map(String::from).collect(),
        median_ci: ci.map(|c| [c.lower, c.upper]),
    }
}

/// Compares every pairing and decides each row and the whole check.
///
/// A row regresses only with both significance and size: the Holm-adjusted
/// p-value below alpha, and the lower bound of the interval of the ratio
/// above the limit (1 + tolerance, or the pair's `max_ratio` for a Rust/Go
/// row). Significance alone would flag 1% shifts that 100 samples resolve
/// easily; size alone would flag noise. Each row is tested on its own
/// first (lockstep pairs by the paired decision, [`PairedRow`]; other rows
/// as independent samples), then the family of all the check's tests is
/// corrected and decided at once (`family.rs`); an increase of an exact
/// counter regresses a row whatever its timing.
pub fn decide(pairings: &[Pairing<'_>], opts: &Options) -> (Vec<Row>, Verdict) {
    let pending: Vec<Pending> = pairings.iter().map(|p| test_row(p, opts)).collect();
    let rows = family::settle(pending, opts);
    let verdict = if rows.iter().any(|r| r.verdict == RowVerdict::Regressed) {
        Verdict::Regression
    } else {
        Verdict::Pass
    };
    (rows, verdict)
}

/// One pairing's row with its own figures and tests, before the family's
/// correction.
fn test_row(p: &Pairing<'_>, opts: &Options) -> Pending {
    let confidence = 1.0 - opts.alpha;
    let mut row = Row {
        old: p.old.map(|b| side(b, confidence)),
        new: p.new.map(|b| side(b, confidence)),
        go: p.go.clone(),
        max_ratio: p.max_ratio,
        ..Row::new(
            p.id.clone(),
            p.kind,
            p.mode,
            p.threads,
            RowVerdict::Unchanged,
        )
    };
    row.warn_all(p.warnings.iter().cloned());
    if let Some(b) = p.new.or(p.old).filter(|b| b.unit != units::TIME_UNIT) {
        let (better, why) = units::better_of(b);
        row.unit = Some(b.unit.clone());
        row.better = Some(better);
        if why == units::Why::Assumed {
            row.warn(
                WarningKind::UnitAssumed,
                format!(
                    "{}: no `Unit {} better=higher|lower` line and not a unit benchstat knows: \
                     assumed {}",
                    b.unit,
                    b.unit,
                    better.words()
                ),
            );
        }
    }
    let (old, new) = match (p.old, p.new) {
        (Some(o), Some(n)) => (o, n),
        // A configured Rust/Go pair without its Go figure is a hole in
        // the baseline, not a new bench: say so loudly.
        (None, _) if p.kind == RowKind::RustVsGo => {
            return Pending::settled(row, RowVerdict::Missing);
        }
        (None, _) => return Pending::settled(row, RowVerdict::New),
        (_, None) => return Pending::settled(row, RowVerdict::Missing),
    };
    if let Some(why) = incomparable(old, new, &mut row) {
        row.warn(WarningKind::NotCompared, why);
        return Pending::settled(row, RowVerdict::Incomparable);
    }
    if row.unit.is_some() && units::is_exact(old) && units::is_exact(new) {
        let medians = (row_median(&row.old), row_median(&row.new));
        let (verdict, w) = counters::exact_unit(&p.id, old, new, medians, &opts.allow_counters);
        row.warn_all(w);
        return Pending::settled(row, verdict);
    }
    // Counters belong to the time row; a unit row's benchmarks hold none.
    let mut counters_regressed = false;
    if matches!(p.kind, RowKind::RustVsRust | RowKind::Compare) && row.unit.is_none() {
        let (reg, w) = counters::compare_counters(&p.id, old, new, &opts.allow_counters);
        counters_regressed = reg;
        row.warn_all(w);
    }
    let reach = stats::significance_reachable(old.samples.len(), new.samples.len(), opts.alpha);
    let tested = if !reach.reachable {
        row.verdict = RowVerdict::Insufficient;
        row.warn(WarningKind::TooFewSamples, reach.message);
        Tested::Settled
    } else if p.kind == RowKind::RustVsRust
        && let Some(rounds) = paired_rounds(old, new)
    {
        let adjusted = adjusted_rounds(old, new);
        let confidence = match &opts.sequential {
            Some(design) => 1.0 - stopping::last_level(design, rounds.len(), adjusted.is_some()),
            None => confidence,
        };
        test_paired(&mut row, &rounds, adjusted, confidence)
    } else {
        match stored::test(&p.id, p.kind, old, new, opts) {
            Ok(t) => {
                row.ratio_ci = Some(t.ratio_ci);
                row.warn_all(t.warnings);
                Tested::Stored { p_value: t.p_value }
            }
            Err(e) => {
                row.verdict = RowVerdict::Incomparable;
                row.warn(WarningKind::NotCompared, format!("cannot compare: {e:#}"));
                Tested::Settled
            }
        }
    };
    Pending {
        row,
        tested,
        counters_regressed,
    }
}

/// Why two benchmarks cannot be compared at all, if they cannot. Sets the
/// ratio of medians once both sides have samples.
fn incomparable(old: &Benchmark, new: &Benchmark, row: &mut Row) -> Option<String> {
    if old.samples.is_empty() || new.samples.is_empty() {
        let side = if old.samples.is_empty() { "old" } else { "new" };
        return Some(format!("no time samples on the {side} side"));
    }
    if let (Some(o), Some(n)) = (&row.old, &row.new) {
        // A unit other than time may be 0 (`0 allocs/op`): no ratio then.
        row.ratio = Some(n.median_ns / o.median_ns).filter(|r| r.is_finite() && *r > 0.0);
    }
    if old.unit != new.unit {
        return Some(format!(
            "units differ ({} vs {}): not compared",
            old.unit, new.unit
        ));
    }
    if old.reference_only || new.reference_only {
        return Some(
            "reference figure (a point estimate from a document, unknown machine): shown for context, never used to fail"
                .into(),
        );
    }
    None
}

fn row_median(side: &Option<Side>) -> f64 {
    side.as_ref().map_or(f64::NAN, |s| s.median_ns)
}

/// Tests a row of lockstep pairs ([`PairedRow::of`]): its ratio and
/// interval are the pooled shift's, and its warnings say how it was
/// decided.
fn test_paired(
    row: &mut Row,
    rounds: &[Vec<f64>],
    adjusted: Option<Vec<Option<Vec<f64>>>>,
    confidence: f64,
) -> Tested {
    let adjusted: Option<Vec<Option<&[f64]>>> = adjusted
        .as_ref()
        .map(|a| a.iter().map(Option::as_deref).collect());
    match PairedRow::of(rounds, adjusted.as_deref(), confidence) {
        Ok(paired) => {
            row.ratio = Some(paired.raw.ratio());
            row.ratio_ci = Some(paired.raw.ratio_ci());
            row.warn_all(paired.notes());
            row.adjusted = paired.adjusted_test();
            Tested::Paired(Box::new(paired))
        }
        Err(e) => {
            row.verdict = RowVerdict::Incomparable;
            row.warn(WarningKind::NotCompared, format!("cannot compare: {e:#}"));
            Tested::Settled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Lang;

    fn bench(id: &str, samples: Vec<f64>) -> Benchmark {
        Benchmark::new(id, Lang::Rust, Mode::Sequential, 1, samples)
    }

    /// Deterministic "noisy" samples around `center` (±3%).
    fn noisy(center: f64, n: usize, phase: usize) -> Vec<f64> {
        (0..n)
            .map(|i| center * (1.0 + 0.03 * (((i * 7 + phase * 13) % 23) as f64 / 11.0 - 1.0)))
            .collect()
    }

    fn pairing<'a>(old: &'a Benchmark, new: &'a Benchmark, kind: RowKind) -> Pairing<'a> {
        Pairing {
            id: new.id.clone(),
            kind,
            mode: Mode::Sequential,
            threads: 1,
            old: Some(old),
            new: Some(new),
            go: None,
            max_ratio: None,
            warnings: vec![],
        }
    }

    /// Adjusted log ratio of (pair, sample), or None for every sample of a
    /// pair the adjustment did not apply to.
    type AdjustedFn<'a> = &'a dyn Fn(usize, usize) -> Option<f64>;

    /// Both sides of a lockstep row of `pairs` pairs x 20 samples: raw log
    /// ratios `raw(pair, sample)`, and adjusted ones when `adjusted` gives
    /// them, stored as `ab` stores them.
    fn lockstep_sides(
        pairs: usize,
        raw: impl Fn(usize, usize) -> f64,
        adjusted: Option<AdjustedFn<'_>>,
    ) -> (Benchmark, Benchmark) {
        let (mut old, mut new) = (
            bench("secret/with_bytes/parallel/t2", vec![]),
            bench("secret/with_bytes/parallel/t2", vec![]),
        );
        let (mut r, mut k) = (Vec::new(), Vec::new());
        let (mut a, mut ka) = (Vec::new(), Vec::new());
        for p in 0..pairs {
            for i in 0..20 {
                r.push(raw(p, i));
                if let Some(x) = adjusted.and_then(|f| f(p, i)) {
                    a.push(x);
                    ka.push(p as f64);
                }
                k.push(p as f64);
                old.samples.push(100.0);
                new.samples.push(100.0 * raw(p, i).exp());
            }
        }
        for b in [&mut old, &mut new] {
            b.metrics.insert(PAIRED_LOG_RATIO.into(), r.clone());
            b.metrics.insert(PAIRED_ROUND.into(), k.clone());
            if adjusted.is_some() {
                b.metrics
                    .insert(PAIRED_LOG_RATIO_ADJUSTED.into(), a.clone());
                b.metrics.insert(PAIRED_ROUND_ADJUSTED.into(), ka.clone());
            }
        }
        (old, new)
    }

    /// Decides the lockstep row of [`lockstep_sides`] at lockstep
    /// tolerance 1%.
    fn decide_lockstep(
        pairs: usize,
        raw: impl Fn(usize, usize) -> f64,
        adjusted: Option<AdjustedFn<'_>>,
    ) -> (Vec<Row>, Verdict) {
        let opts = Options {
            paired_tolerance: Some(0.01),
            ..Options::default()
        };
        let (old, new) = lockstep_sides(pairs, raw, adjusted);
        decide(&[pairing(&old, &new, RowKind::RustVsRust)], &opts)
    }

    /// Deterministic wobble in [-1, 1].
    fn wobble(p: usize, i: usize) -> f64 {
        (((p * 31 + i * 17) % 41) as f64 / 20.0) - 1.0
    }

    /// Two pairs whose head ran in the other regime (log ratios +0.5 to
    /// +3.5 sample after sample) have no adjusted ratios
    /// (`Adjustment::NotApplied`): the adjusted test leaves them out and
    /// stays tight on the other 14, and says so; the raw test keeps them.
    #[test]
    fn the_adjusted_test_leaves_out_pairs_it_could_not_adjust() {
        let odd = |p: usize| p == 3 || p == 9;
        let raw = |p: usize, i: usize| {
            if odd(p) {
                2.0 + 1.5 * wobble(p, i)
            } else {
                0.06f64.ln_1p() + 0.2 * wobble(p, 0) + 0.1 * wobble(p, i)
            }
        };
        let adj = |p: usize, i: usize| {
            (!odd(p)).then(|| 0.06f64.ln_1p() + 0.002 * wobble(p, 0) + 0.02 * wobble(p, i))
        };
        let (rows, verdict) = decide_lockstep(16, raw, Some(&adj));
        let a = rows[0].adjusted.as_ref().expect("an adjusted test");
        assert!(a.spread < 0.01, "{a:?}");
        assert!(a.ratio_ci[0] > 1.04 && a.ratio_ci[1] < 1.08, "{a:?}");
        assert!(
            rows[0]
                .warnings
                .iter()
                .any(|w| w.contains("over 14 of 16 pairs")),
            "{:?}",
            rows[0].warnings
        );
        assert_eq!(
            (rows[0].verdict, verdict),
            (RowVerdict::Regressed, Verdict::Regression)
        );
    }

    /// Two pairs whose base process ran slow for its whole life (log
    /// ratios near -1) among 16 with a 5% slowdown in noisy samples: the
    /// interval sets them aside as lone outliers, and the signed-rank test
    /// ranks the same kept pairs, so the row regresses. Ranked with every
    /// pair's differences, their 40 took the 40 largest
    /// ranks, all negative, and the test lost the slowdown.
    #[test]
    fn lone_outlier_pairs_are_left_out_of_the_test_as_of_the_interval() {
        let raw = |p: usize, i: usize| {
            if p == 4 || p == 11 {
                -1.0 + 0.05 * wobble(p, i)
            } else {
                0.05f64.ln_1p() + 0.25 * wobble(p, i)
            }
        };
        let (rows, verdict) = decide_lockstep(16, raw, None);
        let all: Vec<f64> = (0..16)
            .flat_map(|p| (0..20).map(move |i| raw(p, i)))
            .collect();
        let every = stats::signed_rank(&all).unwrap();
        assert!(every.p_value > 0.05, "{every:?}");
        assert!(rows[0].ratio_ci.unwrap()[0] > 1.01, "{:?}", rows[0]);
        assert_eq!(
            (rows[0].verdict, verdict),
            (RowVerdict::Regressed, Verdict::Regression),
            "{:?}",
            rows[0]
        );
    }

    /// A pair the adjustment applied to counts even when its adjusted
    /// ratios equal its raw ones (a flat line: the rate costs nothing), so
    /// the adjusted test is over all pairs, not none.
    #[test]
    fn adjusted_ratios_equal_to_the_raw_ones_still_count() {
        let raw = |p: usize, i: usize| 0.02 * wobble(p, 0) + 0.02 * wobble(p, i);
        let adj = |p: usize, i: usize| Some(raw(p, i));
        let (rows, _) = decide_lockstep(8, raw, Some(&adj));
        assert!(rows[0].adjusted.is_some(), "{:?}", rows[0].warnings);
        assert!(
            !rows[0].warnings.iter().any(|w| w.contains(" of 8 pairs")),
            "{:?}",
            rows[0].warnings
        );
    }

    /// A 6% slowdown hidden in raw ratios that pairs of processes scatter by
    /// ±30% is flagged by the adjusted test, which the rates leave tight;
    /// without the adjusted ratios the same row passes.
    #[test]
    fn the_adjusted_test_flags_what_the_raw_spread_hides() {
        let raw = |p: usize, i: usize| 0.06f64.ln_1p() + 0.3 * wobble(p, 0) + 0.2 * wobble(p, i);
        let adj =
            |p: usize, i: usize| Some(0.06f64.ln_1p() + 0.01 * wobble(p, 0) + 0.05 * wobble(p, i));
        let (rows, verdict) = decide_lockstep(16, raw, Some(&adj));
        let a = rows[0].adjusted.as_ref().expect("an adjusted test");
        assert!(a.ratio_ci[0] > 1.01, "{a:?}");
        assert!(
            rows[0].ratio_ci.unwrap()[0] < 1.01,
            "{:?}",
            rows[0].ratio_ci
        );
        assert_eq!(
            (rows[0].verdict, verdict),
            (RowVerdict::Regressed, Verdict::Regression)
        );
        let (rows, verdict) = decide_lockstep(16, raw, None);
        assert!(rows[0].adjusted.is_none());
        assert_eq!(
            (rows[0].verdict, verdict),
            (RowVerdict::Unchanged, Verdict::Pass)
        );
    }

    /// A change that only makes the page close more often is what the
    /// adjustment takes out: the raw test still flags it.
    #[test]
    fn the_raw_test_still_flags_what_the_adjustment_takes_out() {
        let raw = |p: usize, i: usize| 0.5 + 0.02 * wobble(p, 0) + 0.05 * wobble(p, i);
        let adj = |p: usize, i: usize| Some(0.01 * wobble(p, 0) + 0.05 * wobble(p, i));
        let (rows, verdict) = decide_lockstep(8, raw, Some(&adj));
        let a = rows[0].adjusted.as_ref().expect("an adjusted test");
        assert!(a.ratio_ci[0] < 1.01 && a.ratio_ci[1] > 0.99, "{a:?}");
        assert_eq!(
            (rows[0].verdict, verdict),
            (RowVerdict::Regressed, Verdict::Regression)
        );
    }

    /// Three baseline runs give the spread 2 degrees of freedom: the
    /// widening takes Student's quantile (4.30 at 95%), not the normal one.
    #[test]
    fn the_between_run_widening_uses_students_t() {
        let mut old = bench("a/b/sequential", noisy(1000.0, 30, 0));
        let medians = [1000.0, 1100.0, 950.0];
        old.metrics
            .insert(RUN_MEDIANS.to_string(), medians.to_vec());
        let new = bench("a/b/sequential", noisy(1000.0, 10, 1));
        let (w, s, runs) = between_run_widening(&old, &new, 0.05).unwrap();
        let logs: Vec<f64> = medians.iter().map(|m: &f64| m.ln()).collect();
        let mean = logs.iter().sum::<f64>() / 3.0;
        let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((s - sd).abs() < 1e-12, "{s} {sd}");
        assert_eq!(runs, 3);
        let t = w / (s * (1.0 / 3.0 + 1.0f64).sqrt());
        assert!((t - 4.3027).abs() < 1e-3, "quantile {t}");
    }

    #[test]
    fn same_distribution_is_unchanged_and_twice_as_slow_regresses() {
        let old = bench("a/b/sequential", noisy(1000.0, 50, 0));
        let same = bench("a/b/sequential", noisy(1000.0, 50, 1));
        let slow = bench("a/b/sequential", noisy(2000.0, 50, 2));
        let (rows, v) = decide(
            &[pairing(&old, &same, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert_eq!((rows[0].verdict, v), (RowVerdict::Unchanged, Verdict::Pass));
        let (rows, v) = decide(
            &[pairing(&old, &slow, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert_eq!(
            (rows[0].verdict, v),
            (RowVerdict::Regressed, Verdict::Regression)
        );
        let r = rows[0].ratio.unwrap();
        assert!((1.9..2.1).contains(&r), "{r}");
        let [lo, hi] = rows[0].ratio_ci.unwrap();
        assert!(lo <= r && r <= hi);
    }

    #[test]
    fn a_significant_shift_inside_the_tolerance_is_not_a_regression() {
        let old = bench("a/b/sequential", noisy(1000.0, 100, 0));
        let new = bench("a/b/sequential", noisy(1020.0, 100, 0));
        let (rows, _) = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert!(
            rows[0].p_value.unwrap() < 0.05,
            "the 2% shift is significant"
        );
        assert_eq!(rows[0].verdict, RowVerdict::Unchanged);
    }

    #[test]
    fn faster_is_improved() {
        let old = bench("a/b/sequential", noisy(1000.0, 30, 0));
        let new = bench("a/b/sequential", noisy(700.0, 30, 1));
        let (rows, v) = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert_eq!((rows[0].verdict, v), (RowVerdict::Improved, Verdict::Pass));
    }

    #[test]
    fn too_few_samples_say_how_many_are_needed() {
        let old = bench("a/b/sequential", vec![1.0, 1.1, 1.2]);
        let new = bench("a/b/sequential", vec![3.0, 3.1, 3.2]);
        let (rows, v) = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert_eq!(
            (rows[0].verdict, v),
            (RowVerdict::Insufficient, Verdict::Pass)
        );
        assert!(
            rows[0].warnings.iter().any(|w| w.contains('4')),
            "{:?}",
            rows[0].warnings
        );
    }

    #[test]
    fn max_ratio_governs_rust_vs_go_rows() {
        let go = Benchmark {
            lang: Lang::Go,
            ..bench("BenchmarkX", noisy(3000.0, 5, 0))
        };
        let rust = bench("a/b/sequential", noisy(2700.0, 100, 1));
        let mut p = pairing(&go, &rust, RowKind::RustVsGo);
        p.max_ratio = Some(0.75);
        let (rows, v) = decide(&[p.clone()], &Options::default());
        assert_eq!(
            (rows[0].verdict, v),
            (RowVerdict::Regressed, Verdict::Regression),
            "{:?}",
            rows[0]
        );
        p.max_ratio = Some(1.0);
        let (rows, _) = decide(&[p], &Options::default());
        assert_ne!(rows[0].verdict, RowVerdict::Regressed);
    }

    #[test]
    fn reference_figures_never_fail() {
        let mut go = bench("BenchmarkX-16", vec![100.0]);
        go.reference_only = true;
        let rust = bench("a/b/sequential", noisy(900.0, 100, 1));
        let (rows, v) = decide(
            &[pairing(&go, &rust, RowKind::RustVsGo)],
            &Options::default(),
        );
        assert_eq!(
            (rows[0].verdict, v),
            (RowVerdict::Incomparable, Verdict::Pass)
        );
    }

    #[test]
    fn an_added_syscall_is_caught_exactly_whatever_the_noise() {
        let mut old = bench("a/b/sequential", noisy(1000.0, 50, 0));
        let mut new = bench("a/b/sequential", noisy(1000.0, 50, 1));
        for (b, n) in [(&mut old, 2.0), (&mut new, 3.0)] {
            b.counters.insert("mprotect_per_op".into(), n);
            b.labels
                .insert(EXACT_LABEL.into(), "mprotect_per_op".into());
        }
        let (rows, v) = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert_eq!(
            (rows[0].verdict, v),
            (RowVerdict::Regressed, Verdict::Regression)
        );
        let mut opts = Options::default();
        opts.allow_counters.insert(
            "a/b/sequential".into(),
            BTreeMap::from([("mprotect_per_op".to_string(), 3.0)]),
        );
        let (rows, _) = decide(&[pairing(&old, &new, RowKind::RustVsRust)], &opts);
        assert_eq!(rows[0].verdict, RowVerdict::Unchanged);
    }

    /// A counter both sides call exact but one side has no value for (a
    /// counters file lost) is named in the row, not passed silently.
    #[test]
    fn an_exact_counter_without_a_value_is_named() {
        let mut old = bench("a/b/sequential", noisy(1000.0, 50, 0));
        let mut new = bench("a/b/sequential", noisy(1000.0, 50, 1));
        for b in [&mut old, &mut new] {
            b.labels
                .insert(EXACT_LABEL.into(), "mprotect_per_op".into());
        }
        old.counters.insert("mprotect_per_op".into(), 2.0);
        let (rows, _) = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert!(
            rows[0]
                .warnings
                .iter()
                .any(|w| w
                    == "exact counter mprotect_per_op has no value on the new side: not compared"),
            "{:?}",
            rows[0].warnings
        );
    }

    #[test]
    fn missing_and_new_rows() {
        let b = bench("a/b/sequential", noisy(1000.0, 10, 0));
        let mut p = pairing(&b, &b, RowKind::RustVsRust);
        p.old = None;
        let mut q = pairing(&b, &b, RowKind::RustVsRust);
        q.new = None;
        let (rows, v) = decide(&[p, q], &Options::default());
        assert_eq!(rows[0].verdict, RowVerdict::New);
        assert_eq!(rows[1].verdict, RowVerdict::Missing);
        assert_eq!(v, Verdict::Pass);
    }

    /// Five samples per side reach p = 0.0079 at best: enough for five
    /// benchmarks at once (Holm: 5 x 0.0079 < 0.05), not for nine, where a
    /// doubling of every benchmark must be `insufficient`, never `unchanged`.
    #[test]
    fn a_family_too_large_for_its_samples_is_insufficient() {
        let olds: Vec<Benchmark> = (0..9)
            .map(|i| bench(&format!("a/b{i}/sequential"), noisy(1000.0, 5, i)))
            .collect();
        let news: Vec<Benchmark> = (0..9)
            .map(|i| bench(&format!("a/b{i}/sequential"), noisy(2000.0, 5, i)))
            .collect();
        let pairs = |k: usize| -> Vec<Pairing<'_>> {
            (0..k)
                .map(|i| pairing(&olds[i], &news[i], RowKind::Compare))
                .collect()
        };
        let (rows, v) = decide(&pairs(5), &Options::default());
        assert!(rows.iter().all(|r| r.verdict == RowVerdict::Regressed));
        assert_eq!(v, Verdict::Regression);
        let (rows, v) = decide(&pairs(9), &Options::default());
        assert_eq!(v, Verdict::Pass);
        for r in &rows {
            assert_eq!(r.verdict, RowVerdict::Insufficient, "{r:?}");
            assert!(
                r.warnings
                    .iter()
                    .any(|w| w.contains("9 benchmarks compared at once")
                        && w.contains("at least 6 samples per side")),
                "{:?}",
                r.warnings
            );
        }
    }

    #[test]
    fn the_spread_between_whole_runs_widens_the_interval() {
        // Tight samples, a 7% shift: one run's interval says "regressed".
        let mut old = bench(
            "a/b/sequential",
            noisy(1000.0, 150, 0)
                .iter()
                .map(|x| 1000.0 + (x - 1000.0) / 10.0)
                .collect(),
        );
        let new = bench(
            "a/b/sequential",
            noisy(1070.0, 50, 1)
                .iter()
                .map(|x| 1070.0 + (x - 1070.0) / 10.0)
                .collect(),
        );
        let (rows, _) = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert_eq!(rows[0].verdict, RowVerdict::Regressed);
        // But the baseline's three runs differ by as much: not a regression.
        old.metrics
            .insert(RUN_MEDIANS.into(), vec![960.0, 1000.0, 1060.0]);
        let (rows, v) = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert_eq!(
            (rows[0].verdict, v),
            (RowVerdict::Unchanged, Verdict::Pass),
            "{:?}",
            rows[0]
        );
        assert!(
            rows[0]
                .warnings
                .iter()
                .any(|w| w.contains("between whole runs") && w.contains("3 runs")),
            "{:?}",
            rows[0].warnings
        );
        // A twice-as-slow run is still caught.
        let slow = bench("a/b/sequential", noisy(2000.0, 50, 2));
        let (rows, _) = decide(
            &[pairing(&old, &slow, RowKind::RustVsRust)],
            &Options::default(),
        );
        assert_eq!(rows[0].verdict, RowVerdict::Regressed);
    }

    fn unit_bench(unit: &str, samples: Vec<f64>) -> Benchmark {
        Benchmark {
            unit: unit.into(),
            lang: Lang::Go,
            ..bench("BenchmarkX", samples)
        }
    }

    /// The row and verdict of one Go bench in `unit`, old samples against new.
    fn decide_unit(unit: &str, old: Vec<f64>, new: Vec<f64>, opts: &Options) -> (Row, Verdict) {
        let (o, n) = (unit_bench(unit, old), unit_bench(unit, new));
        let (rows, v) = decide(&[pairing(&o, &n, RowKind::Compare)], opts);
        (rows[0].clone(), v)
    }

    /// A throughput row regresses when it shrinks and improves when it
    /// grows; a cost row the other way round.
    #[test]
    fn each_unit_is_decided_in_its_own_direction() {
        let decide_one = |unit: &str, old: Vec<f64>, new: Vec<f64>| {
            decide_unit(unit, old, new, &Options::default())
        };
        let (row, v) = decide_one("MB/s", noisy(300.0, 20, 0), noisy(150.0, 20, 1));
        assert_eq!(
            (row.verdict, v),
            (RowVerdict::Regressed, Verdict::Regression)
        );
        assert_eq!(
            (row.unit.as_deref(), row.better),
            (Some("MB/s"), Some(units::Better::Higher))
        );
        let (row, _) = decide_one("MB/s", noisy(150.0, 20, 0), noisy(300.0, 20, 1));
        assert_eq!(row.verdict, RowVerdict::Improved);
        let (row, _) = decide_one("B/op", noisy(100.0, 20, 0), noisy(200.0, 20, 1));
        assert_eq!(row.verdict, RowVerdict::Regressed);
        let (row, _) = decide_one("ns/op", noisy(100.0, 20, 0), noisy(200.0, 20, 1));
        assert_eq!(
            (row.verdict, row.unit, row.better),
            (RowVerdict::Regressed, None, None)
        );
    }

    /// `allocs/op` the same on every run of each side: compared exactly, so
    /// one more allocation regresses with five runs a side (too few for a
    /// test) and the row takes no place in the Holm family.
    #[test]
    fn deterministic_units_are_compared_exactly() {
        let exact = |old: f64, new: f64| {
            decide_unit("allocs/op", vec![old; 5], vec![new; 5], &Options::default())
        };
        let (row, v) = exact(3.0, 4.0);
        assert_eq!(
            (row.verdict, v),
            (RowVerdict::Regressed, Verdict::Regression)
        );
        assert_eq!(row.p_value, None);
        assert!(
            row.warnings
                .iter()
                .any(|w| w.contains("allocs/op rose from 3 to 4")),
            "{:?}",
            row.warnings
        );
        assert_eq!(exact(4.0, 3.0).0.verdict, RowVerdict::Improved);
        // 0 allocs/op on both sides: unchanged, with no ratio (0 / 0).
        let (row, _) = exact(0.0, 0.0);
        assert_eq!((row.verdict, row.ratio), (RowVerdict::Unchanged, None));
    }

    /// Every warning of a decided row carries its kind, and a report
    /// written before kinds existed reads its warnings as `other`.
    #[test]
    fn warnings_carry_their_kind() {
        let mut old = bench("a/b/sequential", noisy(1000.0, 30, 0));
        old.metrics
            .insert(RUN_MEDIANS.into(), vec![960.0, 1000.0, 1060.0]);
        let new = bench("a/b/sequential", noisy(1000.0, 30, 1));
        let (rows, _) = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        );
        let kinds: Vec<WarningKind> = rows[0].kinded_warnings().map(|(k, _)| k).collect();
        assert_eq!(kinds, vec![WarningKind::IntervalWidened]);
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(
            json["warning_kinds"],
            serde_json::json!(["interval-widened"])
        );
        let mut older: Row = serde_json::from_value(serde_json::json!({
            "id": "x", "kind": "rust-vs-rust", "mode": "sequential", "threads": 1,
            "old": null, "new": null, "ratio": null, "ratio_ci": null, "p_value": null,
            "verdict": "new", "warnings": ["said before kinds"]
        }))
        .unwrap();
        older.warn(WarningKind::NotInBaseline, "said now");
        let read: Vec<(WarningKind, &str)> = older.kinded_warnings().collect();
        assert_eq!(
            read,
            vec![
                (WarningKind::Other, "said before kinds"),
                (WarningKind::NotInBaseline, "said now")
            ]
        );
    }

    /// A sequential lockstep row with an adjusted test is decided at the
    /// level its look spends on each of its two tests (half the look's
    /// alpha), the interval `stopping::look` stopped it on.
    #[test]
    fn a_sequential_row_with_two_tests_takes_its_look_s_level() {
        let design = crate::sequential::Design::new(0.05, 0.01, 16);
        let raw = |p: usize, i: usize| 0.004 + 0.02 * wobble(p, 0) + 0.02 * wobble(p, i);
        let adj = |p: usize, i: usize| Some(0.5 * raw(p, i));
        let (old, new) = lockstep_sides(8, raw, Some(&adj));
        let opts = Options {
            paired_tolerance: Some(0.01),
            sequential: Some(design.clone()),
            ..Options::default()
        };
        let (rows, _) = decide(&[pairing(&old, &new, RowKind::RustVsRust)], &opts);
        let rounds = paired_rounds(&old, &new).unwrap();
        let adjusted = adjusted_rounds(&old, &new).unwrap();
        let adjusted: Vec<Option<&[f64]>> = adjusted.iter().map(Option::as_deref).collect();
        let look = stopping::look(&design, &rounds, Some(&adjusted), true)
            .unwrap()
            .unwrap();
        assert_eq!(rows[0].ratio_ci, Some(look.row.raw.ratio_ci()));
        assert_eq!(rows[0].verdict, stopping::verdict_of(look.stop));
        let one_test = stopping::level(&design, 8, true, false).unwrap();
        let two_tests = stopping::level(&design, 8, true, true).unwrap();
        assert_eq!(one_test, 2.0 * two_tests);
    }

    /// An exact unit row follows `allow_counters` as the exact counters do.
    #[test]
    fn an_exact_unit_row_takes_its_allowance() {
        let exact = |opts: &Options| decide_unit("B/op", vec![96.0; 5], vec![128.0; 5], opts);
        assert_eq!(exact(&Options::default()).0.verdict, RowVerdict::Regressed);
        let mut opts = Options::default();
        opts.allow_counters.insert(
            "BenchmarkX".into(),
            BTreeMap::from([("B/op".to_string(), 128.0)]),
        );
        let (row, v) = exact(&opts);
        assert_eq!((row.verdict, v), (RowVerdict::Unchanged, Verdict::Pass));
        assert!(
            row.warnings
                .iter()
                .any(|w| w.contains("B/op rose from 96 to 128") && w.contains("allowed up to 128")),
            "{:?}",
            row.warnings
        );
    }

    /// Copying warnings leaves the other row's as they were.
    #[test]
    fn extending_warnings_copies_them_with_their_kinds() {
        let mut a = Row::new(
            "a",
            RowKind::RustVsRust,
            Mode::Sequential,
            1,
            RowVerdict::New,
        );
        let mut b = a.clone();
        a.warn(WarningKind::NotInBaseline, "first");
        b.warn_all([(WarningKind::CounterMoved, "second".to_string())]);
        a.extend_warnings(&b);
        let read: Vec<(WarningKind, &str)> = a.kinded_warnings().collect();
        assert_eq!(
            read,
            [
                (WarningKind::NotInBaseline, "first"),
                (WarningKind::CounterMoved, "second")
            ]
        );
        assert_eq!(b.warnings, ["second"]);
    }

    #[test]
    fn the_bootstrap_is_reproducible() {
        let old = bench("a/b/sequential", noisy(1000.0, 40, 0));
        let new = bench("a/b/sequential", noisy(1100.0, 40, 3));
        let a = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        )
        .0;
        let b = decide(
            &[pairing(&old, &new, RowKind::RustVsRust)],
            &Options::default(),
        )
        .0;
        assert_eq!(a[0].ratio_ci, b[0].ratio_ci);
    }
}
