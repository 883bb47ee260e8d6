//! Updating the stored baselines: a run merged into the Rust baseline, a
//! Go import's sets, and what changed between two versions.
//!
//! Nothing is lost silently: a Rust update keeps the figures of benches it
//! did not measure (for example with `--filter`) and lists them; a Go import
//! replaces only the set that came from the same file name and lists every
//! figure that changed, appeared or went away.

use std::collections::BTreeMap;
use std::path::Path;

use crate::figures::{fmt_change, fmt_ns};
use crate::formats::{Baseline, BaselineKind};
use crate::model::{Lang, ResultSet};

type Key = (Lang, String, u32);

fn medians(bl: &Baseline) -> BTreeMap<Key, (f64, bool)> {
    let mut out = BTreeMap::new();
    for set in &bl.sets {
        for b in &set.benchmarks {
            let m = crate::stats::median(&b.samples).unwrap_or(f64::NAN);
            // Later sets win, as in `Baseline::find`, unless only a reference figure.
            let key = (b.lang, b.id.clone(), b.threads);
            match out.get(&key) {
                Some(&(_, false)) if b.reference_only => {}
                _ => {
                    out.insert(key, (m, b.reference_only));
                }
            }
        }
    }
    out
}

fn name(k: &Key) -> String {
    match k.0 {
        Lang::Go if k.2 > 1 => format!("{}-{}", k.1, k.2),
        _ => k.1.clone(),
    }
}

/// Lines describing what changed between two versions of a baseline.
pub fn describe_changes(old: Option<&Baseline>, new: &Baseline) -> Vec<String> {
    let before = old.map(medians).unwrap_or_default();
    let after = medians(new);
    let mut lines = Vec::new();
    for (k, &(m, reference)) in &after {
        let tag = if reference { " (reference figure)" } else { "" };
        match before.get(k) {
            None => lines.push(format!("  + {}: {}{tag}", name(k), fmt_ns(m))),
            Some(&(o, _)) if (o - m).abs() > f64::EPSILON * o.abs().max(1.0) => {
                lines.push(format!(
                    "  ~ {}: {} -> {} ({}){tag}",
                    name(k),
                    fmt_ns(o),
                    fmt_ns(m),
                    fmt_change(m / o)
                ))
            }
            Some(_) => {}
        }
    }
    for (k, &(o, _)) in &before {
        if !after.contains_key(k) {
            lines.push(format!("  - {}: {} (removed)", name(k), fmt_ns(o)));
        }
    }
    lines
}

/// Builds the new Rust baseline: this run's set first, then the previous
/// figures of benches this run did not measure, so a filtered update keeps
/// them (and says so).
pub fn merge_rust(previous: Option<&Baseline>, run: ResultSet) -> (Baseline, usize) {
    let mut bl = Baseline::new(BaselineKind::Rust);
    let mut kept = ResultSet {
        environment: Default::default(),
        benchmarks: Vec::new(),
        provenance: None,
    };
    if let Some(prev) = previous {
        for set in &prev.sets {
            for b in &set.benchmarks {
                let remeasured = run.find(b.lang, &b.id, b.threads).is_some();
                let dup = kept.find(b.lang, &b.id, b.threads).is_some();
                if !remeasured && !dup {
                    kept.benchmarks.push(b.clone());
                    if kept.provenance.is_none() {
                        kept.environment = set.environment.clone();
                        kept.provenance = Some(format!(
                            "kept from the previous baseline ({})",
                            set.provenance.as_deref().unwrap_or("unknown provenance")
                        ));
                    }
                }
            }
        }
    }
    let n_kept = kept.benchmarks.len();
    bl.sets.push(run);
    if n_kept > 0 {
        bl.sets.push(kept);
    }
    (bl, n_kept)
}

/// The key a Go import replaces its own set by: the file's name.
pub fn file_key(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}
