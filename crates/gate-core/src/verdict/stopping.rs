//! The paired decision under a sequential design: what one look at a
//! bench's pairs says. `gate check --base` calls [`look`] after each look's
//! pairs to know whether the bench may stop, the check's rows are decided by
//! [`stop_of`] at the bench's last look, and `gate power` simulates checks
//! with [`look`] too: one rule for all three.

use anyhow::Result;

use super::{PairedRow, RowVerdict};
use crate::sequential::{Design, FIRST_LOOK, Stop, min_detectable};

/// What a row's tests say at a look: the raw test's stop, made `Regressed`
/// when the adjusted test (if any) lies above the tolerance, and kept open
/// while the adjusted one could still get there.
pub fn stop_of(design: &Design, row: &PairedRow) -> Stop {
    let raw = Stop::of(design, row.raw.shift.lower, row.raw.shift.upper);
    let adjusted = row
        .adjusted
        .as_ref()
        .map(|t| Stop::of(design, t.shift.lower, t.shift.upper));
    match (raw, adjusted) {
        (Stop::Regressed, _) | (_, Some(Stop::Regressed)) => Stop::Regressed,
        (Stop::Unchanged, Some(Stop::Open)) => Stop::Open,
        (raw, _) => raw,
    }
}

/// The verdict of a stop: an open interval at the last look is undecided.
pub fn verdict_of(stop: Stop) -> RowVerdict {
    match stop {
        Stop::Regressed => RowVerdict::Regressed,
        Stop::Improved => RowVerdict::Improved,
        Stop::Unchanged => RowVerdict::Unchanged,
        Stop::Open => RowVerdict::Undecided,
    }
}

/// The error one test of a row spends at a look of `pairs` pairs
/// ([`Design::alpha_for`]; `None`: not a look). A row of `two_tests` (raw
/// and adjusted) stops on either, so each gets half of the look's alpha
/// (Bonferroni) and the row's chance of a false verdict stays the look's.
pub fn level(design: &Design, pairs: usize, last: bool, two_tests: bool) -> Option<f64> {
    let tests = if two_tests { 2.0 } else { 1.0 };
    design.alpha_for(pairs, last).map(|alpha| alpha / tests)
}

/// [`level`] at a row's last look, which decided the row (at least the
/// first look's pairs are assumed: fewer give no sequential verdict).
pub fn last_level(design: &Design, pairs: usize, two_tests: bool) -> f64 {
    level(design, pairs.max(FIRST_LOOK), true, two_tests).expect("a last look always has a level")
}

/// One look at a bench's pairs.
#[derive(Debug, Clone)]
pub struct Look {
    pub stop: Stop,
    pub row: PairedRow,
    /// The smallest slowdown this look's interval could have shown.
    pub min_detectable: f64,
}

/// Looks at `raw` pairs (and `adjusted`, as [`PairedRow::of`] takes them)
/// when their count is one of the design's looks, or when `last`; `None`
/// otherwise. An error when the pairs cannot be compared. Each test is at
/// the look's [`level`].
pub fn look<R: AsRef<[f64]>>(
    design: &Design,
    raw: &[R],
    adjusted: Option<&[Option<&[f64]>]>,
    last: bool,
) -> Option<Result<Look>> {
    let alpha = level(design, raw.len(), last, adjusted.is_some())?;
    Some(PairedRow::of(raw, adjusted, 1.0 - alpha).map(|row| Look {
        stop: stop_of(design, &row),
        min_detectable: min_detectable(design, row.raw.shift.lower, row.raw.shift.upper),
        row,
    }))
}
