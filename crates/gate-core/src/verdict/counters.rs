//! Exact counters: per-op counts a bench records as deterministic
//! (syscalls, allocations), compared exactly rather than statistically.

use std::collections::BTreeMap;

use crate::formats::exact_counters;
use crate::model::Benchmark;

use super::WarningKind;

/// Compares deterministic counters exactly: any increase is a regression
/// unless `gate.yaml` allows the new value. Returns (regressed, warnings).
pub(super) fn compare_counters(
    id: &str,
    old: &Benchmark,
    new: &Benchmark,
    allow: &BTreeMap<String, BTreeMap<String, f64>>,
) -> (bool, Vec<(WarningKind, String)>) {
    let mut regressed = false;
    let mut warnings = Vec::new();
    let old_exact = exact_counters(old);
    for name in exact_counters(new) {
        if !old_exact.contains(&name) {
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
        // Counters are ratios of integer counts over a fixed op count; allow
        // for float formatting only.
        let eps = 1e-9 * o.abs().max(1.0);
        if n > o + eps {
            match allow.get(id).and_then(|m| m.get(name)) {
                Some(&allowed) if n <= allowed + eps => warnings.push((
                    WarningKind::CounterMoved,
                    format!(
                        "exact counter {name} rose from {o} to {n} per op (allowed up to {allowed} by gate.yaml `allow_counters`)"
                    ),
                )),
                _ => {
                    regressed = true;
                    warnings.push((
                        WarningKind::CounterRegressed,
                        format!(
                            "exact counter {name} rose from {o} to {n} per op: a deterministic regression, whatever the timing noise \
                             (allow it with `allow_counters: {{{id}: {{{name}: {n}}}}}` in gate.yaml if intended)"
                        ),
                    ));
                }
            }
        } else if n + eps < o {
            warnings.push((
                WarningKind::CounterMoved,
                format!("exact counter {name} fell from {o} to {n} per op"),
            ));
        }
    }
    (regressed, warnings)
}
