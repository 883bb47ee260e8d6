//! `gate check`: the whole pipeline, run -> collect -> compare -> decide ->
//! report -> publish, and the pairing rules that make comparisons honest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regex::Regex;

use crate::cmd::{CheckArgs, EXIT_ERROR, EXIT_PASS, EXIT_REGRESSION};
use gate_core::config::Config;
use gate_core::formats::{self, Baseline};
use gate_core::model::{Lang, ResultSet, SCHEMA_VERSION};
use gate_core::verdict::{self, Options, Pairing, Report, RowKind, RowVerdict, Verdict};
use gate_runner::livego;
use gate_runner::run::{self, RunPlan};

/// Where the old side of the rows comes from, beyond the stored baselines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// `--base`: the base measured on this runner replaces the stored Rust baseline.
    pub base: Option<&'a ResultSet>,
    /// Live Go: Go measured on this runner replaces the stored Go figure of
    /// the pairs that name a `go_package`.
    pub live_go: Option<&'a ResultSet>,
}

/// Exit code of a report's verdict.
pub fn exit_code(v: Verdict) -> i32 {
    match v {
        Verdict::Pass => EXIT_PASS,
        Verdict::Regression => EXIT_REGRESSION,
        Verdict::Error => EXIT_ERROR,
    }
}

pub use crate::pipeline::plan::compile_filter;

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

/// A regular expression matching exactly these bench ids.
pub fn ids_regex(ids: &[String]) -> Regex {
    Regex::new(&format!(
        "^(?:{})$",
        ids.iter()
            .map(|f| regex::escape(f))
            .collect::<Vec<_>>()
            .join("|")
    ))
    .expect("escaped ids form a valid expression")
}

/// Reads the criterion results of the plan's criterion home (all, or those
/// matching `filter`) with this machine's environment.
pub fn read_rust_results(plan: &RunPlan, filter: Option<&Regex>) -> Result<ResultSet> {
    let home = &plan.criterion_home;
    let parsed = formats::read_criterion(home, filter)
        .with_context(|| format!("reading criterion results in {}", home.display()))?;
    for w in &parsed.warnings {
        eprintln!("warning: {w}");
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
    live_go: Option<&ResultSet>,
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
        eprintln!(
            "gate: {} bench(es) flagged; measuring again in a fresh process to confirm (round {round}/{}): {}",
            flagged.len(),
            config.confirm,
            flagged.join(", ")
        );
        let (fresh, fresh_base) = remeasure(&flagged)?;
        replace_benchmarks(new, fresh);
        if let (Some(b), Some(fresh)) = (base.as_deref_mut(), fresh_base) {
            replace_benchmarks(b, fresh);
        }
        let sources = Sources {
            base: base.as_deref(),
            live_go,
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
                row.warnings.push(format!(
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

/// Measures `ids` again in a fresh process each (confirmation of a check
/// against the stored baseline).
pub fn remeasure_fresh(prepared: &run::Prepared, ids: &[String]) -> Result<ResultSet> {
    prepared.run_ids(ids)?;
    read_rust_results(prepared.plan(), Some(&ids_regex(ids)))
}

fn load_baseline(
    config: &Config,
    path: &Path,
    what: &str,
    required: bool,
) -> Result<Option<Baseline>> {
    let path = config.resolve(path);
    if !path.exists() {
        if required {
            bail!(
                "{}: no {what} baseline (a missing baseline is an error, never a silent pass). \
                 Create it with `gate baseline {}`{}",
                path.display(),
                if what == "Rust" {
                    "update"
                } else {
                    "import-go FILE..."
                },
                if what == "Rust" {
                    ", or set `require_baseline: false` in gate.yaml"
                } else {
                    ""
                }
            );
        }
        return Ok(None);
    }
    formats::read_baseline(&path).map(Some)
}

fn selected(config: &Config, filter: Option<&Regex>, id: &str) -> bool {
    filter.is_none_or(|f| f.is_match(id))
        && (config.cargo.ids.is_empty() || config.cargo.ids.iter().any(|i| i == id))
}

/// Pairs the new Rust results with the stored baselines and decides.
///
/// Like with like: a Rust/Go pair is compared only when the Go figure was
/// recorded with the mode and GOMAXPROCS the pair names; anything else is a
/// configuration error (exit 2), never a silently wrong ratio.
pub fn build_report(
    config: &Config,
    new: &ResultSet,
    filter: Option<&Regex>,
    sources: Sources<'_>,
) -> Result<Report> {
    let base = sources.base;
    // With `--base`, the base measured on this runner replaces the stored
    // Rust baseline (which is then not required).
    let rust_bl = match base {
        Some(set) => {
            let mut bl = Baseline::new(formats::BaselineKind::Rust);
            bl.sets.push(set.clone());
            Some(bl)
        }
        None => load_baseline(
            config,
            &config.baselines.rust,
            "Rust",
            config.require_baseline,
        )?,
    };
    let go_bl = load_baseline(config, &config.baselines.go, "Go", !config.pairs.is_empty())?;
    let mut notes = Vec::new();
    let normalised = rust_bl
        .as_ref()
        .map(|bl| normalise_by_floor(bl, new, &mut notes))
        .unwrap_or_default();
    if base.is_none()
        && let Some(note) = rust_bl
            .as_ref()
            .and_then(|bl| floor_drift_note(bl, new, config.tolerance))
    {
        notes.push(note);
    }
    let mut pairings: Vec<Pairing<'_>> = Vec::new();

    for b in new.benchmarks.iter().filter(|b| b.lang == Lang::Rust) {
        let mut warnings = Vec::new();
        let stored = rust_bl
            .as_ref()
            .and_then(|bl| bl.find(Lang::Rust, &b.id, b.threads))
            .map(|f| f.benchmark);
        let old = match normalised
            .iter()
            .find(|n| n.id == b.id && n.threads == b.threads)
        {
            Some(n) => {
                warnings.push(format!(
                    "baseline measured on another machine kind: its samples were scaled by the floor ratio ({})",
                    n.labels.get(NORMALISED_LABEL).map(String::as_str).unwrap_or("?")
                ));
                Some(n)
            }
            None => stored,
        };
        if old.is_none() && rust_bl.is_some() {
            warnings.push(format!(
                "not in the Rust baseline {}: run `gate baseline update` to record it",
                config.resolve(&config.baselines.rust).display()
            ));
        }
        pairings.push(Pairing {
            id: b.id.clone(),
            kind: RowKind::RustVsRust,
            mode: b.mode,
            threads: b.threads,
            old,
            new: Some(b),
            go: None,
            max_ratio: None,
            warnings,
        });
    }
    if let Some(bl) = &rust_bl {
        let mut seen = std::collections::BTreeSet::new();
        for b in bl.benchmarks().filter(|b| !b.reference_only) {
            if new.find(Lang::Rust, &b.id, b.threads).is_some()
                || !selected(config, filter, &b.id)
                || !seen.insert((b.id.clone(), b.threads))
            {
                continue;
            }
            pairings.push(Pairing {
                id: b.id.clone(),
                kind: RowKind::RustVsRust,
                mode: b.mode,
                threads: b.threads,
                old: Some(b),
                new: None,
                go: None,
                max_ratio: None,
                warnings: vec!["in the Rust baseline but not measured in this run".into()],
            });
        }
    }

    let cfg = config.path.display();
    for (i, pair) in config.pairs.iter().enumerate() {
        if !selected(config, filter, &pair.rust) {
            continue;
        }
        let at = format!("{cfg}: pairs[{i}] (rust `{}`, go `{}`)", pair.rust, pair.go);
        let rust = new.find(Lang::Rust, &pair.rust, pair.threads);
        if rust.is_none() {
            // A typo in `rust:` must not turn into a quiet `missing` row.
            let measured: Vec<&str> = new.benchmarks.iter().map(|b| b.id.as_str()).collect();
            bail!(
                "{at}: unknown bench id `{}`: this check has no result for it (measured: {}); \
                 fix the pair's `rust` field, or list the bench in `cargo.ids`",
                pair.rust,
                measured.join(", ")
            );
        }
        // Go measured on this runner wins over the stored figure.
        let live = sources
            .live_go
            .filter(|_| pair.go_package.is_some())
            .and_then(|set| {
                set.find(Lang::Go, &pair.go, pair.threads)
                    .map(|benchmark| formats::baseline::Found { set, benchmark })
            });
        let go = live.or_else(|| {
            go_bl
                .as_ref()
                .and_then(|bl| bl.find(Lang::Go, &pair.go, pair.threads))
        });
        let mut warnings = Vec::new();
        if let Some(found) = go {
            let g = found.benchmark;
            if g.mode != pair.mode {
                bail!(
                    "{at}: mode mismatch: the Go baseline records `{}` at GOMAXPROCS {} as {} ({}), \
                     the pair says {}. Go's RunParallel figure is inverse throughput, a sequential \
                     figure is latency: re-import it with `gate baseline import-go --mode {}` if \
                     that is what the Go benchmark does, or pair it with a {} Rust bench",
                    pair.go,
                    g.threads,
                    g.mode,
                    g.source.as_deref().unwrap_or("unknown source"),
                    pair.mode,
                    pair.mode,
                    g.mode
                );
            }
            if found.set.environment.flags.iter().any(|f| f == "-race") {
                bail!(
                    "{at}: the Go baseline `{}` was measured with -race, which slows Go by 2-20x: \
                     re-import a run without -race",
                    pair.go
                );
            }
        } else {
            warnings.push(format!(
                "no Go figure `{}` at GOMAXPROCS {} in {}: import one with `gate baseline import-go`",
                pair.go,
                pair.threads,
                config.resolve(&config.baselines.go).display()
            ));
        }
        pairings.push(Pairing {
            id: pair.rust.clone(),
            kind: RowKind::RustVsGo,
            mode: pair.mode,
            threads: pair.threads,
            old: go.map(|f| f.benchmark),
            new: rust,
            go: Some(if pair.threads > 1 {
                format!("{}-{}", pair.go, pair.threads)
            } else {
                pair.go.clone()
            }),
            max_ratio: pair.max_ratio,
            warnings,
        });
    }

    let opts = Options {
        tolerance: config.tolerance,
        alpha: config.alpha,
        allow_counters: config.allow_counters.clone(),
        paired_tolerance: config.lockstep.tolerance,
        ..Options::default()
    };
    let (rows, verdict) = verdict::decide(&pairings, &opts);

    let mut baseline_environments = BTreeMap::new();
    if let Some(set) = rust_bl.as_ref().and_then(|bl| bl.sets.first()) {
        baseline_environments.insert("rust".to_string(), set.environment.clone());
        notes.push(machine_note(
            "Rust baseline",
            &set.environment,
            &new.environment,
        ));
    }
    if let Some(set) = sources.live_go {
        baseline_environments.insert("go-live".to_string(), set.environment.clone());
        notes.push(format!(
            "Go figures of the pairs with a `go_package` were {}: Rust/Go from the same machine",
            set.provenance
                .as_deref()
                .unwrap_or("measured live on this runner")
        ));
    }
    if let Some(set) = go_bl.as_ref().and_then(|bl| {
        bl.sets
            .iter()
            .find(|s| s.benchmarks.iter().any(|b| !b.reference_only))
    }) {
        baseline_environments.insert("go".to_string(), set.environment.clone());
        notes.push(format!(
            "Go figures are the stored baseline ({}), not measured in this run; {}",
            set.provenance.as_deref().unwrap_or("unknown provenance"),
            machine_note("it", &set.environment, &new.environment)
        ));
    }
    Ok(Report {
        schema: SCHEMA_VERSION,
        verdict,
        environment: new.environment.clone(),
        baseline_environments,
        rows,
        notes,
        builds: Default::default(),
    })
}

/// The floor bench: one `mprotect(READ)` + `mprotect(NONE)` pair, the
/// physical limit of a sequential secret access on the machine.
pub const FLOOR_ID: &str = gate_runner::env::FLOOR_MPROTECT_PAIR;
/// Label on a normalised baseline benchmark saying how it was scaled.
pub const NORMALISED_LABEL: &str = "normalised";

/// Secret benches are dominated by the `mprotect` floor, so when the Rust
/// baseline was measured on another kind of machine, its secret samples are
/// scaled by (floor here / floor there), both floors measured in their own
/// run. Nothing is widened: the scaled samples go through the same test.
///
/// Only benches the floor models are scaled: those whose counters say they
/// make `mprotect` calls and map nothing per op ([`floor_bound`]). A bench
/// that maps and locks pages per op (`create_random`, `lifecycle`: 16-18
/// µs against a 1.4 µs floor) is bound by other kernel paths, and scaling
/// it by the `mprotect` ratio flagged both +104-107% on unchanged code when
/// the host changed (measured here); such benches are compared directly,
/// and a note names them.
///
/// Per set: a filtered `gate baseline update` keeps the benches it did not
/// measure in a set of their own, so a bench's floor is the one of *its*
/// set (the run that measured it), never another run's. Returns the scaled
/// copies of the figures the check uses (empty when the machines match, or
/// when a set lacks the floor, which a note then says).
fn normalise_by_floor(
    bl: &Baseline,
    new: &ResultSet,
    notes: &mut Vec<String>,
) -> Vec<gate_core::model::Benchmark> {
    let floor = |s: &ResultSet| {
        s.find(Lang::Rust, FLOOR_ID, 1)
            .and_then(|b| gate_core::stats::median(&b.samples))
    };
    let mut out = Vec::new();
    for set in &bl.sets {
        if set.environment.same_machine_kind(&new.environment).0 != Some(false) {
            continue;
        }
        // The sequential secret figures of this set that the check uses.
        let (used, direct): (Vec<&gate_core::model::Benchmark>, Vec<_>) = set
            .benchmarks
            .iter()
            .filter(|b| b.id.starts_with("secret/") && b.mode == gate_core::model::Mode::Sequential)
            .filter(|b| {
                bl.find(Lang::Rust, &b.id, b.threads)
                    .is_some_and(|f| std::ptr::eq(f.benchmark, *b))
            })
            .partition(|b| floor_bound(b));
        // Name only those this run measured (a filter may leave them out).
        let direct: Vec<_> = direct
            .into_iter()
            .filter(|b| new.find(Lang::Rust, &b.id, b.threads).is_some())
            .collect();
        if !direct.is_empty() {
            notes.push(format!(
                "not normalised by the mprotect floor, since they map or lock memory per op (or record no \
                 counters): {}; compared directly",
                direct
                    .iter()
                    .map(|b| format!("`{}`", b.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if used.is_empty() {
            continue;
        }
        let (Some(there), Some(here)) = (floor(set), floor(new)) else {
            notes.push(format!(
                "the Rust baseline comes from another machine kind but `{FLOOR_ID}` is not in both runs \
                 (this run and the baseline run `{}`): its secret benches are compared without normalisation",
                set.provenance.as_deref().unwrap_or("unknown provenance")
            ));
            continue;
        };
        let factor = here / there;
        notes.push(format!(
            "the Rust baseline comes from another machine kind: sequential secret benches were normalised by the \
             mprotect floor ({} here, {} there, factor {factor:.3}); other benches are compared directly",
            gate_core::report::fmt_ns(here),
            gate_core::report::fmt_ns(there)
        ));
        out.extend(used.into_iter().map(|b| {
            let mut n = b.clone();
            n.samples.iter_mut().for_each(|x| *x *= factor);
            n.labels.insert(
                NORMALISED_LABEL.into(),
                format!(
                    "factor {factor:.3} = floor {} here / {} there",
                    gate_core::report::fmt_ns(here),
                    gate_core::report::fmt_ns(there)
                ),
            );
            n
        }));
    }
    out
}

/// A filter that leaves the floor out would leave normalisation without
/// its floor (`--filter secret` against a baseline of another machine
/// kind). Returns the plan's filter widened to also run the floor when the
/// Rust baseline has a set of another machine kind holding floor-bound
/// benches the filter selects, with a note saying so; `None` otherwise.
pub fn filter_with_floor(
    filter: &Regex,
    baseline: &Baseline,
    here: &gate_core::model::Environment,
) -> Option<(Regex, String)> {
    if filter.is_match(FLOOR_ID) {
        return None;
    }
    let needed = baseline.sets.iter().any(|set| {
        set.environment.same_machine_kind(here).0 == Some(false)
            && set.benchmarks.iter().any(|b| {
                b.id.starts_with("secret/")
                    && b.mode == gate_core::model::Mode::Sequential
                    && floor_bound(b)
                    && filter.is_match(&b.id)
            })
    });
    if !needed {
        return None;
    }
    let widened = Regex::new(&format!(
        "(?:{})|^{}$",
        filter.as_str(),
        regex::escape(FLOOR_ID)
    ))
    .expect("a valid filter and an escaped id form a valid expression");
    Some((
        widened,
        format!(
            "`{FLOOR_ID}` was measured too, outside --filter: the Rust baseline comes from another machine \
             kind, and the selected secret benches are normalised by it"
        ),
    ))
}

/// Whether the `mprotect` floor models a bench: its counters show
/// `mprotect` calls and no `mmap` or `mlock` per op.
fn floor_bound(b: &gate_core::model::Benchmark) -> bool {
    let per_op = |name: &str| b.counters.get(name).copied();
    per_op("mprotect_per_op").is_some_and(|m| m > 0.0)
        && per_op("mmap_per_op") == Some(0.0)
        && per_op("mlock_per_op").unwrap_or(0.0) == 0.0
}

/// The floor benches measure the machine, not our code: a raw `mprotect`
/// pair and a plain syscall cannot get slower by a code change. When they
/// moved by more than the tolerance against a stored baseline of the *same*
/// machine kind, the machine is not in the state that measured the baseline
/// (another host under the VM, since cloud machines share a generic CPU
/// model string, or the host's load: measured here, the mprotect floor
/// moved 27% within ten minutes), and rows
/// against it may show the machine rather than the code. Says so, with the
/// figures and what to do; verdicts are not changed. Each floor is taken
/// from the baseline set that holds it (see [`normalise_by_floor`]).
fn floor_drift_note(bl: &Baseline, new: &ResultSet, tolerance: f64) -> Option<String> {
    let moved: Vec<String> = [FLOOR_ID, gate_runner::env::FLOOR_SYSCALL]
        .iter()
        .filter_map(|id| {
            let found = bl.find(Lang::Rust, id, 1)?;
            if found.set.environment.same_machine_kind(&new.environment).0 != Some(true) {
                return None;
            }
            let there = gate_core::stats::median(&found.benchmark.samples)?;
            let here = gate_core::stats::median(&new.find(Lang::Rust, id, 1)?.samples)?;
            let r = here / there;
            ((r - 1.0).abs() > tolerance).then(|| format!("`{id}` {:+.0}%", (r - 1.0) * 100.0))
        })
        .collect();
    if moved.is_empty() {
        return None;
    }
    Some(format!(
        "this runner's floor benches moved against the Rust baseline ({}) although the machine kind is the \
         same: the machine is not in the state that measured the baseline (another host under the VM, or \
         its load), so differences against baselines/ may be the machine's, not the code's; a regression \
         against it is re-judged on this runner against the baseline's commit (`arbitrate` in gate.yaml), \
         or refresh the baseline with `gate baseline update`",
        moved.join(", ")
    ))
}

/// Says whether a baseline was measured on the same kind of machine as this
/// run; ratios across machine kinds are not comparable without normalisation.
fn machine_note(
    what: &str,
    base: &gate_core::model::Environment,
    now: &gate_core::model::Environment,
) -> String {
    match base.same_machine_kind(now) {
        (Some(true), _) => format!(
            "{what} was measured on the same machine kind ({}): compared directly",
            now.fingerprint()
        ),
        (Some(false), differ) => format!(
            "{what} was measured on another machine kind ({}): compared directly, so part of \
             any difference may be the machine",
            differ.join(", ")
        ),
        (None, _) => format!(
            "{what} records no machine facts: the machines cannot be compared; treat ratios with care"
        ),
    }
}

/// `gate check`. With `--json`, an error (exit 2) still writes a report
/// (verdict `error`, no rows, the message in `notes`), so that whoever reads
/// the file never finds the `pass` of an earlier run.
pub fn cmd_check(args: &CheckArgs) -> Result<i32> {
    let result = check(args);
    if let (Err(err), Some(path)) = (&result, &args.json) {
        crate::check::write_error_report(err, path);
    }
    result
}

/// Writes the report of a command that failed: verdict `error`, no rows,
/// the error in `notes`. Failing to write it is only a warning: the error
/// itself is what the user must see.
pub fn write_error_report(err: &anyhow::Error, path: &Path) {
    let report = Report::error(&gate_runner::env::detect(), format!("error: {err:#}"));
    if let Err(e) = gate_core::report::write_json(&report, path) {
        eprintln!("warning: cannot write the error report: {e:#}");
    }
}

fn check(args: &CheckArgs) -> Result<i32> {
    let config = Config::load(&args.config)?;
    let filter = compile_filter(args.filter.as_deref())?;
    let mut plan = crate::pipeline::plan::plan_for(
        &config,
        &crate::pipeline::plan::Selection {
            quick: args.quick,
            no_mlock: args.no_mlock,
            filter: args.filter.clone(),
        },
    )?;
    let mut floor_note = None;
    if args.base.is_none()
        && !args.no_run
        && let Some(f) = &plan.filter
        && let Some(bl) = load_baseline(&config, &config.baselines.rust, "Rust", false)
            .ok()
            .flatten()
        && let Some((widened, note)) = filter_with_floor(f, &bl, &gate_runner::env::detect())
    {
        plan.filter = Some(widened);
        floor_note = Some(note);
    }
    let mut live_go = None;
    let mut live_note = None;
    let mut builds = std::collections::BTreeMap::new();
    let (mut new, prepared, mut base, lockstep_pairs) = match &args.base {
        Some(reference) => {
            if args.no_run {
                bail!(
                    "--base measures base and head on this runner; it cannot be combined with --no-run"
                );
            }
            let rounds = if args.quick { 2 } else { config.rounds };
            let ab = gate_runner::ab::measure(
                &plan,
                reference,
                rounds,
                config.rounds,
                config.lockstep.clone(),
            )?;
            let [head_build, base_build] = ab.builds;
            builds.insert("head".to_string(), head_build);
            builds.insert("base".to_string(), base_build);
            (
                ab.head,
                None,
                Some((ab.base, ab.commit, ab.pairs_text)),
                Some(ab.pairs),
            )
        }
        None => {
            let c = collect_with_live_go(&config, &plan, args.no_run, filter.as_ref())?;
            live_go = c.live_go;
            live_note = c.live_skipped;
            if let Some(p) = &c.prepared {
                builds.insert("head".to_string(), gate_runner::ab::build_of(p, None, None));
            }
            (c.set, c.prepared, None, None)
        }
    };
    let sources = Sources {
        base: base.as_ref().map(|b| &b.0),
        live_go: live_go.as_ref(),
    };
    let mut report = build_report(&config, &new, filter.as_ref(), sources)?;
    report.builds = builds;
    report.notes.extend(floor_note);
    if let Some(reason) = live_note {
        report.notes.push(format!(
            "live Go not measured ({reason}): the stored Go baseline is used"
        ));
    }
    if let Some((_, commit, pairs_text)) = &base {
        let ls = &config.lockstep;
        report.notes.insert(
            0,
            format!(
                "same-runner A/B: base {} ({}) and head were built and measured on this runner, \
                 in lockstep (pairs of processes taking turns sample by sample, {pairs_text}, \
                 {} samples of {} ms per side); Rust rows compare head with base, not with baselines/",
                args.base.as_deref().unwrap_or("?"),
                &commit[..12],
                ls.samples,
                ls.sample_ms
            ),
        );
    }
    if let Some(pairs) = &lockstep_pairs {
        let base_set = base.as_mut().map(|b| &mut b.0);
        confirm(
            &config,
            &mut new,
            base_set,
            live_go.as_ref(),
            &mut report,
            filter.as_ref(),
            &mut |ids| {
                let (b, h) = pairs.measure(ids)?;
                Ok((h, Some(b)))
            },
        )?;
    } else if let Some(prepared) = &prepared {
        confirm(
            &config,
            &mut new,
            None,
            live_go.as_ref(),
            &mut report,
            filter.as_ref(),
            &mut |ids| Ok((remeasure_fresh(prepared, ids)?, None)),
        )?;
        crate::arbitrate::rejudge(&config, &plan, &mut report, args.quick)?;
    } else if report.verdict == Verdict::Regression && config.confirm > 0 {
        report
            .notes
            .push("--no-run: regressions were not confirmed by a fresh measurement".into());
    }
    let raw_path = results_path(&plan.criterion_home);
    formats::write_results(&raw_path, &new)?;
    if args.quick {
        report.notes.insert(
            0,
            "quick mode: fewer and shorter samples; intervals are wider and small regressions may go unseen".into(),
        );
    }
    print!("{}", gate_core::report::table::render(&report));
    let report_path = match &args.json {
        Some(p) => p.clone(),
        None => raw_path.with_file_name("report.json"),
    };
    gate_core::report::write_json(&report, &report_path)?;
    if args.json.is_some() {
        eprintln!("report written to {}", report_path.display());
    }
    gate_github::publish_check(
        &report,
        &report_path,
        &config.comment,
        &config.root,
        args.github,
    )?;
    Ok(exit_code(report.verdict))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_core::model::{Benchmark, Environment, Mode};

    fn bench(id: &str, center: f64) -> Benchmark {
        let samples = (0..30)
            .map(|i| center * (1.0 + 0.001 * f64::from(i % 7)))
            .collect();
        Benchmark::new(id, Lang::Rust, Mode::Sequential, 1, samples)
    }

    fn set(cpu: &str, floor: f64, secret: f64) -> ResultSet {
        ResultSet {
            environment: Environment {
                cpu_model: Some(cpu.into()),
                ..Default::default()
            },
            benchmarks: vec![
                bench(FLOOR_ID, floor),
                with_counters(bench("secret/with_bytes/sequential", secret), 2.0, 0.0),
                // Maps and locks a page per op, 8x the floor: not floor-bound.
                with_counters(bench("secret/lifecycle/sequential", 8.0 * secret), 5.0, 1.0),
            ],
            provenance: None,
        }
    }

    fn with_counters(mut b: Benchmark, mprotect: f64, mmap: f64) -> Benchmark {
        b.counters.insert("mprotect_per_op".into(), mprotect);
        b.counters.insert("mmap_per_op".into(), mmap);
        b.counters.insert("mlock_per_op".into(), mmap);
        b
    }

    fn report(old: ResultSet, new: &ResultSet) -> Report {
        report_of_sets(vec![old], new)
    }

    fn report_of_sets(sets: Vec<ResultSet>, new: &ResultSet) -> Report {
        let dir = tempfile::tempdir().unwrap();
        let mut bl = Baseline::new(formats::BaselineKind::Rust);
        bl.sets = sets;
        formats::write_baseline(&dir.path().join("rust.yaml"), &bl).unwrap();
        let cfg = Config::parse(
            "baselines:\n  rust: rust.yaml\n  go: go.yaml\n",
            &dir.path().join("gate.yaml"),
        )
        .unwrap();
        build_report(&cfg, new, None, Sources::default()).unwrap()
    }

    fn verdict_of(r: &Report, id: &str) -> RowVerdict {
        r.rows.iter().find(|x| x.id == id).unwrap().verdict
    }

    /// Whether a note of `r` holds every fragment.
    fn has_note(r: &Report, fragments: &[&str]) -> bool {
        r.notes
            .iter()
            .any(|n| fragments.iter().all(|f| n.contains(f)))
    }

    #[test]
    fn another_machine_kind_is_normalised_by_the_floor() {
        // A machine twice as fast at mprotect: the secret bench halves too.
        let r = report(
            set("slow cpu", 2000.0, 2200.0),
            &set("fast cpu", 1000.0, 1100.0),
        );
        assert_eq!(
            verdict_of(&r, "secret/with_bytes/sequential"),
            RowVerdict::Unchanged
        );
        assert!(
            has_note(&r, &["normalised by the mprotect floor"]),
            "{:?}",
            r.notes
        );
        // The floor itself is compared directly: it did change.
        assert_eq!(verdict_of(&r, FLOOR_ID), RowVerdict::Improved);
        // A bench that maps memory per op is not scaled by the mprotect
        // floor: compared directly, and a note names it.
        assert_eq!(
            verdict_of(&r, "secret/lifecycle/sequential"),
            RowVerdict::Improved
        );
        assert!(
            has_note(&r, &["not normalised", "secret/lifecycle/sequential"]),
            "{:?}",
            r.notes
        );
    }

    /// A filtered `gate baseline update` leaves the floor in the second set
    /// (kept from the previous baseline) and only other benches in the
    /// first: the secret bench is still normalised, by its own set's floor.
    #[test]
    fn the_floor_of_a_benchs_own_set_normalises_it() {
        let mut parallel = bench("secret/with_bytes/parallel/t2", 100.0);
        parallel.mode = Mode::Parallel;
        parallel.threads = 2;
        let fresh = ResultSet {
            environment: Environment {
                cpu_model: Some("slow cpu".into()),
                ..Default::default()
            },
            benchmarks: vec![parallel],
            provenance: Some("gate baseline update --filter parallel".into()),
        };
        let r = report_of_sets(
            vec![fresh, set("slow cpu", 2000.0, 2200.0)],
            &set("fast cpu", 1000.0, 1100.0),
        );
        assert_eq!(
            verdict_of(&r, "secret/with_bytes/sequential"),
            RowVerdict::Unchanged,
            "{:?}",
            r.notes
        );
        assert!(has_note(&r, &["factor 0.500"]), "{:?}", r.notes);
    }

    /// `--filter secret` against a baseline of another machine kind runs
    /// the floor too; nothing changes when it is not needed.
    #[test]
    fn a_filter_without_the_floor_is_widened_only_when_normalisation_needs_it() {
        let mut bl = Baseline::new(formats::BaselineKind::Rust);
        bl.sets.push(set("slow cpu", 2000.0, 2200.0));
        let elsewhere = Environment {
            cpu_model: Some("fast cpu".into()),
            ..Default::default()
        };
        let f = |re: &str| Regex::new(re).unwrap();
        let (widened, note) = filter_with_floor(&f("secret"), &bl, &elsewhere).unwrap();
        assert!(widened.is_match(FLOOR_ID) && widened.is_match("secret/with_bytes/sequential"));
        assert!(!widened.is_match("keycache/read_existing_key/sequential"));
        assert!(note.contains("outside --filter"), "{note}");
        // Only benches the floor does not model, or none selected, or the
        // floor already in: no change.
        assert!(filter_with_floor(&f("lifecycle"), &bl, &elsewhere).is_none());
        assert!(filter_with_floor(&f("keycache"), &bl, &elsewhere).is_none());
        assert!(filter_with_floor(&f("secret|floor"), &bl, &elsewhere).is_none());
        // The same machine kind: compared directly, no floor needed.
        let same = Environment {
            cpu_model: Some("slow cpu".into()),
            ..Default::default()
        };
        assert!(filter_with_floor(&f("secret"), &bl, &same).is_none());
    }

    #[test]
    fn the_same_machine_kind_is_compared_directly() {
        let r = report(set("cpu", 2000.0, 2200.0), &set("cpu", 1000.0, 1100.0));
        assert_eq!(
            verdict_of(&r, "secret/with_bytes/sequential"),
            RowVerdict::Improved
        );
        assert!(!has_note(&r, &["normalised"]), "{:?}", r.notes);
    }

    /// Same fingerprint, but the mprotect floor doubled: the report says the
    /// host changed (the floor is the machine, not the code); an unchanged
    /// floor says nothing.
    #[test]
    fn a_floor_that_moved_on_the_same_machine_kind_is_reported() {
        let r = report(set("cpu", 1000.0, 1100.0), &set("cpu", 2000.0, 2200.0));
        assert!(
            has_note(&r, &["floor benches moved", "+100%"]),
            "{:?}",
            r.notes
        );
        let r = report(set("cpu", 1000.0, 1100.0), &set("cpu", 1001.0, 1100.0));
        assert!(!has_note(&r, &["floor benches moved"]), "{:?}", r.notes);
    }
}

#[cfg(test)]
mod live_go_tests {
    use super::*;
    use gate_core::model::{Benchmark, Mode};

    fn go(samples: Vec<f64>) -> Benchmark {
        Benchmark::new(
            "BenchmarkSecret_WithBytes",
            Lang::Go,
            Mode::Sequential,
            1,
            samples,
        )
    }

    #[test]
    fn live_go_wins_over_the_stored_figure_for_pairs_that_ask_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut bl = Baseline::new(formats::BaselineKind::Go);
        bl.sets.push(ResultSet {
            benchmarks: vec![go(vec![3000.0; 5])],
            ..Default::default()
        });
        formats::write_baseline(&dir.path().join("go.yaml"), &bl).unwrap();
        let cfg = Config::parse(
            "require_baseline: false\nbaselines:\n  go: go.yaml\npairs:\n  - rust: secret/with_bytes/sequential\n    go: BenchmarkSecret_WithBytes\n    mode: sequential\n    threads: 1\n    go_package: go/securememory\n",
            &dir.path().join("gate.yaml"),
        )
        .unwrap();
        let mut rust = go((0..20).map(|i| 1500.0 + f64::from(i)).collect());
        rust.id = "secret/with_bytes/sequential".into();
        rust.lang = Lang::Rust;
        let new = ResultSet {
            benchmarks: vec![rust],
            ..Default::default()
        };
        let live = ResultSet {
            benchmarks: vec![go(vec![2000.0; 10])],
            provenance: Some("measured live".into()),
            ..Default::default()
        };
        let row = |r: &Report| {
            r.rows
                .iter()
                .find(|x| x.kind == RowKind::RustVsGo)
                .unwrap()
                .old
                .clone()
                .unwrap()
        };
        let stored = build_report(&cfg, &new, None, Sources::default()).unwrap();
        assert_eq!(row(&stored).n, 5);
        let with_live = build_report(
            &cfg,
            &new,
            None,
            Sources {
                base: None,
                live_go: Some(&live),
            },
        )
        .unwrap();
        assert_eq!(row(&with_live).n, 10);
        assert_eq!(row(&with_live).median_ns, 2000.0);
    }
}
