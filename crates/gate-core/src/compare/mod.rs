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
/// A benchmark whose mode differs between the sets is not compared: the
/// row says why (like with like), instead of printing a meaningless ratio.
pub fn compare_sets(old: &ResultSet, new: &ResultSet, opts: &Options) -> Report {
    let matched = config::match_sets(old, new);
    let mut one_sided: Vec<Vec<String>> = Vec::new();
    let unit_sides: Vec<Vec<(Benchmark, Benchmark)>> = matched
        .iter()
        .map(|pair| {
            let mut names = Vec::new();
            let sides = match pair {
                (Some(o), Some(n)) if o.mode == n.mode => units::unit_sides(o, n, &mut names),
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
            && o.mode != n.mode
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

/// One `compare` row's pairing; `b` gives its id, mode and threads.
fn pairing<'a>(
    b: &Benchmark,
    old: Option<&'a Benchmark>,
    new: Option<&'a Benchmark>,
    warnings: Vec<(WarningKind, String)>,
) -> Pairing<'a> {
    Pairing {
        id: b.id.clone(),
        kind: RowKind::Compare,
        mode: b.mode,
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
