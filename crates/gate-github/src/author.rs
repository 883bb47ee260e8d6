//! Who the gate writes its comment as, so that it edits only comments the
//! same token wrote.
//!
//! The marker alone proves nothing: anyone can post `<!-- gate-comment: gate -->`.
//! The author does: GitHub sets it from the token, and a login with `[bot]`
//! cannot be taken by a person. The author is, in this order:
//!
//! 1. `comment.author` of `gate.yaml`, when set (a GitHub App's token writes
//!    as `<app-slug>[bot]`, which the API cannot tell an installation token);
//! 2. the login `GET /user` answers for the token (a personal access token);
//! 3. `github-actions[bot]`, when `GET /user` is refused, as it is for the
//!    workflow's `GITHUB_TOKEN` (an installation token).

use serde::Deserialize;

use super::client::{ApiError, Client};

/// The author of comments written with a workflow's `GITHUB_TOKEN`.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// The part of a user object the gate reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiUser {
    pub login: String,
}

/// The login the gate's comments are written by, as the module says.
pub async fn resolve(client: &Client, configured: Option<&str>) -> Result<String, ApiError> {
    if let Some(login) = configured.map(str::trim).filter(|l| !l.is_empty()) {
        return Ok(login.to_string());
    }
    let me: Result<ApiUser, ApiError> = client
        .call("GET /user", || client.crab.get("/user", None::<&()>))
        .await;
    match me {
        Ok(user) => Ok(user.login),
        Err(ApiError::Denied { .. }) => Ok(ACTIONS_BOT.to_string()),
        Err(e) => Err(e),
    }
}

/// Whether two logins name the same account (GitHub ignores case in them).
pub fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}
