//! The composite action (`action.yml`) run end to end by an emulated
//! runner: each `run:` step goes through bash as the runner starts it
//! (`bash --noprofile --norc -eo pipefail`), with the step's `env:`
//! evaluated from the inputs, fresh `GITHUB_OUTPUT` files, `GITHUB_PATH`
//! carried between steps, and the action's outputs read back from the step
//! outputs. The release binary is served on loopback with its checksum,
//! `gh` (the attestation check) and `cargo` (the build from source) are
//! fakes on PATH that record their calls, and the comment goes to the fake
//! GitHub of `github_support`.

mod github_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use github_support::*;
use regex::Regex;
use serde_yaml::Value as Yaml;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACTION_REPO: &str = "acme/gate";
/// A commit the action may be pinned to (zizmor's advice): not a release tag.
const ACTION_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn action() -> Yaml {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// `GATE_VERSION` of action.yml: the release the action downloads.
fn gate_version() -> String {
    let action = action();
    let steps = action["runs"]["steps"].as_sequence().unwrap();
    let versions: Vec<&str> = steps
        .iter()
        .filter_map(|s| s["env"]["GATE_VERSION"].as_str())
        .filter(|v| !v.contains("${{"))
        .collect();
    assert_eq!(versions.len(), 1, "one constant GATE_VERSION in action.yml");
    versions[0].to_string()
}

/// The runner's `RUNNER_ARCH` and the release target the action maps it to.
fn target() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "aarch64" => ("ARM64", "aarch64-unknown-linux-musl"),
        _ => ("X64", "x86_64-unknown-linux-musl"),
    }
}

/// A `gh` that knows one attestation: the digest in `$FAKE_GH_ATTESTED`
/// (the genuine release archive). It records each call with whether a
/// token reached it (never the token itself).
const FAKE_GH: &str = r#"#!/usr/bin/env bash
if [[ -n "${GH_TOKEN:-}" ]]; then token=set; else token=unset; fi
printf 'gh %s [token %s]\n' "$*" "$token" >> "$FAKE_LOG"
if [[ "$1 $2" != "attestation verify" ]]; then
  echo "fake gh: unexpected call" >&2; exit 64
fi
if [[ "${3:-}" == --help ]]; then
  printf '%s\n' "Flags:" "  --deny-self-hosted-runners" "  --repo string" "  --signer-workflow string" "  --source-ref string"
  exit 0
fi
if [[ "$token" == unset ]]; then
  echo "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable." >&2; exit 4
fi
digest=$(sha256sum "$3" | cut -d' ' -f1)
if grep -qx "$digest" "$FAKE_GH_ATTESTED"; then
  echo "Loaded 1 attestation from GitHub API"
  echo "✓ Verification succeeded!"
  exit 0
fi
echo "Loading attestations from GitHub API failed"
echo "Error: no attestations found for subject sha256:$digest" >&2
exit 1
"#;

/// A `cargo` whose `install` records its arguments and puts the binary
/// under test where `--root` says, as a real build would.
const FAKE_CARGO: &str = r#"#!/usr/bin/env bash
printf 'cargo %s\n' "$*" >> "$FAKE_LOG"
if [[ "${1:-}" != install ]]; then
  echo "fake cargo: unexpected call" >&2; exit 64
fi
root=""
while [[ $# -gt 0 ]]; do
  if [[ "$1" == --root ]]; then root="$2"; shift; fi
  shift
done
mkdir -p "$root/bin"
cp "$FAKE_GATE_EXE" "$root/bin/gate"
echo "  Installed package \`gate\` (fake)"
"#;

/// A result of running the action.
struct Run {
    /// Exit code of each step, by name.
    steps: Vec<(String, i32)>,
    outputs: BTreeMap<String, String>,
    log: String,
    /// The calls of the fake `gh` and `cargo`, one a line.
    tools: String,
    tool_cache: PathBuf,
    /// The runner's folders, removed when the test ends.
    _root: tempfile::TempDir,
}

/// The emulated runner for one job.
struct Runner {
    root: tempfile::TempDir,
    env: BTreeMap<String, String>,
    with: BTreeMap<String, String>,
    /// `github.action_repository` and `github.action_ref`; both empty for
    /// `uses: ./`.
    action_repo: String,
    action_ref: String,
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
        let fakebin = root.path().join("fakebin");
        std::fs::create_dir_all(&fakebin).unwrap();
        for (name, text) in [("gh", FAKE_GH), ("cargo", FAKE_CARGO)] {
            let p = fakebin.join(name);
            std::fs::write(&p, text).unwrap();
            let mut perms = std::fs::metadata(&p).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(&p, perms).unwrap();
        }
        let attested = root.path().join("attested");
        std::fs::write(&attested, format!("{}\n", release_tarball().1)).unwrap();
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", fakebin.display());
        let event = root.path().join("event.json");
        std::fs::write(&event, pull_request_event().to_string()).unwrap();
        let (arch, _) = target();
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("PATH", path.as_str()),
            ("FAKE_LOG", root.path().join("tools.log").to_str().unwrap()),
            ("FAKE_GH_ATTESTED", attested.to_str().unwrap()),
            ("FAKE_GATE_EXE", env!("CARGO_BIN_EXE_gate")),
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
            action_repo: ACTION_REPO.into(),
            action_ref: gate_version(),
        }
    }

    /// The action as `uses: acme/gate@REF` names it.
    fn action_ref(mut self, r: &str) -> Runner {
        self.action_ref = r.into();
        self
    }

    /// The action as `uses: ./` runs it: no repository, no ref.
    fn local_action(mut self) -> Runner {
        self.action_repo.clear();
        self.action_ref.clear();
        self
    }

    /// The digests the fake `gh` finds an attestation for.
    fn attested(self, digests: &[&str]) -> Runner {
        let mut text = digests.join("\n");
        text.push('\n');
        std::fs::write(&self.env["FAKE_GH_ATTESTED"], text).unwrap();
        self
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
                ["github", "action_ref"] => self.action_ref.clone(),
                ["github", "action_repository"] => self.action_repo.clone(),
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
        let tools = std::fs::read_to_string(&self.env["FAKE_LOG"]).unwrap_or_default();
        Run {
            steps: results,
            outputs,
            log,
            tools,
            tool_cache,
            _root: self.root,
        }
    }
}

/// Packs `exe` as `gate` into `gate-<target>.tar.gz` in `dir`; returns the
/// archive and its SHA-256.
fn pack(dir: &Path, exe: &Path) -> (PathBuf, String) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(exe, dir.join("gate")).unwrap();
    let (_, triple) = target();
    let tarball = dir.join(format!("gate-{triple}.tar.gz"));
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&tarball)
        .arg("--use-compress-program=gzip -1")
        .arg("-C")
        .arg(dir)
        .arg("gate")
        .status()
        .unwrap();
    assert!(status.success());
    let sum = Command::new("sha256sum").arg(&tarball).output().unwrap();
    let sum = String::from_utf8(sum.stdout).unwrap();
    (tarball, sum.split_whitespace().next().unwrap().to_string())
}

/// The binary under test packed as a release asset, with its SHA-256;
/// built once per test process in cargo's scratch folder.
fn release_tarball() -> &'static (PathBuf, String) {
    static TARBALL: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
    TARBALL.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("action_e2e/genuine");
        pack(&dir, Path::new(env!("CARGO_BIN_EXE_gate")))
    })
}

/// A replaced archive: a `gate` that is not the one the release built
/// (it would pass every check and report a pass), with its own SHA-256.
fn tampered_tarball() -> &'static (PathBuf, String) {
    static TARBALL: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
    TARBALL.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("action_e2e/tampered");
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("evil");
        std::fs::write(
            &exe,
            "#!/bin/sh\necho 'gate 0.1.0'\necho 'verdict=pass' >> \"$GITHUB_OUTPUT\"\n",
        )
        .unwrap();
        let mut perms = std::fs::metadata(&exe).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&exe, perms).unwrap();
        pack(&dir, &exe)
    })
}

/// What the loopback server publishes as release `GATE_VERSION`.
#[derive(Clone, Copy, PartialEq)]
enum Release {
    /// The binary under test and its checksum.
    Genuine,
    /// Another archive under the genuine checksum (corrupt or swapped).
    TamperedArchive,
    /// Another archive and its own, matching checksum: what someone who can
    /// replace release assets would publish. Only the attestation tells.
    TamperedWithSum,
    /// No release (every download is a 404).
    Missing,
}

/// Serves `gate-<target>.tar.gz` and its checksum file as a GitHub release
/// of `GATE_VERSION` would, under `GITHUB_SERVER_URL`; anything else is a 404.
async fn release_server(kind: Release) -> MockServer {
    let server = MockServer::start().await;
    if kind == Release::Missing {
        return server;
    }
    let (genuine, genuine_sum) = release_tarball();
    let (tampered, tampered_sum) = tampered_tarball();
    let (archive, sum) = match kind {
        Release::Genuine => (genuine, genuine_sum),
        Release::TamperedArchive => (tampered, genuine_sum),
        _ => (tampered, tampered_sum),
    };
    let (_, triple) = target();
    let version = gate_version();
    let base = format!("/{ACTION_REPO}/releases/download/{version}/gate-{triple}.tar.gz");
    Mock::given(method("GET"))
        .and(path(base.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(std::fs::read(archive).unwrap()))
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

/// The `gh attestation verify` call the action must make for the archive.
fn expected_verify_call() -> Regex {
    let (_, triple) = target();
    let version = gate_version();
    Regex::new(&format!(
        r"(?m)^gh attestation verify /\S+/gate-{triple}\.tar\.gz --repo {ACTION_REPO} --signer-workflow {ACTION_REPO}/\.github/workflows/release\.yml --source-ref refs/tags/{} --deny-self-hosted-runners \[token set\]$",
        regex::escape(&version)
    ))
    .unwrap()
}

fn installed(run: &Run) -> bool {
    walk(&run.tool_cache)
        .iter()
        .any(|p| p.ends_with("bin/gate"))
}

fn install_step(run: &Run) -> i32 {
    run.steps
        .iter()
        .find(|(n, _)| n == "Install the gate")
        .map(|(_, c)| *c)
        .expect("the install step ran")
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
    let release = release_server(Release::Genuine).await;
    let runner = Runner::new(&release.uri(), &fake.api_url());
    let results = report_fixture(&runner);
    // Pinned by the release tag.
    let runner = runner
        .action_ref(&gate_version())
        .with("results", &results)
        .with("comment", "always");
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    let log = &run.log;
    assert!(log.contains("installed the release binary"), "{log}");
    assert!(log.contains("attestation verified"), "{log}");
    assert!(
        expected_verify_call().is_match(&run.tools),
        "gh attestation verify with the repository, signer workflow and tag:\n{}",
        run.tools
    );
    assert!(
        !run.tools.contains("cargo "),
        "nothing built: {}",
        run.tools
    );
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
    let release = release_server(Release::Genuine).await;
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
async fn a_sha_pinned_action_downloads_the_release_its_action_yml_names() {
    let (_api, fake) = FakeGitHub::start().await;
    // The server has release GATE_VERSION only: nothing under the SHA.
    let release = release_server(Release::Genuine).await;
    let runner = Runner::new(&release.uri(), &fake.api_url());
    let results = report_fixture(&runner);
    let runner = runner
        .action_ref(ACTION_SHA)
        .with("results", &results)
        .with("comment", "never");
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    let log = &run.log;
    let version = gate_version();
    assert!(
        log.contains(&format!(
            "action {ACTION_REPO}@{ACTION_SHA} names release {version}"
        )),
        "{log}"
    );
    assert!(log.contains("installed the release binary"), "{log}");
    assert!(expected_verify_call().is_match(&run.tools), "{}", run.tools);
    assert!(
        !run.tools.contains("cargo "),
        "nothing built: {}",
        run.tools
    );
    assert_eq!(run.steps.last().unwrap().0, "Run the gate", "{log}");
    assert_eq!(
        run.outputs["verdict"], "regression",
        "the real gate ran: {log}"
    );
}

#[tokio::test]
async fn a_release_binary_with_a_wrong_checksum_is_refused() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(Release::TamperedArchive).await;
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
        run.log
            .contains("::error title=gate install::the checksum of http://"),
        "{}",
        run.log
    );
    assert!(run.log.contains("refusing to run it"), "{}", run.log);
    assert!(!installed(&run), "nothing installed");
    assert!(
        !run.tools.contains("cargo "),
        "no fallback build: {}",
        run.tools
    );
    assert!(fake.log().is_empty());
}

#[tokio::test]
async fn a_tampered_release_with_a_matching_checksum_fails_its_attestation() {
    // Archive and .sha256 replaced together: integrity holds, authenticity
    // does not. The fake gh knows only the genuine archive's attestation.
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(Release::TamperedWithSum).await;
    let runner = Runner::new(&release.uri(), &fake.api_url());
    let results = report_fixture(&runner);
    let runner = runner.with("results", &results);
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    let log = &run.log;
    assert_eq!(run.steps.last().unwrap().0, "Install the gate", "{log}");
    assert_eq!(install_step(&run), 1, "{log}");
    let (_, triple) = target();
    assert!(
        log.contains(&format!(
            "::error title=gate install::the build-provenance attestation of gate-{triple}.tar.gz (sha256:{}) did not verify",
            tampered_tarball().1
        )),
        "{log}"
    );
    assert!(
        log.contains("no attestations found for subject"),
        "gh's reason shown: {log}"
    );
    assert!(expected_verify_call().is_match(&run.tools), "{}", run.tools);
    assert!(!installed(&run), "nothing installed");
    assert!(
        !run.tools.contains("cargo "),
        "no fallback build: {}",
        run.tools
    );
    assert!(fake.log().is_empty(), "the tampered gate never ran");
}

#[tokio::test]
async fn a_release_whose_attestation_does_not_verify_is_refused() {
    // The genuine archive, but gh finds no attestation for it (for
    // instance one made by another workflow or for another tag).
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(Release::Genuine).await;
    let runner = Runner::new(&release.uri(), &fake.api_url()).attested(&[]);
    let results = report_fixture(&runner);
    let runner = runner.with("results", &results);
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    let log = &run.log;
    assert_eq!(install_step(&run), 1, "{log}");
    assert!(
        log.contains("did not verify: it was not built by acme/gate/.github/workflows/release.yml"),
        "{log}"
    );
    assert!(
        log.contains("Set install: source"),
        "says how to proceed: {log}"
    );
    assert!(!installed(&run));
    assert!(!run.tools.contains("cargo "), "{}", run.tools);
}

#[tokio::test]
async fn without_a_release_the_gate_is_built_from_source_and_says_why() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(Release::Missing).await;
    let runner = Runner::new(&release.uri(), &fake.api_url());
    let results = report_fixture(&runner);
    let runner = runner.with("results", &results).with("comment", "never");
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    let log = &run.log;
    let (_, triple) = target();
    let version = gate_version();
    assert!(
        log.contains(&format!(
            "::notice title=gate install::no release asset gate-{triple}.tar.gz for {version} in {ACTION_REPO} (HTTP 404"
        )),
        "{log}"
    );
    assert!(log.contains("building gate from source"), "{log}");
    let install = Regex::new(&format!(
        r"(?m)^cargo install --locked --path {} --root \S+/tool_cache/gate/{}-auto-[0-9a-f]{{32}} --bin gate$",
        regex::escape(env!("CARGO_MANIFEST_DIR")),
        regex::escape(&version)
    ))
    .unwrap();
    assert!(install.is_match(&run.tools), "{}", run.tools);
    assert!(
        !run.tools.contains("gh "),
        "nothing to verify: {}",
        run.tools
    );
    assert_eq!(install_step(&run), 0, "{log}");
    assert_eq!(
        run.outputs["verdict"], "regression",
        "the built gate ran: {log}"
    );
}

#[tokio::test]
async fn install_release_fails_instead_of_building() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(Release::Missing).await;
    let runner = Runner::new(&release.uri(), &fake.api_url()).with("install", "release");
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    assert_eq!(install_step(&run), 1, "{}", run.log);
    assert!(run.log.contains("(HTTP 404 at http://"), "{}", run.log);
    assert!(
        run.log
            .contains("install: release never builds from source"),
        "{}",
        run.log
    );
    assert!(run.tools.is_empty(), "{}", run.tools);
}

#[tokio::test]
async fn without_a_token_the_attestation_cannot_be_checked_so_the_gate_is_built() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(Release::Genuine).await;
    let runner = Runner::new(&release.uri(), &fake.api_url());
    let results = report_fixture(&runner);
    let runner = runner
        .with("results", &results)
        .with("comment", "never")
        .with("github-token", "");
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    let log = &run.log;
    assert!(
        log.contains("cannot verify the attestation of gate-")
            && log.contains("no token (input github-token is empty); building from source instead"),
        "{log}"
    );
    assert!(
        run.tools.contains("cargo install --locked"),
        "{}",
        run.tools
    );
    assert!(
        !run.tools.contains("gh attestation verify /"),
        "{}",
        run.tools
    );
    assert_eq!(install_step(&run), 0, "{log}");
}

#[tokio::test]
async fn a_local_action_builds_its_own_source() {
    // `uses: ./`: the checkout may differ from any release.
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(Release::Genuine).await;
    let runner = Runner::new(&release.uri(), &fake.api_url()).local_action();
    let results = report_fixture(&runner);
    let runner = runner.with("results", &results).with("comment", "never");
    let run = tokio::task::spawn_blocking(move || runner.run())
        .await
        .unwrap();
    assert!(
        run.log
            .contains("the action runs from a local checkout (uses: ./)"),
        "{}",
        run.log
    );
    assert!(
        run.tools.starts_with("cargo install --locked"),
        "{}",
        run.tools
    );
    assert_eq!(install_step(&run), 0, "{}", run.log);
}

#[test]
fn the_action_version_is_the_crate_version_and_binstall_finds_the_archives() {
    // release.yml checks both against the tag; a mismatch here would fail
    // the release, so it fails the tests first.
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let crate_version = Regex::new(r#"(?m)^version = "([^"]+)""#)
        .unwrap()
        .captures(&manifest)
        .unwrap()[1]
        .to_string();
    assert_eq!(gate_version(), format!("v{crate_version}"));
    let key = |k: &str| {
        Regex::new(&format!(r#"(?m)^{k} = "([^"]+)""#))
            .unwrap()
            .captures(&manifest)
            .unwrap_or_else(|| panic!("[package.metadata.binstall] {k} missing"))[1]
            .to_string()
    };
    let (_, triple) = target();
    let url = key("pkg-url")
        .replace("{ repo }", "https://github.com/acme/gate")
        .replace("{ version }", &crate_version)
        .replace("{ target }", triple);
    assert_eq!(
        url,
        format!(
            "https://github.com/acme/gate/releases/download/{}/gate-{triple}.tar.gz",
            gate_version()
        )
    );
    assert_eq!(
        key("bin-dir"),
        "{ bin }{ binary-ext }",
        "the archive holds `gate` at its root"
    );
    assert_eq!(key("pkg-fmt"), "tgz");
}

#[tokio::test]
async fn a_bad_input_is_refused_before_anything_runs() {
    let (_api, fake) = FakeGitHub::start().await;
    let release = release_server(Release::Genuine).await;
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
    let release = release_server(Release::Genuine).await;
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

/// The action's branding, inputs and outputs (that its scripts read inputs
/// only through `env:` is checked in `tests/workflows.rs`).
#[test]
fn action_declares_its_branding_inputs_and_outputs() {
    let action = action();
    let branding = &action["branding"];
    assert!(branding["icon"].is_string() && branding["color"].is_string());
    for input in [
        "install",
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
