//! `gate power` for real on the fixture bench package, with a small budget:
//! the runs, the analysis and the JSON rows' shape and ranges.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const SPIN: &str = "fixture/spin/sequential";
const SLEEPLESS: &str = "fixture/sleepless/sequential";

/// A config for the fixture package, `extra` appended.
fn write_config_named(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "schema: 1\ncargo:\n  workspace: {}\n  package: fixture-bench\n  benches: [fixture]\n\
             require_baseline: false\ntolerance: 0.05\nalpha: 0.05\nconfirm: 1\n{extra}",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    path
}

fn write_config(dir: &Path) -> PathBuf {
    write_config_named(dir, "gate.yaml", "")
}

/// Runs `gate power --config CONFIG ARGS...` on the fixture.
fn power(config: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    // Two at once on a 2-core runner pushed a case past its budget in CI.
    let _one = common::exclusive();
    Command::cargo_bin("gate")
        .unwrap()
        .args(["power", "--config"])
        .arg(config)
        .args(args)
        .env("CARGO_TARGET_DIR", common::target_dir())
        .timeout(std::time::Duration::from_secs(600))
        .output()
        .unwrap()
}

/// A budget too small for the minimum number of runs or pairs is refused
/// with exit 2 and says to raise it.
fn assert_budget_refused(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("too small") && stderr.contains("--budget"),
        "{stderr}"
    );
}

#[test]
fn power_on_the_fixture_writes_sound_rows_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let json = dir.path().join("power.json");
    // Room for 3 quick runs of 4 s and the 20 s analysis a loaded CI
    // runner estimated, with some to spare.
    let budget = 45u64;
    let budget_text = budget.to_string();
    let out = power(
        &config,
        &[
            "--kind".as_ref(),
            "stored".as_ref(),
            "--budget".as_ref(),
            budget_text.as_ref(),
            "--json".as_ref(),
            json.as_os_str(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains(SPIN) && stdout.contains("false alarms"),
        "{stdout}"
    );
    assert!(
        stdout.contains("figures") && stdout.contains("baseline runs"),
        "{stdout}"
    );
    assert!(stderr.contains("gate power: run 3"), "progress: {stderr}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let settings = &report["settings"];
    assert_eq!(settings["criterion"], "quick", "{settings}");
    let runs = settings["runs"].as_u64().unwrap();
    assert!(runs >= 3, "{settings}");
    // Measurement and analysis stay near the budget (the build is not counted).
    let elapsed = settings["elapsed_secs"].as_f64().unwrap();
    assert!(elapsed <= budget as f64 * 1.5, "{settings}");
    assert_eq!(settings["family"], 2);

    let rows = report["rows"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [SPIN, SLEEPLESS]);
    for r in rows {
        for key in ["id", "false_alarm_rate", "min_detectable", "samples"] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        let rate = r["false_alarm_rate"].as_f64().unwrap();
        let upper = r["false_alarm_upper"].as_f64().unwrap();
        assert!(
            (0.0..=1.0).contains(&rate) && rate <= upper && upper <= 1.0,
            "{r}"
        );
        match r["min_detectable"].as_f64() {
            // The interval must clear 1 + tolerance: nothing at or below 5%.
            Some(m) => assert!(m > 0.05 && m <= 0.5, "{r}"),
            None => assert!(r["min_detectable"].is_null(), "{r}"),
        }
        assert_eq!(r["samples"], 20, "quick settings: {r}");
        assert_eq!(r["runs"].as_u64().unwrap(), runs, "{r}");
        assert_eq!(r["pairs"].as_u64().unwrap(), runs * (runs - 1) / 2, "{r}");
        // The baseline pools the default 3 runs of `gate baseline update`
        // when 3 + 1 + confirm runs were measured, else 1 run.
        let set = r["baseline_runs"].as_u64().unwrap();
        let tuples = if runs >= 5 {
            assert_eq!(set, 3, "{r}");
            runs * (runs - 1) * (runs - 2) / 6 * (runs - 3) * (runs - 4)
        } else {
            assert_eq!(set, 1, "{r}");
            runs * (runs - 1) * (runs - 2)
        };
        assert_eq!(r["run_tuples"].as_u64().unwrap(), tuples, "{r}");
        // Every tuple decided once when there are few, else 200 or more drawn.
        let reps = r["replicates"].as_u64().unwrap();
        assert!(reps == tuples || reps >= 200, "{r}");
    }
    let cands = report["candidates"].as_array().unwrap();
    assert!(
        cands
            .iter()
            .any(|c| c["tolerance"] == 0.05 && c["confirm"] == 1),
        "{cands:?}"
    );
    // A tolerance of 5% can never detect a 5% slowdown 95% of the time.
    assert_eq!(report["figures_met"], false);
}

#[test]
fn a_budget_too_small_for_three_runs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let out = power(
        &config,
        &[
            "--kind".as_ref(),
            "stored".as_ref(),
            "--budget".as_ref(),
            "5".as_ref(),
        ],
    );
    assert_budget_refused(&out);
}

fn write_lockstep_config(dir: &Path) -> PathBuf {
    write_config_named(
        dir,
        "gate-lockstep.yaml",
        "rounds: 2\nlockstep: {tolerance: 0.02, samples: 8, sample_ms: 5, warm_up_ms: 20}\n",
    )
}

/// The default kind measures the lockstep check (`gate check --base`):
/// A/A pairs of the fixture, decided as paired rows, with the contract's
/// row fields and a settings sweep.
#[test]
fn lockstep_power_on_the_fixture_writes_sound_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_lockstep_config(dir.path());
    let json = dir.path().join("power.json");
    let out = power(
        &config,
        &[
            "--budget".as_ref(),
            "20".as_ref(),
            "--json".as_ref(),
            json.as_os_str(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("lockstep check") && stdout.contains(SPIN),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["kind"], "lockstep");
    let settings = &report["settings"];
    assert_eq!(
        settings["tolerance"], 0.02,
        "the lockstep tolerance decides: {settings}"
    );
    let pairs = settings["pairs"].as_u64().unwrap();
    assert!(
        pairs >= 4,
        "rounds 2 x (1 + confirm 1) pairs at least: {settings}"
    );
    let rows = report["rows"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [SLEEPLESS, SPIN]);
    for r in rows {
        for key in ["id", "false_alarm_rate", "min_detectable", "samples"] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert_eq!(r["samples"], 16, "2 pairs x 8 samples per side: {r}");
        let rate = r["false_alarm_rate"].as_f64().unwrap();
        assert!(rate <= r["false_alarm_upper"].as_f64().unwrap(), "{r}");
        // The fixture measures thread CPU time: A/A pairs of it agree.
        assert!(rate <= 0.2, "{r}");
        if let Some(m) = r["min_detectable"].as_f64() {
            assert!((0.0..=0.5).contains(&m), "{r}");
        }
        assert!(r["pairs"].as_u64().unwrap() >= pairs, "{r}");
    }
    let cands = report["candidates"].as_array().unwrap();
    assert!(
        cands
            .iter()
            .any(|c| c["tolerance"] == 0.02 && c["rounds"] == 2 && c["confirm"] == 1),
        "{cands:?}"
    );
}

#[test]
fn a_budget_too_small_for_the_lockstep_pairs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A check of 30 rounds draws 30 pairs: 30 passes over the two fixture
    // ids do not fit in 2 s.
    let config = common::write(
        dir.path(),
        "gate-rounds.yaml",
        &std::fs::read_to_string(write_lockstep_config(dir.path()))
            .unwrap()
            .replace("rounds: 2", "rounds: 30"),
    );
    let out = power(&config, &["--budget".as_ref(), "2".as_ref()]);
    assert_budget_refused(&out);
}
