//! What a comment shows beyond the report itself: the workflow run it came
//! from, the history page, and the base branch's recent trend. The caller
//! gathers them (the core reads no environment and no history store) and
//! passes them as plain data.

use crate::history::Trend;

/// The comment's surroundings; every part is optional, and an empty
/// context renders the comment of the report alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommentContext {
    /// The workflow run's page (`GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`).
    pub run_url: Option<String>,
    /// The history page (`history.url` of `gate.yaml`).
    pub history_url: Option<String>,
    /// The base branch's recent runs, when a history store was given.
    pub trend: Option<Trend>,
}
