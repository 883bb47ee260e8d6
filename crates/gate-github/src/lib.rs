//! Publish a report to GitHub: one PR comment, the job summary, at most ten
//! error annotations, and step outputs.
//!
//! The local parts (summary, annotations, outputs) are written first and
//! always: they need no network and no permission, so a fork's read-only
//! token or a GitHub outage still leaves the verdict visible on the run.
//! Only then is the comment attempted. A permission problem with the
//! comment is a `::notice`, never a failed check; any other failure (5xx
//! after retries, a malformed answer) is an error after the outputs are
//! written.

pub mod annotations;
pub mod author;
pub mod client;
pub mod comment;
pub mod context;
pub mod event;
pub mod outputs;
pub mod sticky;
pub mod summary;

use std::path::Path;

use anyhow::{Context, Result};

use gate_core::config::{CommentConfig, CommentMode};
use gate_core::report::context::CommentContext;
use gate_core::report::markdown::render_markdown;
use gate_core::verdict::{Report, RowVerdict, Verdict};

use client::{ApiError, Backoff, Client};
use comment::CommentAction;
use context::ActionsContext;

/// What publishing did, for the caller's log and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    /// False when nothing was published (not in Actions and not forced).
    pub published: bool,
    /// What happened to the PR comment.
    pub comment: CommentAction,
    /// The job summary was written.
    pub summary_written: bool,
    /// Step outputs were written.
    pub outputs_written: bool,
    /// Number of `::error` annotations printed.
    pub annotations: usize,
}

impl PublishOutcome {
    fn not_published() -> PublishOutcome {
        PublishOutcome {
            published: false,
            comment: CommentAction::Skipped("not running in GitHub Actions".into()),
            summary_written: false,
            outputs_written: false,
            annotations: 0,
        }
    }
}

/// Called by `gate check` and `gate comment`: publishes when running in
/// GitHub Actions (`GITHUB_ACTIONS=true`) or when `force` (`--github`);
/// otherwise does nothing. `config_root` resolves a relative
/// `comment.template`. `context` builds what the comment shows beyond the
/// report (the run, the history) from the Actions environment; it is
/// called only when publishing, since gathering a history may fetch and
/// analyse it.
pub fn publish_check(
    report: &Report,
    report_path: &Path,
    comment: &CommentConfig,
    config_root: &Path,
    force: bool,
    context: impl FnOnce(&ActionsContext) -> CommentContext,
) -> Result<PublishOutcome> {
    let ctx = ActionsContext::from_env();
    if !ctx.in_actions && !force {
        return Ok(PublishOutcome::not_published());
    }
    let mut comment = comment.clone();
    if let Some(mode) = mode_override(std::env::var("GATE_COMMENT_MODE").ok().as_deref())? {
        comment.mode = mode;
    }
    let template = comment.template_path(config_root);
    let context = context(&ctx);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime for the GitHub client")?;
    runtime.block_on(publish(
        &ctx,
        report,
        report_path,
        &comment,
        template.as_deref(),
        &context,
        Backoff::from_env(),
    ))
}

/// Publishes `report` in the Actions environment `ctx`, the comment
/// showing what `context` adds (its run link included).
pub async fn publish(
    ctx: &ActionsContext,
    report: &Report,
    report_path: &Path,
    settings: &CommentConfig,
    template: Option<&Path>,
    context: &CommentContext,
    backoff: Backoff,
) -> Result<PublishOutcome> {
    let markdown = render_markdown(report, template, context)?;
    let marker = comment::marker_line(&settings.marker)?;

    let mut summary_written = false;
    if let Some(path) = &ctx.step_summary {
        summary::append(path, &markdown)?;
        summary_written = true;
    }

    let errors = annotations::regression_errors(report);
    for line in &errors {
        println!("{line}");
    }

    let regressed = report.verdict == Verdict::Regression
        || report
            .rows
            .iter()
            .any(|r| r.verdict == RowVerdict::Regressed);
    let body = comment_body(ctx, &marker, &markdown);
    let result = post_comment(ctx, settings, &marker, &body, regressed, backoff).await;
    let (action, failure) = match result {
        Ok(action) => (action, None),
        Err(ApiError::Denied { status, message }) => {
            println!("{}", denied_notice(ctx, status, &message));
            (
                CommentAction::Skipped(format!("the token may not comment (HTTP {status})")),
                None,
            )
        }
        Err(e @ ApiError::Failed(_)) => (CommentAction::Skipped(e.to_string()), Some(e)),
    };
    if failure.is_none() {
        log_comment(&action);
    }

    let mut outputs_written = false;
    if let Some(path) = &ctx.output {
        let regressions = report
            .rows
            .iter()
            .filter(|r| r.verdict == RowVerdict::Regressed)
            .count();
        outputs::write(
            path,
            &[
                ("verdict", verdict_name(report.verdict).to_string()),
                ("regressions", regressions.to_string()),
                ("report-path", report_path.display().to_string()),
                ("comment-url", action.url().unwrap_or_default().to_string()),
            ],
        )?;
        outputs_written = true;
    }

    if let Some(e) = failure {
        return Err(anyhow::Error::new(e).context(
            "the PR comment could not be posted (the job summary and outputs were written)",
        ));
    }
    Ok(PublishOutcome {
        published: true,
        comment: action,
        summary_written,
        outputs_written,
        annotations: errors.len(),
    })
}

/// The comment mode set by the action's `comment` input
/// (`GATE_COMMENT_MODE`), which wins over `comment.mode` of `gate.yaml`;
/// empty means "keep the config's".
fn mode_override(value: Option<&str>) -> Result<Option<CommentMode>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some("always") => Ok(Some(CommentMode::Always)),
        Some("on-regression") => Ok(Some(CommentMode::OnRegression)),
        Some("never") => Ok(Some(CommentMode::Never)),
        Some(other) => anyhow::bail!(
            "GATE_COMMENT_MODE `{other}` is not a comment mode (always, on-regression, never)"
        ),
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Regression => "regression",
        Verdict::Error => "error",
    }
}

/// The marker, then the Markdown, cut below GitHub's limit with a pointer
/// to the job summary, which holds the whole report.
fn comment_body(ctx: &ActionsContext, marker: &str, markdown: &str) -> String {
    let full = format!("{marker}\n{markdown}");
    let pointer = match ctx.run_url() {
        Some(url) => format!(
            "_This comment was cut to fit GitHub's 65,536-character limit; the full report is in the [job summary]({url})._"
        ),
        None => "_This comment was cut to fit GitHub's 65,536-character limit; the full report is in the job summary._".to_string(),
    };
    comment::fit(
        &full,
        comment::MAX_COMMENT_CHARS,
        comment::comment_len,
        &pointer,
    )
}

/// Finds the pull request and writes the comment, or says why not.
async fn post_comment(
    ctx: &ActionsContext,
    settings: &CommentConfig,
    marker: &str,
    body: &str,
    regressed: bool,
    backoff: Backoff,
) -> Result<CommentAction, ApiError> {
    if settings.mode == CommentMode::Never {
        return Ok(CommentAction::Skipped("comment mode is `never`".into()));
    }
    let skip = |why: String| {
        println!(
            "{}",
            annotations::command("notice", "gate: no PR comment", &why)
        );
        Ok(CommentAction::Skipped(why))
    };
    let Some((owner, repo)) = ctx.owner_repo() else {
        return skip("GITHUB_REPOSITORY is not set to `owner/name`, so there is no pull request to comment on".into());
    };
    let Some(event_path) = &ctx.event_path else {
        return skip("GITHUB_EVENT_PATH is not set, so the pull request is unknown".into());
    };
    let target = match event::pull_target(event_path) {
        Ok(t) => t,
        Err(e) => return skip(format!("{e:#}")),
    };
    let Some(token) = ctx.token.clone() else {
        return skip(
            "GITHUB_TOKEN is not set; pass the `github-token` input or `env: GITHUB_TOKEN: ${{ github.token }}`".into(),
        );
    };
    let client = Client::new(&ctx.api_url, token, backoff)
        .map_err(|e| ApiError::Failed(format!("{e:#}")))?;
    let pull = match comment::resolve_pull(&client, owner, repo, &target).await? {
        Ok(n) => n,
        Err(why) => {
            // A push or a schedule has no pull request: a log line, not a notice.
            eprintln!("gate: no PR comment: {why}");
            return Ok(CommentAction::Skipped(why));
        }
    };
    sticky::upsert(
        &client,
        sticky::PullRef {
            owner,
            repo,
            number: pull,
        },
        sticky::Post {
            marker_line: marker,
            author: settings.author.as_deref(),
            body,
        },
        settings.mode,
        regressed,
    )
    .await
}

/// The notice for a comment GitHub refused: why, and what to do.
fn denied_notice(ctx: &ActionsContext, status: u16, message: &str) -> String {
    let fork = ctx.event_name.as_deref() == Some("pull_request");
    let why = if fork {
        "This is expected for a pull request from a fork: GitHub gives its runs a read-only token."
    } else {
        "The workflow needs `permissions: pull-requests: write` for the token it passes."
    };
    annotations::command(
        "notice",
        "gate: no PR comment",
        &format!(
            "GitHub refused to let this token comment (HTTP {status}: {message}). {why} \
             The verdict, the exit code and the job summary are unaffected. \
             To get the comment on fork pull requests, use the two-workflow pattern: \
             this workflow uploads the report (`gate check --json`) as an artifact, and a \
             workflow triggered by `workflow_run` downloads it and runs \
             `gate comment --results <file>` with a write token (see docs/github.md)."
        ),
    )
}

fn log_comment(action: &CommentAction) {
    match action {
        CommentAction::Created { url } => eprintln!("gate: PR comment created: {url}"),
        CommentAction::Updated { url } => eprintln!("gate: PR comment updated: {url}"),
        CommentAction::Skipped(why) => eprintln!("gate: no PR comment: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_mode_override_from_the_action_input() {
        assert_eq!(mode_override(None).unwrap(), None);
        assert_eq!(mode_override(Some("")).unwrap(), None);
        assert_eq!(
            mode_override(Some("on-regression")).unwrap(),
            Some(CommentMode::OnRegression)
        );
        assert!(mode_override(Some("sometimes")).is_err());
    }
}
