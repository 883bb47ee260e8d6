//! `gate report RESULTS --format ...`: renders a saved report.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use gate_core::config::Config;
use gate_core::formats;
use gate_github::context::ActionsContext;

use super::compare::load;
use super::trend::TrendArgs;
use super::{EXIT_PASS, ReportFormat};

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A report JSON (`--json` of check/compare) or a results file.
    pub results: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Template for `--format markdown` (default: the config's, else the built-in one).
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// The gate configuration, for `--format markdown`'s `history` and `comment.template` settings (used when it exists).
    #[arg(long, default_value = "gate.yaml")]
    pub config: PathBuf,
    #[command(flatten)]
    pub trend: TrendArgs,
}

/// `gate report RESULTS --format ...`: renders a saved report, or a results
/// file (any format `gate compare` reads) for `gobench`.
pub fn run(args: &ReportArgs) -> Result<i32> {
    let text = std::fs::read_to_string(&args.results)
        .with_context(|| format!("cannot read {}", args.results.display()))?;
    let is_report = text.trim_start().starts_with('{')
        && serde_json::from_str::<serde_json::Value>(&text)
            .map(|v| v.get("rows").is_some())
            .unwrap_or(false);
    match args.format {
        ReportFormat::Gobench => {
            let set = load(&args.results, None)?;
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
            let config = Config::load_if_exists(&args.config)?
                .unwrap_or_else(|| Config::defaults(&args.config));
            let run_url = ActionsContext::from_env().run_url();
            let context = args.trend.context(&report, &config, run_url);
            let template = args
                .template
                .clone()
                .or_else(|| config.comment.template_path(&config.root));
            print!(
                "{}",
                gate_core::report::markdown::render_markdown(
                    &report,
                    template.as_deref(),
                    &context
                )?
            );
        }
    }
    Ok(EXIT_PASS)
}
