//! `gate check --base REF` for real: a fixture git repository whose second
//! commit makes the spin bench slower is built twice (head, and the base in
//! a worktree), measured in interleaved rounds on this machine, compared.

mod common;

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

const AB_YAML: &str = "cargo:\n  package: fixture-bench\n  benches: [fixture]\nrequire_baseline: false\nrounds: 2\n\
     lockstep: {samples: 8, sample_ms: 5, warm_up_ms: 20}\n";

fn check_base(repo: &Path, base: &str, json: &Path) -> (i32, serde_json::Value, String) {
    let out = Command::cargo_bin("gate")
        .unwrap()
        .args(["check", "--quick", "--base", base, "--json"])
        .arg(json)
        .current_dir(repo)
        .env("CARGO_TARGET_DIR", common::target_dir())
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code().unwrap_or(-1);
    let report = std::fs::read_to_string(json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (code, report, text)
}

fn row<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id && r["kind"] == "rust-vs-rust")
        .unwrap_or_else(|| panic!("no row {id} in {report}"))
}

#[test]
fn base_and_head_on_the_same_runner() {
    let dir = tempfile::tempdir().unwrap();
    let repo = common::fixture_repo(dir.path(), AB_YAML);

    // Identical code on both sides: no regression.
    let (code, report, text) = check_base(&repo, "HEAD", &dir.path().join("same.json"));
    assert_eq!(code, 0, "identical commits must pass:\n{text}");
    assert!(
        report["notes"].to_string().contains("same-runner A/B"),
        "the report says it compared on the same runner: {report}"
    );
    let same = row(&report, "fixture/spin/sequential");
    assert_eq!(same["verdict"], "unchanged");
    // The counting pass runs in the first pair of an id only
    // (GATE_LOCKSTEP_SETUP); the row still carries both sides' counters.
    for side in ["old", "new"] {
        assert_eq!(
            same[side]["counters"]["syscalls_per_op"], 0.0,
            "{side} counters: {same}"
        );
    }

    // A second commit makes the spin bench do twice the work.
    common::double_spin_steps(&repo);
    common::git(&repo, &["commit", "-q", "-am", "slower spin"]);

    let (code, report, text) = check_base(&repo, "HEAD~1", &dir.path().join("slow.json"));
    assert_eq!(code, 1, "a 2x slower head must fail:\n{text}");
    let spin = row(&report, "fixture/spin/sequential");
    assert_eq!(spin["verdict"], "regressed", "{spin}");
    let ratio = spin["ratio"].as_f64().unwrap();
    assert!(ratio > 1.5, "spin ratio {ratio}");
    // Lockstep: 2 pairs (--quick rounds) x 8 samples per side, decided as a
    // paired row. The confirmation measured 2 fresh pairs of both sides,
    // and the report keeps the first measurement in `earlier`.
    assert_eq!(spin["old"]["n"], 16, "{spin}");
    assert!(
        spin["warnings"]
            .to_string()
            .contains("paired: 2 lockstep pair(s) x 8 samples"),
        "{spin}"
    );
    let first = spin["earlier"]
        .get(0)
        .map(|e| &e["new"])
        .unwrap_or(&spin["new"]);
    assert_eq!(first["n"], 16, "{spin}");
    assert_eq!(
        spin["earlier"].as_array().map(Vec::len),
        Some(1),
        "the regression was confirmed by fresh pairs: {spin}"
    );
}

#[test]
fn an_unknown_base_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let repo = common::fixture_repo(dir.path(), AB_YAML);
    let (code, _, text) = check_base(&repo, "no-such-ref", &dir.path().join("x.json"));
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("no-such-ref") && text.contains("no such commit"),
        "{text}"
    );
}

/// A bench process that dies in a lockstep pair does not leave its peer
/// waiting for the token: the check stops with exit 2, naming the id and
/// showing the panic.
#[test]
fn a_lockstep_side_that_dies_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let repo = common::fixture_repo(dir.path(), AB_YAML);
    let out = Command::cargo_bin("gate")
        .unwrap()
        .args(["check", "--quick", "--base", "HEAD", "--json"])
        .arg(dir.path().join("dead.json"))
        .current_dir(&repo)
        .env("CARGO_TARGET_DIR", common::target_dir())
        .env("GATE_FIXTURE_PANIC", "fixture/spin/sequential")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("lockstep run of `fixture/spin/sequential`")
            && text.contains("GATE_FIXTURE_PANIC asked fixture/spin/sequential to fail"),
        "{text}"
    );
}
