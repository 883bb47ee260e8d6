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

fn rev_parse(repo: &Path, reference: &str) -> String {
    common::git_output(repo, &["rev-parse", reference])
}

/// The report's record of what side `side` ran.
fn build<'a>(report: &'a serde_json::Value, side: &str) -> &'a serde_json::Value {
    let b = &report["builds"][side];
    assert!(b.is_object(), "no build of the {side} in {report}");
    b
}

/// The worktrees of `repo` besides its own checkout.
fn extra_worktrees(repo: &Path) -> usize {
    let out = Command::new("git")
        .args(["worktree", "list", "--porcelain"])
        .current_dir(repo)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("worktree "))
        .count();
    listed - 1
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
    let _one = common::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let repo = common::fixture_repo(dir.path(), AB_YAML);

    // Identical code on both sides: no regression.
    let (code, report, text) = check_base(&repo, "HEAD", &dir.path().join("same.json"));
    assert_eq!(code, 0, "identical commits must pass:\n{text}");
    let head_commit = rev_parse(&repo, "HEAD");
    assert_eq!(build(&report, "base")["commit"], head_commit.as_str());
    assert_eq!(build(&report, "head")["commit"], head_commit.as_str());
    assert_eq!(
        build(&report, "base")["executables"],
        build(&report, "head")["executables"],
        "the same code gives the same executables: {report}"
    );
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
    assert_eq!(build(&report, "base")["commit"], head_commit.as_str());
    assert_eq!(build(&report, "base")["reference"], "HEAD~1");
    assert_eq!(
        build(&report, "head")["commit"],
        rev_parse(&repo, "HEAD").as_str()
    );
    assert_ne!(
        build(&report, "base")["executables"]["fixture"],
        build(&report, "head")["executables"]["fixture"],
        "different code gives different executables: {report}"
    );
    let spin = row(&report, "fixture/spin/sequential");
    assert_eq!(spin["verdict"], "regressed", "{spin}");
    let ratio = spin["ratio"].as_f64().unwrap();
    assert!(ratio > 1.5, "spin ratio {ratio}");
    // Lockstep, decided sequentially: a 2x slowdown is clear at the first
    // look, 4 pairs x 8 samples per side. The confirmation measured fresh
    // pairs of both sides, and the report keeps the first measurement in
    // `earlier`. The row says what it could have seen on this runner.
    assert_eq!(spin["old"]["n"], 32, "{spin}");
    assert!(
        spin["warnings"]
            .to_string()
            .contains("paired: 4 lockstep pair(s) x 8 samples"),
        "{spin}"
    );
    let seen = spin["min_detectable"].as_f64().expect("min_detectable");
    assert!(seen > 0.05 && seen < 0.5, "{spin}");
    let first = spin["earlier"]
        .get(0)
        .map(|e| &e["new"])
        .unwrap_or(&spin["new"]);
    assert_eq!(first["n"], 32, "{spin}");
    assert_eq!(
        spin["earlier"].as_array().map(Vec::len),
        Some(1),
        "the regression was confirmed by fresh pairs: {spin}"
    );
}

/// Sets the fixture's spin steps in its source (the line
/// [`common::SPIN_STEPS_LINE`] names, whatever its value now) and commits.
fn commit_spin_steps(repo: &Path, steps: &str) {
    let lib = repo.join("fixture/src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    let line = src
        .lines()
        .find(|l| l.starts_with("pub const SPIN_STEPS: u64 = "))
        .expect("the fixture's SPIN_STEPS line")
        .to_string();
    let new = src.replace(&line, &format!("pub const SPIN_STEPS: u64 = {steps};"));
    std::fs::write(&lib, new).unwrap();
    common::git(repo, &["commit", "-q", "-am", &format!("spin {steps}")]);
}

/// Two bases in turn: base X (fast), then M (3x slower than X), then X
/// again, with the head at 2x. Each check must measure the commit it names:
/// the third gives the first's verdict, not the second's (a reused
/// worktree and target once measured M's code as "X"), and no worktree is
/// left behind.
#[test]
fn alternating_bases_each_measure_their_own_commit() {
    let _one = common::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let repo = common::fixture_repo(dir.path(), AB_YAML);
    commit_spin_steps(&repo, "48_000");
    commit_spin_steps(&repo, "32_000");
    let x = rev_parse(&repo, "HEAD~2");
    let m = rev_parse(&repo, "HEAD~1");
    let mut verdicts = Vec::new();
    for (k, (base, commit)) in [("HEAD~2", &x), ("HEAD~1", &m), ("HEAD~2", &x)]
        .into_iter()
        .enumerate()
    {
        let (code, report, text) =
            check_base(&repo, base, &dir.path().join(format!("check{k}.json")));
        let spin = row(&report, "fixture/spin/sequential");
        let ratio = spin["ratio"].as_f64().unwrap();
        assert_eq!(build(&report, "base")["commit"], commit.as_str(), "{text}");
        assert_eq!(extra_worktrees(&repo), 0, "check {k} left a worktree");
        verdicts.push((code, spin["verdict"].clone(), ratio));
    }
    let (first, second, third) = (&verdicts[0], &verdicts[1], &verdicts[2]);
    assert_eq!(first.0, 1, "2x slower than X: {verdicts:?}");
    assert_eq!(first.1, "regressed", "{verdicts:?}");
    assert!(first.2 > 1.5, "{verdicts:?}");
    assert_eq!(second.1, "improved", "faster than M: {verdicts:?}");
    assert!(second.2 < 0.8, "{verdicts:?}");
    assert_eq!(
        (third.0, &third.1),
        (first.0, &first.1),
        "X again must give X's verdict: {verdicts:?}"
    );
    assert!(third.2 > 1.5, "{verdicts:?}");
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
    let _one = common::exclusive();
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
