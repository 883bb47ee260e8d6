//! Command line: the contract users and workflows type.
//!
//! Command names and flags are fixed by the issues; add, never rename.
//! Every command returns an exit code: 0 pass, 1 regression, 2 error.

use clap::{Parser, Subcommand, ValueEnum};

use gate_core::verdict::Verdict;

pub mod baseline;
pub mod check;
pub mod comment;
pub mod compare;
pub mod env;
pub mod history;
pub mod merge;
pub mod power;
pub mod report;
pub mod trend;

pub use baseline::{BaselineCommand, BaselineUpdateArgs, ImportGoArgs};
pub use check::CheckArgs;
pub use comment::CommentArgs;
pub use compare::CompareArgs;
pub use env::EnvArgs;
pub use history::HistoryCommand;
pub use merge::MergeArgs;
pub use power::{PowerArgs, PowerKind};
pub use report::ReportArgs;

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
    /// The history of the default branch: append, change points, trend page, backfill.
    #[command(subcommand)]
    History(HistoryCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Markdown,
    Gobench,
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
        Command::Check(args) => check::run(&args),
        Command::Baseline(command) => baseline::run(&command),
        Command::Compare(args) => compare::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Merge(args) => merge::run(&args),
        Command::Env(args) => env::run(&args),
        Command::Comment(args) => comment::run(&args),
        Command::Power(args) => power::run(&args),
        Command::History(command) => history::run(&command),
    }
}
