//! Units of a result other than time, and which way is better for each.
//!
//! A Go result line carries several units (`ns/op`, `B/op`, `allocs/op`,
//! `MB/s`, custom metrics); `gate compare` compares each with its own
//! direction. The rule is `benchstat`'s (`benchfmt.UnitMetadataMap.GetBetter`
//! in golang.org/x/perf): a `Unit <unit> better=higher|lower` line wins; else
//! time (`ns/op`, `sec/op`) and allocation (`B/op`, `allocs/op`) are lower
//! is better and throughput (`MB/s`, `B/s`) higher. `benchstat` leaves any
//! other unit without a direction; a gate must decide, so any other `/s`
//! unit is a rate (higher is better) and the rest are costs (lower is
//! better), and the row says that this was assumed.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::model::{Benchmark, Lang};

/// The unit of time samples.
pub const TIME_UNIT: &str = "ns/op";
/// Go's own per-op allocation units, reduced to counters.
pub const GO_COUNTER_UNITS: [&str; 2] = ["B/op", "allocs/op"];
/// Unit metadata `benchstat` itself understands for deterministic values
/// (`Unit <unit> assume=exact`); the Go writer puts it on exact counters.
pub const EXACT_META: (&str, &str) = ("assume", "exact");
/// Prefix of labels that keep Go `Unit <unit> <key>=<value>` metadata:
/// `unit:<unit>:<key>` = `<value>` (e.g. `unit:MB/s:better` = `higher`).
pub const UNIT_LABEL_PREFIX: &str = "unit:";
/// The metadata key of a unit's direction (`Unit <unit> better=higher`).
pub const BETTER_KEY: &str = "better";

/// The label that keeps `key` of `unit`'s metadata: `unit:<unit>:<key>`.
pub fn unit_label(unit: &str, key: &str) -> String {
    format!("{UNIT_LABEL_PREFIX}{unit}:{key}")
}

/// (unit, key) of a [`unit_label`]; `None` for any other label.
pub fn parse_unit_label(label: &str) -> Option<(&str, &str)> {
    label.strip_prefix(UNIT_LABEL_PREFIX)?.rsplit_once(':')
}

/// Which values of a unit are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// A cost: time, bytes, allocations. A rise regresses.
    Lower,
    /// A rate: throughput. A fall regresses.
    Higher,
}

impl Better {
    /// The value of `better` metadata that declares this direction.
    pub fn name(self) -> &'static str {
        match self {
            Better::Lower => "lower",
            Better::Higher => "higher",
        }
    }

    /// "lower is better" / "higher is better".
    pub fn words(self) -> &'static str {
        match self {
            Better::Lower => "lower is better",
            Better::Higher => "higher is better",
        }
    }

    /// Whether a move of a value (new compared with old) is for the worse.
    pub fn is_worse(self, moved: Ordering) -> bool {
        match self {
            Better::Lower => moved == Ordering::Greater,
            Better::Higher => moved == Ordering::Less,
        }
    }
}

/// Where a unit's direction came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// A `Unit <unit> better=...` line.
    Declared,
    /// `benchstat`'s built-in list (time, allocation, `MB/s`, `B/s`).
    Known,
    /// Neither: the gate's assumption (`/s` a rate, anything else a cost).
    Assumed,
}

/// The direction of `unit`, given the value of its `better` metadata if
/// any.
pub fn better(unit: &str, declared: Option<&str>) -> (Better, Why) {
    if let Some(b) = [Better::Lower, Better::Higher]
        .into_iter()
        .find(|b| declared == Some(b.name()))
    {
        return (b, Why::Declared);
    }
    match unit {
        u if u == TIME_UNIT || u == "sec/op" || GO_COUNTER_UNITS.contains(&u) => {
            (Better::Lower, Why::Known)
        }
        "MB/s" | "B/s" => (Better::Higher, Why::Known),
        u if u.ends_with("/s") => (Better::Higher, Why::Assumed),
        _ => (Better::Lower, Why::Assumed),
    }
}

/// The direction of a benchmark's unit, from its `unit:<unit>:better` label
/// (the Go reader keeps `Unit` metadata so).
pub fn better_of(b: &Benchmark) -> (Better, Why) {
    let label = unit_label(&b.unit, BETTER_KEY);
    better(&b.unit, b.labels.get(&label).map(String::as_str))
}

/// The label that restores a unit's direction `better` on a benchmark,
/// when it differs from what [`better`] finds without one; `None` when the
/// unit's own rule already gives it.
pub fn better_label(unit: &str, better_is: Better) -> Option<(String, String)> {
    (better(unit, None).0 != better_is)
        .then(|| (unit_label(unit, BETTER_KEY), better_is.name().to_string()))
}

/// Whether a Go benchmark's `unit` gets a row of its own in `gate compare`:
/// both sides are Go and report values of it. Such a
/// unit (`B/op`, an exact counter) is decided on its row, not again with
/// the time row's counters.
pub fn has_unit_row(old: &Benchmark, new: &Benchmark, unit: &str) -> bool {
    let reports =
        |b: &Benchmark| b.lang == Lang::Go && b.metrics.get(unit).is_some_and(|v| !v.is_empty());
    reports(old) && reports(new)
}

/// Whether a benchmark's values of its unit are deterministic: declared
/// so (`Unit <unit> assume=exact`, or an exact counter), or the same on
/// every one of at least two runs. Such values are compared exactly, as
/// the gate's exact counters are: any change in the worse direction
/// regresses, whatever the size.
pub fn is_exact(b: &Benchmark) -> bool {
    let declared = b
        .labels
        .get(&unit_label(&b.unit, EXACT_META.0))
        .is_some_and(|v| v == EXACT_META.1)
        || crate::formats::exact_counters(b).contains(&b.unit.as_str());
    let constant = b.samples.len() >= 2 && b.samples.iter().all(|v| *v == b.samples[0]);
    declared || constant
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mode;

    #[test]
    fn benchstat_directions_and_the_gate_s_assumptions() {
        for (unit, want) in [
            ("ns/op", (Better::Lower, Why::Known)),
            ("sec/op", (Better::Lower, Why::Known)),
            ("B/op", (Better::Lower, Why::Known)),
            ("allocs/op", (Better::Lower, Why::Known)),
            ("MB/s", (Better::Higher, Why::Known)),
            ("B/s", (Better::Higher, Why::Known)),
            ("ops/s", (Better::Higher, Why::Assumed)),
            ("text-bytes", (Better::Lower, Why::Assumed)),
            ("mprotect/op", (Better::Lower, Why::Assumed)),
        ] {
            assert_eq!(better(unit, None), want, "{unit}");
        }
        assert_eq!(
            better("text-bytes", Some("higher")),
            (Better::Higher, Why::Declared)
        );
        assert_eq!(
            better("MB/s", Some("lower")),
            (Better::Lower, Why::Declared)
        );
        // An unknown value is no declaration.
        assert_eq!(better("MB/s", Some("up")), (Better::Higher, Why::Known));
    }

    #[test]
    fn the_unit_label_declares_the_direction() {
        let mut b = Benchmark::new("BenchmarkX", Lang::Go, Mode::Undeclared, 1, vec![1.0]);
        b.unit = "hits".into();
        assert_eq!(better_of(&b), (Better::Lower, Why::Assumed));
        b.labels
            .insert(unit_label("hits", BETTER_KEY), "higher".into());
        assert_eq!(better_of(&b), (Better::Higher, Why::Declared));
    }

    #[test]
    fn exact_when_declared_or_the_same_on_every_run() {
        let mut b = Benchmark::new("BenchmarkX", Lang::Go, Mode::Undeclared, 1, vec![96.0; 5]);
        b.unit = "B/op".into();
        assert!(is_exact(&b));
        b.samples = vec![96.0];
        assert!(!is_exact(&b), "one run says nothing about its spread");
        b.samples = vec![96.0, 97.0];
        assert!(!is_exact(&b));
        b.labels
            .insert(unit_label("B/op", EXACT_META.0), EXACT_META.1.into());
        assert!(is_exact(&b));
    }

    #[test]
    fn unit_labels_read_back_and_directions_restore_only_when_declared() {
        let label = unit_label("MB/s", BETTER_KEY);
        assert_eq!(label, "unit:MB/s:better");
        assert_eq!(parse_unit_label(&label), Some(("MB/s", "better")));
        assert_eq!(parse_unit_label("exact"), None);
        assert_eq!(better_label("MB/s", Better::Higher), None);
        assert_eq!(
            better_label("hits", Better::Higher),
            Some(("unit:hits:better".to_string(), "higher".to_string()))
        );
        assert!(Better::Higher.is_worse(Ordering::Less));
        assert!(!Better::Lower.is_worse(Ordering::Less));
    }
}
