//! The PR comment's parts: its hidden marker, the API objects read back,
//! what happened to it, the pull request it goes on, and its size limit.
//! Finding, updating and creating it is `sticky.rs`.
//!
//! The marker is the first line of the body, an HTML comment GitHub does
//! not render. Matrix jobs set `comment.marker` apart so each keeps its own
//! comment.

use anyhow::{Result, bail};
use serde::Deserialize;

use super::author::ApiUser;
use super::client::{ApiError, Client};
use super::event::PullTarget;

/// GitHub refuses comment bodies of 65,536 characters or more.
pub const MAX_COMMENT_CHARS: usize = 65_536;

/// The hidden first line of our comment for `marker`.
pub fn marker_line(marker: &str) -> Result<String> {
    let m = marker.trim();
    if m.is_empty() {
        bail!("comment.marker is empty: set an id such as `gate` (matrix jobs use one each)");
    }
    if m.contains("--") || m.contains('>') || m.contains('\n') || m.contains('\r') {
        bail!(
            "comment.marker `{m}` cannot sit in an HTML comment: it must not contain `--`, `>` or a line break"
        );
    }
    Ok(format!("<!-- gate-comment: {m} -->"))
}

/// The fields of an issue comment the gate needs; the rest of GitHub's
/// large object is ignored so the gate does not break when it changes.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiComment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    /// The author; `null` for a deleted account.
    #[serde(default)]
    pub user: Option<ApiUser>,
}

impl ApiComment {
    /// The comment's page, or empty when GitHub did not say.
    pub fn url(&self) -> String {
        self.html_url.clone().unwrap_or_default()
    }
}

#[derive(Debug, Deserialize)]
struct ApiPull {
    number: u64,
    head: ApiHead,
}

#[derive(Debug, Deserialize)]
struct ApiHead {
    sha: String,
}

/// What happened to the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentAction {
    Created {
        url: String,
    },
    Updated {
        url: String,
    },
    /// Nothing was written, and why (mode `never`, no regression yet, ...).
    Skipped(String),
}

impl CommentAction {
    pub fn url(&self) -> Option<&str> {
        match self {
            CommentAction::Created { url } | CommentAction::Updated { url } => Some(url),
            CommentAction::Skipped(_) => None,
        }
    }
}

/// The pull request number for `target`, asking the API for a fork's pull
/// request found by head. `Ok(None)` when there is none to comment on.
pub async fn resolve_pull(
    client: &Client,
    owner: &str,
    repo: &str,
    target: &PullTarget,
) -> Result<Result<u64, String>, ApiError> {
    match target {
        PullTarget::Number(n) => Ok(Ok(*n)),
        PullTarget::None(why) => Ok(Err(why.clone())),
        PullTarget::ByHead { head, sha } => {
            let route = format!("/repos/{owner}/{repo}/pulls");
            let params = [
                ("head", head.as_str()),
                ("state", "open"),
                ("per_page", "100"),
            ];
            let pulls: Vec<ApiPull> = client
                .call(&format!("GET {route}"), || {
                    client.crab.get(&route, Some(&params))
                })
                .await?;
            Ok(pulls
                .into_iter()
                .find(|p| &p.head.sha == sha)
                .map(|p| p.number)
                .ok_or_else(|| {
                    format!("no open pull request from `{head}` has head commit {sha} any more")
                }))
        }
    }
}

/// Cuts `body` so that `measure(result) < limit`, at a line boundary,
/// closing a code fence or `<details>` left open by the cut, and ends it
/// with `pointer` (where the rest is). Returns `body` unchanged if it fits.
pub fn fit(body: &str, limit: usize, measure: fn(&str) -> usize, pointer: &str) -> String {
    if measure(body) < limit {
        return body.to_string();
    }
    // Room for the pointer and for what closes open blocks.
    let reserve = measure(pointer) + 64;
    let budget = limit.saturating_sub(reserve);
    let mut kept = String::new();
    let mut size = 0;
    let mut in_fence = false;
    let mut open_details = 0usize;
    for line in body.split_inclusive('\n') {
        let n = measure(line);
        if size + n >= budget {
            break;
        }
        size += n;
        kept.push_str(line);
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence {
            open_details += line.matches("<details").count();
            open_details = open_details.saturating_sub(line.matches("</details>").count());
        }
    }
    if !kept.ends_with('\n') && !kept.is_empty() {
        kept.push('\n');
    }
    if in_fence {
        kept.push_str("```\n");
    }
    for _ in 0..open_details {
        kept.push_str("\n</details>\n");
    }
    kept.push('\n');
    kept.push_str(pointer);
    if !pointer.ends_with('\n') {
        kept.push('\n');
    }
    kept
}

/// Length as GitHub counts it. UTF-16 units are never fewer than
/// characters, so counting them keeps us under the limit either way.
pub fn comment_len(s: &str) -> usize {
    s.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_line_refuses_what_would_end_the_html_comment() {
        assert_eq!(marker_line("gate").unwrap(), "<!-- gate-comment: gate -->");
        assert!(marker_line("a-->b").is_err());
        assert!(marker_line("a>b").is_err());
        assert!(marker_line(" ").is_err());
    }

    #[test]
    fn fit_leaves_short_bodies_alone() {
        assert_eq!(fit("abc\n", 10, comment_len, "more"), "abc\n");
    }

    #[test]
    fn fit_cuts_at_a_line_and_closes_open_blocks() {
        let mut body = String::from("<!-- m -->\n<details><summary>x</summary>\n\n```text\n");
        for i in 0..500 {
            body.push_str(&format!("line {i}\n"));
        }
        body.push_str("```\n</details>\n");
        let out = fit(&body, 1000, comment_len, "_Cut: see the job summary._");
        assert!(comment_len(&out) < 1000, "{}", comment_len(&out));
        assert!(out.starts_with("<!-- m -->\n"));
        assert!(out.ends_with("_Cut: see the job summary._\n"));
        assert_eq!(out.matches("```").count(), 2, "{out}");
        assert!(out.contains("</details>"));
        assert!(
            out.lines()
                .all(|l| l == "```text" || !l.starts_with("line ") || l.len() <= 8)
        );
    }
}
