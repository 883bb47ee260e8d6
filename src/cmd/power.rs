//! `gate power`: this machine's false-alarm rate and smallest detectable
//! slowdown, of the lockstep check or of the stored one.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::power::{Kind, PowerOptions};

use super::EXIT_PASS;

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

impl PowerArgs {
    /// The pipeline's options.
    pub fn options(&self) -> PowerOptions {
        PowerOptions {
            config: self.config.clone(),
            json: self.json.clone(),
            budget: self.budget,
            filter: self.filter.clone(),
            kind: match self.kind {
                PowerKind::Lockstep => Kind::Lockstep,
                PowerKind::Stored => Kind::Stored,
            },
            from: self.from.clone(),
        }
    }
}

/// Runs `gate power` and prints its table.
pub fn run(args: &PowerArgs) -> Result<i32> {
    print!("{}", crate::power::run(&args.options())?);
    Ok(EXIT_PASS)
}
