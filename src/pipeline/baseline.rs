//! `gate baseline update` and `gate baseline import-go` as pipeline steps:
//! measure (or read) and write the stored baselines atomically, returning
//! what changed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use gate_core::config::Config;
use gate_core::formats::{self, Baseline, BaselineKind};
use gate_core::model::{Mode, ResultSet};
use gate_core::pairing::ids_regex;
use gate_core::update::{describe_changes, file_key, merge_rust};

use super::collect::{collect, read_rust_results};
use super::plan::{Selection, compile_filter, plan_for};

/// What `gate baseline update` does.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    pub config: PathBuf,
    pub selection: Selection,
    /// Reuse the results on disk.
    pub no_run: bool,
    /// Runs pooled into the baseline.
    pub runs: u32,
}

/// What `gate baseline import-go` does.
#[derive(Debug, Clone)]
pub struct ImportGoOptions {
    pub files: Vec<PathBuf>,
    pub mode: Option<Mode>,
    pub config: PathBuf,
    pub output: Option<PathBuf>,
    pub reference: bool,
}

/// A baseline file written.
pub struct Written {
    pub path: PathBuf,
    pub sets: usize,
    /// One line per figure that changed, appeared or went away.
    pub changes: Vec<String>,
    /// Figures kept from the previous file (benches not measured this time).
    pub kept: usize,
}

fn read_existing(path: &Path) -> Result<Option<Baseline>> {
    if path.exists() {
        formats::read_baseline(path).map(Some)
    } else {
        Ok(None)
    }
}

fn write(path: &Path, old: Option<&Baseline>, new: &Baseline, kept: usize) -> Result<Written> {
    formats::write_baseline(path, new)?;
    Ok(Written {
        path: path.to_path_buf(),
        sets: new.sets.len(),
        changes: describe_changes(old, new),
        kept,
    })
}

/// Measures the suite `opts.runs` times (fresh processes), pools the runs
/// and writes the Rust baseline, keeping the figures it did not measure.
pub fn update(opts: &UpdateOptions) -> Result<Written> {
    let config = Config::load(&opts.config)?;
    let filter = compile_filter(opts.selection.filter.as_deref())?;
    let plan = plan_for(&config, &opts.selection)?;
    let (first, prepared) = collect(&plan, opts.no_run, filter.as_ref())?;
    let mut pooled = None;
    gate_runner::ab::pool(&mut pooled, first);
    let mut runs = 1;
    if let Some(prepared) = &prepared {
        let only = ids_regex(&prepared.ids());
        for r in 2..=opts.runs.max(1) {
            gate_runner::progress::say(format!("run {r}/{} of the baseline", opts.runs));
            prepared.run_all()?;
            gate_runner::ab::pool(&mut pooled, read_rust_results(&plan, Some(&only))?);
            runs = r;
        }
    }
    let mut run = pooled.expect("the first run is there");
    run.provenance = Some(provenance(opts, runs));
    let path = config.resolve(&config.baselines.rust);
    let previous = read_existing(&path)?;
    let (bl, kept) = merge_rust(previous.as_ref(), run);
    write(&path, previous.as_ref(), &bl, kept)
}

fn provenance(opts: &UpdateOptions, runs: u32) -> String {
    format!(
        "gate baseline update{}{}{}",
        if opts.selection.quick { " --quick" } else { "" },
        if runs > 1 {
            format!(", {runs} runs pooled")
        } else {
            String::new()
        },
        opts.selection
            .filter
            .as_deref()
            .map(|f| format!(" --filter {f}"))
            .unwrap_or_default()
    )
}

/// Imports `go test -bench` output into the Go baseline: each file replaces
/// its own earlier set only.
pub fn import_go(opts: &ImportGoOptions) -> Result<Written> {
    let out: PathBuf = match &opts.output {
        Some(p) => p.clone(),
        None => {
            let config = Config::load(&opts.config)?;
            config.resolve(&config.baselines.go)
        }
    };
    let previous = read_existing(&out)?;
    let mut bl = previous
        .clone()
        .unwrap_or_else(|| Baseline::new(BaselineKind::Go));
    bl.updated_at = chrono::Utc::now();
    for file in &opts.files {
        let parsed = formats::read_go_file(file, opts.mode)
            .with_context(|| format!("importing {}", file.display()))?;
        for w in &parsed.warnings {
            gate_runner::progress::warn(w);
        }
        let set = imported_set(parsed.set, file, &bl, opts.reference);
        let key = set.provenance.clone();
        bl.sets.retain(|s| s.provenance != key);
        bl.sets.push(set);
    }
    write(&out, previous.as_ref(), &bl, 0)
}

/// A Go file's set, marked with its file name, import time and standing.
fn imported_set(mut set: ResultSet, file: &Path, bl: &Baseline, reference: bool) -> ResultSet {
    if reference {
        for b in &mut set.benchmarks {
            b.reference_only = true;
        }
    }
    set.provenance = Some(file_key(file));
    set.environment
        .extra
        .insert("imported_at".into(), bl.updated_at.to_rfc3339());
    if reference {
        set.environment.extra.insert(
            "standing".into(),
            "reference figures: shown, never used to fail".into(),
        );
    }
    set
}
