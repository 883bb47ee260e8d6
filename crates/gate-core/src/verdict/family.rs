//! The family of a check: every test of every row, Holm-corrected at once,
//! then each row's verdict from its corrected p-values.

use super::{Options, PairedRow, Row, RowKind, RowVerdict, WarningKind};
use crate::stats;
use crate::units::Better;

/// What a row's verdict still waits for once its own figures are known.
pub(super) enum Tested {
    /// Decided without a test (new, missing, incomparable, insufficient).
    Settled,
    /// Two independent samples: the Mann-Whitney p-value; the interval is
    /// the row's `ratio_ci`.
    Stored { p_value: f64 },
    /// Lockstep pairs: the raw test, and the adjusted one when there is one.
    Paired(Box<PairedRow>),
}

impl Tested {
    /// The raw p-values of the row's tests, in the family's order.
    fn p_values(&self) -> Vec<f64> {
        match self {
            Tested::Settled => Vec::new(),
            Tested::Stored { p_value } => vec![*p_value],
            Tested::Paired(paired) => paired.tests().map(|t| t.p_value).collect(),
        }
    }
}

/// A row with its own figures, before the family's correction.
pub(super) struct Pending {
    pub row: Row,
    pub tested: Tested,
    /// An exact counter rose: the row regresses whatever its timing.
    pub counters_regressed: bool,
}

impl Pending {
    /// A row decided without a test.
    pub fn settled(mut row: Row, verdict: RowVerdict) -> Pending {
        row.verdict = verdict;
        Pending {
            row,
            tested: Tested::Settled,
            counters_regressed: false,
        }
    }
}

/// One test's p-value after Holm's correction, and the smallest corrected
/// p-value its row's sample sizes allow in this family.
#[derive(Debug, Clone, Copy)]
struct Corrected {
    p: f64,
    best: f64,
}

/// Corrects the p-values of every test of the check together (Holm) and
/// decides each row.
///
/// The family also makes significance harder to reach than one test
/// alone: Holm compares the smallest p-value with alpha / m. A row that
/// could not be significant even if every test showed its most extreme
/// outcome (the smallest p-value its sample sizes allow) can never fail the
/// check, so it is `insufficient`, not `unchanged` (a regression of any
/// size would pass). Holm is monotone, so this best case is exact.
pub(super) fn settle(pending: Vec<Pending>, opts: &Options) -> Vec<Row> {
    let mut raw = Vec::new();
    let mut smallest = Vec::new();
    for r in &pending {
        let sizes = sizes(&r.row);
        for p in r.tested.p_values() {
            raw.push(p);
            smallest.push(stats::min_p_value(sizes.0, sizes.1));
        }
    }
    let corrected: Vec<Corrected> = stats::holm(&raw)
        .into_iter()
        .zip(stats::holm(&smallest))
        .map(|(p, best)| Corrected { p, best })
        .collect();
    let m = corrected.len();
    let mut at = 0;
    pending
        .into_iter()
        .map(|r| {
            let k = r.tested.p_values().len();
            let row = decide_row(r, &corrected[at..at + k], m, opts);
            at += k;
            row
        })
        .collect()
}

/// (old, new) sample counts of a row.
fn sizes(row: &Row) -> (usize, usize) {
    (
        row.old.as_ref().map_or(0, |s| s.n),
        row.new.as_ref().map_or(0, |s| s.n),
    )
}

/// One row's verdict from its tests' corrected p-values (in the order of
/// [`Tested::p_values`]), `m` tests in the family.
fn decide_row(pending: Pending, corrected: &[Corrected], m: usize, opts: &Options) -> Row {
    let Pending {
        mut row,
        tested,
        counters_regressed,
    } = pending;
    match (&tested, corrected) {
        (Tested::Stored { .. }, [c]) => {
            row.p_value = Some(c.p);
            if c.best >= opts.alpha {
                insufficient(&mut row, c.best, m, opts.alpha);
            } else {
                row.verdict = stored_verdict(&row, c.p, opts);
            }
        }
        (Tested::Paired(paired), [c, adjusted @ ..]) => {
            row.p_value = Some(c.p);
            if let (Some(a), Some(ca)) = (row.adjusted.as_mut(), adjusted.first()) {
                a.p_value = Some(ca.p);
            }
            if c.best >= opts.alpha {
                insufficient(&mut row, c.best, m, opts.alpha);
            } else if let Some(design) = &opts.sequential {
                let shift = &paired.raw.shift;
                row.verdict = super::stopping::verdict_of(super::stopping::stop_of(design, paired));
                row.min_detectable = Some(crate::sequential::min_detectable(
                    design,
                    shift.lower,
                    shift.upper,
                ));
            } else {
                let tolerance = opts.paired_tolerance.unwrap_or(opts.tolerance);
                let adjusted_p = adjusted
                    .first()
                    .filter(|a| a.best < opts.alpha)
                    .map(|a| a.p);
                row.verdict = paired.verdict(c.p, adjusted_p, tolerance, opts.alpha);
            }
        }
        _ => {}
    }
    if counters_regressed {
        row.verdict = RowVerdict::Regressed;
    }
    row
}

/// The verdict of a row of independent samples: significant, and its
/// interval above the limit (the pair's `max_ratio` for a Rust/Go row that
/// sets one, else 1 + tolerance) or below 1 - tolerance. For a unit whose
/// higher values are better (throughput), the mirror image: a fall below
/// 1 - tolerance regresses.
fn stored_verdict(row: &Row, p: f64, opts: &Options) -> RowVerdict {
    let [lo, hi] = row.ratio_ci.expect("tested rows have an interval");
    let limit = match (row.kind, row.max_ratio) {
        (RowKind::RustVsGo, Some(m)) => m,
        _ => 1.0 + opts.tolerance,
    };
    let significant = p < opts.alpha;
    let (rose, fell) = (
        significant && lo > limit,
        significant && hi < 1.0 - opts.tolerance,
    );
    let (worse, better) = match row.better {
        Some(Better::Higher) => (fell, rose),
        Some(Better::Lower) | None => (rose, fell),
    };
    if worse {
        RowVerdict::Regressed
    } else if better {
        RowVerdict::Improved
    } else {
        RowVerdict::Unchanged
    }
}

/// Marks a row whose samples cannot reach significance in a family of `m`
/// tests, and says how many it would take.
fn insufficient(row: &mut Row, best: f64, m: usize, alpha: f64) {
    let (n_old, n_new) = sizes(row);
    let k = stats::min_samples_needed(alpha / m as f64);
    row.verdict = RowVerdict::Insufficient;
    row.warn(
        WarningKind::TooFewSamples,
        format!(
            "too few samples to ever reach significance with {m} benchmarks compared at once: \
         with {n_old} old and {n_new} new samples the smallest p-value is {:.3e}, {best:.3} \
         after Holm's correction, above alpha {alpha}, so any regression would pass; take at \
         least {k} samples per side (Go: -count {k}; criterion: sample_size)",
            stats::min_p_value(n_old, n_new),
        ),
    );
}
