//! Helpers shared by the end-to-end tests (`check_*`, `compare_*`,
//! `badinput_*`): the real `gate` binary, the repository's test data, and
//! temporary folders laid out the way the gate reads them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

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
