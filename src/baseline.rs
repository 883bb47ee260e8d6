//! `gate baseline update` and `gate baseline import-go`: writing the stored
//! baselines, atomically, and saying what changed.
//!
//! Nothing is lost silently: a Rust update keeps the figures of benches it
//! did not measure (for example with `--filter`) and lists them; a Go import
//! replaces only the set that came from the same file name and lists every
//! figure that changed, appeared or went away.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::check;
use crate::cmd::{BaselineUpdateArgs, EXIT_PASS, ImportGoArgs};
use crate::pipeline::plan::{Selection, plan_for};
use gate_core::config::Config;
use gate_core::formats::{self, Baseline, BaselineKind};
use gate_core::model::{Lang, ResultSet};
use gate_core::report::{fmt_change, fmt_ns};

type Key = (Lang, String, u32);

fn medians(bl: &Baseline) -> BTreeMap<Key, (f64, bool)> {
    let mut out = BTreeMap::new();
    for set in &bl.sets {
        for b in &set.benchmarks {
            let m = gate_core::stats::median(&b.samples).unwrap_or(f64::NAN);
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

fn read_existing(path: &Path) -> Result<Option<Baseline>> {
    if path.exists() {
        formats::read_baseline(path).map(Some)
    } else {
        Ok(None)
    }
}

fn write_and_report(path: &Path, old: Option<&Baseline>, new: &Baseline) -> Result<()> {
    formats::write_baseline(path, new)?;
    let changes = describe_changes(old, new);
    println!(
        "wrote {} ({} set(s), {} change(s))",
        path.display(),
        new.sets.len(),
        changes.len()
    );
    for line in changes {
        println!("{line}");
    }
    Ok(())
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

/// `gate baseline update`.
pub fn cmd_update(args: &BaselineUpdateArgs) -> Result<i32> {
    let config = Config::load(&args.config)?;
    let filter = check::compile_filter(args.filter.as_deref())?;
    let plan = plan_for(
        &config,
        &Selection {
            quick: args.quick,
            filter: args.filter.clone(),
            ..Selection::default()
        },
    )?;
    let (first, prepared) = check::collect(&plan, args.no_run, filter.as_ref())?;
    let mut pooled = None;
    gate_runner::ab::pool(&mut pooled, first);
    let mut runs = 1;
    if let Some(prepared) = &prepared {
        let only = check::ids_regex(&prepared.ids());
        for r in 2..=args.runs.max(1) {
            eprintln!("gate: run {r}/{} of the baseline", args.runs);
            prepared.run_all()?;
            gate_runner::ab::pool(&mut pooled, check::read_rust_results(&plan, Some(&only))?);
            runs = r;
        }
    }
    let mut run = pooled.expect("the first run is there");
    run.provenance = Some(format!(
        "gate baseline update{}{}{}",
        if args.quick { " --quick" } else { "" },
        if runs > 1 {
            format!(", {runs} runs pooled")
        } else {
            String::new()
        },
        args.filter
            .as_deref()
            .map(|f| format!(" --filter {f}"))
            .unwrap_or_default()
    ));
    if args.quick {
        eprintln!(
            "warning: a --quick baseline has fewer samples; later checks will have wider intervals"
        );
    }
    let path = config.resolve(&config.baselines.rust);
    let previous = read_existing(&path)?;
    let (bl, kept) = merge_rust(previous.as_ref(), run);
    write_and_report(&path, previous.as_ref(), &bl)?;
    if kept > 0 {
        println!("kept {kept} figure(s) of benches this run did not measure (see the second set)");
    }
    Ok(EXIT_PASS)
}

fn file_key(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// `gate baseline import-go`.
pub fn cmd_import_go(args: &ImportGoArgs) -> Result<i32> {
    let out: PathBuf = match &args.output {
        Some(p) => p.clone(),
        None => {
            let config = Config::load(&args.config)?;
            config.resolve(&config.baselines.go)
        }
    };
    let previous = read_existing(&out)?;
    let mut bl = previous
        .clone()
        .unwrap_or_else(|| Baseline::new(BaselineKind::Go));
    bl.updated_at = chrono::Utc::now();
    for file in &args.files {
        let parsed = formats::read_go_file(file, args.mode)
            .with_context(|| format!("importing {}", file.display()))?;
        for w in &parsed.warnings {
            eprintln!("warning: {w}");
        }
        let mut set = parsed.set;
        if args.reference {
            for b in &mut set.benchmarks {
                b.reference_only = true;
            }
        }
        let key = file_key(file);
        set.provenance = Some(key.clone());
        set.environment
            .extra
            .insert("imported_at".into(), bl.updated_at.to_rfc3339());
        if args.reference {
            set.environment.extra.insert(
                "standing".into(),
                "reference figures: shown, never used to fail".into(),
            );
        }
        bl.sets
            .retain(|s| s.provenance.as_deref() != Some(key.as_str()));
        bl.sets.push(set);
    }
    write_and_report(&out, previous.as_ref(), &bl)?;
    Ok(EXIT_PASS)
}
