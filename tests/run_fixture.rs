//! Stage 1 for real: builds and runs `tests/fixture-bench` through
//! `gate_runner::run` with the quick settings, a temporary criterion home and this
//! workspace's target folder, then checks what was written.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use gate_runner::run::{ProgressMode, RunError, RunPlan, counters_path, prepare, run};
use regex::Regex;

const SPIN: &str = "fixture/spin/sequential";
const SLEEPLESS: &str = "fixture/sleepless/sequential";

fn plan(home: &Path) -> RunPlan {
    let mut plan = RunPlan::new(env!("CARGO_MANIFEST_DIR"), "fixture-bench");
    plan.benches = vec!["fixture".into()];
    plan.quick = true;
    plan.criterion_home = home.to_path_buf();
    plan.target_dir = Some(common::target_dir());
    plan.progress = ProgressMode::Quiet;
    plan
}

/// Ids that have a criterion sample under `home` (any folder depth).
fn ids_with_samples(home: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut stack = vec![home.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.ends_with("new") && p.join("sample.json").is_file() {
                let meta: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(p.join("benchmark.json")).unwrap(),
                )
                .unwrap();
                ids.insert(meta["full_id"].as_str().unwrap().to_string());
            } else if p.is_dir() {
                stack.push(p);
            }
        }
    }
    ids
}

fn counters_files(home: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(home.join("gate-counters")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

fn counters(home: &Path, id: &str) -> serde_json::Value {
    let path = counters_path(home, id);
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn run_error(err: anyhow::Error) -> RunError {
    match err.downcast::<RunError>() {
        Ok(e) => e,
        Err(other) => panic!("expected a RunError, got: {other:#}"),
    }
}

#[test]
fn filter_runs_exactly_the_matching_id() {
    let home = tempfile::tempdir().unwrap();
    let mut p = plan(home.path());
    p.filter = Some(Regex::new("spin").unwrap());
    let summary = run(&p).unwrap();
    assert_eq!(summary.ids, [SPIN]);
    assert!(summary.quick);
    assert_eq!(
        ids_with_samples(home.path()),
        BTreeSet::from([SPIN.to_string()])
    );
    assert_eq!(
        counters_files(home.path()),
        BTreeSet::from(["fixture__spin__sequential.json".to_string()])
    );
    assert!(summary.results[SPIN].join("new/sample.json").is_file());
    let c = counters(home.path(), SPIN);
    assert_eq!(c["id"], SPIN);
    assert_eq!(c["counters"]["syscalls_per_op"], 0.0);
    assert_eq!(c["features"], serde_json::json!([]));
}

/// Every id, with `--no-mlock` and two extra syscalls per op; then one id
/// again (a confirmation run) replaces that id's results and only those.
#[test]
fn all_ids_with_features_and_env_then_a_confirmation_run() {
    let home = tempfile::tempdir().unwrap();
    let mut p = plan(home.path());
    p.no_mlock = true;
    p.env = vec![("GATE_FIXTURE_EXTRA_SYSCALLS".into(), "2".into())];
    let prepared = prepare(&p).unwrap();
    assert_eq!(prepared.ids(), [SPIN, SLEEPLESS]);
    let summary = prepared.run_all().unwrap();
    assert_eq!(summary.features, ["no-mlock"]);
    assert_eq!(
        ids_with_samples(home.path()),
        BTreeSet::from([SPIN.to_string(), SLEEPLESS.to_string()])
    );
    for id in [SPIN, SLEEPLESS] {
        let c = counters(home.path(), id);
        assert_eq!(c["counters"]["syscalls_per_op"], 2.0, "{id}: {c}");
        assert_eq!(c["features"], serde_json::json!(["no-mlock"]), "{id}: {c}");
    }

    // Markers show which result folders the confirmation run replaced.
    let spin_dir = summary.results[SPIN].clone();
    let sleepless_dir = summary.results[SLEEPLESS].clone();
    std::fs::write(spin_dir.join("marker"), "old").unwrap();
    std::fs::write(sleepless_dir.join("marker"), "old").unwrap();
    let again = prepared.run_ids(&[SPIN.to_string()]).unwrap();
    assert_eq!(again.ids, [SPIN]);
    assert!(
        !spin_dir.join("marker").exists(),
        "stale results of the rerun id were kept"
    );
    assert!(spin_dir.join("new/sample.json").is_file());
    assert!(
        sleepless_dir.join("marker").exists(),
        "results of an id not rerun were removed"
    );
    assert!(counters_path(home.path(), SPIN).is_file());
}

#[test]
fn a_panicking_bench_is_an_error_naming_the_id_and_its_stderr() {
    let home = tempfile::tempdir().unwrap();
    let mut p = plan(home.path());
    p.env = vec![("GATE_FIXTURE_PANIC".into(), SLEEPLESS.into())];
    let err = run_error(run(&p).unwrap_err());
    let text = err.to_string();
    match err {
        RunError::Bench {
            id,
            target,
            status,
            tail,
            ..
        } => {
            assert_eq!((id.as_str(), target.as_str()), (SLEEPLESS, "fixture"));
            assert!(status.contains("exit status"), "{status}");
            assert!(
                tail.contains("GATE_FIXTURE_PANIC asked fixture/sleepless/sequential to fail"),
                "{tail}"
            );
        }
        other => panic!("expected a bench error, got {other}"),
    }
    assert!(
        text.contains("--exact fixture/sleepless/sequential"),
        "the command is shown: {text}"
    );
    // The bench before it ran and kept its results.
    assert_eq!(
        ids_with_samples(home.path()),
        BTreeSet::from([SPIN.to_string()])
    );
}

#[test]
fn a_missing_bench_target_is_a_build_error_with_cargo_s_message() {
    let home = tempfile::tempdir().unwrap();
    let mut p = plan(home.path());
    p.benches = vec!["no_such_bench".into()];
    match run_error(run(&p).unwrap_err()) {
        RunError::Build { command, tail, .. } => {
            assert!(command.contains("--bench no_such_bench"), "{command}");
            assert!(tail.contains("no_such_bench"), "{tail}");
        }
        other => panic!("expected a build error, got {other}"),
    }
}

#[test]
fn an_unknown_configured_id_is_refused_before_anything_runs() {
    let home = tempfile::tempdir().unwrap();
    let mut p = plan(home.path());
    p.ids = vec![SPIN.into(), "fixture/nope/sequential".into()];
    let text = run_error(run(&p).unwrap_err()).to_string();
    assert!(
        text.contains("`fixture/nope/sequential` (configured in `cargo.ids`) is not offered"),
        "{text}"
    );
    assert!(
        text.contains(SLEEPLESS),
        "the offered ids are listed: {text}"
    );
    assert!(ids_with_samples(home.path()).is_empty());
}

#[test]
fn a_hung_bench_is_killed_at_the_timeout() {
    let home = tempfile::tempdir().unwrap();
    let mut p = plan(home.path());
    p.filter = Some(Regex::new("spin").unwrap());
    // A million times the work: one iteration takes far longer than the
    // timeout, so the bench cannot finish in time on any machine.
    p.env = vec![("GATE_FIXTURE_SLOWDOWN".into(), "1000000".into())];
    p.timeout = Some(std::time::Duration::from_secs(5));
    match run_error(run(&p).unwrap_err()) {
        RunError::Bench { id, status, .. } => {
            assert_eq!(id, SPIN);
            assert!(status.contains("timeout"), "{status}");
        }
        other => panic!("expected a bench error, got {other}"),
    }
}
