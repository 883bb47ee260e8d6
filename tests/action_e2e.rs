//! The composite action (`action.yml`) run end to end by an emulated
//! runner: each `run:` step goes through bash as the runner starts it
//! (`bash --noprofile --norc -eo pipefail`), with the step's `env:`
//! evaluated from the inputs, fresh `GITHUB_OUTPUT` files, `GITHUB_PATH`
//! carried between steps, and the action's outputs read back from the step
//! outputs. The release binary is served on loopback with its checksum,
//! and the comment goes to the fake GitHub of `github_support`.

mod github_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use github_support::*;
use regex::Regex;
use serde_yaml::Value as Yaml;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACTION_REF: &str = "v9.9.9";
const ACTION_REPO: &str = "acme/gate";

fn action() -> Yaml {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn target() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "aarch64" => ("ARM64", "aarch64-unknown-linux-gnu"),
        _ => ("X64", "x86_64-unknown-linux-gnu"),
    }
}

/// A result of running the action.
struct Run {
    /// Exit code of each step, by name.
    steps: Vec<(String, i32)>,
    outputs: BTreeMap<String, String>,
    log: String,
    tool_cache: PathBuf,
    /// The runner's folders, removed when the test ends.
    _root: tempfile::TempDir,
}

/// The emulated runner for one job.
struct Runner {
    root: tempfile::TempDir,
    env: BTreeMap<String, String>,
    with: BTreeMap<String, String>,
}

impl Runner {
    fn new(server_url: &str, api_url: &str) -> Runner {
        let root = tempfile::tempdir().unwrap();
        let workspace = root.path().join("workspace");
        let temp = root.path().join("runner_temp");
        let tool_cache = root.path().join("tool_cache");
        for d in [&workspace, &temp, &tool_cache] {
            std::fs::create_dir_all(d).unwrap();
        }
        let event = root.path().join("event.json");
        std::fs::write(&event, pull_request_event().to_string()).unwrap();
        let (arch, _) = target();
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("HOME", root.path().to_str().unwrap()),
            ("CI", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("RUNNER_OS", "Linux"),
            ("RUNNER_ARCH", arch),
            ("GITHUB_REPOSITORY", &format!("{OWNER}/{REPO}")),
            ("GITHUB_SERVER_URL", server_url),
            ("GITHUB_API_URL", api_url),
            ("GITHUB_RUN_ID", "99"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_WORKSPACE", workspace.to_str().unwrap()),
            ("RUNNER_TEMP", temp.to_str().unwrap()),
            ("RUNNER_TOOL_CACHE", tool_cache.to_str().unwrap()),
            ("GITHUB_ACTION_PATH", env!("CARGO_MANIFEST_DIR")),
            (
                "GITHUB_STEP_SUMMARY",
                root.path().join("summary.md").to_str().unwrap(),
            ),
            ("GATE_GITHUB_RETRY_BASE_MS", "5"),
        ] {
            env.insert(k.to_string(), v.to_string());
        }
        Runner {
            root,
            env,
            with: BTreeMap::new(),
        }
    }

    fn with(mut self, k: &str, v: &str) -> Runner {
        self.with.insert(k.into(), v.into());
        self
    }

    fn workspace(&self) -> PathBuf {
        PathBuf::from(&self.env["GITHUB_WORKSPACE"])
    }

    /// Evaluates the `${{ }}` expressions this action uses.
    fn eval(&self, text: &str, steps: &BTreeMap<String, BTreeMap<String, String>>) -> String {
        let re = Regex::new(r"\$\{\{\s*(.+?)\s*\}\}").unwrap();
        let action = action();
        re.replace_all(text, |c: &regex::Captures| {
            let expr = &c[1];
            let parts: Vec<&str> = expr.split('.').collect();
            match parts.as_slice() {
                ["inputs", name] => match self.with.get(*name) {
                    Some(v) => v.clone(),
                    None => {
                        let input = &action["inputs"][*name];
                        assert!(!input.is_null(), "unknown input `{name}` in `{expr}`");
                        let default = input["default"].as_str().unwrap_or("");
                        self.eval(default, steps)
                    }
                },
                ["github", "token"] => TOKEN.to_string(),
                ["github", "action_ref"] => ACTION_REF.to_string(),
                ["github", "action_repository"] => ACTION_REPO.to_string(),
                ["github", "action_path"] => self.env["GITHUB_ACTION_PATH"].clone(),
                ["steps", id, "outputs", name] => steps
                    .get(*id)
                    .and_then(|o| o.get(*name))
                    .cloned()
                    .unwrap_or_default(),
                _ => panic!("the emulated runner does not know `{expr}`; teach it"),
            }
        })
        .to_string()
    }

    /// Runs the action's steps in order, stopping at the first failure
    /// (as a runner does for steps without `if: always()`).
    fn run(mut self) -> Run {
        let action = action();
        assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
        let mut step_outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut results = Vec::new();
        let mut log = String::new();
        let github_path = self.root.path().join("github_path");
        let github_env = self.root.path().join("github_env");
        std::fs::write(&github_path, "").unwrap();
        std::fs::write(&github_env, "").unwrap();
        for (i, step) in action["runs"]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .enumerate()
        {
            let name = step["name"].as_str().unwrap_or("step").to_string();
            let id = step["id"].as_str().map(str::to_string);
            assert!(
                step["if"].is_null(),
                "the emulated runner does not evaluate `if:`"
            );
            if let Some(uses) = step["uses"].as_str() {
                // actions/cache: a cold cache, so the install really happens.
                assert!(
                    uses.starts_with("actions/cache@"),
                    "unexpected action {uses}"
                );
                if let Some(id) = id {
                    step_outputs.insert(id, BTreeMap::from([("cache-hit".into(), "false".into())]));
                }
                results.push((name, 0));
                continue;
            }
            let script = step["run"].as_str().expect("a run step");
            assert_eq!(step["shell"].as_str(), Some("bash"));
            let script_path = self.root.path().join(format!("step{i}.sh"));
            std::fs::write(&script_path, script).unwrap();
            let output = self.root.path().join(format!("output{i}"));
            std::fs::write(&output, "").unwrap();
            let mut env = self.env.clone();
            env.insert("GITHUB_OUTPUT".into(), output.to_str().unwrap().into());
            env.insert("GITHUB_PATH".into(), github_path.to_str().unwrap().into());
            env.insert("GITHUB_ENV".into(), github_env.to_str().unwrap().into());
            if let Some(map) = step["env"].as_mapping() {
                for (k, v) in map {
                    let v = match v {
                        Yaml::String(s) => s.clone(),
                        other => serde_yaml::to_string(other).unwrap().trim().to_string(),
                    };
                    env.insert(k.as_str().unwrap().into(), self.eval(&v, &step_outputs));
                }
            }
            let mut cwd = self.workspace();
            if let Some(wd) = step["working-directory"].as_str() {
                cwd = cwd.join(self.eval(wd, &step_outputs));
            }
            let out = Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script_path)
                .env_clear()
                .envs(&env)
                .current_dir(&cwd)
                .output()
                .unwrap();
            let code = out.status.code().unwrap_or(-1);
            log.push_str(&format!(
                "--- {name} (exit {code})\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
            if let Some(id) = id {
                let parsed =
                    gate_github::outputs::parse(&std::fs::read_to_string(&output).unwrap())
                        .unwrap_or_else(|e| panic!("step {name} wrote bad outputs: {e}\n{log}"));
                step_outputs.insert(id, parsed.into_iter().collect());
            }
            // GITHUB_PATH entries go in front of PATH for the later steps.
            for dir in std::fs::read_to_string(&github_path).unwrap().lines().rev() {
                let path = format!("{dir}:{}", self.env["PATH"]);
                self.env.insert("PATH".into(), path);
            }
            std::fs::write(&github_path, "").unwrap();
            results.push((name, code));
            if code != 0 {
                break;
            }
        }
        let mut outputs = BTreeMap::new();
        if let Some(map) = action["outputs"].as_mapping() {
            for (k, v) in map {
                let value = self.eval(v["value"].as_str().unwrap(), &step_outputs);
                outputs.insert(k.as_str().unwrap().to_string(), value);
            }
        }
        let tool_cache = PathBuf::from(&self.env["RUNNER_TOOL_CACHE"]);
        Run {
            steps: results,
            outputs,
            log,
            tool_cache,
            _root: self.root,
        }
    }
}

/// The binary under test packed as a release asset, with its SHA-256;
/// built once per test process in cargo's scratch folder.
fn release_tarball() -> &'static (PathBuf, String) {
    static TARBALL: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
    TARBALL.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("action_e2e");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_gate"), dir.join("gate")).unwrap();
        let (_, triple) = target();
        let tarball = dir.join(format!("gate-{triple}.tar.gz"));
        let status = Command::new("tar")
            .arg("-cf")
            .arg(&tarball)
            .arg("--use-compress-program=gzip -1")
            .arg("-C")
            .arg(&dir)
            .arg("gate")
            .status()
            .unwrap();
        assert!(status.success());
        let sum = Command::new("sha256sum").arg(&tarball).output().unwrap();
        let sum = String::from_utf8(sum.stdout).unwrap();
        (tarball, sum.split_whitespace().next().unwrap().to_string())
    })
}

/// Serves `gate-<target>.tar.gz` (the binary under test) and its checksum
/// file as a GitHub release would, under `GITHUB_SERVER_URL`.
async fn release_server(tamper: bool) -> MockServer {
    let server = MockServer::start().await;
    let (tarball, sum) = release_tarball();
    let (_, triple) = target();
    let sum = if tamper {
        sum.chars().rev().collect()
    } else {
        sum.clone()
    };
    let base = format!("/{ACTION_REPO}/releases/download/{ACTION_REF}/gate-{triple}.tar.gz");
    Mock::given(method("GET"))
        .and(path(base.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(std::fs::read(tarball).unwrap()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}.sha256")))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(format!("{sum}  gate-{triple}.tar.gz\n")),
        )
        .mount(&server)
        .await;
    server
}

fn report_fixture(runner: &Runner) -> String {
    // Saved results as the `workflow_run` poster downloads them.
    let dest = runner.workspace().join("gate-report.json");
    std::fs::copy(fixture("report-regression.json"), &dest).unwrap();
    "gate-report.json".into()
}

#[tokio::test]
async fn action_installs_the_release_binary_and_publishes_saved_results() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(false).await;
    let runner = Runner::new(&release.uri(), &fake.api_url());
    let results = report_fixture(&runner);
    let runner = runner.with("results", &results).with("comment", "always");
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    let log = &run.log;
    assert!(log.contains("installed the release binary"), "{log}");
    assert!(
        walk(&run.tool_cache)
            .iter()
            .any(|p| p.ends_with("bin/gate")),
        "installed into the tool cache: {log}"
    );
    let last = run.steps.last().unwrap();
    assert_eq!(last.0, "Run the gate");
    assert_eq!(last.1, 1, "a regression fails the step: {log}");
    assert_eq!(run.outputs["verdict"], "regression", "{log}");
    assert_eq!(run.outputs["regressions"], "2");
    assert_eq!(run.outputs["report-path"], "gate-report.json");
    assert!(
        run.outputs["comment-url"].contains("#issuecomment-"),
        "{log}"
    );
    let comments = fake.comments();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.contains("**Regression**"));
    assert!(log.contains("RLIMIT_MEMLOCK is"), "{log}");
    assert!(!log.contains(TOKEN), "the token leaked: {log}");
}

#[tokio::test]
async fn fail_on_regression_false_lets_the_step_pass_with_a_warning() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(false).await;
    let runner = Runner::new(&release.uri(), &fake.api_url());
    let results = report_fixture(&runner);
    let runner = runner
        .with("results", &results)
        .with("fail-on-regression", "false")
        .with("comment", "never");
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    assert_eq!(run.steps.last().unwrap().1, 0, "{}", run.log);
    assert!(run.log.contains("::warning title=gate::"), "{}", run.log);
    assert_eq!(run.outputs["verdict"], "regression");
    assert_eq!(run.outputs["comment-url"], "");
    assert!(fake.log().is_empty(), "comment: never makes no request");
}

#[tokio::test]
async fn a_release_binary_with_a_wrong_checksum_is_refused() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(true).await;
    let runner = Runner::new(&release.uri(), &fake.api_url());
    let results = report_fixture(&runner);
    let runner = runner.with("results", &results);
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    let last = run.steps.last().unwrap();
    assert_eq!(last.0, "Install the gate");
    assert_ne!(last.1, 0, "{}", run.log);
    assert!(
        run.log.contains("::error title=gate install::the checksum"),
        "{}",
        run.log
    );
    assert!(
        !walk(&run.tool_cache)
            .iter()
            .any(|p| p.ends_with("bin/gate")),
        "nothing installed"
    );
    assert!(fake.log().is_empty());
}

#[tokio::test]
async fn a_bad_input_is_refused_before_anything_runs() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(false).await;
    let runner = Runner::new(&release.uri(), &fake.api_url()).with("quick", "yes");
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    assert_eq!(run.steps.last().unwrap().1, 2, "{}", run.log);
    assert!(
        run.log.contains("input quick must be true or false"),
        "{}",
        run.log
    );
}

#[tokio::test]
async fn action_drives_gate_check() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(false).await;
    let runner = Runner::new(&release.uri(), &fake.api_url());
    // A config that cannot load: `gate check` must run, fail with exit 2,
    // and the run step must hand that code on.
    std::fs::write(runner.workspace().join("gate.yaml"), "tolerence: 0.1\n").unwrap();
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    assert_eq!(run.steps.last().unwrap().1, 2, "{}", run.log);
    assert!(run.log.contains("tolerence"), "{}", run.log);
}

#[test]
fn inputs_reach_scripts_only_through_env() {
    let action = action();
    for step in action["runs"]["steps"].as_sequence().unwrap() {
        if let Some(script) = step["run"].as_str() {
            assert!(
                !script.contains("${{"),
                "step `{}` pastes an expression into its script; pass it through env:",
                step["name"].as_str().unwrap_or("?")
            );
        }
    }
    let branding = &action["branding"];
    assert!(branding["icon"].is_string() && branding["color"].is_string());
    for input in [
        "github-token",
        "config",
        "comment",
        "quick",
        "no-mlock",
        "fail-on-regression",
        "working-directory",
    ] {
        assert!(
            action["inputs"][input].is_mapping(),
            "input {input} missing"
        );
    }
    for output in ["verdict", "regressions", "report-path", "comment-url"] {
        assert!(
            action["outputs"][output].is_mapping(),
            "output {output} missing"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
