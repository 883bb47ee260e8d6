//! What the comment shows beyond the report, gathered for `gate check`,
//! `gate comment` and `gate report --format markdown`: the workflow run
//! (from the Actions environment), the history page, and the base branch's
//! trend from a history store.

use std::path::{Path, PathBuf};

use clap::Args;

use gate_core::config::Config;
use gate_core::report::context::CommentContext;
use gate_core::verdict::Report;

use super::history::store_from;
use crate::pipeline::history::{self, Store};

/// Where the default branch's history is (as `gate history` takes it), and
/// the page to link.
#[derive(Debug, Clone, Default, Args)]
pub struct TrendArgs {
    /// A history folder: the comment's changed rows get the base branch's
    /// trend and its change points are listed.
    #[arg(
        long = "history",
        value_name = "DIR",
        conflicts_with = "history_branch"
    )]
    pub history: Option<PathBuf>,
    /// A history data branch (as `gate history --branch`), instead of a folder.
    #[arg(long, value_name = "NAME")]
    pub history_branch: Option<String>,
    /// The remote holding `--history-branch` (a name, URL or path).
    #[arg(long, value_name = "REMOTE", default_value = "origin")]
    pub history_remote: String,
    /// The history page to link (default: `history.url` of gate.yaml).
    #[arg(long, value_name = "URL")]
    pub history_url: Option<String>,
}

impl TrendArgs {
    /// The comment's context for `report` under `config` (its history
    /// settings and floor; a data branch is read from the repository
    /// holding it), linking the workflow run at `run_url`. A history that cannot be read leaves the trend out,
    /// saying why: the comment never fails for it.
    pub fn context(
        &self,
        report: &Report,
        config: &Config,
        run_url: Option<String>,
    ) -> CommentContext {
        let settings = &config.history;
        let trend = self.store(&config.path).map(|store| {
            store.and_then(|store| history::trend(&store, &config.floor, settings.runs, report))
        });
        let trend = match trend {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                eprintln!("gate: no trend in the comment: {e:#}");
                None
            }
            None => None,
        };
        CommentContext {
            run_url,
            history_url: self.history_url.clone().or_else(|| settings.url.clone()),
            trend,
        }
    }

    /// The store asked for, if any.
    fn store(&self, config_path: &Path) -> Option<anyhow::Result<Store>> {
        store_from(
            self.history.as_deref(),
            self.history_branch.as_deref(),
            &self.history_remote,
            config_path,
        )
    }
}
