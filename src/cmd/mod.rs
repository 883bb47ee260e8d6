//! Command line: the contract users and workflows type.
//!
//! Command names and flags are fixed by the issues; add, never rename.
//! Every command returns an exit code: 0 pass, 1 regression, 2 error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use gate_core::model::Mode;
use gate_core::verdict::Verdict;

pub mod comment;
pub mod env;

pub use comment::CommentArgs;
pub use env::EnvArgs;

/// Exit code of a passing check.
pub const EXIT_PASS: i32 = 0;
/// Exit code when a benchmark regressed.
pub const EXIT_REGRESSION: i32 = 1;
/// Exit code of an error: bad config, unreadable file, failed bench, missing baseline.
pub const EXIT_ERROR: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "gate",
    version,
    about = "CI performance gate: Rust secret and key-cache benches against Go and Rust baselines"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the configured benches, compare with baselines/, print a verdict.
    Check(CheckArgs),
    /// Compare two result sets offline (Go output, gate JSON, criterion dir, baseline file).
    Compare(CompareArgs),
    /// Write or import baselines.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Render saved results as a table, JSON, Markdown or Go benchmark format.
    Report(ReportArgs),
    /// Show where we are measuring: CPU, cores, kernel, VM, RLIMIT_MEMLOCK, toolchains, floor.
    Env(EnvArgs),
    /// Publish saved results to GitHub (the `workflow_run` pattern for fork PRs).
    Comment(CommentArgs),
    /// Measure the false-alarm rate and the smallest detectable slowdown on this machine.
    Power(PowerArgs),
    /// Merge result files of several runners into one report.
    Merge(MergeArgs),
}

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
}

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
}

#[derive(Debug, Clone, Subcommand)]
pub enum BaselineCommand {
    /// Write baselines/rust.yaml from the last run (or run first).
    Update(BaselineUpdateArgs),
    /// Import `go test -bench` output into baselines/go.yaml.
    ImportGo(ImportGoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct BaselineUpdateArgs {
    #[arg(long, default_value = "gate.yaml")]
    pub config: PathBuf,
    /// Reuse the results on disk instead of running the benches.
    #[arg(long)]
    pub no_run: bool,
    /// Fewer, shorter samples.
    #[arg(long)]
    pub quick: bool,
    #[arg(long)]
    pub filter: Option<String>,
    /// Run the suite this many times (fresh processes) and pool the samples: a
    /// baseline from one run inherits that run's luck (page placement, a busy
    /// neighbour), and every later check is compared with it.
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ImportGoArgs {
    /// `go test -bench` output files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Mode of the imported benchmarks; by default GOMAXPROCS=1 is sequential, more is parallel.
    #[arg(long)]
    pub mode: Option<Mode>,
    #[arg(long, default_value = "gate.yaml")]
    pub config: PathBuf,
    /// Where to write (default: the config's Go baseline, baselines/go.yaml).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Keep these figures for reference only: shown, never used to fail (e.g. numbers
    /// copied from a document, measured on an unknown machine).
    #[arg(long)]
    pub reference: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Markdown,
    Gobench,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A report JSON (`--json` of check/compare) or a results file.
    pub results: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Template for `--format markdown` (default: the config's, else the built-in one).
    #[arg(long)]
    pub template: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PowerArgs {
    #[arg(long, default_value = "gate.yaml")]
    pub config: PathBuf,
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Time budget for the whole measurement, in seconds.
    #[arg(long, default_value_t = 300)]
    pub budget: u64,
    #[arg(long)]
    pub filter: Option<String>,
    /// Which check to measure: `lockstep` (`gate check --base`, the
    /// pull-request check) or `stored` (`gate check` against baselines/).
    #[arg(long, value_enum, default_value_t = PowerKind::Lockstep)]
    pub kind: PowerKind,
    /// Lockstep: decide the A/A pairs saved in this `--json` report again
    /// (with the current gate.yaml) instead of measuring.
    #[arg(long)]
    pub from: Option<PathBuf>,
}

/// The check `gate power` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PowerKind {
    Lockstep,
    Stored,
}

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

/// The exit code of a verdict: 0 pass, 1 regression, 2 error.
pub fn exit_code(verdict: Verdict) -> i32 {
    match verdict {
        Verdict::Pass => EXIT_PASS,
        Verdict::Regression => EXIT_REGRESSION,
        Verdict::Error => EXIT_ERROR,
    }
}

/// Entry point; returns the process exit code (0 pass, 1 regression, 2 error).
pub fn main() -> i32 {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            EXIT_ERROR
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Check(args) => crate::check::cmd_check(&args),
        Command::Baseline(BaselineCommand::Update(args)) => crate::baseline::cmd_update(&args),
        Command::Baseline(BaselineCommand::ImportGo(args)) => crate::baseline::cmd_import_go(&args),
        Command::Compare(args) => crate::compare::cmd_compare(&args),
        Command::Report(args) => crate::compare::cmd_report(&args),
        Command::Merge(args) => crate::merge::cmd_merge(&args),
        Command::Env(args) => env::run(&args),
        Command::Comment(args) => comment::run(&args),
        Command::Power(args) => crate::power::cmd_power(&args),
    }
}
