//! `gate merge FILE...`: one report from several runners.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use gate_core::merge::merge_reports;

use super::{ReportFormat, exit_code};

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Report JSON files of several runners.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// `gate merge FILE...`.
pub fn run(args: &MergeArgs) -> Result<i32> {
    let mut reports = Vec::new();
    for f in &args.files {
        reports.push((f.clone(), gate_core::report::read_json(f)?));
    }
    if reports.is_empty() {
        bail!("gate merge needs at least one report file");
    }
    let merged = merge_reports(&reports);
    if let Some(p) = &args.json {
        gate_core::report::write_json(&merged, p)?;
    }
    match args.format {
        ReportFormat::Table => print!("{}", gate_core::report::table::render(&merged)),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&merged)?),
        ReportFormat::Markdown => print!(
            "{}",
            gate_core::report::markdown::render_markdown(
                &merged,
                None,
                &gate_core::report::context::CommentContext::default(),
            )?
        ),
        ReportFormat::Gobench => bail!(
            "--format gobench writes samples of one runner; run `gate report FILE --format gobench` per runner"
        ),
    }
    Ok(exit_code(merged.verdict))
}
