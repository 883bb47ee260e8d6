//! `gate history`: append a check's report to the history, list the change
//! points, write the trend page, backfill past commits.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use gate_core::config::Config;
use gate_core::figures::{brief, fmt_change_ci, short};
use gate_core::history::Settings;

use crate::pipeline::history::{self, Store};
use crate::pipeline::plan::Selection;

use super::EXIT_PASS;

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Store a check's JSON report as the run of its commit.
    Append(AppendArgs),
    /// List the change points of every bench over the history.
    Changes(ChangesArgs),
    /// Write the static trend page (OUT/index.html).
    Html(HtmlArgs),
    /// Build and measure each of the last N commits (quick settings) and store them.
    Backfill(BackfillArgs),
}

/// Where the history is: a folder, or a branch of a remote.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// A folder of one JSON record per commit.
    #[arg(long, value_name = "DIR", conflicts_with = "branch")]
    pub history: Option<PathBuf>,
    /// A data branch of the repository, one file per commit (e.g. `gate-history`).
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,
    /// The remote holding `--branch` (a name, URL or path).
    #[arg(long, default_value = "origin")]
    pub remote: String,
    /// The gate configuration (floor benches; the repository is its folder's).
    #[arg(long, default_value = "gate.yaml")]
    pub config: PathBuf,
}

impl StoreArgs {
    fn store(&self) -> Result<Store> {
        store_from(
            self.history.as_deref(),
            self.branch.as_deref(),
            &self.remote,
            &self.config,
        )
        .unwrap_or_else(|| bail!("say where the history is: --history DIR or --branch NAME"))
    }

    fn repo(&self) -> Result<PathBuf> {
        repo_of(&self.config)
    }

    fn config(&self) -> Result<Config> {
        Config::load(&self.config)
    }
}

/// The history at the folder `dir`, else on the data `branch` of `remote`
/// in the repository holding `config`; `None` when neither is given.
pub fn store_from(
    dir: Option<&Path>,
    branch: Option<&str>,
    remote: &str,
    config: &Path,
) -> Option<Result<Store>> {
    if let Some(dir) = dir {
        return Some(Ok(Store::Dir(dir.to_path_buf())));
    }
    let branch = branch?;
    Some(repo_of(config).map(|repo| Store::Branch {
        repo,
        remote: remote.to_string(),
        branch: branch.to_string(),
    }))
}

/// The repository a data branch is read from: the one holding `config`.
pub fn repo_of(config: &Path) -> Result<PathBuf> {
    let dir = config.parent().filter(|p| !p.as_os_str().is_empty());
    gate_runner::git::toplevel(dir.unwrap_or(Path::new(".")))
}

#[derive(Debug, Clone, Args)]
pub struct AppendArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The report (`gate check --json`).
    #[arg(long, default_value = "target/gate/report.json")]
    pub report: PathBuf,
    /// The commit it measured (default: the report's head build, else HEAD).
    #[arg(long)]
    pub commit: Option<String>,
}

/// The change-point settings the user may change.
#[derive(Debug, Clone, Args)]
pub struct DetectArgs {
    /// Significance level of the permutation test.
    #[arg(long, default_value_t = Settings::default().alpha)]
    pub alpha: f64,
    /// Leave out changes smaller than this (relative, 0.02 = 2%).
    #[arg(long, default_value_t = 0.0)]
    pub min_change: f64,
}

impl DetectArgs {
    fn settings(&self) -> Result<Settings> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            bail!("--alpha must be in (0, 1), got {}", self.alpha);
        }
        Ok(Settings {
            alpha: self.alpha,
            ..Settings::default()
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct ChangesArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub detect: DetectArgs,
    /// Also write the change points as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct HtmlArgs {
    /// The folder to write index.html into.
    pub out: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub detect: DetectArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// How many commits back from HEAD (first parent).
    #[arg(long)]
    pub commits: usize,
    /// Only benches whose id matches this regular expression.
    #[arg(long)]
    pub filter: Option<String>,
    /// Build and run the benches with mlock off.
    #[arg(long)]
    pub no_mlock: bool,
}

pub fn run(command: &HistoryCommand) -> Result<i32> {
    match command {
        HistoryCommand::Append(a) => append(a),
        HistoryCommand::Changes(a) => changes(a),
        HistoryCommand::Html(a) => html(a),
        HistoryCommand::Backfill(a) => backfill(a),
    }
}

fn append(a: &AppendArgs) -> Result<i32> {
    let store = a.store.store()?;
    let report = gate_core::report::read_json(&a.report)?;
    let record = history::record_of(report, &a.store.repo()?, a.commit.as_deref(), false)?;
    let at = store.append(&record)?;
    println!("stored {} in {at}", short(&record.commit));
    Ok(EXIT_PASS)
}

fn changes(a: &ChangesArgs) -> Result<i32> {
    let analysed = history::analyse(
        &a.store.store()?,
        &a.store.config()?,
        &a.detect.settings()?,
        a.detect.min_change,
    )?;
    println!(
        "{} runs, {} series, {} change points",
        analysed.records.len(),
        analysed.series.len(),
        analysed.changes.len()
    );
    for c in &analysed.changes {
        println!(
            "{}  {}..{}  {}  p={:.3}  {}",
            c.series,
            short(&c.before),
            short(&c.after),
            fmt_change_ci(c.ratio, c.ratio_ci),
            c.p_value,
            brief(c.subject.as_deref().unwrap_or(""))
        );
    }
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&analysed.changes)?;
        gate_core::formats::write_atomic_bytes(path, text.as_bytes())?;
    }
    Ok(EXIT_PASS)
}

fn html(a: &HtmlArgs) -> Result<i32> {
    let analysed = history::analyse(
        &a.store.store()?,
        &a.store.config()?,
        &a.detect.settings()?,
        a.detect.min_change,
    )?;
    let path = history::write_page(&analysed, &a.out)?;
    println!(
        "wrote {} ({} runs, {} charts, {} change points)",
        path.display(),
        analysed.records.len(),
        analysed.series.len(),
        analysed.changes.len()
    );
    Ok(EXIT_PASS)
}

fn backfill(a: &BackfillArgs) -> Result<i32> {
    let config = a.store.config()?;
    let selection = Selection {
        quick: true,
        no_mlock: a.no_mlock,
        filter: a.filter.clone(),
    };
    eprintln!(
        "gate history backfill: {} commit(s), each built in a worktree and measured with quick settings \
         (fewer, shorter samples: wider intervals than a normal run)",
        a.commits
    );
    let done = history::backfill(&config, &a.store.store()?, a.commits, &selection)?;
    println!(
        "backfill: {} stored, {} already stored, {} failed",
        done.stored.len(),
        done.skipped.len(),
        done.failed.len()
    );
    for (commit, why) in &done.failed {
        println!("  {} failed: {why}", short(commit));
    }
    Ok(if done.stored.is_empty() && !done.failed.is_empty() {
        super::EXIT_ERROR
    } else {
        EXIT_PASS
    })
}
