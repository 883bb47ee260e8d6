//! A stored check with `arbitrate` measures the floor benches first, to
//! tell whether the host moved (`src/pipeline/arbitrate.rs`). When it did
//! not, that measurement is the floor's in the report: the floor benches
//! run once, not again with the rest (`src/pipeline/check.rs`).

mod common;

use std::path::Path;

const YAML: &str = "cargo:\n  package: fixture-bench\n  benches: [fixture]\n  \
     ids: [fixture/spin/sequential, fixture/sleepless/sequential]\n\
     baselines: {rust: baselines/rust.yaml, go: baselines/go.yaml}\ntolerance: 0.5\nconfirm: 1\nrounds: 2\n\
     lockstep: {samples: 8, sample_ms: 5, warm_up_ms: 20}\n\
     floor: {mprotect_pair: null, syscall: fixture/sleepless/sequential}\n";

const FLOOR: &str = "fixture/sleepless/sequential";

fn gate(repo: &Path, args: &[&str]) -> common::Ran {
    let mut cmd = common::gate();
    cmd.args(args)
        .current_dir(repo)
        .env("CARGO_TARGET_DIR", common::target_dir())
        .env("CRITERION_HOME", repo.join("target/criterion"));
    common::run(&mut cmd)
}

/// The lines of `stderr` that say a run of bench `id` ended.
fn runs_of<'a>(stderr: &'a str, id: &str) -> Vec<&'a str> {
    let done = format!("] {id} done in ");
    stderr.lines().filter(|l| l.contains(&done)).collect()
}

#[test]
fn the_floor_measured_first_is_not_measured_again() {
    let _one = common::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let repo = common::fixture_repo(dir.path(), YAML);
    gate(&repo, &["baseline", "update", "--quick", "--runs", "3"]).expect_code(0);
    common::git(&repo, &["add", "baselines"]);
    common::git(&repo, &["commit", "-q", "-m", "baseline"]);

    let json = dir.path().join("report.json");
    let ran = gate(
        &repo,
        &["check", "--quick", "--json", json.to_str().unwrap()],
    );
    ran.expect_code(0);
    let report = common::read_json(&json);
    common::contract::report(&report);
    assert!(
        ran.stderr.contains("measuring the floor first"),
        "{}",
        ran.stderr
    );
    assert!(
        !report["notes"]
            .to_string()
            .contains("measured first, moved"),
        "{report:#}"
    );
    let floor_runs = runs_of(&ran.stderr, FLOOR);
    assert_eq!(floor_runs.len(), 1, "{}", ran.stderr);
    assert_eq!(
        runs_of(&ran.stderr, "fixture/spin/sequential").len(),
        1,
        "{}",
        ran.stderr
    );
    eprintln!("the floor's run: {}", floor_runs[0]);

    // The floor's row is that measurement, as the raw results hold it.
    let row = common::row(&report, FLOOR, "rust-vs-rust");
    let raw = common::read_json(&repo.join("target/gate/results.json"));
    let samples = raw["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == FLOOR)
        .map(|b| b["samples"].as_array().unwrap().len())
        .expect("the floor in the raw results");
    assert!(samples > 0);
    assert_eq!(row["new"]["n"].as_u64(), Some(samples as u64), "{row:#}");
}
