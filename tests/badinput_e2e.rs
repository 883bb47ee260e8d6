//! Bad input, through the real `gate` binary: each case exits 2 with a
//! message that names the place (file and line, or the field) and, where
//! there is one, the fix.
//!
//! `gate check --no-run` reads criterion results from
//! `$CARGO_TARGET_DIR/criterion`; each test points `CARGO_TARGET_DIR` at a
//! temporary folder holding a copy of `tests/data/formats/criterion`, so no
//! bench runs.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const MEMGUARD_CPU1: &str = "formats/go-bench/securememory-memguard-cpu1.txt";

/// A temporary folder with a criterion home (`target/criterion`, four ids
/// of the subject's scheme) and a Rust baseline recorded from it.
struct NoRun {
    dir: tempfile::TempDir,
}

impl NoRun {
    fn new() -> NoRun {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(
            &data("formats/criterion"),
            &dir.path().join("target/criterion"),
        );
        let nr = NoRun { dir };
        nr.config("gate.yaml", "");
        run(nr
            .gate()
            .args(["baseline", "update", "--no-run", "--config", "gate.yaml"]))
        .expect_code(0);
        assert!(nr.path("rust.yaml").is_file());
        nr
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a config whose baselines are `rust.yaml` and `go.yaml` of the
    /// folder, followed by `rest`.
    fn config(&self, name: &str, rest: &str) -> PathBuf {
        write(
            self.dir.path(),
            name,
            &format!(
                "cargo: {{workspace: {}, package: fixture-bench}}\nbaselines: {{rust: rust.yaml, go: go.yaml}}\n{rest}",
                repo().display()
            ),
        )
    }

    /// `gate` in the folder, reading criterion results from `target/criterion`.
    fn gate(&self) -> assert_cmd::Command {
        let mut cmd = gate();
        cmd.current_dir(self.dir.path())
            .env("CARGO_TARGET_DIR", self.path("target"));
        cmd
    }

    fn check(&self, config: &str) -> Ran {
        run(self.gate().args([
            "check",
            "--no-run",
            "--config",
            config,
            "--json",
            "report.json",
        ]))
    }

    fn import_go(&self, extra: &[&str]) {
        run(self
            .gate()
            .args(["baseline", "import-go", "--output", "go.yaml"])
            .args(extra)
            .arg(data(MEMGUARD_CPU1)))
        .expect_code(0);
    }
}

/// A pair of `secret/with_bytes/sequential` with Go's `WithBytes`.
const PAIR: &str = "pairs:\n  - rust: secret/with_bytes/sequential\n    go: BenchmarkMemguardSecret_WithBytes\n    mode: sequential\n    threads: 1\n";

/// The JSON written by a failed check: verdict `error`, no rows, the
/// message in `notes`; never an earlier run's verdict.
fn assert_error_report(path: &Path, fragment: &str) {
    let r = read_json(path);
    assert_eq!(r["schema"], 1, "{r:#}");
    assert_eq!(r["verdict"], "error", "{r:#}");
    assert_eq!(r["rows"], serde_json::json!([]), "{r:#}");
    assert!(r["environment"].is_object(), "{r:#}");
    let notes = r["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains(fragment)),
        "no note has `{fragment}`: {r:#}"
    );
}

#[test]
fn the_setup_passes_so_each_failure_below_is_the_bad_input() {
    let nr = NoRun::new();
    let ran = nr.check("gate.yaml");
    ran.expect_code(0);
    assert_eq!(read_json(&nr.path("report.json"))["verdict"], "pass");
    nr.import_go(&[]);
    nr.config("paired.yaml", PAIR);
    nr.check("paired.yaml").expect_code(0);
    let r = read_json(&nr.path("report.json"));
    let row = common::row(&r, "secret/with_bytes/sequential", "rust-vs-go");
    assert_eq!(row["go"], "BenchmarkMemguardSecret_WithBytes");
}

#[test]
fn an_empty_go_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.txt", "");
    let good = data(MEMGUARD_CPU1);
    run(gate().arg("compare").arg(&empty).arg(&good))
        .expect_code(2)
        .stderr_has(&["empty.txt: the file is empty"]);
    run(gate().arg("compare").arg(&good).arg(&empty))
        .expect_code(2)
        .stderr_has(&["empty.txt: the file is empty"]);
    let out = dir.path().join("go.yaml");
    run(gate()
        .args(["baseline", "import-go", "--output"])
        .arg(&out)
        .arg(&empty))
    .expect_code(2)
    .stderr_has(&["empty.txt: the file is empty"]);
    assert!(!out.exists(), "a failed import wrote a baseline");
}

#[test]
fn a_go_file_with_no_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    let none = write(
        dir.path(),
        "nothing.txt",
        "goos: linux\ngoarch: amd64\npkg: example.com/p\nPASS\nok  \texample.com/p\t0.004s\n",
    );
    run(gate().arg("compare").arg(&none).arg(data(MEMGUARD_CPU1)))
        .expect_code(2)
        .stderr_has(&["nothing.txt: no benchmark result line found"]);
}

/// A broken result line is refused with `file:line`, whatever is broken on it.
#[test]
fn a_malformed_result_line_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data(MEMGUARD_CPU1)).unwrap();
    let line6 = text.lines().nth(5).unwrap();
    assert!(line6.contains("2834 ns/op"), "{line6}");
    for (name, broken, says) in [
        (
            "value.txt",
            line6.replace("2834", "28x4"),
            "is not a number",
        ),
        (
            "count.txt",
            line6.replace("408495", "4o8495"),
            "is not a whole number",
        ),
        (
            "pair.txt",
            line6.split("2834").next().unwrap().to_string(),
            "no `value unit` pair",
        ),
    ] {
        let mut lines: Vec<&str> = text.lines().collect();
        lines[5] = &broken;
        let file = write(dir.path(), name, &(lines.join("\n") + "\n"));
        let json = dir.path().join(format!("{name}.json"));
        let ran = run(gate()
            .arg("compare")
            .arg(data(MEMGUARD_CPU1))
            .arg(&file)
            .arg("--json")
            .arg(&json));
        ran.expect_code(2).stderr_has(&[
            &format!("{name}:6: `BenchmarkMemguardSecret_WithBytes`"),
            says,
        ]);
        assert_error_report(&json, &format!("{name}:6"));
    }
}

#[test]
fn broken_yaml_in_the_config_names_file_and_line() {
    let nr = NoRun::new();
    // Line 3 opens a flow sequence that line 4 does not close.
    write(
        nr.dir.path(),
        "broken.yaml",
        "cargo:\n  package: fixture-bench\n  benches: [fixture\nbaselines: {rust: rust.yaml}\n",
    );
    let ran = nr.check("broken.yaml");
    ran.expect_code(2).stderr_has(&["broken.yaml:4:"]);
    assert_error_report(&nr.path("report.json"), "broken.yaml:4:");

    // A misspelt field is refused on its own line, not ignored.
    nr.config("typo.yaml", "tolerance: 0.05\ntolerence: 0.5\n");
    nr.check("typo.yaml")
        .expect_code(2)
        .stderr_has(&["typo.yaml:4:", "tolerence"]);
}

#[test]
fn an_unknown_bench_id_in_a_pair() {
    let nr = NoRun::new();
    nr.import_go(&[]);
    // `cargo.ids` restricts the ids: the config itself is refused.
    write(
        nr.dir.path(),
        "ids.yaml",
        &format!(
            "cargo:\n  workspace: {}\n  package: fixture-bench\n  ids: [secret/with_bytes/sequential]\nbaselines: {{rust: rust.yaml, go: go.yaml}}\n{}",
            repo().display(),
            PAIR.replace("with_bytes/seq", "with_bites/seq")
        ),
    );
    nr.check("ids.yaml").expect_code(2).stderr_has(&[
        "ids.yaml: field `pairs[0]`",
        "unknown bench id `secret/with_bites/sequential`",
        "not among `cargo.ids`",
    ]);

    // Without `cargo.ids`, the check finds no result for the pair's id: a
    // typo, never a quiet `missing` row and a pass.
    nr.config(
        "noids.yaml",
        &PAIR.replace("with_bytes/seq", "with_bites/seq"),
    );
    let ran = nr.check("noids.yaml");
    ran.expect_code(2).stderr_has(&[
        "noids.yaml: pairs[0]",
        "unknown bench id `secret/with_bites/sequential`",
        "secret/with_bytes/sequential",
    ]);
    assert_error_report(&nr.path("report.json"), "unknown bench id");
}

/// `cargo.ids` names what the check compares: with --no-run, an id with no
/// result on disk is an error, and results of other ids are not rows.
#[test]
fn cargo_ids_select_the_rows_and_each_needs_a_result() {
    let nr = NoRun::new();
    write(
        nr.dir.path(),
        "one.yaml",
        &format!(
            "cargo:\n  workspace: {}\n  package: fixture-bench\n  ids: [secret/with_bytes/sequential]\nbaselines: {{rust: rust.yaml, go: go.yaml}}\nrequire_baseline: true\n",
            repo().display()
        ),
    );
    // A result of some other criterion bench, whose id is not of the gate's
    // scheme: not this check's business when `cargo.ids` says what is.
    plant_foreign_result(&nr.path("target/criterion"));
    nr.check("one.yaml").expect_code(0);
    let r = read_json(&nr.path("report.json"));
    let ids: Vec<&str> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap())
        .collect();
    // Only the configured id: the other results on disk and the baseline's
    // other ids are not part of this check.
    assert_eq!(ids, ["secret/with_bytes/sequential"], "{r:#}");
    assert_eq!(
        common::row(&r, "secret/with_bytes/sequential", "rust-vs-rust")["verdict"],
        "insufficient",
        "the test data has 3 samples per side"
    );

    write(
        nr.dir.path(),
        "absent.yaml",
        &format!(
            "cargo:\n  workspace: {}\n  package: fixture-bench\n  ids: [secret/with_bytes/sequential, secret/reader/sequential]\nbaselines: {{rust: rust.yaml, go: go.yaml}}\n",
            repo().display()
        ),
    );
    nr.check("absent.yaml").expect_code(2).stderr_has(&[
        "`cargo.ids[1]` `secret/reader/sequential` has no result in",
        "without --no-run",
    ]);

    // Without `cargo.ids`, every result on disk is the check's: the foreign
    // one is refused, naming its file.
    nr.check("gate.yaml")
        .expect_code(2)
        .stderr_has(&["other-bench/new/benchmark.json", "bench id `not-a-gate-id`"]);
}

/// Copies a criterion result under `home/other-bench` with the id
/// `not-a-gate-id` (outside `<group>/<operation>/<mode>`).
fn plant_foreign_result(home: &Path) {
    let dir = home.join("other-bench");
    copy_tree(
        &data("formats/criterion/secret/with_bytes/sequential/new"),
        &dir.join("new"),
    );
    std::fs::write(
        dir.join("new/benchmark.json"),
        r#"{"group_id": "not-a-gate-id", "function_id": null, "value_str": null, "throughput": null, "full_id": "not-a-gate-id", "directory_name": "other-bench", "title": "not-a-gate-id"}"#,
    )
    .unwrap();
}

#[test]
fn a_pair_whose_mode_is_not_the_rust_bench_s() {
    let nr = NoRun::new();
    nr.import_go(&[]);
    nr.config(
        "mode.yaml",
        &PAIR.replace("mode: sequential", "mode: parallel"),
    );
    nr.check("mode.yaml").expect_code(2).stderr_has(&[
        "mode.yaml: field `pairs[0]`",
        "mode mismatch: the pair says `parallel` but the Rust bench id is `sequential`",
        "latency vs inverse throughput",
    ]);
}

/// A Go figure imported as parallel (RunParallel) at GOMAXPROCS 1, paired
/// with a sequential Rust bench: refused, saying why and how to fix it.
#[test]
fn a_pair_whose_mode_is_not_the_go_baseline_s() {
    let nr = NoRun::new();
    nr.import_go(&["--mode", "parallel"]);
    nr.config("gomode.yaml", PAIR);
    let ran = nr.check("gomode.yaml");
    ran.expect_code(2).stderr_has(&[
        "gomode.yaml: pairs[0] (rust `secret/with_bytes/sequential`, go `BenchmarkMemguardSecret_WithBytes`)",
        "mode mismatch: the Go baseline records `BenchmarkMemguardSecret_WithBytes` at GOMAXPROCS 1 as parallel",
        "securememory-memguard-cpu1.txt",
        "the pair says sequential",
        "RunParallel figure is inverse throughput",
        "import-go --mode sequential",
    ]);
    assert_error_report(&nr.path("report.json"), "mode mismatch");
}

#[test]
fn a_missing_baseline_says_how_to_create_it() {
    let nr = NoRun::new();
    nr.check("gate.yaml").expect_code(0);
    assert_eq!(read_json(&nr.path("report.json"))["verdict"], "pass");
    std::fs::remove_file(nr.path("rust.yaml")).unwrap();
    // The earlier passing report must not survive the failed check.
    nr.check("gate.yaml").expect_code(2).stderr_has(&[
        "rust.yaml: no Rust baseline",
        "never a silent pass",
        "gate baseline update",
    ]);
    assert_error_report(&nr.path("report.json"), "no Rust baseline");

    // A pair without its Go baseline is as loud.
    run(nr
        .gate()
        .args(["baseline", "update", "--no-run", "--config", "gate.yaml"]))
    .expect_code(0);
    nr.config("paired.yaml", PAIR);
    nr.check("paired.yaml")
        .expect_code(2)
        .stderr_has(&["go.yaml: no Go baseline", "gate baseline import-go"]);
}

#[test]
fn a_malformed_baseline_names_file_and_line() {
    let nr = NoRun::new();
    let text = std::fs::read_to_string(nr.path("rust.yaml")).unwrap();
    let (n, _) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim() == "threads: 1")
        .expect("the baseline records threads");
    // A wrong type: the field path and the line.
    let typed: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == n {
                l.replace("threads: 1", "threads: one")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(nr.path("rust.yaml"), typed.join("\n") + "\n").unwrap();
    nr.check("gate.yaml").expect_code(2).stderr_has(&[
        "rust.yaml: sets[0].benchmarks[0].threads",
        &format!("line {}", n + 1),
    ]);

    // Broken YAML syntax: the line where the parser stopped.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(6, "    cpu_model: [unclosed");
    std::fs::write(nr.path("rust.yaml"), lines.join("\n") + "\n").unwrap();
    let ran = nr.check("gate.yaml");
    ran.expect_code(2).stderr_has(&["rust.yaml: ", "line 8"]);
}
