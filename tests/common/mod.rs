//! Helpers shared by the end-to-end tests (`check_*`, `compare_*`,
//! `badinput_*`): the real `gate` binary, the repository's test data, and
//! temporary folders laid out the way the gate reads them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Mutex, MutexGuard};

use assert_cmd::Command;

/// The target folder this test binary was built into
/// (`<target>/debug/deps/<test>-*`), so that fixture builds reuse it.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// One measuring case at a time within a test binary: cases that time real
/// benches (or their own analysis against a budget) slow each other down
/// on a 2-core runner.
static LOCK: Mutex<()> = Mutex::new(());

/// Holds the lock for a case; a failed case does not poison the others.
pub fn exclusive() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The repository root (the gate package's folder).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file or folder under `tests/data`.
pub fn data(rel: &str) -> PathBuf {
    repo().join("tests/data").join(rel)
}

/// The real `gate` binary, with nothing of GitHub Actions in its
/// environment (a test must never publish) and no inherited target folder.
pub fn gate() -> Command {
    let mut cmd = Command::cargo_bin("gate").expect("the gate binary is built");
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_TOKEN",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_REPOSITORY",
        "GATE_COMMENT_MODE",
        "CARGO_TARGET_DIR",
        "CRITERION_HOME",
        "GATE_FIXTURE_SLOWDOWN",
        "GATE_FIXTURE_EXTRA_SYSCALLS",
        "GATE_FIXTURE_PANIC",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// What a finished `gate` process said.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn from(out: Output) -> Ran {
        Ran {
            code: out
                .status
                .code()
                .expect("gate exited (not killed by a signal)"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Everything the process printed, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Ran {
        assert_eq!(self.code, code, "unexpected exit code:\n{}", self.all());
        self
    }

    /// Asserts stderr contains every fragment.
    pub fn stderr_has(&self, fragments: &[&str]) -> &Ran {
        for f in fragments {
            assert!(
                self.stderr.contains(f),
                "stderr lacks `{f}`:\n{}",
                self.all()
            );
        }
        self
    }
}

/// Runs a prepared command to completion.
pub fn run(cmd: &mut Command) -> Ran {
    Ran::from(cmd.output().expect("gate starts"))
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Runs git in `repo` (with an identity, for commits), asserting success.
pub fn git(repo: &Path, args: &[&str]) {
    let st = std::process::Command::new("git")
        .args(["-c", "user.name=gate", "-c", "user.email=gate@localhost"])
        .args(args)
        .current_dir(repo)
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?} failed");
}

/// `git ARGS` in `repo`: its trimmed stdout (its stderr if it fails).
pub fn git_output(repo: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The spin bench's work per op in the fixture's source: a second commit
/// that doubles it is a real, steady 2x regression of the code.
pub const SPIN_STEPS_LINE: &str = "pub const SPIN_STEPS: u64 = 16_000;";

/// Makes the fixture's spin bench twice as slow in its source.
pub fn double_spin_steps(repo: &Path) {
    let lib = repo.join("fixture/src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    let slower = src.replace(SPIN_STEPS_LINE, "pub const SPIN_STEPS: u64 = 32_000;");
    assert_ne!(
        src, slower,
        "the fixture's SPIN_STEPS line changed; update SPIN_STEPS_LINE"
    );
    std::fs::write(&lib, slower).unwrap();
}

/// A git repository under `dir` holding the fixture bench package at
/// `fixture/` (with the lockstep crate it depends on) and `gate.yaml`,
/// committed once; returns its folder.
pub fn fixture_repo(dir: &Path, gate_yaml: &str) -> PathBuf {
    let repo = dir.join("repo");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_tree(&root.join("tests/fixture-bench"), &repo.join("fixture"));
    // The bench side of the lockstep protocol, which the fixture depends on.
    copy_tree(&root.join("lockstep"), &repo.join("lockstep"));
    let manifest = repo.join("fixture/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        text.contains("\"../../lockstep\""),
        "the fixture's lockstep path moved"
    );
    std::fs::write(
        &manifest,
        text.replace("\"../../lockstep\"", "\"../lockstep\""),
    )
    .unwrap();
    std::fs::write(
        repo.join("Cargo.toml"),
        "[workspace]\nmembers = [\"fixture\", \"lockstep\"]\nresolver = \"3\"\n\n[workspace.package]\n\
         edition = \"2024\"\nlicense = \"MIT\"\nrust-version = \"1.89\"\n",
    )
    .unwrap();
    // The workspace's lock file: same dependency versions, no resolution.
    std::fs::copy(root.join("Cargo.lock"), repo.join("Cargo.lock")).unwrap();
    std::fs::write(repo.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(repo.join("gate.yaml"), gate_yaml).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "fixture"]);
    repo
}

/// Writes a file (creating its folder) and returns its path.
pub fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// Reads a JSON file as an untyped value (the contract, not our structs).
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

/// The rows of a report whose `id` and `kind` are these.
pub fn rows<'a>(report: &'a serde_json::Value, id: &str, kind: &str) -> Vec<&'a serde_json::Value> {
    report["rows"]
        .as_array()
        .expect("rows is an array")
        .iter()
        .filter(|r| r["id"] == id && r["kind"] == kind)
        .collect()
}

/// The one row with this `id` and `kind`.
pub fn row<'a>(report: &'a serde_json::Value, id: &str, kind: &str) -> &'a serde_json::Value {
    let found = rows(report, id, kind);
    assert_eq!(
        found.len(),
        1,
        "expected one `{kind}` row `{id}` in\n{report:#}"
    );
    found[0]
}

/// The JSON contract of `gate check --json` and `gate compare --json`
/// (issue 4, `docs/json.md`), checked on the untyped value: every field
/// name and type, required fields present (even when null), no field
/// outside the contract. Returns nothing; panics naming the path.
pub mod contract {
    use serde_json::{Map, Value};

    pub const VERDICTS: [&str; 3] = ["pass", "regression", "error"];
    pub const KINDS: [&str; 3] = ["rust-vs-rust", "rust-vs-go", "compare"];
    pub const ROW_VERDICTS: [&str; 8] = [
        "regressed",
        "improved",
        "unchanged",
        "insufficient",
        "incomparable",
        "new",
        "missing",
        "undecided",
    ];

    fn obj<'a>(v: &'a Value, at: &str) -> &'a Map<String, Value> {
        v.as_object()
            .unwrap_or_else(|| panic!("{at}: expected an object, got {v}"))
    }

    fn keys(m: &Map<String, Value>, required: &[&str], optional: &[&str], at: &str) {
        for k in required {
            assert!(m.contains_key(*k), "{at}: missing required `{k}` in {m:?}");
        }
        for k in m.keys() {
            assert!(
                required.contains(&k.as_str()) || optional.contains(&k.as_str()),
                "{at}: `{k}` is not in the contract"
            );
        }
    }

    fn string<'a>(v: &'a Value, at: &str) -> &'a str {
        v.as_str()
            .unwrap_or_else(|| panic!("{at}: expected a string, got {v}"))
    }

    fn one_of(v: &Value, allowed: &[&str], at: &str) {
        let s = string(v, at);
        assert!(
            allowed.contains(&s),
            "{at}: `{s}` is not one of {allowed:?}"
        );
    }

    fn number(v: &Value, at: &str) -> f64 {
        v.as_f64()
            .unwrap_or_else(|| panic!("{at}: expected a number, got {v}"))
    }

    fn count(v: &Value, at: &str) -> u64 {
        v.as_u64()
            .unwrap_or_else(|| panic!("{at}: expected a non-negative integer, got {v}"))
    }

    fn strings(v: &Value, at: &str) {
        for (i, s) in v
            .as_array()
            .unwrap_or_else(|| panic!("{at}: expected an array, got {v}"))
            .iter()
            .enumerate()
        {
            string(s, &format!("{at}[{i}]"));
        }
    }

    /// `[lo, hi]`, two finite numbers, lo <= hi.
    fn interval(v: &Value, at: &str) -> [f64; 2] {
        let a = v
            .as_array()
            .unwrap_or_else(|| panic!("{at}: expected [lo, hi], got {v}"));
        assert_eq!(a.len(), 2, "{at}: expected [lo, hi], got {v}");
        let (lo, hi) = (number(&a[0], at), number(&a[1], at));
        assert!(lo.is_finite() && hi.is_finite() && lo <= hi, "{at}: {v}");
        [lo, hi]
    }

    /// An environment object (every field optional).
    pub fn environment(v: &Value, at: &str) {
        let m = obj(v, at);
        keys(
            m,
            &[],
            &[
                "cpu_model",
                "cores",
                "os",
                "arch",
                "kernel",
                "virtualized",
                "rlimit_memlock",
                "rustc",
                "go",
                "features",
                "flags",
                "extra",
            ],
            at,
        );
        for (k, v) in m {
            let at = format!("{at}.{k}");
            match k.as_str() {
                "cores" | "rlimit_memlock" => {
                    count(v, &at);
                }
                "virtualized" => assert!(v.is_boolean(), "{at}: {v}"),
                "features" | "flags" => strings(v, &at),
                "extra" => {
                    for (ek, ev) in obj(v, &at) {
                        string(ev, &format!("{at}.{ek}"));
                    }
                }
                _ => {
                    string(v, &at);
                }
            }
        }
    }

    /// One side of a row: `{"median_ns", "n", "counters"}` (+ `samples`, `median_ci`).
    pub fn side(v: &Value, at: &str) {
        side_in(v, at, false)
    }

    /// A side; on a row of a unit other than time (`unit`), figures may be
    /// 0 (`0 allocs/op`).
    fn side_in(v: &Value, at: &str, unit_row: bool) {
        let positive = |x: f64| x > 0.0 || (unit_row && x == 0.0);
        let m = obj(v, at);
        keys(
            m,
            &["median_ns", "n", "counters"],
            &["samples", "exact_counters", "median_ci"],
            at,
        );
        let median = number(&m["median_ns"], &format!("{at}.median_ns"));
        assert!(positive(median), "{at}.median_ns: {median}");
        let n = count(&m["n"], &format!("{at}.n"));
        for (k, c) in obj(&m["counters"], &format!("{at}.counters")) {
            number(c, &format!("{at}.counters.{k}"));
        }
        if let Some(s) = m.get("samples") {
            let s = s.as_array().unwrap_or_else(|| panic!("{at}.samples: {s}"));
            assert_eq!(s.len() as u64, n, "{at}: `n` is the number of samples");
            for (i, x) in s.iter().enumerate() {
                assert!(positive(number(x, &format!("{at}.samples[{i}]"))));
            }
        }
        if let Some(exact) = m.get("exact_counters") {
            strings(exact, &format!("{at}.exact_counters"));
            for name in exact.as_array().unwrap() {
                let name = name.as_str().unwrap();
                assert!(
                    m["counters"].get(name).is_some(),
                    "{at}: exact counter `{name}` is not in `counters`"
                );
            }
        }
        if let Some(ci) = m.get("median_ci") {
            let [lo, hi] = interval(ci, &format!("{at}.median_ci"));
            assert!(lo <= median && median <= hi, "{at}: median outside its CI");
        }
    }

    /// The row-level figures shared by rows and `earlier` attempts.
    fn figures(m: &Map<String, Value>, at: &str) {
        let unit_row = m.contains_key("unit");
        if let Some(new) = m.get("new").filter(|v| !v.is_null()) {
            side_in(new, &format!("{at}.new"), unit_row);
        }
        if !m["ratio"].is_null() {
            assert!(number(&m["ratio"], &format!("{at}.ratio")) > 0.0);
        }
        if !m["ratio_ci"].is_null() {
            interval(&m["ratio_ci"], &format!("{at}.ratio_ci"));
        }
        if !m["p_value"].is_null() {
            let p = number(&m["p_value"], &format!("{at}.p_value"));
            assert!((0.0..=1.0).contains(&p), "{at}.p_value: {p}");
        }
        one_of(&m["verdict"], &ROW_VERDICTS, &format!("{at}.verdict"));
    }

    /// One row.
    pub fn row(v: &Value, at: &str) {
        let m = obj(v, at);
        keys(
            m,
            &[
                "id", "kind", "mode", "threads", "old", "new", "ratio", "ratio_ci", "p_value",
                "verdict", "warnings",
            ],
            &[
                "go",
                "max_ratio",
                "earlier",
                "min_detectable",
                "unit",
                "better",
                "warning_kinds",
            ],
            at,
        );
        string(&m["id"], &format!("{at}.id"));
        // `unit` and `better` come together, on `compare` rows only.
        assert_eq!(m.contains_key("unit"), m.contains_key("better"), "{at}");
        if let Some(u) = m.get("unit") {
            assert_ne!(string(u, &format!("{at}.unit")), "ns/op", "{at}");
            one_of(&m["better"], &["lower", "higher"], &format!("{at}.better"));
            assert_eq!(m["kind"], "compare", "{at}: `unit` on a non-compare row");
        }
        if let Some(kinds) = m.get("warning_kinds") {
            strings(kinds, &format!("{at}.warning_kinds"));
            assert_eq!(
                kinds.as_array().map(Vec::len),
                m["warnings"].as_array().map(Vec::len),
                "{at}.warning_kinds: one kind per warning"
            );
        }
        if let Some(x) = m.get("min_detectable") {
            let x = x.as_f64().unwrap_or(-1.0);
            assert!(x > 0.0 && x.is_finite(), "{at}.min_detectable: {x}");
        }
        one_of(&m["kind"], &KINDS, &format!("{at}.kind"));
        one_of(
            &m["mode"],
            &["sequential", "parallel", "undeclared"],
            &format!("{at}.mode"),
        );
        assert!(count(&m["threads"], &format!("{at}.threads")) >= 1);
        if !m["old"].is_null() {
            side_in(&m["old"], &format!("{at}.old"), m.contains_key("unit"));
        }
        figures(m, at);
        strings(&m["warnings"], &format!("{at}.warnings"));
        // A ratio is new / old of the medians, except on a paired
        // (lockstep) row, whose warning names the pooled paired estimate.
        let paired = m["warnings"].to_string().contains("paired: ");
        if let (false, Some(r), Some(o), Some(n)) = (
            paired,
            m["ratio"].as_f64(),
            m["old"]["median_ns"].as_f64(),
            m["new"]["median_ns"].as_f64(),
        ) {
            assert!(
                (r - n / o).abs() <= 1e-9 * r,
                "{at}: ratio {r} is not {n} / {o}"
            );
        }
        // `go` names the Go benchmark of a Rust/Go row, and only there.
        if m["kind"] == "rust-vs-go" {
            string(&m["go"], &format!("{at}.go"));
        } else {
            assert!(!m.contains_key("go"), "{at}: `go` on a non Rust/Go row");
        }
        if let Some(x) = m.get("max_ratio") {
            assert!(number(x, &format!("{at}.max_ratio")) > 0.0);
        }
        if let Some(e) = m.get("earlier") {
            for (i, a) in e
                .as_array()
                .expect("earlier is an array")
                .iter()
                .enumerate()
            {
                let at = format!("{at}.earlier[{i}]");
                let am = obj(a, &at);
                keys(
                    am,
                    &["new", "ratio", "ratio_ci", "p_value", "verdict"],
                    &[],
                    &at,
                );
                figures(am, &at);
            }
        }
    }

    /// A Build: the commit and executable digests of one side.
    fn build(v: &Value, at: &str) {
        let m = obj(v, at);
        keys(m, &["commit", "dirty", "executables"], &["reference"], at);
        if !m["commit"].is_null() {
            assert_eq!(string(&m["commit"], at).len(), 40, "{at}.commit");
        }
        assert!(m["dirty"].is_boolean(), "{at}.dirty");
        for (name, sha) in obj(&m["executables"], at) {
            let sha = string(sha, &format!("{at}.executables.{name}"));
            assert!(
                sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{at}.executables.{name}: `{sha}` is not a SHA-256"
            );
        }
    }

    /// A whole report.
    pub fn report(v: &Value) {
        let m = obj(v, "report");
        keys(
            m,
            &["schema", "verdict", "environment", "rows"],
            &["baseline_environments", "notes", "builds"],
            "report",
        );
        assert_eq!(m["schema"], 1, "report.schema");
        one_of(&m["verdict"], &VERDICTS, "report.verdict");
        environment(&m["environment"], "report.environment");
        if let Some(b) = m.get("baseline_environments") {
            for (k, e) in obj(b, "report.baseline_environments") {
                environment(e, &format!("report.baseline_environments.{k}"));
            }
        }
        if let Some(n) = m.get("notes") {
            strings(n, "report.notes");
        }
        if let Some(b) = m.get("builds") {
            for (side, v) in obj(b, "report.builds") {
                build(v, &format!("report.builds.{side}"));
            }
        }
        let rows = m["rows"].as_array().expect("report.rows is an array");
        for (i, r) in rows.iter().enumerate() {
            row(r, &format!("report.rows[{i}]"));
        }
        // The verdict follows the rows.
        let regressed = rows.iter().any(|r| r["verdict"] == "regressed");
        match m["verdict"].as_str().unwrap() {
            "pass" => assert!(!regressed, "a passing report with a regressed row"),
            "regression" => assert!(regressed, "a regression report without a regressed row"),
            _ => assert!(rows.is_empty(), "an error report has no rows"),
        }
    }
}
