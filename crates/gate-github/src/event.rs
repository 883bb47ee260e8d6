//! Which pull request a run is about, from the webhook payload at
//! `GITHUB_EVENT_PATH`.
//!
//! Two events carry a pull request for us: `pull_request` (and
//! `pull_request_target`), which names it directly, and `workflow_run`, the
//! second half of the fork pattern. For a fork's pull request GitHub leaves
//! `workflow_run.pull_requests` empty, so the pull request is then found by
//! its head (`owner:branch`) and checked against the head commit.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// Where the comment goes, as far as the payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullTarget {
    /// The payload names the pull request.
    Number(u64),
    /// A `workflow_run` for a fork's pull request: look it up by head.
    ByHead {
        /// `owner:branch`, the `head` filter of the pulls API.
        head: String,
        /// The commit the run measured; the pull request must still point at it.
        sha: String,
    },
    /// No pull request (a push, a schedule, a manual run): why, for the log.
    None(String),
}

/// Reads the payload file and finds the pull request.
pub fn pull_target(path: &Path) -> Result<PullTarget> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the event payload {}", path.display()))?;
    let payload: Value = serde_json::from_str(&text)
        .with_context(|| format!("the event payload {} is not JSON", path.display()))?;
    Ok(from_payload(&payload))
}

/// Finds the pull request in a payload, by its shape rather than the event
/// name, so `pull_request_target` and `workflow_run` of either work alike.
pub fn from_payload(payload: &Value) -> PullTarget {
    if let Some(n) = payload
        .pointer("/pull_request/number")
        .and_then(Value::as_u64)
    {
        return PullTarget::Number(n);
    }
    let Some(run) = payload.get("workflow_run") else {
        return PullTarget::None("the event is neither a pull request nor a workflow_run".into());
    };
    let head_sha = run.get("head_sha").and_then(Value::as_str).unwrap_or("");
    let prs = run
        .get("pull_requests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Prefer the pull request whose head is the measured commit.
    let matching = prs
        .iter()
        .find(|p| p.pointer("/head/sha").and_then(Value::as_str) == Some(head_sha))
        .or(prs.first());
    if let Some(n) = matching
        .and_then(|p| p.get("number"))
        .and_then(Value::as_u64)
    {
        return PullTarget::Number(n);
    }
    let event = run.get("event").and_then(Value::as_str).unwrap_or("");
    if !event.starts_with("pull_request") {
        return PullTarget::None(format!(
            "the workflow run was triggered by `{event}`, not by a pull request"
        ));
    }
    let owner = run
        .pointer("/head_repository/owner/login")
        .and_then(Value::as_str);
    let branch = run.get("head_branch").and_then(Value::as_str);
    match (owner, branch) {
        (Some(owner), Some(branch)) if !head_sha.is_empty() => PullTarget::ByHead {
            head: format!("{owner}:{branch}"),
            sha: head_sha.to_string(),
        },
        _ => PullTarget::None(
            "the workflow_run payload names no pull request and no head to find it by".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pull_request_event_names_the_number() {
        let p = json!({"action": "synchronize", "number": 7, "pull_request": {"number": 7}});
        assert_eq!(from_payload(&p), PullTarget::Number(7));
    }

    #[test]
    fn workflow_run_of_same_repo_pr_uses_its_list() {
        let p = json!({"workflow_run": {"event": "pull_request", "head_sha": "bbb",
            "pull_requests": [{"number": 3, "head": {"sha": "aaa"}}, {"number": 9, "head": {"sha": "bbb"}}]}});
        assert_eq!(from_payload(&p), PullTarget::Number(9));
    }

    #[test]
    fn workflow_run_of_fork_pr_is_found_by_head() {
        let p = json!({"workflow_run": {"event": "pull_request", "head_sha": "abc",
            "head_branch": "feature", "pull_requests": [],
            "head_repository": {"owner": {"login": "forker"}}}});
        assert_eq!(
            from_payload(&p),
            PullTarget::ByHead {
                head: "forker:feature".into(),
                sha: "abc".into()
            }
        );
    }

    #[test]
    fn push_has_no_pull_request() {
        assert!(matches!(
            from_payload(&json!({"ref": "refs/heads/main"})),
            PullTarget::None(_)
        ));
        let p = json!({"workflow_run": {"event": "push", "head_sha": "a", "pull_requests": []}});
        match from_payload(&p) {
            PullTarget::None(why) => assert!(why.contains("push"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
