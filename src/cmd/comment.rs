//! `gate comment --results FILE`: publishes a saved report.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use gate_core::config::Config;
use gate_core::verdict::Report;

use super::exit_code;
use super::trend::TrendArgs;

#[derive(Debug, Clone, Args)]
pub struct CommentArgs {
    /// A report JSON written by `gate check --json`.
    #[arg(long)]
    pub results: PathBuf,
    #[arg(long, default_value = "gate.yaml")]
    pub config: PathBuf,
    #[command(flatten)]
    pub trend: TrendArgs,
}

/// `gate comment --results FILE`: publishes a saved report (the second half
/// of the `workflow_run` pattern) and returns the exit code of its verdict.
pub fn run(args: &CommentArgs) -> Result<i32> {
    let text = std::fs::read_to_string(&args.results)
        .with_context(|| format!("cannot read results {}", args.results.display()))?;
    let report: Report = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a report written by `gate check --json`",
            args.results.display()
        )
    })?;
    let config = Config::load_if_exists(&args.config)?.unwrap_or_else(|| {
        eprintln!(
            "gate: {} not found; using the default comment settings",
            args.config.display()
        );
        Config::defaults(&args.config)
    });
    gate_github::publish_check(
        &report,
        &args.results,
        &config.comment,
        &config.root,
        true,
        |actions| args.trend.context(&report, &config, actions.run_url()),
    )?;
    Ok(exit_code(report.verdict))
}
