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

use serde::{Deserialize, Serialize};

use crate::formats::UNIT_LABEL_PREFIX;
use crate::model::Benchmark;

/// The unit of time samples.
pub const TIME_UNIT: &str = "ns/op";

/// Which values of a unit are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// A cost: time, bytes, allocations. A rise regresses.
    Lower,
    /// A rate: throughput. A fall regresses.
    Higher,
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
    match declared {
        Some("higher") => return (Better::Higher, Why::Declared),
        Some("lower") => return (Better::Lower, Why::Declared),
        _ => {}
    }
    match unit {
        "ns/op" | "sec/op" | "B/op" | "allocs/op" => (Better::Lower, Why::Known),
        "MB/s" | "B/s" => (Better::Higher, Why::Known),
        u if u.ends_with("/s") => (Better::Higher, Why::Assumed),
        _ => (Better::Lower, Why::Assumed),
    }
}

/// The direction of a benchmark's unit, from its `unit:<unit>:better` label
/// (the Go reader keeps `Unit` metadata so).
pub fn better_of(b: &Benchmark) -> (Better, Why) {
    let label = format!("{UNIT_LABEL_PREFIX}{}:better", b.unit);
    better(&b.unit, b.labels.get(&label).map(String::as_str))
}

/// Whether a benchmark's values of its unit are deterministic: declared
/// so (`Unit <unit> assume=exact`, or an exact counter), or the same on
/// every one of at least two runs. Such values are compared exactly, as
/// the gate's exact counters are: any change in the worse direction
/// regresses, whatever the size.
pub fn is_exact(b: &Benchmark) -> bool {
    let declared = b
        .labels
        .get(&format!("{UNIT_LABEL_PREFIX}{}:assume", b.unit))
        .is_some_and(|v| v == "exact")
        || crate::formats::exact_counters(b).contains(&b.unit.as_str());
    let constant = b.samples.len() >= 2 && b.samples.iter().all(|v| *v == b.samples[0]);
    declared || constant
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lang, Mode};

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
            .insert(format!("{UNIT_LABEL_PREFIX}hits:better"), "higher".into());
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
            .insert(format!("{UNIT_LABEL_PREFIX}B/op:assume"), "exact".into());
        assert!(is_exact(&b));
    }
}
