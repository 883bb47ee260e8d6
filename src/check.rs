//! `gate check`: the whole pipeline, run -> collect -> compare -> decide ->
//! report -> publish, and the pairing rules that make comparisons honest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regex::Regex;

use crate::cli::{CheckArgs, EXIT_ERROR, EXIT_PASS, EXIT_REGRESSION};
use crate::config::Config;
use crate::formats::{self, Baseline};
use crate::model::{Lang, ResultSet, SCHEMA_VERSION};
use crate::run::{self, RunPlan};
use crate::verdict::{self, Options, Pairing, Report, RowKind, RowVerdict, Verdict};

/// Exit code of a report's verdict.
pub fn exit_code(v: Verdict) -> i32 {
    match v {
        Verdict::Pass => EXIT_PASS,
        Verdict::Regression => EXIT_REGRESSION,
        Verdict::Error => EXIT_ERROR,
    }
}

/// Compiles `--filter`, naming the flag when the expression is bad.
pub fn compile_filter(filter: Option<&str>) -> Result<Option<Regex>> {
    filter
        .map(|f| {
            Regex::new(f)
                .with_context(|| format!("--filter `{f}` is not a valid regular expression"))
        })
        .transpose()
}

/// Where `gate check` keeps the raw results of its last run (every sample),
/// beside criterion's folder: `<target>/gate/results.json`.
pub fn results_path(criterion_home: &Path) -> PathBuf {
    criterion_home
        .parent()
        .unwrap_or(Path::new("."))
        .join("gate")
        .join("results.json")
}

/// The bench plan of a check, with the config's environment variables.
pub fn plan_for(config: &Config, args: &CheckArgs) -> Result<RunPlan> {
    let mut plan = RunPlan::for_check(config, args)?;
    for (k, v) in &config.cargo.env {
        if !plan.env.iter().any(|(ek, _)| ek == k) {
            plan.env.push((k.clone(), v.clone()));
        }
    }
    Ok(plan)
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
        return Ok((read_rust_results(plan, filter)?, None));
    }
    let p = run::prepare(plan)?;
    p.run_all()?;
    // Only what this run measured: older results of other ids may linger
    // in the criterion folder and must not pass for this run's figures.
    let set = read_rust_results(plan, Some(&ids_regex(&p.ids())))?;
    Ok((set, Some(p)))
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
    let mut env = crate::env::detect();
    env.features = plan.effective_features();
    set.environment = env;
    set.provenance = Some(format!(
        "gate check, criterion results in {}",
        home.display()
    ));
    Ok(set)
}

/// Confirmation runs: a benchmark flagged `regressed` is measured again in a
/// fresh process, up to `config.confirm` times, and fails the check only if
/// every measurement regressed. One slow run (a noisy neighbour, a page
/// placement) is the most common false alarm of a benchmark gate; a real
/// regression survives a fresh process. The row keeps the earlier
/// measurements in `earlier`, so the report shows both.
pub fn confirm(
    config: &Config,
    prepared: &run::Prepared,
    new: &mut ResultSet,
    report: &mut Report,
    filter: Option<&Regex>,
    base: Option<&ResultSet>,
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
        prepared.run_ids(&flagged)?;
        let exact = Regex::new(&format!(
            "^(?:{})$",
            flagged
                .iter()
                .map(|f| regex::escape(f))
                .collect::<Vec<_>>()
                .join("|")
        ))
        .expect("escaped ids form a valid expression");
        let fresh = read_rust_results(prepared.plan(), Some(&exact))?;
        for b in fresh.benchmarks {
            if let Some(slot) = new
                .benchmarks
                .iter_mut()
                .find(|o| o.lang == b.lang && o.id == b.id && o.threads == b.threads)
            {
                *slot = b;
            }
        }
        let again = build_report(config, new, filter, base)?;
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
    base: Option<&ResultSet>,
) -> Result<Report> {
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
    let mut pairings: Vec<Pairing<'_>> = Vec::new();
    let mut notes = Vec::new();

    for b in new.benchmarks.iter().filter(|b| b.lang == Lang::Rust) {
        let old = rust_bl
            .as_ref()
            .and_then(|bl| bl.find(Lang::Rust, &b.id, b.threads));
        let mut warnings = Vec::new();
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
            old: old.map(|f| f.benchmark),
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
        let go = go_bl
            .as_ref()
            .and_then(|bl| bl.find(Lang::Go, &pair.go, pair.threads));
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
        if rust.is_none() {
            warnings.push(format!(
                "Rust bench `{}` was not measured in this run",
                pair.rust
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
    })
}

/// Says whether a baseline was measured on the same kind of machine as this
/// run; ratios across machine kinds are not comparable without normalisation.
fn machine_note(
    what: &str,
    base: &crate::model::Environment,
    now: &crate::model::Environment,
) -> String {
    let (b, n) = (base.fingerprint(), now.fingerprint());
    if b == n {
        format!("{what} was measured on the same machine kind ({n}): compared directly")
    } else {
        format!(
            "{what} was measured on another machine kind ({b}; this run: {n}): compared directly, \
             so part of any difference may be the machine"
        )
    }
}

/// `gate check`.
pub fn cmd_check(args: &CheckArgs) -> Result<i32> {
    let config = Config::load(&args.config)?;
    let filter = compile_filter(args.filter.as_deref())?;
    let plan = plan_for(&config, args)?;
    let (mut new, prepared, base) = match &args.base {
        Some(reference) => {
            if args.no_run {
                bail!(
                    "--base measures base and head on this runner; it cannot be combined with --no-run"
                );
            }
            let rounds = if args.quick { 2 } else { config.rounds };
            let ab = crate::ab::measure(&plan, reference, rounds)?;
            (
                ab.head,
                Some(ab.head_prepared),
                Some((ab.base, ab.commit, ab.rounds)),
            )
        }
        None => {
            let (new, prepared) = collect(&plan, args.no_run, filter.as_ref())?;
            (new, prepared, None)
        }
    };
    let base_set = base.as_ref().map(|b| &b.0);
    let mut report = build_report(&config, &new, filter.as_ref(), base_set)?;
    if let Some((_, commit, rounds)) = &base {
        report.notes.insert(
            0,
            format!(
                "same-runner A/B: base {} ({}) and head were built and measured on this runner, \
                 interleaved in {rounds} round(s) (A B A B ...); Rust rows compare head with base, not with baselines/",
                args.base.as_deref().unwrap_or("?"),
                &commit[..12]
            ),
        );
    }
    if let Some(prepared) = &prepared {
        confirm(
            &config,
            prepared,
            &mut new,
            &mut report,
            filter.as_ref(),
            base_set,
        )?;
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
    print!("{}", crate::report::table::render(&report));
    let report_path = match &args.json {
        Some(p) => p.clone(),
        None => raw_path.with_file_name("report.json"),
    };
    crate::report::write_json(&report, &report_path)?;
    if args.json.is_some() {
        eprintln!("report written to {}", report_path.display());
    }
    crate::github::publish_check(
        &report,
        &report_path,
        &config.comment,
        &config.root,
        args.github,
    )?;
    Ok(exit_code(report.verdict))
}
