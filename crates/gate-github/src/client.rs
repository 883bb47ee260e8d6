//! The GitHub REST client: octocrab, pointed at `GITHUB_API_URL`, with our
//! own retry policy.
//!
//! octocrab's built-in retry repeats a 5xx at once, with no pause, which
//! only hammers a struggling server; so it is turned off and every call goes
//! through [`Client::call`], which waits with exponential backoff and jitter
//! on 5xx, on transport errors and on rate limits (secondary limits come as
//! 403 or 429 with `retry-after` or a "rate limit" message). Any other 401
//! or 403 is a permission problem ([`ApiError::Denied`]): retrying cannot fix
//! it, and the caller handles it as "no comment", not as a failed check.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use rand::Rng;

use super::context::Token;

/// How often and how long to wait before giving up on a call.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first wait; each later wait doubles (with jitter).
    pub base: Duration,
    /// No single wait is longer; a rate limit that asks for more is an error.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            retries: 4,
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The default, with the first wait taken from `GATE_GITHUB_RETRY_BASE_MS`
    /// when set (tests and impatient users shorten it).
    pub fn from_env() -> Backoff {
        let mut b = Backoff::default();
        if let Some(ms) = std::env::var("GATE_GITHUB_RETRY_BASE_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            b.base = Duration::from_millis(ms);
        }
        b
    }

    /// The wait before retry number `attempt` (0-based): `base * 2^attempt`,
    /// scaled by a random factor in [0.5, 1] so that parallel jobs spread out.
    fn delay(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.min(16));
        let jitter = rand::rng().random_range(0.5..=1.0);
        exp.mul_f64(jitter).min(self.max)
    }
}

/// A call that failed for good.
#[derive(Debug)]
pub enum ApiError {
    /// 401 or 403 that is not a rate limit: this token may not do this
    /// (the read-only token of a fork's pull request, a missing permission).
    Denied { status: u16, message: String },
    /// Anything else, after the retries; the text says what and how often.
    Failed(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Denied { status, message } => {
                write!(f, "GitHub refused the request (HTTP {status}: {message})")
            }
            ApiError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ApiError {}

/// What one failed attempt means for the next.
enum Attempt {
    Retry { why: String, wait: Option<Duration> },
    Denied { status: u16, message: String },
    Fatal(String),
}

/// octocrab plus the token (for redaction) and the retry policy.
pub struct Client {
    pub crab: Octocrab,
    token: Token,
    backoff: Backoff,
}

impl Client {
    /// A client for `api_url` (`GITHUB_API_URL`; GitHub Enterprise's is
    /// `https://HOST/api/v3`) authenticated with `token`.
    pub fn new(api_url: &str, token: Token, backoff: Backoff) -> Result<Client> {
        let crab = Octocrab::builder()
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .base_uri(api_url)
            .with_context(|| format!("GITHUB_API_URL `{api_url}` is not a URL"))?
            .personal_token(token.expose().to_string())
            .build()
            .context("cannot build the GitHub client")?;
        Ok(Client {
            crab,
            token,
            backoff,
        })
    }

    /// Runs `f` until it succeeds, fails for good, or the retries run out.
    /// `what` names the request in messages (`POST /repos/o/r/issues/1/comments`).
    pub async fn call<T, F, Fut>(&self, what: &str, mut f: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = octocrab::Result<T>>,
    {
        let mut attempt = 0;
        loop {
            let err = match f().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match classify(&err) {
                Attempt::Denied { status, message } => {
                    return Err(ApiError::Denied {
                        status,
                        message: self.token.redact(&message),
                    });
                }
                Attempt::Fatal(why) => {
                    return Err(ApiError::Failed(
                        self.token
                            .redact(&format!("GitHub API {what} failed: {why}")),
                    ));
                }
                Attempt::Retry { why, wait } => {
                    if attempt >= self.backoff.retries {
                        return Err(ApiError::Failed(self.token.redact(&format!(
                            "GitHub API {what} failed after {} attempts: {why}",
                            attempt + 1
                        ))));
                    }
                    let wait = match wait {
                        Some(w) if w > self.backoff.max => {
                            return Err(ApiError::Failed(self.token.redact(&format!(
                                "GitHub API {what}: rate limited for {}s, longer than the {}s the gate waits: {why}",
                                w.as_secs(),
                                self.backoff.max.as_secs()
                            ))));
                        }
                        Some(w) => w,
                        None => self.backoff.delay(attempt),
                    };
                    eprintln!(
                        "gate: {}; retrying in {:.1}s ({} of {})",
                        self.token.redact(&format!("GitHub API {what}: {why}")),
                        wait.as_secs_f64(),
                        attempt + 1,
                        self.backoff.retries
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// Sorts an octocrab error into retry, denied, or fatal.
fn classify(err: &octocrab::Error) -> Attempt {
    match err {
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code.as_u16();
            let message = source.message.clone();
            let header = |name: &str| {
                source
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok());
            let exhausted = header("x-ratelimit-remaining").as_deref() == Some("0");
            let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok());
            let why = format!("HTTP {status}: {message}");
            let rate_limited = status == 429
                || (status == 403
                    && (retry_after.is_some()
                        || exhausted
                        || message.to_ascii_lowercase().contains("rate limit")));
            if rate_limited {
                let wait = retry_after.map(Duration::from_secs).or_else(|| {
                    exhausted.then(|| {
                        let now = chrono::Utc::now().timestamp();
                        Duration::from_secs(reset.map(|r| (r - now).max(1) as u64).unwrap_or(60))
                    })
                });
                Attempt::Retry { why, wait }
            } else if source.status_code.is_server_error() {
                Attempt::Retry { why, wait: None }
            } else if status == 401 || status == 403 {
                Attempt::Denied { status, message }
            } else {
                Attempt::Fatal(why)
            }
        }
        // No HTTP answer (connection refused or reset, timeout): worth another try.
        octocrab::Error::Hyper { .. } | octocrab::Error::Service { .. } => Attempt::Retry {
            why: error_chain(err),
            wait: None,
        },
        other => Attempt::Fatal(error_chain(other)),
    }
}

/// An error and its causes on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let t = e.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let b = Backoff {
            retries: 3,
            base: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        for _ in 0..20 {
            let d0 = b.delay(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
            let d1 = b.delay(1);
            assert!(d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(200));
            assert!(b.delay(5) <= Duration::from_millis(300));
        }
    }
}
