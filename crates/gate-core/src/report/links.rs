//! The comment's first lines after the verdict: which commits were
//! compared, the workflow run, the history page, and the change points the
//! base branch's history shows.

use super::context::CommentContext;
use super::fmt_change;
use super::inert::{code, inert, link};
use crate::history::Change;
use crate::history::svg::{brief, short};
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

/// The commits, then the links to the run and to the history page, on
/// one line joined by ` · `; `None` when there is none of them.
pub fn lead(report: &Report, context: &CommentContext) -> Option<String> {
    let parts: Vec<String> = [
        commits(report),
        context
            .run_url
            .as_deref()
            .and_then(|u| link("workflow run", u)),
        context
            .history_url
            .as_deref()
            .and_then(|u| link("history", u)),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
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
                "{} {}: {} [{}, {}]{subject}",
                code(&c.series),
                code(&format!("{}..{}", short(&c.before), short(&c.after))),
                fmt_change(c.ratio),
                fmt_change(c.ratio_ci[0]),
                fmt_change(c.ratio_ci[1]),
            )
        })
        .collect()
}
