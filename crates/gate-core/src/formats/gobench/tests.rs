//! Tests of the Go format reader and writer: every feature of the format on
//! small inline inputs, the six real `go test -bench` outputs, and the
//! writer's round trip.

use std::path::{Path, PathBuf};

use super::{parse_go, read_go_file, write_go};
use crate::formats::{EXACT_LABEL, Parsed};
use crate::model::{Benchmark, Environment, Lang, Mode, ResultSet};

fn parse(text: &str) -> Parsed {
    parse_go(text, Path::new("inline.txt"), None).unwrap()
}

fn parse_err(text: &str) -> String {
    format!(
        "{:#}",
        parse_go(text, Path::new("bad.txt"), None).unwrap_err()
    )
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/formats/go-bench")
        .join(name)
}

fn bench<'a>(p: &'a Parsed, id: &str) -> &'a Benchmark {
    p.set
        .benchmarks
        .iter()
        .find(|b| b.id == id)
        .unwrap_or_else(|| panic!("no benchmark {id} in {:?}", p.set.benchmarks))
}

/// The `-N` suffix is GOMAXPROCS, kept as threads; it declares no mode
/// (a benchmark runs at GOMAXPROCS N whether or not it calls
/// `b.RunParallel`), so without `--mode` the mode stays undeclared.
#[test]
fn repeated_lines_become_samples_and_suffix_becomes_threads() {
    let p = parse(
        "BenchmarkA-2 \t 100\t 10.5 ns/op\n\
         BenchmarkA-2 \t 100\t 11 ns/op\n\
         BenchmarkB \t 100\t 20 ns/op\n\
         BenchmarkA-2 \t 100\t 12 ns/op\n",
    );
    assert_eq!(p.set.benchmarks.len(), 2);
    let a = bench(&p, "BenchmarkA");
    assert_eq!(a.samples, vec![10.5, 11.0, 12.0]);
    assert_eq!((a.threads, a.mode, a.lang), (2, Mode::Undeclared, Lang::Go));
    assert_eq!(a.unit, "ns/op");
    assert_eq!(a.source.as_deref(), Some("inline.txt"));
    let b = bench(&p, "BenchmarkB");
    assert_eq!((b.threads, b.mode), (1, Mode::Undeclared));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let p = parse("BenchmarkX-8 1 10 ns/op\n");
    assert_eq!(
        (p.set.benchmarks[0].threads, p.set.benchmarks[0].mode),
        (8, Mode::Undeclared)
    );
}

#[test]
fn same_name_at_two_gomaxprocs_is_two_benchmarks() {
    let p = parse("BenchmarkA 1 10 ns/op\nBenchmarkA-4 1 5 ns/op\n");
    let threads: Vec<u32> = p.set.benchmarks.iter().map(|b| b.threads).collect();
    assert_eq!(threads, vec![1, 4]);
}

#[test]
fn mode_override_wins_over_gomaxprocs() {
    let p = parse_go(
        "BenchmarkA 1 10 ns/op\nBenchmarkA-2 1 5 ns/op\n",
        Path::new("x"),
        Some(Mode::Parallel),
    )
    .unwrap();
    assert!(p.set.benchmarks.iter().all(|b| b.mode == Mode::Parallel));
}

#[test]
fn config_lines_apply_to_later_results_and_can_change() {
    let p = parse(
        "goos: linux\ngoarch: amd64\ncpu: AMD EPYC 7B13\npkg: example.com/a\n\
         note: first\n\
         BenchmarkA 1 10 ns/op\n\
         note: second\n\
         BenchmarkB 1 10 ns/op\n\
         note:\n\
         BenchmarkC 1 10 ns/op\n",
    );
    let a = bench(&p, "BenchmarkA");
    assert_eq!(a.labels["note"], "first");
    assert_eq!(a.labels["pkg"], "example.com/a");
    assert_eq!(a.labels["goos"], "linux");
    assert_eq!(a.labels["cpu"], "AMD EPYC 7B13");
    assert_eq!(bench(&p, "BenchmarkB").labels["note"], "second");
    assert!(!bench(&p, "BenchmarkC").labels.contains_key("note"));
    let env = &p.set.environment;
    assert_eq!(env.os.as_deref(), Some("linux"));
    assert_eq!(env.arch.as_deref(), Some("amd64"));
    assert_eq!(env.cpu_model.as_deref(), Some("AMD EPYC 7B13"));
    assert_eq!(env.extra["pkg"], "example.com/a");
}

#[test]
fn lines_that_are_not_config_lines_are_ignored() {
    // Upper case or space in the key, no space after the colon, leading tab.
    let p = parse(
        "Key: v\nsome key: v\nurl:http://x\n\tuser: v\n# comment: v\nBenchmarkA 1 10 ns/op\n",
    );
    assert!(bench(&p, "BenchmarkA").labels.is_empty());
}

#[test]
fn same_name_under_a_changed_config_is_kept_apart_with_a_warning() {
    let p = parse("commit: a\nBenchmarkA 1 10 ns/op\ncommit: b\nBenchmarkA 1 20 ns/op\n");
    assert_eq!(p.set.benchmarks.len(), 2);
    assert_eq!(p.set.benchmarks[1].labels["commit"], "b");
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].contains("inline.txt:4"), "{}", p.warnings[0]);
}

#[test]
fn sub_benchmark_parts_become_labels_and_the_id_keeps_the_full_name() {
    let p = parse("BenchmarkCache/policy=lru/size=8-2 1 10 ns/op\n");
    let b = bench(&p, "BenchmarkCache/policy=lru/size=8");
    assert_eq!(b.threads, 2);
    assert_eq!(b.labels["policy"], "lru");
    assert_eq!(b.labels["size"], "8");
}

#[test]
fn extra_units_go_to_counters_and_metrics() {
    let p = parse(
        "BenchmarkA 1 10 ns/op 96 B/op 3 allocs/op 50.5 MB/s 7 keys/op\n\
         BenchmarkA 1 11 ns/op 100 B/op 3 allocs/op 51.5 MB/s 9 keys/op\n\
         BenchmarkA 1 12 ns/op 98 B/op 4 allocs/op 52.5 MB/s 8 keys/op\n",
    );
    let a = bench(&p, "BenchmarkA");
    assert_eq!(a.samples, vec![10.0, 11.0, 12.0]);
    assert_eq!(a.counters["B/op"], 98.0);
    assert_eq!(a.counters["allocs/op"], 3.0);
    assert_eq!(a.counters.len(), 2);
    assert_eq!(a.metrics["B/op"], vec![96.0, 100.0, 98.0]);
    assert_eq!(a.metrics["allocs/op"], vec![3.0, 3.0, 4.0]);
    assert_eq!(a.metrics["MB/s"], vec![50.5, 51.5, 52.5]);
    assert_eq!(a.metrics["keys/op"], vec![7.0, 9.0, 8.0]);
}

#[test]
fn a_result_without_time_is_kept_in_metrics_with_a_warning() {
    let p = parse("BenchmarkSize 1 4096 bytes\n");
    let b = bench(&p, "BenchmarkSize");
    assert!(b.samples.is_empty());
    assert_eq!(b.metrics["bytes"], vec![4096.0]);
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].contains("inline.txt:1") && p.warnings[0].contains("BenchmarkSize"));
}

#[test]
fn unit_metadata_lines_are_kept_as_labels() {
    let p = parse("Unit MB/s better=higher assume=nothing\nBenchmarkA 1 10 ns/op 5 MB/s\n");
    let a = bench(&p, "BenchmarkA");
    assert_eq!(a.labels["unit:MB/s:better"], "higher");
    assert_eq!(a.labels["unit:MB/s:assume"], "nothing");
    let q = parse("Unit MB/s better=higher\nBenchmarkA 1 10 ns/op\n");
    assert!(
        bench(&q, "BenchmarkA").labels.is_empty(),
        "unit not reported"
    );
}

#[test]
fn test_runner_chatter_is_ignored() {
    let p = parse(
        "goos: linux\n\nBenchmarkA\nBenchmarkA-2 1 10 ns/op\n--- FAIL: BenchmarkB-2\n    \
         b_test.go:12: boom\nBenchmarking is fun\nPASS\nFAIL\nok  \texample.com/a\t1.234s\n",
    );
    assert_eq!(p.set.benchmarks.len(), 1);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn malformed_result_lines_are_errors_naming_file_and_line() {
    for (text, what) in [
        ("BenchmarkA 1 10 ns/op\nBenchmarkX 100 abc ns/op\n", "`abc`"),
        (
            "BenchmarkA 1 10 ns/op\nBenchmarkX 100 10 ns/op 3\n",
            "no unit",
        ),
        (
            "BenchmarkA 1 10 ns/op\nBenchmarkX 1.5 10 ns/op\n",
            "whole number",
        ),
        (
            "BenchmarkA 1 10 ns/op\nBenchmarkX 10\n",
            "no `value unit` pair",
        ),
        ("BenchmarkA 1 10 ns/op\nBenchmarkX 10 NaN ns/op\n", "finite"),
        ("BenchmarkA 1 10 ns/op\nUnit\n", "without a unit"),
        ("BenchmarkA 1 10 ns/op\nUnit B/op better\n", "key=value"),
    ] {
        let err = parse_err(text);
        assert!(err.contains("bad.txt:2"), "{err}");
        assert!(err.contains(what), "{err} should mention {what}");
    }
}

#[test]
fn empty_file_and_file_without_results_are_errors() {
    let err = parse_err("  \n\n");
    assert!(err.contains("bad.txt") && err.contains("empty"), "{err}");
    let err = parse_err("goos: linux\nPASS\nok  \tpkg\t0.1s\n");
    assert!(
        err.contains("bad.txt") && err.contains("no benchmark result"),
        "{err}"
    );
}

#[test]
fn a_panic_keeps_earlier_results_and_warns_with_its_line() {
    let p = parse(
        "BenchmarkA 1 10 ns/op\n\
         BenchmarkB \tpanic: boom\n\
         \n\
         goroutine 1 [running]:\n\
         main.f(...)\n\
         exit status 2\n\
         FAIL\tpkg\t1.0s\n",
    );
    assert_eq!(p.set.benchmarks.len(), 1);
    assert_eq!(p.warnings.len(), 1);
    let w = &p.warnings[0];
    assert!(
        w.contains("inline.txt:2") && w.contains("BenchmarkB") && w.contains("panic: boom"),
        "{w}"
    );
    let err = parse_err("panic: early\n");
    assert!(err.contains("crash at line 1"), "{err}");
}

fn read_fixture(name: &str) -> Parsed {
    read_go_file(&fixture(name), None).unwrap()
}

#[test]
fn real_memguard_and_protectedmemory_files() {
    for (file, threads) in [
        ("securememory-memguard-cpu1.txt", 1),
        ("securememory-memguard-cpu2.txt", 2),
        ("securememory-protectedmemory-cpu1.txt", 1),
        ("securememory-protectedmemory-cpu2.txt", 2),
    ] {
        let p = read_fixture(file);
        assert!(p.warnings.is_empty(), "{file}: {:?}", p.warnings);
        assert_eq!(p.set.benchmarks.len(), 5, "{file}");
        let pkg = if file.contains("memguard") {
            "github.com/godaddy/asherah/go/securememory/memguard"
        } else {
            "github.com/godaddy/asherah/go/securememory/protectedmemory"
        };
        for b in &p.set.benchmarks {
            assert_eq!(b.samples.len(), 5, "{file} {}", b.id);
            assert_eq!(b.threads, threads, "{file} {}", b.id);
            assert_eq!(b.mode, Mode::Undeclared);
            assert_eq!(b.labels["pkg"], pkg);
            assert!(b.counters.contains_key("B/op") && b.counters.contains_key("allocs/op"));
            assert_eq!(b.source.as_deref(), Some(file));
        }
        assert_eq!(p.set.environment.cpu_model.as_deref(), Some("AMD EPYC"));
        assert_eq!(p.set.environment.os.as_deref(), Some("linux"));
    }
    let p = read_fixture("securememory-memguard-cpu2.txt");
    let wb = bench(&p, "BenchmarkMemguardSecret_WithBytes");
    assert_eq!(wb.samples, vec![1109.0, 845.8, 758.0, 724.4, 724.1]);
    assert_eq!(wb.counters["B/op"], 96.0);
    assert_eq!(wb.counters["allocs/op"], 3.0);
}

#[test]
fn real_keycache_files_keep_results_before_the_panic() {
    for file in [
        "appencryption-keycache-cpu1.txt",
        "appencryption-keycache-cpu2.txt",
    ] {
        let text = std::fs::read_to_string(fixture(file)).unwrap();
        let panic_line = text
            .lines()
            .position(|l| l.contains("panic:"))
            .map(|i| i + 1)
            .unwrap();
        let p = read_fixture(file);
        assert_eq!(p.set.benchmarks.len(), 9, "{file}");
        assert!(
            p.set.benchmarks.iter().all(|b| b.samples.len() == 5),
            "{file}"
        );
        assert!(
            !p.set
                .benchmarks
                .iter()
                .any(|b| b.id.contains("ReadStaleRevokedKey")),
            "{file}: the crashed benchmark has no result"
        );
        assert_eq!(p.warnings.len(), 1, "{file}: {:?}", p.warnings);
        let w = &p.warnings[0];
        assert!(w.contains(&format!("{file}:{panic_line}")), "{w}");
        assert!(
            w.contains("ReadStaleRevokedKey") && w.contains("could not acquire lock"),
            "{w}"
        );
        assert!(
            p.set
                .benchmarks
                .iter()
                .all(|b| b.labels["pkg"] == "github.com/godaddy/asherah/go/appencryption")
        );
    }
    let p = read_fixture("appencryption-keycache-cpu1.txt");
    let read = bench(
        &p,
        "BenchmarkKeyCache_GetOrLoad_MultipleThreadsReadExistingKey",
    );
    assert_eq!(read.samples, vec![337.4, 329.9, 327.3, 443.7, 375.5]);
    assert_eq!((read.threads, read.mode), (1, Mode::Undeclared));
}

fn rust_bench(id: &str, threads: u32, mode: Mode, samples: Vec<f64>) -> Benchmark {
    Benchmark::new(id, Lang::Rust, mode, threads, samples)
}

#[test]
fn rust_sets_round_trip_through_the_go_format() {
    let mut par = rust_bench(
        "secret/with_bytes/parallel/t2",
        2,
        Mode::Parallel,
        vec![101.5, 99.25, 100.0, 1e-3],
    );
    par.counters.insert("mprotect_per_op".into(), 0.03);
    par.counters.insert("allocs_per_op".into(), 0.0);
    par.labels
        .insert(EXACT_LABEL.into(), "allocs_per_op".into());
    par.labels.insert("features".into(), "no-mlock".into());
    let seq = rust_bench(
        "floor/mprotect_pair/sequential",
        1,
        Mode::Sequential,
        vec![2100.0, 2101.0],
    );
    let one = rust_bench(
        "keycache/read existing%/parallel/t1",
        1,
        Mode::Parallel,
        vec![5.0],
    );
    let set = ResultSet {
        environment: Environment {
            os: Some("linux".into()),
            cpu_model: Some("AMD EPYC".into()),
            ..Environment::default()
        },
        benchmarks: vec![par.clone(), seq.clone(), one.clone()],
        provenance: None,
    };
    let text = write_go(&set).unwrap();
    assert!(text.contains("gate-lang: rust"), "{text}");
    assert!(
        text.contains("BenchmarkRust/secret/with_bytes/parallel/t2-2\t"),
        "{text}"
    );
    assert!(text.contains("Unit mprotect_per_op gate=counter"), "{text}");
    assert!(
        text.contains("Unit allocs_per_op assume=exact gate=counter\n"),
        "{text}"
    );

    let back = parse_go(&text, Path::new("rt.txt"), None).unwrap();
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    assert_eq!(back.set.benchmarks.len(), 3);
    for (orig, got) in set.benchmarks.iter().zip(&back.set.benchmarks) {
        assert_eq!(got.id, orig.id);
        assert_eq!(got.lang, Lang::Rust);
        assert_eq!(got.threads, orig.threads);
        assert_eq!(got.mode, orig.mode);
        assert_eq!(got.samples, orig.samples);
        assert_eq!(got.counters, orig.counters);
        assert!(got.metrics.is_empty(), "{:?}", got.metrics);
    }
    let got = &back.set.benchmarks[0];
    assert_eq!(got.labels[EXACT_LABEL], "allocs_per_op");
    assert_eq!(got.labels["features"], "no-mlock");
    assert!(
        !back.set.benchmarks[1].labels.contains_key("features"),
        "label removed again"
    );
    assert_eq!(back.set.environment.cpu_model.as_deref(), Some("AMD EPYC"));
}

#[test]
fn go_files_round_trip_through_the_writer() {
    for file in [
        "securememory-memguard-cpu2.txt",
        "appencryption-keycache-cpu1.txt",
    ] {
        let first = read_fixture(file);
        let text = write_go(&first.set).unwrap();
        let again = parse_go(&text, Path::new(file), None).unwrap();
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
        assert_eq!(again.set.benchmarks, first.set.benchmarks, "{file}");
        assert_eq!(again.set.environment, first.set.environment, "{file}");
    }
}

#[test]
fn writer_keeps_mode_overrides_sub_names_and_unit_metadata() {
    let mut p = parse(
        "Unit MB/s better=higher\nBenchmarkX/size=8 1 10 ns/op 5 MB/s\nBenchmarkX-8 1 3 ns/op\n",
    );
    p.set.benchmarks[0].mode = Mode::Parallel;
    // An id that ends like a suffix, at GOMAXPROCS=1 (only a hand-made set has it).
    p.set.benchmarks[1].id = "BenchmarkX-8".into();
    p.set.benchmarks[1].threads = 1;
    p.set.benchmarks[1].mode = Mode::Sequential;
    let text = write_go(&p.set).unwrap();
    assert!(text.contains("gate-mode: parallel"), "{text}");
    assert!(
        !text.contains("size: 8"),
        "sub-name parts are not config: {text}"
    );
    assert!(
        text.contains("BenchmarkX-8-1\t"),
        "suffix-like name gets -1: {text}"
    );
    let back = parse(&text);
    assert_eq!(back.set.benchmarks, p.set.benchmarks);
}

#[test]
fn writer_refuses_what_it_cannot_write() {
    let mut b = rust_bench("x", 1, Mode::Sequential, vec![1.0]);
    b.lang = Lang::Go;
    let set = ResultSet {
        benchmarks: vec![b],
        ..ResultSet::default()
    };
    let err = format!("{:#}", write_go(&set).unwrap_err());
    assert!(err.contains("`x`"), "{err}");
}
