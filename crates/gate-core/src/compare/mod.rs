//! `gate compare OLD NEW` and `gate report`: offline comparison and
//! rendering of saved results, with the same statistics and decision as
//! `gate check`.
//!
//! [`config`] decides which old benchmark each new one is compared with and
//! reports configurations that differ; [`units`] adds a row per Go unit
//! other than time, decided in its own direction.

mod config;
mod units;

pub use config::{Difference, differences};

use crate::model::{Benchmark, ResultSet, SCHEMA_VERSION};
use crate::verdict::{self, Options, Pairing, Report, RowKind, WarningKind};

/// Pairs two sets by language, id and thread count (and, within those, the
/// closest configuration) and decides.
///
/// A benchmark whose modes do not [agree](crate::model::Mode::agrees)
/// between the sets is not compared: the row says why (like with like),
/// instead of printing a meaningless ratio. Where one side's mode is
/// undeclared (Go text read without `--mode`), the row takes the other's.
pub fn compare_sets(old: &ResultSet, new: &ResultSet, opts: &Options) -> Report {
    let matched = config::match_sets(old, new);
    let mut one_sided: Vec<Vec<String>> = Vec::new();
    let unit_sides: Vec<Vec<(Benchmark, Benchmark)>> = matched
        .iter()
        .map(|pair| {
            let mut names = Vec::new();
            let sides = match pair {
                (Some(o), Some(n)) if o.mode.agrees(n.mode) => units::unit_sides(o, n, &mut names),
                _ => Vec::new(),
            };
            one_sided.push(names);
            sides
        })
        .collect();
    let mut pairings: Vec<Pairing<'_>> = Vec::new();
    let mut mismatched: Vec<(&Benchmark, &Benchmark)> = Vec::new();
    let mut found = Vec::new();
    for ((pair, sides), one) in matched.iter().zip(&unit_sides).zip(&one_sided) {
        let (o, n) = *pair;
        if let (Some(o), Some(n)) = (o, n)
            && !o.mode.agrees(n.mode)
        {
            mismatched.push((o, n));
            continue;
        }
        let diffs = match (o, n) {
            (Some(o), Some(n)) => differences(o, n),
            _ => Vec::new(),
        };
        let warnings: Vec<(WarningKind, String)> = diffs
            .iter()
            .map(|d| {
                (
                    WarningKind::ConfigDiffers,
                    format!(
                        "configuration differs: {}; compared anyway (benchstat would not pair them)",
                        d.describe()
                    ),
                )
            })
            .collect();
        found.extend(diffs);
        let b = n.or(o).expect("a matched pair has a side");
        let mut time = pairing(b, o, n, warnings.clone());
        if !one.is_empty() {
            time.warnings.push((
                WarningKind::NotCompared,
                format!(
                    "units reported by one side only, not compared: {}",
                    one.join(", ")
                ),
            ));
        }
        pairings.push(time);
        for (uo, un) in sides {
            pairings.push(pairing(un, Some(uo), Some(un), warnings.clone()));
        }
    }
    let (mut rows, verdict) = verdict::decide(&pairings, opts);
    for (o, n) in mismatched {
        rows.push(mode_mismatch_row(o, n, opts));
    }
    let mut baseline_environments = std::collections::BTreeMap::new();
    baseline_environments.insert("old".to_string(), old.environment.clone());
    let same = old.environment.fingerprint() == new.environment.fingerprint();
    let mut notes = vec![format!(
        "offline comparison of {} (old) and {} (new){}",
        old.provenance.as_deref().unwrap_or("?"),
        new.provenance.as_deref().unwrap_or("?"),
        if same {
            String::new()
        } else {
            "; the two sets come from different machine kinds, so part of any difference may be the machine".into()
        }
    )];
    notes.extend(config::notes(&found));
    Report {
        schema: SCHEMA_VERSION,
        verdict,
        environment: new.environment.clone(),
        baseline_environments,
        rows,
        notes,
        builds: Default::default(),
    }
}

/// One `compare` row's pairing; `b` gives its id and threads, and the
/// sides their declared mode.
fn pairing<'a>(
    b: &Benchmark,
    old: Option<&'a Benchmark>,
    new: Option<&'a Benchmark>,
    warnings: Vec<(WarningKind, String)>,
) -> Pairing<'a> {
    let mode = match (old, new) {
        (Some(o), Some(n)) => n.mode.declared_or(o.mode),
        _ => b.mode,
    };
    Pairing {
        id: b.id.clone(),
        kind: RowKind::Compare,
        mode,
        threads: b.threads,
        old,
        new,
        go: None,
        max_ratio: None,
        warnings,
    }
}

/// The row of a benchmark whose mode differs between the sets.
fn mode_mismatch_row(o: &Benchmark, n: &Benchmark, opts: &Options) -> verdict::Row {
    let mut row = verdict::Row {
        old: Some(verdict::side(o, 1.0 - opts.alpha)),
        new: Some(verdict::side(n, 1.0 - opts.alpha)),
        ..verdict::Row::new(
            n.id.clone(),
            RowKind::Compare,
            n.mode,
            n.threads,
            verdict::RowVerdict::Incomparable,
        )
    };
    row.warn(
        WarningKind::NotCompared,
        format!(
            "mode mismatch: old is {} and new is {} at {} thread(s); a sequential figure \
             (latency) and a parallel one (inverse throughput) are not comparable",
            o.mode, n.mode, n.threads
        ),
    );
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::EXACT_LABEL;
    use crate::model::{Lang, Mode};
    use crate::verdict::RowVerdict;

    /// A Go benchmark reporting `B/op` (exact) and `allocs/op` (noisy) on
    /// every line.
    fn go_bench(mode: Mode, bytes: f64) -> Benchmark {
        let mut b = Benchmark::new(
            "BenchmarkX",
            Lang::Go,
            mode,
            1,
            vec![100.0, 101.0, 99.0, 100.5, 99.5],
        );
        b.counters.insert("B/op".into(), bytes);
        b.counters.insert("allocs/op".into(), 3.0);
        b.metrics.insert("B/op".into(), vec![bytes; 5]);
        b.metrics
            .insert("allocs/op".into(), vec![3.0, 4.0, 3.0, 2.0, 3.0]);
        b.labels.insert(EXACT_LABEL.into(), "B/op".into());
        b
    }

    fn set(b: Benchmark) -> ResultSet {
        ResultSet {
            benchmarks: vec![b],
            ..ResultSet::default()
        }
    }

    /// Old JSON with a declared mode against Go text without one: compared,
    /// every row at the declared mode; two declared modes that differ are not.
    #[test]
    fn an_undeclared_side_takes_the_declared_side_s_mode() {
        let old = set(go_bench(Mode::Parallel, 96.0));
        let new = set(go_bench(Mode::Undeclared, 96.0));
        let report = compare_sets(&old, &new, &Options::default());
        assert_eq!(report.rows.len(), 3, "{:?}", report.rows);
        for r in &report.rows {
            assert_ne!(r.verdict, RowVerdict::Incomparable, "{r:?}");
            assert_eq!(r.mode, Mode::Parallel, "{r:?}");
        }
        let new = set(go_bench(Mode::Sequential, 96.0));
        let report = compare_sets(&old, &new, &Options::default());
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.rows[0].verdict, RowVerdict::Incomparable);
    }

    /// An exact `B/op` that rose regresses its own row only: the time row
    /// leaves it to that row, and no unit row warns about counters it does
    /// not hold.
    #[test]
    fn an_exact_unit_is_judged_once_on_its_own_row() {
        let old = set(go_bench(Mode::Undeclared, 96.0));
        let new = set(go_bench(Mode::Undeclared, 128.0));
        let report = compare_sets(&old, &new, &Options::default());
        let verdicts: Vec<(Option<&str>, RowVerdict)> = report
            .rows
            .iter()
            .map(|r| (r.unit.as_deref(), r.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [
                (None, RowVerdict::Unchanged),
                (Some("B/op"), RowVerdict::Regressed),
                (Some("allocs/op"), RowVerdict::Unchanged),
            ]
        );
        for r in &report.rows {
            assert!(
                !r.warnings.iter().any(|w| w.contains("exact counter")),
                "{:?}",
                r.warnings
            );
        }
    }
}
