//! `gate compare OLD NEW` and `gate report`: offline comparison and
//! rendering of saved results, with the same statistics and decision as
//! `gate check`.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};

use crate::check::exit_code;
use crate::cmd::{CompareArgs, EXIT_PASS, ReportArgs, ReportFormat};
use gate_core::formats::{self, load_any};
use gate_core::model::{Benchmark, ResultSet, SCHEMA_VERSION};
use gate_core::verdict::{self, Options, Pairing, Report, RowKind};

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
            go: None,
            max_ratio: None,
            earlier: Vec::new(),
            runner: None,
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

fn load(path: &std::path::Path) -> Result<ResultSet> {
    let parsed = load_any(path, None)?;
    for w in &parsed.warnings {
        eprintln!("warning: {w}");
    }
    let mut set = parsed.set;
    if set.benchmarks.is_empty() {
        bail!("{}: holds no benchmark results", path.display());
    }
    if set.provenance.is_none() {
        set.provenance = Some(path.display().to_string());
    }
    Ok(set)
}

/// `gate compare OLD NEW`. With `--json`, an error (exit 2) writes a report
/// with verdict `error` (see [`crate::check::cmd_check`]).
pub fn cmd_compare(args: &CompareArgs) -> Result<i32> {
    let result = compare(args);
    if let (Err(err), Some(path)) = (&result, &args.json) {
        crate::check::write_error_report(err, path);
    }
    result
}

fn compare(args: &CompareArgs) -> Result<i32> {
    if !(0.0..1.0).contains(&args.tolerance) {
        bail!("--tolerance {} is not a fraction in [0, 1)", args.tolerance);
    }
    if !(args.alpha > 0.0 && args.alpha < 0.5) {
        bail!("--alpha {} must be in (0, 0.5)", args.alpha);
    }
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let opts = Options {
        tolerance: args.tolerance,
        alpha: args.alpha,
        ..Options::default()
    };
    let report = compare_sets(&old, &new, &opts);
    print!("{}", gate_core::report::table::render(&report));
    if let Some(p) = &args.json {
        gate_core::report::write_json(&report, p)?;
    }
    Ok(exit_code(report.verdict))
}

/// `gate report RESULTS --format ...`: renders a saved report, or a results
/// file (any format `gate compare` reads) for `gobench`.
pub fn cmd_report(args: &ReportArgs) -> Result<i32> {
    let text = std::fs::read_to_string(&args.results)
        .with_context(|| format!("cannot read {}", args.results.display()))?;
    let is_report = text.trim_start().starts_with('{')
        && serde_json::from_str::<serde_json::Value>(&text)
            .map(|v| v.get("rows").is_some())
            .unwrap_or(false);
    match args.format {
        ReportFormat::Gobench => {
            let set = load(&args.results)?;
            print!("{}", formats::write_go(&set)?);
        }
        _ if !is_report => bail!(
            "{}: not a gate report (no `rows`); `--format {}` renders the JSON written by \
             `gate check --json` or `gate compare --json` (a results file renders with --format gobench)",
            args.results.display(),
            match args.format {
                ReportFormat::Table => "table",
                ReportFormat::Json => "json",
                _ => "markdown",
            }
        ),
        ReportFormat::Table => {
            print!(
                "{}",
                gate_core::report::table::render(&gate_core::report::read_json(&args.results)?)
            )
        }
        ReportFormat::Json => {
            let report = gate_core::report::read_json(&args.results)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        ReportFormat::Markdown => {
            let report = gate_core::report::read_json(&args.results)?;
            print!(
                "{}",
                gate_core::report::markdown::render_markdown(&report, args.template.as_deref())?
            );
        }
    }
    Ok(EXIT_PASS)
}
