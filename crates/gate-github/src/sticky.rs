//! The one comment per pull request and marker: found again, updated in
//! place, created only when absent (and, in `on-regression` mode, only once
//! something regressed), and never left twice.
//!
//! A comment is the gate's when its body *starts* with the marker line (a
//! person quoting the marker in a reply is not matched) **and** it was
//! written by the token's author (`author.rs`). A marker comment by anyone
//! else is left alone, and the gate writes its own next to it.
//!
//! Two runs can both find no comment and both create one. So after
//! creating, the gate lists the comments again and settles: of its own
//! marker comments the oldest (lowest id) stays and carries this run's
//! body, the others are deleted. Each run's second list is taken after its
//! own comment exists, so it sees every comment created before that one,
//! the oldest included: all runs agree on the survivor, and one remains.

use serde_json::json;

use super::author;
use super::client::{ApiError, Client};
use super::comment::{ApiComment, CommentAction};
use gate_core::config::CommentMode;

/// The pull request a comment goes on.
#[derive(Debug, Clone, Copy)]
pub struct PullRef<'a> {
    pub owner: &'a str,
    pub repo: &'a str,
    pub number: u64,
}

/// What the gate writes and where it looks for what it wrote before.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    /// The hidden first line (`comment::marker_line`).
    pub marker_line: &'a str,
    /// `comment.author`, when configured.
    pub author: Option<&'a str>,
    /// The whole body, marker first.
    pub body: &'a str,
}

/// Updates the gate's comment or creates it, as `mode` says.
pub async fn upsert(
    client: &Client,
    pull: PullRef<'_>,
    post: Post<'_>,
    mode: CommentMode,
    regressed: bool,
) -> Result<CommentAction, ApiError> {
    if mode == CommentMode::Never {
        return Ok(CommentAction::Skipped("comment mode is `never`".into()));
    }
    let found = marked(list(client, pull).await?, post.marker_line);
    // The author is asked for only when there is a marker comment to judge.
    if !found.is_empty() {
        let login = author::resolve(client, post.author).await?;
        let own = written_by(found, &login);
        if !own.is_empty() {
            let kept = settle(client, pull, own, post.body, None).await?;
            return Ok(CommentAction::Updated { url: kept.url() });
        }
    }
    if mode == CommentMode::OnRegression && !regressed {
        return Ok(CommentAction::Skipped(
            "comment mode is `on-regression` and nothing regressed".into(),
        ));
    }
    let route = format!(
        "/repos/{}/{}/issues/{}/comments",
        pull.owner, pull.repo, pull.number
    );
    let payload = json!({ "body": post.body });
    let created: ApiComment = client
        .call(&format!("POST {route}"), || {
            client.crab.post(&route, Some(&payload))
        })
        .await?;
    // The created comment names the token's author for certain.
    let login = match created.user.as_ref() {
        Some(u) => u.login.clone(),
        None => author::resolve(client, post.author).await?,
    };
    let mut own = written_by(marked(list(client, pull).await?, post.marker_line), &login);
    if !own.iter().any(|c| c.id == created.id) {
        own.push(created.clone());
    }
    let kept = settle(client, pull, own, post.body, Some(created.id)).await?;
    Ok(if kept.id == created.id {
        CommentAction::Created { url: kept.url() }
    } else {
        CommentAction::Updated { url: kept.url() }
    })
}

/// Keeps the oldest of `own` (not empty) with `body`, deletes the others,
/// and returns the one kept. `written` is a comment that already has `body`.
async fn settle(
    client: &Client,
    pull: PullRef<'_>,
    mut own: Vec<ApiComment>,
    body: &str,
    written: Option<u64>,
) -> Result<ApiComment, ApiError> {
    own.sort_by_key(|c| c.id);
    let mut rest = own.split_off(1);
    let mut kept = own.remove(0);
    if written != Some(kept.id) {
        let route = format!(
            "/repos/{}/{}/issues/comments/{}",
            pull.owner, pull.repo, kept.id
        );
        let payload = json!({ "body": body });
        let updated: ApiComment = client
            .call(&format!("PATCH {route}"), || {
                client.crab.patch(&route, Some(&payload))
            })
            .await?;
        kept.html_url = updated.html_url.or(kept.html_url);
    }
    for extra in rest.drain(..) {
        delete(client, pull, extra.id).await;
    }
    Ok(kept)
}

/// Deletes a duplicate; one already gone (another run deleted it) is fine,
/// and a failure leaves a duplicate behind with a warning, not an error.
async fn delete(client: &Client, pull: PullRef<'_>, id: u64) {
    let route = format!("/repos/{}/{}/issues/comments/{id}", pull.owner, pull.repo);
    let what = format!("DELETE {route}");
    let result = client
        .call(&what, || async {
            let response = client.crab._delete(route.as_str(), None::<&()>).await?;
            octocrab::map_github_error(response).await.map(|_| ())
        })
        .await;
    match result {
        Ok(()) => eprintln!("gate: deleted duplicate PR comment {id}"),
        Err(ApiError::Failed(m)) if m.contains("HTTP 404") => {}
        Err(e) => eprintln!("gate: could not delete duplicate PR comment {id}: {e}"),
    }
}

/// Every comment of the pull request, all pages.
async fn list(client: &Client, pull: PullRef<'_>) -> Result<Vec<ApiComment>, ApiError> {
    let route = format!(
        "/repos/{}/{}/issues/{}/comments",
        pull.owner, pull.repo, pull.number
    );
    let mut page: octocrab::Page<ApiComment> = client
        .call(&format!("GET {route}"), || {
            client.crab.get(&route, Some(&[("per_page", "100")]))
        })
        .await?;
    let mut all = std::mem::take(&mut page.items);
    while let Some(next) = page.next.clone() {
        let next = next.to_string();
        page = client
            .call(&format!("GET {next}"), || {
                client.crab.get(&next, None::<&()>)
            })
            .await?;
        all.append(&mut page.items);
    }
    Ok(all)
}

/// The comments whose body starts with `marker_line`.
fn marked(comments: Vec<ApiComment>, marker_line: &str) -> Vec<ApiComment> {
    comments
        .into_iter()
        .filter(|c| {
            c.body
                .as_deref()
                .is_some_and(|b| b.trim_start().starts_with(marker_line))
        })
        .collect()
}

/// The comments written by `login`.
fn written_by(comments: Vec<ApiComment>, login: &str) -> Vec<ApiComment> {
    comments
        .into_iter()
        .filter(|c| {
            c.user
                .as_ref()
                .is_some_and(|u| author::same(&u.login, login))
        })
        .collect()
}
