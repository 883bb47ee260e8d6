//! What a row's warning is about, as a stable key carried next to its
//! text: the comment groups warnings by it (one line per kind, with the
//! benches it concerns) instead of matching the English of the sentence.

use serde::{Deserialize, Serialize};

/// The kind of one row warning (`Row::warning_kinds`, the same position as
/// the text in `Row::warnings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// The baseline came from another machine kind and its samples were
    /// scaled by the floor ratio: the row's figure is not the raw one.
    FloorScaled,
    /// An exact counter rose: the row regresses whatever its timing.
    CounterRegressed,
    /// Too few samples to ever reach significance: the row cannot fail.
    TooFewSamples,
    /// The two sides cannot be compared (units, mode, no samples, a
    /// reference figure): the row has no verdict.
    NotCompared,
    /// The bench is not in the Rust baseline.
    NotInBaseline,
    /// The bench is in the Rust baseline but was not measured.
    NotMeasured,
    /// The pair's Go figure is missing.
    NoGoFigure,
    /// A stored-baseline regression that lockstep against the baseline's
    /// commit on this runner also shows: a regression of the code.
    RejudgedCode,
    /// A stored-baseline regression that could not be re-judged: the
    /// stored verdict stands.
    NotRejudged,
    /// The interval was widened by the spread between whole runs.
    IntervalWidened,
    /// The row was decided from lockstep pairs (how many, their spread).
    Paired,
    /// The lockstep row's test at the same rate of the counted event.
    Adjusted,
    /// A stored-baseline regression that lockstep against the baseline's
    /// commit does not show: the runner, not the code.
    RejudgedRunner,
    /// Flagged in the first measurement, not confirmed by a fresh process.
    Unconfirmed,
    /// An exact counter fell, or rose within `allow_counters`.
    CounterMoved,
    /// An exact counter without a value on a side: not compared.
    CounterMissing,
    /// The two sides' configuration lines differ (Go's `note:`, `cpu:`,
    /// ...): compared anyway, as `benchstat -ignore` would.
    ConfigDiffers,
    /// A unit neither declared nor known: its direction was assumed.
    UnitAssumed,
    /// A unit the same on every run (or declared exact): compared exactly.
    UnitExact,
    /// A warning of a report written before kinds were recorded.
    Other,
}

impl WarningKind {
    /// Whether the warning changes how its row should be read (the comment
    /// shows those; the others are folded).
    pub fn changes_reading(self) -> bool {
        use WarningKind::*;
        matches!(
            self,
            FloorScaled
                | CounterRegressed
                | TooFewSamples
                | NotCompared
                | NotInBaseline
                | NotMeasured
                | NoGoFigure
                | RejudgedCode
                | NotRejudged
                | ConfigDiffers
                | UnitAssumed
                | Other
        )
    }

    /// What the warnings of this kind say, in a few words, for a line that
    /// groups them.
    pub fn summary(self) -> &'static str {
        use WarningKind::*;
        match self {
            FloorScaled => {
                "baseline from another machine kind, its samples scaled by the floor ratio"
            }
            CounterRegressed => "an exact counter rose: a regression whatever the timing",
            TooFewSamples => "too few samples to ever reach significance",
            NotCompared => "not compared",
            NotInBaseline => "not in the Rust baseline (`gate baseline update` records it)",
            NotMeasured => "in the Rust baseline but not measured in this run",
            NoGoFigure => "no Go figure (`gate baseline import-go` adds one)",
            RejudgedCode => {
                "regressed against the stored baseline and against its commit measured now in lockstep: the code"
            }
            NotRejudged => "not re-judged against the baseline's commit: the stored verdict stands",
            IntervalWidened => "interval widened by the spread between whole baseline runs",
            Paired => "decided from lockstep pairs of base and head (signed-rank test)",
            Adjusted => "also tested at the same rate of the counted event",
            RejudgedRunner => {
                "regressed against the stored baseline but not against its commit measured now in lockstep: the runner, not a failure"
            }
            Unconfirmed => "flagged at first, not confirmed by a fresh process: not a failure",
            CounterMoved => "an exact counter fell, or rose within `allow_counters`",
            CounterMissing => "an exact counter without a value on a side: not compared",
            ConfigDiffers => "configurations differ between the sides: compared anyway",
            UnitAssumed => "a unit's direction assumed (no `Unit ... better=` line)",
            UnitExact => "a unit the same on every run: compared exactly",
            Other => "other",
        }
    }
}
