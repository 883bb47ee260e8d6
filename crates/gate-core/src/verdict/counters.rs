//! Exact counters: per-op counts a bench records as deterministic
//! (syscalls, allocations), compared exactly rather than statistically;
//! and unit rows whose values are deterministic, compared by the same rule.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::formats::exact_counters;
use crate::model::Benchmark;
use crate::units;

use super::{RowVerdict, WarningKind};

/// Increases of exact counters `gate.yaml` allows, by bench id then counter.
type Allowed = BTreeMap<String, BTreeMap<String, f64>>;

/// How an exact value moved from `o` to `n`. Exact values are ratios of
/// integer counts over a fixed op count, so only a difference beyond float
/// formatting is a move.
pub(super) fn exact_move(o: f64, n: f64) -> Ordering {
    let eps = 1e-9 * o.abs().max(n.abs()).max(1.0);
    if (n - o).abs() <= eps {
        Ordering::Equal
    } else {
        n.total_cmp(&o)
    }
}

/// The increase of `name` up to which `gate.yaml` (`allow_counters`)
/// allows `id`'s value, if it allows `n`.
fn allowance(allow: &Allowed, id: &str, name: &str, n: f64) -> Option<f64> {
    allow
        .get(id)
        .and_then(|m| m.get(name))
        .copied()
        .filter(|&allowed| exact_move(allowed, n) != Ordering::Greater)
}

/// Compares deterministic counters exactly: any increase is a regression
/// unless `gate.yaml` allows the new value. A counter with a row of its
/// own ([`units::has_unit_row`]) is decided there, not here. Returns
/// (regressed, warnings).
pub(super) fn compare_counters(
    id: &str,
    old: &Benchmark,
    new: &Benchmark,
    allow: &Allowed,
) -> (bool, Vec<(WarningKind, String)>) {
    let mut regressed = false;
    let mut warnings = Vec::new();
    let old_exact = exact_counters(old);
    for name in exact_counters(new) {
        if !old_exact.contains(&name) || units::has_unit_row(old, new, name) {
            continue;
        }
        let (Some(&o), Some(&n)) = (old.counters.get(name), new.counters.get(name)) else {
            // Said to be exact but without a value (a counters file lost):
            // say so rather than pass it silently.
            let side = match (
                old.counters.contains_key(name),
                new.counters.contains_key(name),
            ) {
                (true, _) => "the new side",
                (false, true) => "the old side",
                (false, false) => "either side",
            };
            warnings.push((
                WarningKind::CounterMissing,
                format!("exact counter {name} has no value on {side}: not compared"),
            ));
            continue;
        };
        match exact_move(o, n) {
            Ordering::Greater => match allowance(allow, id, name, n) {
                Some(allowed) => warnings.push((
                    WarningKind::CounterMoved,
                    format!(
                        "exact counter {name} rose from {o} to {n} per op (allowed up to {allowed} by gate.yaml `allow_counters`)"
                    ),
                )),
                None => {
                    regressed = true;
                    warnings.push((
                        WarningKind::CounterRegressed,
                        format!(
                            "exact counter {name} rose from {o} to {n} per op: a deterministic regression, whatever the timing noise \
                             (allow it with `allow_counters: {{{id}: {{{name}: {n}}}}}` in gate.yaml if intended)"
                        ),
                    ));
                }
            },
            Ordering::Less => warnings.push((
                WarningKind::CounterMoved,
                format!("exact counter {name} fell from {o} to {n} per op"),
            )),
            Ordering::Equal => {}
        }
    }
    (regressed, warnings)
}

/// The verdict of a unit row whose values are deterministic on both sides
/// ([`units::is_exact`]), from the sides' medians `o` and `n`: the exact
/// rule of counters in the unit's direction, so any move for the worse
/// regresses (unless `allow_counters` allows the rise) and no test joins
/// the family.
pub(super) fn exact_unit(
    id: &str,
    old: &Benchmark,
    new: &Benchmark,
    (o, n): (f64, f64),
    allow: &Allowed,
) -> (RowVerdict, Vec<(WarningKind, String)>) {
    let better = units::better_of(new).0;
    let unit = &new.unit;
    let mut warnings = vec![(
        WarningKind::UnitExact,
        format!(
            "{unit}: the same on every run of each side (or declared exact): compared exactly, {}",
            better.words()
        ),
    )];
    let moved = exact_move(o, n);
    if moved == Ordering::Equal {
        return (RowVerdict::Unchanged, warnings);
    }
    let allowed = (moved == Ordering::Greater)
        .then(|| allowance(allow, id, unit, n))
        .flatten();
    warnings.push((
        WarningKind::UnitExact,
        format!(
            "{unit} {} from {o} to {n} (old n={}, new n={}){}",
            if moved == Ordering::Greater {
                "rose"
            } else {
                "fell"
            },
            old.samples.len(),
            new.samples.len(),
            allowed.map_or(String::new(), |a| format!(
                " (allowed up to {a} by gate.yaml `allow_counters`)"
            ))
        ),
    ));
    let verdict = match (better.is_worse(moved), allowed) {
        (true, None) => RowVerdict::Regressed,
        (true, Some(_)) => RowVerdict::Unchanged,
        (false, _) => RowVerdict::Improved,
    };
    (verdict, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Better;

    #[test]
    fn one_epsilon_for_float_formatting_only() {
        assert_eq!(exact_move(3.0, 3.0 + 1e-12), Ordering::Equal);
        assert_eq!(exact_move(0.0, 1e-12), Ordering::Equal);
        assert_eq!(exact_move(3.0, 4.0), Ordering::Greater);
        assert_eq!(exact_move(96.0, 80.0), Ordering::Less);
        assert!(Better::Lower.is_worse(exact_move(3.0, 4.0)));
    }
}
