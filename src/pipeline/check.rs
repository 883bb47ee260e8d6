//! `gate check` as a pipeline: measure (from one [`Source`]), pair and
//! decide (the core), confirm what was flagged, re-judge a regression
//! against the stored baseline on this runner, write the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use regex::Regex;

use gate_core::config::{Config, Undecided};
use gate_core::formats::Baseline;
use gate_core::model::{Benchmark, Build, ResultSet};
use gate_core::pairing::{self, Sources, floor};
use gate_core::sequential::Design;
use gate_core::verdict::{Report, Verdict};
use gate_runner::ab::{self, LockstepPairs};
use gate_runner::run::{Prepared, RunPlan};

use super::arbitrate::{FloorRun, Host};
use super::collect::{collect_with_live_go, remeasure_fresh, results_path};
use super::confirm::{Fixed, confirm};
use super::plan::{Selection, compile_filter, plan_for};
use super::sequential;

/// Where the old side of the Rust rows comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The stored baselines; `no_run` reads the results already on disk.
    Stored { no_run: bool },
    /// A base commit built here and measured in lockstep with the head.
    Lockstep { reference: String },
}

/// What `gate check` does.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// `gate.yaml`.
    pub config: PathBuf,
    pub selection: Selection,
    pub source: Source,
    /// Where the JSON report goes (default: beside the raw results).
    pub json: Option<PathBuf>,
}

/// A finished check.
pub struct Checked {
    pub config: Config,
    pub report: Report,
    /// Where the JSON report was written.
    pub report_path: PathBuf,
}

/// How flagged benches are measured again.
enum Remeasure {
    /// Fresh processes of the head (a check against the stored baselines).
    Fresh(Box<Prepared>),
    /// Fresh lockstep pairs of base and head (`--quick` or not).
    Lockstep(Box<LockstepPairs>, bool),
    /// Nothing to measure with (`--no-run`).
    None,
}

/// The measurements of one check, before any decision.
struct Measured {
    new: ResultSet,
    base: Option<ResultSet>,
    live_go: Option<ResultSet>,
    remeasure: Remeasure,
    /// The sequential design of the lockstep pairs, kept for confirmations.
    design: Option<Design>,
    /// A note that leads the report (how the rows were measured).
    lead: Option<String>,
    /// Notes that follow the decision's own.
    notes: Vec<String>,
    builds: BTreeMap<String, Build>,
}

/// Runs a check and writes its JSON report.
pub fn check(opts: &CheckOptions) -> Result<Checked> {
    let config = Config::load(&opts.config)?;
    let filter = compile_filter(opts.selection.filter.as_deref())?;
    let mut plan = plan_for(&config, &opts.selection)?;
    let (config, mut m) = measure(config, &mut plan, opts, filter.as_ref())?;
    let mut report = pairing::build_report(&config, &m.new, filter.as_ref(), m.sources())?;
    report.builds = std::mem::take(&mut m.builds);
    report.notes.append(&mut m.notes);
    if let Some(lead) = m.lead.take() {
        report.notes.insert(0, lead);
    }
    confirm_flagged(&config, &mut m, &mut report, filter.as_ref())?;
    if let (Source::Stored { no_run: false }, Remeasure::Fresh(_)) = (&opts.source, &m.remeasure) {
        super::arbitrate::rejudge(&config, &plan, &mut report, opts.selection.quick)?;
    }
    if config.undecided == Undecided::Fail
        && report.verdict == Verdict::Pass
        && report.undecided_line().is_some()
    {
        report.verdict = Verdict::Regression;
    }
    let raw_path = results_path(&plan.criterion_home);
    gate_core::formats::write_results(&raw_path, &m.new)?;
    if opts.selection.quick {
        report.notes.insert(
            0,
            "quick mode: fewer and shorter samples; intervals are wider and small regressions may go unseen".into(),
        );
    }
    let report_path = opts
        .json
        .clone()
        .unwrap_or_else(|| raw_path.with_file_name("report.json"));
    gate_core::report::write_json(&report, &report_path)?;
    Ok(Checked {
        config,
        report,
        report_path,
    })
}

/// Measures a check from its source. A stored check that runs measures
/// the floor first (`arbitrate::host_moved`): on a moved host it becomes
/// the lockstep comparison with the baseline's commit, under the stored
/// check's question (the returned config); otherwise that floor
/// measurement is kept.
fn measure(
    config: Config,
    plan: &mut RunPlan,
    opts: &CheckOptions,
    filter: Option<&Regex>,
) -> Result<(Config, Measured)> {
    let m = match &opts.source {
        Source::Lockstep { reference } => measure_lockstep(&config, plan, reference, opts)?,
        Source::Stored { no_run: true } => measure_stored(&config, plan, true, None, None, filter)?,
        Source::Stored { no_run: false } => {
            let bl = pairing::load_baseline(&config, &config.baselines.rust, "Rust", false)?;
            let floor = match super::arbitrate::host_moved(&config, plan, bl.as_ref())? {
                Host::Moved(host) => {
                    let config = super::arbitrate::stored_question(&config);
                    let m = measure_moved_host(&config, plan, &host, opts)?;
                    return Ok((config, m));
                }
                Host::Same(floor) => Some(*floor),
                Host::Unmeasured => None,
            };
            measure_stored(&config, plan, false, bl.as_ref(), floor, filter)?
        }
    };
    Ok((config, m))
}

impl Measured {
    fn sources(&self) -> Sources<'_> {
        Sources {
            base: self.base.as_ref(),
            live_go: self.live_go.as_ref(),
            design: self.design.as_ref(),
        }
    }
}

/// The head measured once (live Go interleaved when pairs ask for it), or
/// read from disk; the floor added to a filter that normalisation needs
/// (against `baseline`, the Rust baseline). The floor benches already
/// measured (`floor`) are kept rather than run again.
fn measure_stored(
    config: &Config,
    plan: &mut RunPlan,
    no_run: bool,
    baseline: Option<&Baseline>,
    floor: Option<FloorRun>,
    filter: Option<&Regex>,
) -> Result<Measured> {
    let mut notes = Vec::new();
    if let Some(f) = &plan.filter
        && let Some(bl) = baseline
        && let Some((widened, note)) =
            floor::widen_filter(&config.floor, f, bl, &gate_runner::env::detect())
    {
        plan.filter = Some(widened);
        notes.push(note);
    }
    let mut run_plan = plan.clone();
    let kept = floor.and_then(|f| without_floor(&mut run_plan, f));
    let mut c = collect_with_live_go(config, &run_plan, no_run, filter)?;
    if let Some(kept) = kept {
        c.set.benchmarks.extend(kept);
        c.set.benchmarks.sort_by(|a, b| a.id.cmp(&b.id));
    }
    if let Some(reason) = c.live_skipped {
        notes.push(format!(
            "live Go not measured ({reason}): the stored Go baseline is used"
        ));
    }
    let mut builds = BTreeMap::new();
    if let Some(p) = &c.prepared {
        builds.insert("head".to_string(), ab::build_of(p, None, None));
    }
    Ok(Measured {
        new: c.set,
        base: None,
        live_go: c.live_go,
        remeasure: c
            .prepared
            .map_or(Remeasure::None, |p| Remeasure::Fresh(Box::new(p))),
        design: None,
        lead: None,
        notes,
        builds,
    })
}

/// Leaves out of `plan`'s selection the floor benches `floor` measured
/// and returns their results, to be merged into the run's: those the plan
/// selects, when it selects something else too (otherwise `None`, the
/// plan unchanged: the floor runs again, with the rest).
fn without_floor(plan: &mut RunPlan, floor: FloorRun) -> Option<Vec<Benchmark>> {
    let (asked, _) = plan.asked(&floor.listed);
    let runs = |id: &str| plan.lets_run(id);
    let kept: Vec<Benchmark> = floor
        .set
        .benchmarks
        .into_iter()
        .filter(|b| asked.contains(&b.id) && runs(&b.id))
        .collect();
    let rest: Vec<String> = asked
        .iter()
        .filter(|id| !kept.iter().any(|b| &b.id == *id))
        .cloned()
        .collect();
    if kept.is_empty() || !rest.iter().any(|id| runs(id)) {
        return None;
    }
    match plan.only {
        Some(_) => plan.only = Some(rest),
        None => plan.ids = rest,
    }
    Some(kept)
}

/// Base and head built here and measured in lockstep pairs, each bench
/// until its interval decides (`super::sequential`).
fn measure_lockstep(
    config: &Config,
    plan: &RunPlan,
    reference: &str,
    opts: &CheckOptions,
) -> Result<Measured> {
    let ab = ab::prepare(plan, reference, config.lockstep.clone())?;
    let quick = opts.selection.quick;
    let budget = config.budget_secs(quick);
    gate_runner::progress::say(format!(
        "{} id(s) of base and head in lockstep pairs, each until it decides, within {budget:.0} s",
        ab.ids.len()
    ));
    let measured = sequential::measure_check(config, &ab.pairs, &ab.ids, quick, None)?;
    let ls = &config.lockstep;
    let note = format!(
        "same-runner A/B: base {reference} ({}) and head were built and measured on this runner, \
         in lockstep (pairs of processes taking turns sample by sample, {} samples of {} ms per \
         side), each bench until its interval decided ({}); Rust rows compare head with base, \
         not with baselines/",
        &ab.commit[..12],
        ls.samples,
        ls.sample_ms,
        measured.describe(budget)
    );
    let [head_build, base_build] = ab.builds;
    let builds = BTreeMap::from([
        ("head".to_string(), head_build),
        ("base".to_string(), base_build),
    ]);
    Ok(Measured {
        new: measured.head,
        base: Some(measured.base),
        live_go: None,
        remeasure: Remeasure::Lockstep(Box::new(ab.pairs), quick),
        design: Some(measured.design),
        lead: Some(note),
        notes: Vec::new(),
        builds,
    })
}

/// A stored check on a host whose floor moved (`arbitrate::host_moved`):
/// the head in lockstep against the commit that last wrote the Rust
/// baseline, as `--base` measures, with the stored check's tolerance.
fn measure_moved_host(
    config: &Config,
    plan: &RunPlan,
    host: &super::arbitrate::MovedHost,
    opts: &CheckOptions,
) -> Result<Measured> {
    let mut m = measure_lockstep(config, plan, &host.commit, opts)?;
    if let Some(base) = m.builds.remove("base") {
        m.builds.insert("baseline-commit".to_string(), base);
    }
    let lead = format!(
        "the floor benches, measured first, moved against the Rust baseline ({}): this is not the machine \
         that measured it, so the Rust rows compare the head with {}, the commit that last wrote {}, \
         measured now on this runner in lockstep (tolerance {}), not with the stored figures; {}",
        host.moved,
        &host.commit[..12],
        config.baselines.rust.display(),
        config.tolerance,
        m.lead.take().unwrap_or_default()
    );
    gate_runner::progress::say(&lead);
    m.lead = Some(lead);
    Ok(m)
}

/// Confirmation runs of the flagged rows, with the check's own way of
/// measuring again.
fn confirm_flagged(
    config: &Config,
    m: &mut Measured,
    report: &mut Report,
    filter: Option<&Regex>,
) -> Result<()> {
    match &m.remeasure {
        Remeasure::Lockstep(pairs, quick) => confirm(
            config,
            &mut m.new,
            m.base.as_mut(),
            Fixed {
                live_go: m.live_go.as_ref(),
                design: m.design.as_ref(),
            },
            report,
            filter,
            &mut |ids| {
                let again =
                    sequential::measure_check(config, pairs, ids, *quick, m.design.as_ref())?;
                Ok((again.head, Some(again.base)))
            },
        ),
        Remeasure::Fresh(prepared) => confirm(
            config,
            &mut m.new,
            None,
            Fixed {
                live_go: m.live_go.as_ref(),
                design: None,
            },
            report,
            filter,
            &mut |ids| Ok((remeasure_fresh(prepared, ids)?, None)),
        ),
        Remeasure::None => {
            if report.verdict == Verdict::Regression && config.confirm > 0 {
                report
                    .notes
                    .push("--no-run: regressions were not confirmed by a fresh measurement".into());
            }
            Ok(())
        }
    }
}

/// Writes the report of a check that failed: verdict `error`, no rows, the
/// error in `notes`, so that whoever reads the file never finds the `pass`
/// of an earlier run. Failing to write it is only a warning.
pub fn write_error_report(err: &anyhow::Error, path: &Path) {
    let report = Report::error(&gate_runner::env::detect(), format!("error: {err:#}"));
    if let Err(e) = gate_core::report::write_json(&report, path) {
        gate_runner::progress::warn(format!("cannot write the error report: {e:#}"));
    }
}

#[cfg(test)]
mod tests {
    use gate_core::model::{Lang, Mode};

    use super::*;

    fn floor_run(ids: &[&str]) -> FloorRun {
        let bench = |id: &str| Benchmark::new(id, Lang::Rust, Mode::Sequential, 1, vec![1.0]);
        FloorRun {
            set: ResultSet {
                benchmarks: ids.iter().map(|id| bench(id)).collect(),
                ..ResultSet::default()
            },
            listed: ["a/x/sequential", "floor/s/sequential", "b/y/sequential"]
                .map(String::from)
                .to_vec(),
        }
    }

    #[test]
    fn the_floor_measured_first_leaves_the_selection() {
        let floor = "floor/s/sequential";
        // Every listed id: the rest are the other listed ids.
        let mut plan = RunPlan::new(".", "p");
        let kept = without_floor(&mut plan, floor_run(&[floor])).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(plan.ids, ["a/x/sequential", "b/y/sequential"]);
        // `cargo.ids` without the floor: nothing kept, the plan unchanged.
        let mut plan = RunPlan::new(".", "p");
        plan.ids = vec!["a/x/sequential".into()];
        assert!(without_floor(&mut plan, floor_run(&[floor])).is_none());
        assert_eq!(plan.ids, ["a/x/sequential"]);
        // A filter that selects only the floor: it runs again, as one run.
        let mut plan = RunPlan::new(".", "p");
        plan.filter = Some(Regex::new("^floor/").unwrap());
        assert!(without_floor(&mut plan, floor_run(&[floor])).is_none());
        assert!(plan.ids.is_empty() && plan.only.is_none());
        // A confirmation's `only`.
        let mut plan = RunPlan::new(".", "p");
        plan.only = Some(vec![floor.into(), "b/y/sequential".into()]);
        assert!(without_floor(&mut plan, floor_run(&[floor])).is_some());
        assert_eq!(plan.only.unwrap(), ["b/y/sequential"]);
    }
}
