//! Measuring the head's benches and reading their results: one run of
//! every selected bench (with live Go interleaved when pairs ask for it),
//! or the results already on disk.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regex::Regex;

use gate_core::config::Config;
use gate_core::formats;
use gate_core::model::ResultSet;
use gate_core::pairing::ids_regex;
use gate_runner::livego;
use gate_runner::run::{self, RunPlan};

/// Where `gate check` keeps the raw results of its last run (every sample),
/// beside criterion's folder: `<target>/gate/results.json`.
pub fn results_path(criterion_home: &Path) -> PathBuf {
    criterion_home
        .parent()
        .unwrap_or(Path::new("."))
        .join("gate")
        .join("results.json")
}

/// Runs every selected bench once (unless `no_run`) and collects the Rust
/// results with this machine's environment. Returns the prepared benches so
/// that flagged ones can be measured again.
pub fn collect(
    plan: &RunPlan,
    no_run: bool,
    filter: Option<&Regex>,
) -> Result<(ResultSet, Option<run::Prepared>)> {
    if no_run {
        // Without a run, `cargo.ids` says which results on disk are this
        // check's (the folder may hold results of other benches); each of
        // them must be there.
        let wanted: Vec<String> = plan
            .ids
            .iter()
            .filter(|id| filter.is_none_or(|f| f.is_match(id)))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return Ok((read_rust_results(plan, filter)?, None));
        }
        let set = read_rust_results(plan, Some(&ids_regex(&wanted))).with_context(|| {
            format!("reading the results of `cargo.ids` ({})", wanted.join(", "))
        })?;
        for (i, id) in plan.ids.iter().enumerate() {
            if wanted.contains(id) && !set.benchmarks.iter().any(|b| &b.id == id) {
                bail!(
                    "`cargo.ids[{i}]` `{id}` has no result in {}; run `gate check` without --no-run",
                    plan.criterion_home.display()
                );
            }
        }
        return Ok((set, None));
    }
    let p = run::prepare(plan)?;
    p.run_all()?;
    // Only what this run measured: older results of other ids may linger
    // in the criterion folder and must not pass for this run's figures.
    let set = read_rust_results(plan, Some(&ids_regex(&p.ids())))?;
    Ok((set, Some(p)))
}

/// Like [`collect`], and when pairs name a `go_package` and `go` works,
/// runs those Go benchmarks on this runner interleaved with the Rust ones
/// (each round: Go, then a share of the Rust ids). Returns the live Go set,
/// or the reason it was skipped (the stored Go baseline is then used).
pub fn collect_with_live_go(
    config: &Config,
    plan: &RunPlan,
    no_run: bool,
    filter: Option<&Regex>,
) -> Result<Collected> {
    if no_run || !config.pairs.iter().any(|p| p.go_package.is_some()) {
        let (set, prepared) = collect(plan, no_run, filter)?;
        return Ok(Collected {
            set,
            prepared,
            live_go: None,
            live_skipped: None,
        });
    }
    let p = run::prepare(plan)?;
    let ids = p.ids();
    let opts = if plan.quick {
        livego::LiveGoOptions {
            rounds: 2,
            count_per_round: 3,
            benchtime: Some("300ms".into()),
            ..Default::default()
        }
    } else {
        livego::LiveGoOptions::default()
    };
    let rounds = opts.rounds;
    let outcome = livego::measure_live_go(config, &opts, |r| {
        let share = livego::round_share(&ids, r, rounds);
        if !share.is_empty() {
            p.run_ids(share)?;
        }
        Ok(())
    })?;
    let (live, skipped) = match outcome {
        livego::LiveGo::Measured(set) => (Some(*set), None),
        livego::LiveGo::Skipped(reason) => {
            p.run_all()?;
            (None, Some(reason))
        }
    };
    let set = read_rust_results(plan, Some(&ids_regex(&ids)))?;
    Ok(Collected {
        set,
        prepared: Some(p),
        live_go: live,
        live_skipped: skipped,
    })
}

/// What [`collect_with_live_go`] measured.
pub struct Collected {
    /// The Rust results.
    pub set: ResultSet,
    /// The benches, ready to be measured again (None with `--no-run`).
    pub prepared: Option<run::Prepared>,
    /// Go measured on this runner, if any pair asked for it and `go` works.
    pub live_go: Option<ResultSet>,
    /// Why live Go was skipped, when a pair asked for it.
    pub live_skipped: Option<String>,
}

/// Reads the criterion results of the plan's criterion home (all, or those
/// matching `filter`) with this machine's environment.
pub fn read_rust_results(plan: &RunPlan, filter: Option<&Regex>) -> Result<ResultSet> {
    let home = &plan.criterion_home;
    let parsed = formats::read_criterion(home, filter)
        .with_context(|| format!("reading criterion results in {}", home.display()))?;
    for w in &parsed.warnings {
        gate_runner::progress::warn(w);
    }
    let mut set = parsed.set;
    if set.benchmarks.is_empty() {
        bail!(
            "{}: no bench results{}; run `gate check` without --no-run first",
            home.display(),
            filter
                .map(|f| format!(" match --filter `{f}`"))
                .unwrap_or_default()
        );
    }
    let mut env = gate_runner::env::detect();
    env.features = plan.effective_features();
    set.environment = env;
    set.provenance = Some(format!(
        "gate check, criterion results in {}",
        home.display()
    ));
    Ok(set)
}

/// Measures `ids` again in a fresh process each (confirmation of a check
/// against the stored baseline).
pub fn remeasure_fresh(prepared: &run::Prepared, ids: &[String]) -> Result<ResultSet> {
    prepared.run_ids(ids)?;
    read_rust_results(prepared.plan(), Some(&ids_regex(ids)))
}
