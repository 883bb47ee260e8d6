//! `gate compare OLD NEW`: two result sets compared offline.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use gate_core::compare::compare_sets;
use gate_core::formats::load_any;
use gate_core::model::{Mode, ResultSet};
use gate_core::verdict::Options;

use super::exit_code;
use crate::pipeline::check::write_error_report;

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The old result set.
    pub old: PathBuf,
    /// The new result set.
    pub new: PathBuf,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Relative change inside which a difference is not a regression.
    #[arg(long, default_value_t = 0.05)]
    pub tolerance: f64,
    /// Significance level (before Holm correction).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Declares the mode of the Go benchmarks of both files (Go output does
    /// not say whether a benchmark uses `b.RunParallel`; its `-N` suffix is
    /// GOMAXPROCS only). Without it their rows have no mode.
    #[arg(long)]
    pub mode: Option<Mode>,
}

/// Reads a result set in any format `gate compare` knows; it must hold
/// results. `mode` declares the mode of Go benchmark text.
pub fn load(path: &Path, mode: Option<Mode>) -> Result<ResultSet> {
    let parsed = load_any(path, mode)?;
    for w in &parsed.warnings {
        gate_runner::progress::warn(w);
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
/// with verdict `error` (as `gate check` does).
pub fn run(args: &CompareArgs) -> Result<i32> {
    let result = compare(args);
    if let (Err(err), Some(path)) = (&result, &args.json) {
        write_error_report(err, path);
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
    let old = load(&args.old, args.mode)?;
    let new = load(&args.new, args.mode)?;
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
