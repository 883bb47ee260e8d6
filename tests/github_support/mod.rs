//! A fake of the parts of GitHub's REST API the gate uses, served on
//! loopback by wiremock, with state: comments really are created (by the
//! token's author), listed page by page (with `Link` headers in GitHub's
//! form), updated and deleted, so a test sees duplicates and lost updates
//! as GitHub would show them. `GET /user` answers as GitHub does for the
//! token: refused for an installation token such as `GITHUB_TOKEN`.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const OWNER: &str = "acme";
pub const REPO: &str = "vault";
pub const PR: u64 = 7;
/// GitHub's `Link` headers name repositories by id, not by name.
pub const REPO_ID: u64 = 4242;
pub const TOKEN: &str = "ghs_TopSecretToken1234567890";
/// The author of what `GITHUB_TOKEN` writes.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

#[derive(Debug, Clone)]
pub struct StoredComment {
    pub id: u64,
    pub body: String,
    /// The login of the comment's author.
    pub author: String,
}

#[derive(Default)]
pub struct State {
    pub comments: Vec<StoredComment>,
    pub next_id: u64,
    /// Every request as `METHOD path?query`.
    pub log: Vec<String>,
    /// Authorization headers seen.
    pub auth: Vec<String>,
    /// Responses to serve before the normal ones, for requests with this method.
    pub injected: VecDeque<(String, ResponseTemplate)>,
    /// Writes are refused with 403, like the read-only token of a fork's PR.
    pub read_only: bool,
    /// Path prefix the API lives under (`/api/v3` on GitHub Enterprise).
    pub prefix: String,
    /// Open pull requests for the `pulls?head=` lookup: (number, head label, sha).
    pub pulls: Vec<(u64, String, String)>,
    /// The login the token writes as.
    pub login: String,
    /// The token is an installation token (`GITHUB_TOKEN`, an app's):
    /// `GET /user` is refused with 403.
    pub installation_token: bool,
    /// The next this-many comment lists are answered after `list_delay`
    /// (their content is taken when the request arrives), to let two
    /// runs race past each other.
    pub delayed_lists: usize,
    pub list_delay: Duration,
}

#[derive(Clone)]
pub struct FakeGitHub {
    pub state: Arc<Mutex<State>>,
    base: String,
}

impl FakeGitHub {
    /// Starts a server with the API at its root.
    pub async fn start() -> (MockServer, FakeGitHub) {
        Self::start_with_prefix("").await
    }

    /// Starts a server with the API under `prefix` (`/api/v3`).
    pub async fn start_with_prefix(prefix: &str) -> (MockServer, FakeGitHub) {
        let server = MockServer::start().await;
        let fake = FakeGitHub {
            state: Arc::new(Mutex::new(State {
                next_id: 1000,
                prefix: prefix.to_string(),
                login: ACTIONS_BOT.to_string(),
                installation_token: true,
                ..State::default()
            })),
            base: format!("{}{prefix}", server.uri()),
        };
        Mock::given(any())
            .respond_with(fake.clone())
            .mount(&server)
            .await;
        (server, fake)
    }

    /// The value for `GITHUB_API_URL`.
    pub fn api_url(&self) -> String {
        self.base.clone()
    }

    /// A comment written with the token (as an earlier run would have).
    pub fn add_comment(&self, body: &str) -> u64 {
        let login = self.state.lock().unwrap().login.clone();
        self.add_comment_by(&login, body)
    }

    /// A comment written by `author`.
    pub fn add_comment_by(&self, author: &str, body: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.comments.push(StoredComment {
            id,
            body: body.to_string(),
            author: author.to_string(),
        });
        id
    }

    pub fn comments(&self) -> Vec<StoredComment> {
        self.state.lock().unwrap().comments.clone()
    }

    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn inject(&self, method: &str, response: ResponseTemplate) {
        self.state
            .lock()
            .unwrap()
            .injected
            .push_back((method.to_string(), response));
    }

    fn comment_json(&self, c: &StoredComment) -> Value {
        json!({
            "id": c.id,
            "body": c.body,
            "html_url": format!("https://github.example/{OWNER}/{REPO}/pull/{PR}#issuecomment-{}", c.id),
            "user": {"login": c.author},
        })
    }
}

fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.to_string())
}

impl Respond for FakeGitHub {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let method = req.method.to_string();
        let mut s = self.state.lock().unwrap();
        let full = match req.url.query() {
            Some(q) => format!("{method} {}?{q}", req.url.path()),
            None => format!("{method} {}", req.url.path()),
        };
        s.log.push(full);
        if let Some(a) = req.headers.get("authorization") {
            s.auth.push(a.to_str().unwrap_or("").to_string());
        }
        if let Some(pos) = s.injected.iter().position(|(m, _)| *m == method) {
            return s.injected.remove(pos).unwrap().1;
        }
        let Some(path) = req.url.path().strip_prefix(s.prefix.as_str()) else {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        };
        let path = path.to_string();
        let list_paths = [
            format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments"),
            format!("/repositories/{REPO_ID}/issues/{PR}/comments"),
        ];
        let write_refused = || {
            ResponseTemplate::new(403).set_body_json(json!({
                "message": "Resource not accessible by integration",
                "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
                "status": "403"
            }))
        };
        if method == "GET" && list_paths.contains(&path) {
            let per_page: usize = query(req, "per_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(30)
                .min(100);
            let page: usize = query(req, "page").and_then(|v| v.parse().ok()).unwrap_or(1);
            let total = s.comments.len();
            let last = total.div_ceil(per_page).max(1);
            let items: Vec<Value> = s
                .comments
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|c| self.comment_json(c))
                .collect();
            let link = |p: usize| {
                format!(
                    "{}/repositories/{REPO_ID}/issues/{PR}/comments?per_page={per_page}&page={p}",
                    self.base
                )
            };
            let mut links = Vec::new();
            if page < last {
                links.push(format!("<{}>; rel=\"next\"", link(page + 1)));
                links.push(format!("<{}>; rel=\"last\"", link(last)));
            }
            if page > 1 {
                links.push(format!("<{}>; rel=\"prev\"", link(page - 1)));
                links.push(format!("<{}>; rel=\"first\"", link(1)));
            }
            let mut r = ResponseTemplate::new(200).set_body_json(items);
            if !links.is_empty() {
                r = r.insert_header("link", links.join(", "));
            }
            if s.delayed_lists > 0 {
                s.delayed_lists -= 1;
                r = r.set_delay(s.list_delay);
            }
            return r;
        }
        if method == "POST" && path == list_paths[0] {
            if s.read_only {
                return write_refused();
            }
            let body: Value = req.body_json().unwrap_or(Value::Null);
            s.next_id += 1;
            let c = StoredComment {
                id: s.next_id,
                body: body["body"].as_str().unwrap_or("").to_string(),
                author: s.login.clone(),
            };
            s.comments.push(c.clone());
            return ResponseTemplate::new(201).set_body_json(self.comment_json(&c));
        }
        if method == "PATCH"
            && let Some(id) = path
                .strip_prefix(&format!("/repos/{OWNER}/{REPO}/issues/comments/"))
                .and_then(|id| id.parse::<u64>().ok())
        {
            if s.read_only {
                return write_refused();
            }
            let body: Value = req.body_json().unwrap_or(Value::Null);
            let Some(c) = s.comments.iter_mut().find(|c| c.id == id) else {
                return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
            };
            c.body = body["body"].as_str().unwrap_or("").to_string();
            let c = c.clone();
            return ResponseTemplate::new(200).set_body_json(self.comment_json(&c));
        }
        if method == "DELETE"
            && let Some(id) = path
                .strip_prefix(&format!("/repos/{OWNER}/{REPO}/issues/comments/"))
                .and_then(|id| id.parse::<u64>().ok())
        {
            if s.read_only {
                return write_refused();
            }
            let Some(pos) = s.comments.iter().position(|c| c.id == id) else {
                return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
            };
            s.comments.remove(pos);
            return ResponseTemplate::new(204);
        }
        if method == "GET" && path == "/user" {
            if s.installation_token {
                return ResponseTemplate::new(403).set_body_json(json!({
                    "message": "Resource not accessible by integration",
                    "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                    "status": "403"
                }));
            }
            return ResponseTemplate::new(200).set_body_json(json!({"login": s.login}));
        }
        if method == "GET" && path == format!("/repos/{OWNER}/{REPO}/pulls") {
            let head = query(req, "head").unwrap_or_default();
            let items: Vec<Value> = s
                .pulls
                .iter()
                .filter(|(_, label, _)| *label == head)
                .map(|(n, label, sha)| json!({"number": n, "head": {"label": label, "sha": sha}}))
                .collect();
            return ResponseTemplate::new(200).set_body_json(items);
        }
        ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
    }
}

/// An emulated Actions step: env files in a temp dir.
pub struct Step {
    pub dir: tempfile::TempDir,
    pub summary: PathBuf,
    pub output: PathBuf,
    pub event: PathBuf,
}

impl Step {
    pub fn new(event: &Value) -> Step {
        let dir = tempfile::tempdir().unwrap();
        let summary = dir.path().join("step_summary.md");
        let output = dir.path().join("output.txt");
        let event_path = dir.path().join("event.json");
        std::fs::write(&summary, "").unwrap();
        std::fs::write(&output, "").unwrap();
        std::fs::write(&event_path, serde_json::to_string(event).unwrap()).unwrap();
        Step {
            dir,
            summary,
            output,
            event: event_path,
        }
    }

    /// `gate comment --results REPORT` as a runner would start it.
    pub fn command(&self, api_url: &str, report: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
            .env("GITHUB_API_URL", api_url)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_RUN_ID", "99")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &self.event)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env("GITHUB_OUTPUT", &self.output)
            .env("GITHUB_TOKEN", TOKEN)
            .env("GATE_GITHUB_RETRY_BASE_MS", "5")
            .current_dir(self.dir.path())
            .arg("comment")
            .arg("--results")
            .arg(report);
        cmd
    }

    pub fn summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap()
    }

    /// The outputs as the runner reads them (last value wins).
    pub fn outputs(&self) -> std::collections::BTreeMap<String, String> {
        let text = std::fs::read_to_string(&self.output).unwrap();
        gate_github::outputs::parse(&text)
            .unwrap()
            .into_iter()
            .collect()
    }
}

pub fn pull_request_event() -> Value {
    json!({"action": "synchronize", "number": PR, "pull_request": {"number": PR,
        "head": {"repo": {"full_name": "forker/vault"}}}})
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/github")
        .join(name)
}

/// Runs a command off the async runtime (the fake answers on its own thread).
pub async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}
