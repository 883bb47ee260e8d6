//! The comment's first lines after the verdict: which commits were
//! compared, the workflow run, the history page, and the change points the
//! base branch's history shows.

use super::context::CommentContext;
use super::inert::{code, inert, link};
use crate::figures::{brief, fmt_change_ci, short};
use crate::history::Change;
use crate::verdict::Report;

/// The commits a report compared, from its `builds`: `base → head` for a
/// lockstep check, the head against the stored baselines (with the commit
/// that wrote them when the check re-judged against it) otherwise; `None`
/// when the report names no commit (`gate compare`).
pub fn commits(report: &Report) -> Option<String> {
    let commit = |side: &str| {
        let build = report.builds.get(side)?;
        let id = build.commit.as_deref()?;
        let dirty = if build.dirty {
            " (uncommitted changes)"
        } else {
            ""
        };
        Some(format!("{}{dirty}", code(short(id))))
    };
    let head = commit("head");
    match (commit("base"), head, commit("baseline-commit")) {
        (Some(base), Some(head), _) => Some(format!("base {base} → head {head}")),
        (Some(base), None, _) => Some(format!("base {base} → head (commit not recorded)")),
        (None, Some(head), Some(stored)) => Some(format!(
            "head {head} against the stored baselines (written at {stored})"
        )),
        (None, Some(head), None) => Some(format!("head {head} against the stored baselines")),
        (None, None, _) => None,
    }
}

/// The parts of the comment's first line after the verdict, each built
/// once: the commits compared, the workflow run and the history page.
pub struct Lead {
    pub commits: Option<String>,
    pub run_link: Option<String>,
    pub history_link: Option<String>,
}

impl Lead {
    pub fn new(report: &Report, context: &CommentContext) -> Lead {
        let link_to = |text: &str, url: &Option<String>| url.as_deref().and_then(|u| link(text, u));
        Lead {
            commits: commits(report),
            run_link: link_to("workflow run", &context.run_url),
            history_link: link_to("history", &context.history_url),
        }
    }

    /// The parts on one line joined by ` · `; `None` when there is none.
    pub fn line(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.commits, &self.run_link, &self.history_link]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}

/// One line per change point: the series, the commit range, the size with
/// its interval, and the subject of its first commit.
pub fn change_lines(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            let subject = c
                .subject
                .as_deref()
                .map(|s| format!(" ({})", inert(&brief(s))))
                .unwrap_or_default();
            format!(
                "{} {}: {}{subject}",
                code(&c.series),
                code(&format!("{}..{}", short(&c.before), short(&c.after))),
                fmt_change_ci(c.ratio, c.ratio_ci),
            )
        })
        .collect()
}
