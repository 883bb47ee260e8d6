//! What the GitHub Actions runner tells a step through its environment.
//!
//! Read once, into one value, so that the rest of the publisher never looks
//! at the process environment: tests build a context from a map, and the
//! token is held where it cannot be printed by accident.

use std::fmt;
use std::path::PathBuf;

/// The public API, used when `GITHUB_API_URL` is not set (outside Actions).
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The public web host, used when `GITHUB_SERVER_URL` is not set.
pub const DEFAULT_SERVER_URL: &str = "https://github.com";

/// A token that never shows in `Debug` or `Display` output.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: String) -> Token {
        Token(value)
    }
    /// The secret itself, for the HTTP client only.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Replaces every occurrence of the token in `text` by `***`, so that an
    /// error echoing a request can be printed safely.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// The Actions environment of one step.
#[derive(Debug, Clone, Default)]
pub struct ActionsContext {
    /// `GITHUB_ACTIONS=true`: running inside a workflow.
    pub in_actions: bool,
    /// `GITHUB_REPOSITORY`, `owner/name`.
    pub repository: Option<String>,
    /// `GITHUB_TOKEN`.
    pub token: Option<Token>,
    /// `GITHUB_API_URL` (GitHub Enterprise sets its own), else the public API.
    pub api_url: String,
    /// `GITHUB_SERVER_URL`, for links to the run.
    pub server_url: String,
    /// `GITHUB_RUN_ID`, for the link to the job summary.
    pub run_id: Option<String>,
    /// `GITHUB_EVENT_NAME`, for messages.
    pub event_name: Option<String>,
    /// `GITHUB_EVENT_PATH`: the webhook payload that started the run.
    pub event_path: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`: Markdown appended here is the job summary.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_OUTPUT`: step outputs.
    pub output: Option<PathBuf>,
}

impl ActionsContext {
    /// Reads the process environment.
    pub fn from_env() -> ActionsContext {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads variables through `get`; empty values count as absent, as the
    /// runner sets some variables to `""` when they do not apply.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> ActionsContext {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        ActionsContext {
            in_actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            repository: get("GITHUB_REPOSITORY"),
            token: get("GITHUB_TOKEN").map(Token::new),
            api_url: get("GITHUB_API_URL")
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| DEFAULT_API_URL.into()),
            server_url: get("GITHUB_SERVER_URL")
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| DEFAULT_SERVER_URL.into()),
            run_id: get("GITHUB_RUN_ID"),
            event_name: get("GITHUB_EVENT_NAME"),
            event_path: get("GITHUB_EVENT_PATH").map(PathBuf::from),
            step_summary: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: get("GITHUB_OUTPUT").map(PathBuf::from),
        }
    }

    /// `owner` and `name` of `GITHUB_REPOSITORY`, if it has that shape.
    pub fn owner_repo(&self) -> Option<(&str, &str)> {
        let (owner, name) = self.repository.as_deref()?.split_once('/')?;
        (!owner.is_empty() && !name.is_empty() && !name.contains('/')).then_some((owner, name))
    }

    /// The page of this workflow run, where the job summary is shown.
    pub fn run_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.server_url,
            self.repository.as_deref()?,
            self.run_id.as_deref()?
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ctx(pairs: &[(&str, &str)]) -> ActionsContext {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ActionsContext::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn api_url_defaults_to_public_github_and_honours_enterprise() {
        assert_eq!(ctx(&[]).api_url, DEFAULT_API_URL);
        let c = ctx(&[("GITHUB_API_URL", "https://ghe.example/api/v3/")]);
        assert_eq!(c.api_url, "https://ghe.example/api/v3");
    }

    #[test]
    fn empty_values_are_absent_and_token_does_not_debug_print() {
        let c = ctx(&[("GITHUB_TOKEN", "ghs_secret"), ("GITHUB_REPOSITORY", "")]);
        assert!(c.repository.is_none());
        assert!(!format!("{c:?}").contains("ghs_secret"));
        assert_eq!(c.token.unwrap().redact("Bearer ghs_secret!"), "Bearer ***!");
    }

    #[test]
    fn run_url_and_owner_repo() {
        let c = ctx(&[
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_ACTIONS", "true"),
        ]);
        assert!(c.in_actions);
        assert_eq!(c.owner_repo(), Some(("o", "r")));
        assert_eq!(
            c.run_url().unwrap(),
            "https://github.com/o/r/actions/runs/42"
        );
        assert_eq!(ctx(&[("GITHUB_REPOSITORY", "bad")]).owner_repo(), None);
    }
}
