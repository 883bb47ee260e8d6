//! Live Go against the real `go` command and our own Go package
//! (`go/securememory`). These tests skip, saying why, only when no `go`
//! command exists; CI installs one (`scripts/install-go.sh`), so there they
//! always run.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gate_core::config::Config;
use gate_core::model::{Lang, Mode};
use gate_runner::livego::{self, GoRun, LiveGo, LiveGoOptions};

const WITH_BYTES: &str = "BenchmarkSecret_WithBytes";

/// The `go` version, or `None` after printing why the test is skipped.
fn need_go(test: &str) -> Option<String> {
    let v = livego::go_available();
    if v.is_none() {
        eprintln!(
            "SKIPPED {test}: no `go` command on PATH; install one with scripts/install-go.sh \
             (CI does) to run the live Go tests"
        );
    }
    v
}

fn package() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("go/securememory")
}

/// A copy of `go/securememory` in a temporary folder, to break or extend.
fn package_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(package()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".go") || name == "go.mod" {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    dir
}

fn plan(dir: &Path, wanted: &[(&str, u32)], count: u32) -> GoRun {
    GoRun {
        go: PathBuf::from("go"),
        package_dir: dir.to_path_buf(),
        wanted: wanted.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        count,
        benchtime: Some("2000x".into()),
        build_flags: Vec::new(),
        timeout: Duration::from_secs(300),
    }
}

#[test]
fn a_round_gives_sequential_and_parallel_samples() {
    if need_go("a_round_gives_sequential_and_parallel_samples").is_none() {
        return;
    }
    let bin = plan(&package(), &[(WITH_BYTES, 1), (WITH_BYTES, 2)], 3)
        .prepare()
        .unwrap();
    let set = livego::run_go_round(&bin, 0).unwrap();

    let seq = set.find(Lang::Go, WITH_BYTES, 1).expect("GOMAXPROCS 1");
    // GOMAXPROCS declares no mode: the gate.yaml pair does.
    assert_eq!(seq.mode, Mode::Undeclared);
    assert_eq!(seq.samples.len(), 3, "{seq:?}");
    assert!(seq.samples.iter().all(|&s| s > 0.0), "{seq:?}");
    // One goroutine: every access toggles the page, exactly 2 mprotect per op.
    assert_eq!(seq.metrics["mprotect/op"], [2.0, 2.0, 2.0], "{seq:?}");
    assert_eq!(
        seq.counters.get("allocs/op"),
        Some(&0.0),
        "-benchmem: {seq:?}"
    );

    let par = set.find(Lang::Go, WITH_BYTES, 2).expect("GOMAXPROCS 2");
    assert_eq!(par.mode, Mode::Undeclared);
    assert_eq!(par.samples.len(), 3, "{par:?}");

    // Only what the plan asked for: WithBytesFunc is not named by the regex.
    assert_eq!(set.benchmarks.len(), 2, "{:?}", set.benchmarks);
}

#[test]
fn a_compile_error_names_the_package_and_shows_go_output() {
    if need_go("a_compile_error_names_the_package_and_shows_go_output").is_none() {
        return;
    }
    let dir = package_copy();
    let broken = dir.path().join("secret.go");
    let mut text = std::fs::read_to_string(&broken).unwrap();
    text.push_str("\nfunc broken( {\n");
    std::fs::write(&broken, text).unwrap();

    let err = plan(dir.path(), &[(WITH_BYTES, 1)], 1)
        .prepare()
        .unwrap_err()
        .to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(err.contains("building the benchmarks failed"), "{err}");
    assert!(err.contains("secret.go"), "go's message is shown: {err}");
    assert!(err.contains("syntax error"), "go's message is shown: {err}");
}

#[test]
fn a_failing_or_panicking_benchmark_is_an_error_with_its_message() {
    if need_go("a_failing_or_panicking_benchmark_is_an_error_with_its_message").is_none() {
        return;
    }
    let dir = package_copy();
    std::fs::write(
        dir.path().join("bad_test.go"),
        "package gosecret\n\nimport \"testing\"\n\n\
         func BenchmarkFails(b *testing.B) { b.Fatal(\"deliberate failure\") }\n\n\
         func BenchmarkPanics(b *testing.B) { panic(\"deliberate panic\") }\n",
    )
    .unwrap();

    let fails = plan(dir.path(), &[("BenchmarkFails", 1)], 1)
        .prepare()
        .unwrap();
    let err = livego::run_go_round(&fails, 0).unwrap_err().to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(err.contains("the benchmarks failed"), "{err}");
    assert!(err.contains("--- FAIL: BenchmarkFails"), "{err}");
    assert!(err.contains("deliberate failure"), "{err}");

    let panics = plan(dir.path(), &[("BenchmarkPanics", 1)], 1)
        .prepare()
        .unwrap();
    let err = livego::run_go_round(&panics, 0).unwrap_err().to_string();
    assert!(err.contains("panic: deliberate panic"), "{err}");
}

#[test]
fn a_benchmark_the_package_lacks_is_an_error() {
    if need_go("a_benchmark_the_package_lacks_is_an_error").is_none() {
        return;
    }
    let bin = plan(&package(), &[("BenchmarkSecret_withbytes", 1)], 1)
        .prepare()
        .unwrap();
    let err = livego::run_go_round(&bin, 0).unwrap_err().to_string();
    assert!(
        err.contains("gave 0 result(s) for `BenchmarkSecret_withbytes` at GOMAXPROCS 1"),
        "{err}"
    );
}

/// gate.yaml in `dir` with the two WithBytes pairs, Go from `go_package`.
fn config_in(dir: &Path, go_package: Option<&Path>) -> Config {
    let pkg = go_package
        .map(|p| format!("    go_package: {}\n", p.display()))
        .unwrap_or_default();
    let text = format!(
        "pairs:\n\
         \x20 - rust: secret/with_bytes/sequential\n    go: {WITH_BYTES}\n    mode: sequential\n    threads: 1\n{pkg}\
         \x20 - rust: secret/with_bytes/parallel/t2\n    go: {WITH_BYTES}\n    mode: parallel\n    threads: 2\n{pkg}"
    );
    let path = dir.join("gate.yaml");
    std::fs::write(&path, &text).unwrap();
    Config::load(&path).unwrap()
}

fn quick() -> LiveGoOptions {
    LiveGoOptions {
        rounds: 2,
        count_per_round: 2,
        benchtime: Some("2000x".into()),
        ..LiveGoOptions::default()
    }
}

#[test]
fn go_and_rust_rounds_alternate_and_samples_merge() {
    let Some(version) = need_go("go_and_rust_rounds_alternate_and_samples_merge") else {
        return;
    };
    // TestMain runs once per Go round: it appends `go` to a log in the
    // package folder (the round's working folder); the Rust closure appends
    // `rust <round>` to the same log, so the log shows the true order.
    let dir = package_copy();
    std::fs::write(
        dir.path().join("main_test.go"),
        "package gosecret\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\n\
         func TestMain(m *testing.M) {\n\
         \tf, err := os.OpenFile(\"rounds.log\", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)\n\
         \tif err != nil {\n\t\tpanic(err)\n\t}\n\
         \tf.WriteString(\"go\\n\")\n\tf.Close()\n\tos.Exit(m.Run())\n}\n",
    )
    .unwrap();
    let log = dir.path().join("rounds.log");
    let config = config_in(dir.path(), Some(Path::new(".")));

    let rust_rounds = RefCell::new(Vec::new());
    let outcome = livego::measure_live_go(&config, &quick(), |r| {
        rust_rounds.borrow_mut().push(r);
        let mut text = std::fs::read_to_string(&log).unwrap_or_default();
        text.push_str(&format!("rust {r}\n"));
        std::fs::write(&log, text)?;
        Ok(())
    })
    .unwrap();

    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "go\nrust 0\ngo\nrust 1\n"
    );
    assert_eq!(*rust_rounds.borrow(), [0, 1]);
    let LiveGo::Measured(set) = outcome else {
        panic!("expected a live measurement, got {outcome:?}");
    };
    for threads in [1, 2] {
        let b = set.find(Lang::Go, WITH_BYTES, threads).unwrap();
        assert_eq!(b.mode, Mode::Undeclared, "the pair declares it");
        assert_eq!(b.samples.len(), 4, "2 rounds x -count 2: {b:?}");
    }
    assert_eq!(set.environment.go.as_deref(), Some(version.as_str()));
    assert_eq!(
        set.provenance.as_deref(),
        Some("measured live on this runner, interleaved with the Rust benches in 2 rounds")
    );
    // Same machine facts as the Rust side records, so the report can say
    // both were measured here.
    assert_eq!(
        set.environment.fingerprint(),
        gate_runner::env::detect().fingerprint()
    );
}

#[test]
fn a_rust_round_error_stops_the_measurement_and_says_which_round() {
    if need_go("a_rust_round_error_stops_the_measurement_and_says_which_round").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), Some(&package()));
    let mut calls = 0;
    let err = livego::measure_live_go(&config, &quick(), |_| {
        calls += 1;
        anyhow::bail!("bench exploded")
    })
    .unwrap_err();
    assert_eq!(calls, 1);
    let text = format!("{err:#}");
    assert!(text.contains("Rust round 1 of 2"), "{text}");
    assert!(text.contains("bench exploded"), "{text}");
}

#[test]
fn without_go_or_without_go_package_nothing_runs_and_the_reason_is_given() {
    // No `go` needed: these are the fallbacks.
    let dir = tempfile::tempdir().unwrap();
    let never = |_| -> anyhow::Result<()> { panic!("the Rust closure must not run") };

    let config = config_in(dir.path(), None);
    let outcome = livego::measure_live_go(&config, &quick(), never).unwrap();
    let LiveGo::Skipped(why) = outcome else {
        panic!("expected a skip, got {outcome:?}");
    };
    assert!(
        why.contains("no pair in gate.yaml names a `go_package`"),
        "{why}"
    );

    let config = config_in(dir.path(), Some(&package()));
    let opts = LiveGoOptions {
        go: dir.path().join("no-such-go"),
        ..quick()
    };
    let outcome = livego::measure_live_go(&config, &opts, never).unwrap();
    let LiveGo::Skipped(why) = outcome else {
        panic!("expected a skip, got {outcome:?}");
    };
    assert!(why.contains("no-such-go"), "{why}");
    assert!(why.contains("stored baseline"), "{why}");
}

#[test]
fn a_missing_go_package_folder_is_an_error_not_a_fallback() {
    if need_go("a_missing_go_package_folder_is_an_error_not_a_fallback").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), Some(Path::new("go/nope")));
    let err = livego::measure_live_go(&config, &quick(), |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("go/nope does not exist"), "{err}");
    assert!(err.contains("go_package"), "{err}");
}
