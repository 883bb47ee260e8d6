//! `gate compare OLD NEW` and `gate report`: offline comparison and
//! rendering of saved results, with the same statistics and decision as
//! `gate check`.

use std::collections::BTreeSet;

use crate::model::{Benchmark, ResultSet, SCHEMA_VERSION};
use crate::verdict::{self, Options, Pairing, Report, RowKind};

/// Pairs two sets by language, id and thread count and decides.
///
/// A benchmark whose mode differs between the sets is not compared: the
/// row says why (like with like), instead of printing a meaningless ratio.
pub fn compare_sets(old: &ResultSet, new: &ResultSet, opts: &Options) -> Report {
    let mut pairings: Vec<Pairing<'_>> = Vec::new();
    let mut mismatched: Vec<(&Benchmark, &Benchmark)> = Vec::new();
    let mut seen = BTreeSet::new();
    for n in &new.benchmarks {
        seen.insert((n.lang, n.id.as_str(), n.threads));
        let o = old.find(n.lang, &n.id, n.threads);
        if let Some(o) = o
            && o.mode != n.mode
        {
            mismatched.push((o, n));
            continue;
        }
        pairings.push(Pairing {
            id: n.id.clone(),
            kind: RowKind::Compare,
            mode: n.mode,
            threads: n.threads,
            old: o,
            new: Some(n),
            go: None,
            max_ratio: None,
            warnings: Vec::new(),
        });
    }
    for o in &old.benchmarks {
        if seen.insert((o.lang, o.id.as_str(), o.threads)) {
            pairings.push(Pairing {
                id: o.id.clone(),
                kind: RowKind::Compare,
                mode: o.mode,
                threads: o.threads,
                old: Some(o),
                new: None,
                go: None,
                max_ratio: None,
                warnings: Vec::new(),
            });
        }
    }
    let (mut rows, verdict) = verdict::decide(&pairings, opts);
    for (o, n) in mismatched {
        rows.push(verdict::Row {
            id: n.id.clone(),
            kind: RowKind::Compare,
            mode: n.mode,
            threads: n.threads,
            old: Some(verdict::side(o, 1.0 - opts.alpha)),
            new: Some(verdict::side(n, 1.0 - opts.alpha)),
            ratio: None,
            ratio_ci: None,
            p_value: None,
            verdict: verdict::RowVerdict::Incomparable,
            warnings: vec![format!(
                "mode mismatch: old is {} and new is {} at {} thread(s); a sequential figure \
                 (latency) and a parallel one (inverse throughput) are not comparable",
                o.mode, n.mode, n.threads
            )],
            warning_kinds: vec![verdict::WarningKind::NotCompared],
            go: None,
            max_ratio: None,
            earlier: Vec::new(),
            runner: None,
            min_detectable: None,
            adjusted: None,
        });
    }
    let mut baseline_environments = std::collections::BTreeMap::new();
    baseline_environments.insert("old".to_string(), old.environment.clone());
    let same = old.environment.fingerprint() == new.environment.fingerprint();
    Report {
        schema: SCHEMA_VERSION,
        verdict,
        environment: new.environment.clone(),
        baseline_environments,
        rows,
        notes: vec![format!(
            "offline comparison of {} (old) and {} (new){}",
            old.provenance.as_deref().unwrap_or("?"),
            new.provenance.as_deref().unwrap_or("?"),
            if same {
                String::new()
            } else {
                "; the two sets come from different machine kinds, so part of any difference may be the machine".into()
            }
        )],
        builds: Default::default(),
    }
}
