//! `gate baseline update` and `gate baseline import-go`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use gate_core::model::Mode;

use crate::pipeline::baseline::{ImportGoOptions, UpdateOptions, Written, import_go, update};
use crate::pipeline::plan::Selection;

use super::EXIT_PASS;

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
    /// Declares the mode of the imported benchmarks. Without it they are stored with no mode
    /// (GOMAXPROCS says nothing about `b.RunParallel`) and take the mode of the gate.yaml
    /// pair that uses them.
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

/// Runs a `gate baseline` subcommand and says what it wrote.
pub fn run(command: &BaselineCommand) -> Result<i32> {
    let written = match command {
        BaselineCommand::Update(args) => {
            if args.quick {
                eprintln!(
                    "warning: a --quick baseline has fewer samples; later checks will have wider intervals"
                );
            }
            update(&UpdateOptions {
                config: args.config.clone(),
                selection: Selection {
                    quick: args.quick,
                    filter: args.filter.clone(),
                    ..Selection::default()
                },
                no_run: args.no_run,
                runs: args.runs,
            })?
        }
        BaselineCommand::ImportGo(args) => import_go(&ImportGoOptions {
            files: args.files.clone(),
            mode: args.mode,
            config: args.config.clone(),
            output: args.output.clone(),
            reference: args.reference,
        })?,
    };
    print_written(&written);
    Ok(EXIT_PASS)
}

fn print_written(w: &Written) {
    println!(
        "wrote {} ({} set(s), {} change(s))",
        w.path.display(),
        w.sets,
        w.changes.len()
    );
    for line in &w.changes {
        println!("{line}");
    }
    if w.kept > 0 {
        println!(
            "kept {} figure(s) of benches this run did not measure (see the second set)",
            w.kept
        );
    }
}
