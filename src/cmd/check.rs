//! `gate check`: arguments to [`CheckOptions`], the pipeline, then the
//! table, the report path, publishing and the exit code.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::pipeline::check::{CheckOptions, Source, check, write_error_report};
use crate::pipeline::plan::Selection;

use super::exit_code;
use super::trend::TrendArgs;

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The gate configuration.
    #[arg(long, default_value = "gate.yaml")]
    pub config: PathBuf,
    /// Fewer, shorter samples: faster, less precise (the report says so).
    #[arg(long)]
    pub quick: bool,
    /// Only benches whose id matches this regular expression.
    #[arg(long)]
    pub filter: Option<String>,
    /// Write the report as JSON (the documented contract) to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Do not run benches; reuse the results already on disk.
    #[arg(long)]
    pub no_run: bool,
    /// Publish to GitHub even outside GitHub Actions.
    #[arg(long)]
    pub github: bool,
    /// Build this git ref in a worktree and compare base and head on this machine, interleaved.
    #[arg(long)]
    pub base: Option<String>,
    /// Build and run the benches with mlock off (small RLIMIT_MEMLOCK).
    #[arg(long)]
    pub no_mlock: bool,
    #[command(flatten)]
    pub trend: TrendArgs,
}

impl CheckArgs {
    /// The pipeline's options; refuses flags that cannot go together.
    pub fn options(&self) -> Result<CheckOptions> {
        let source = match &self.base {
            Some(_) if self.no_run => bail!(
                "--base measures base and head on this runner; it cannot be combined with --no-run"
            ),
            Some(reference) => Source::Lockstep {
                reference: reference.clone(),
            },
            None => Source::Stored {
                no_run: self.no_run,
            },
        };
        Ok(CheckOptions {
            config: self.config.clone(),
            selection: Selection {
                quick: self.quick,
                no_mlock: self.no_mlock,
                filter: self.filter.clone(),
            },
            source,
            json: self.json.clone(),
        })
    }
}

/// `gate check`. With `--json`, an error (exit 2) still writes a report
/// (verdict `error`, no rows, the message in `notes`).
pub fn run(args: &CheckArgs) -> Result<i32> {
    let result = args.options().and_then(|opts| check(&opts));
    let checked = match result {
        Ok(c) => c,
        Err(err) => {
            if let Some(path) = &args.json {
                write_error_report(&err, path);
            }
            return Err(err);
        }
    };
    print!("{}", gate_core::report::table::render(&checked.report));
    if args.json.is_some() {
        eprintln!("report written to {}", checked.report_path.display());
    }
    gate_github::publish_check(
        &checked.report,
        &checked.report_path,
        &checked.config.comment,
        &checked.config.root,
        args.github,
        |actions| {
            args.trend
                .context(&checked.report, &checked.config, actions.run_url())
        },
    )?;
    Ok(exit_code(checked.report.verdict))
}
