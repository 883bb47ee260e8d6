//! Confirmation runs: a flagged benchmark is measured again before it can
//! fail the check.

use anyhow::Result;
use regex::Regex;

use gate_core::config::Config;
use gate_core::model::ResultSet;
use gate_core::pairing::{Sources, build_report};
use gate_core::sequential::Design;
use gate_core::verdict::{Report, RowVerdict, WarningKind};

/// What stays as it was between a check's measurement and its
/// confirmations: Go measured live, and the lockstep pairs' design.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fixed<'a> {
    pub live_go: Option<&'a ResultSet>,
    pub design: Option<&'a Design>,
}

/// Measures flagged ids again: (fresh new side, fresh base side for `--base`).
pub type Remeasure<'a> = dyn FnMut(&[String]) -> Result<(ResultSet, Option<ResultSet>)> + 'a;

/// Confirmation runs: a benchmark flagged `regressed` is measured again in a
/// fresh process, up to `config.confirm` times, and fails the check only if
/// every measurement regressed. One slow run (a noisy neighbour, a page
/// placement) is the most common false alarm of a benchmark gate; a real
/// regression survives a fresh process. The row keeps the earlier
/// measurements in `earlier`, so the report shows both.
///
/// `remeasure(ids)` measures the flagged ids again and returns the fresh
/// new side and, for `--base`, the fresh base side (a lockstep pair
/// re-measures both), which replace the earlier figures of those ids.
pub fn confirm(
    config: &Config,
    new: &mut ResultSet,
    mut base: Option<&mut ResultSet>,
    fixed: Fixed<'_>,
    report: &mut Report,
    filter: Option<&Regex>,
    remeasure: &mut Remeasure<'_>,
) -> Result<()> {
    for round in 1..=config.confirm {
        let mut flagged: Vec<String> = report
            .rows
            .iter()
            .filter(|r| r.verdict == RowVerdict::Regressed && r.new.is_some())
            .map(|r| r.id.clone())
            .collect();
        flagged.sort();
        flagged.dedup();
        if flagged.is_empty() {
            return Ok(());
        }
        gate_runner::progress::say(format!(
            "{} bench(es) flagged; measuring again in a fresh process to confirm (round {round}/{}): {}",
            flagged.len(),
            config.confirm,
            flagged.join(", ")
        ));
        let (fresh, fresh_base) = remeasure(&flagged)?;
        replace_benchmarks(new, fresh);
        if let (Some(b), Some(fresh)) = (base.as_deref_mut(), fresh_base) {
            replace_benchmarks(b, fresh);
        }
        let sources = Sources {
            base: base.as_deref(),
            live_go: fixed.live_go,
            design: fixed.design,
        };
        let again = build_report(config, new, filter, sources)?;
        let mut confirmed = 0;
        for row in report.rows.iter_mut() {
            if row.verdict != RowVerdict::Regressed || !flagged.contains(&row.id) {
                continue;
            }
            let Some(latest) = again.rows.iter().find(|r| r.same_pair(row)) else {
                continue;
            };
            let mut earlier = std::mem::take(&mut row.earlier);
            earlier.push(row.attempt());
            let first = earlier[0].clone();
            *row = latest.clone();
            row.earlier = earlier;
            if row.verdict == RowVerdict::Regressed {
                confirmed += 1;
            } else {
                row.warn(WarningKind::Unconfirmed, format!(
                    "flagged as regressed in the first measurement ({}) but not confirmed by a fresh process: not a failure",
                    first
                        .ratio
                        .map(|r| format!("ratio {r:.3}"))
                        .unwrap_or_else(|| "no ratio".into())
                ));
            }
        }
        report.notes.push(format!(
            "confirmation round {round}: {} bench(es) measured again in a fresh process; {confirmed} regression(s) confirmed",
            flagged.len()
        ));
        report.refresh_verdict();
    }
    Ok(())
}

/// Replaces the benchmarks of `set` that `fresh` measured again.
fn replace_benchmarks(set: &mut ResultSet, fresh: ResultSet) {
    for b in fresh.benchmarks {
        if let Some(slot) = set
            .benchmarks
            .iter_mut()
            .find(|o| o.lang == b.lang && o.id == b.id && o.threads == b.threads)
        {
            *slot = b;
        }
    }
}
