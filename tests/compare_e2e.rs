//! `gate compare OLD NEW` on the real Go outputs in
//! `tests/data/formats/go-bench/`, through the real binary: exit codes, the
//! rows of the JSON report (checked against the contract) and the table.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const MEMGUARD_CPU1: &str = "formats/go-bench/securememory-memguard-cpu1.txt";
const MEMGUARD_CPU2: &str = "formats/go-bench/securememory-memguard-cpu2.txt";
const PROTECTED_CPU1: &str = "formats/go-bench/securememory-protectedmemory-cpu1.txt";
const KEYCACHE_CPU1: &str = "formats/go-bench/appencryption-keycache-cpu1.txt";

const MEMGUARD_NAMES: [&str; 5] = [
    "BenchmarkMemguardSecret_WithBytes",
    "BenchmarkMemguardSecret_WithBytesFunc",
    "BenchmarkMemguardReader_ReadAll",
    "BenchmarkMemguardReader_ReadFull",
    "BenchmarkMemguardReader_Read",
];

/// A copy of Go benchmark text with every `ns/op` value multiplied by
/// `factor` (see [`with_unit`]).
fn scaled(text: &str, factor: f64) -> String {
    with_unit(text, "ns/op", |v| v * factor)
}

struct Compared {
    ran: Ran,
    report: Value,
}

fn compare(old: &Path, new: &Path) -> Compared {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let ran = run(gate()
        .arg("compare")
        .arg(old)
        .arg(new)
        .arg("--json")
        .arg(&json));
    let report = read_json(&json);
    contract::report(&report);
    Compared { ran, report }
}

fn the_rows(report: &Value) -> &Vec<Value> {
    report["rows"].as_array().unwrap()
}

/// The time (ns/op) rows: the rows without a `unit`.
fn time_rows(report: &Value) -> Vec<&Value> {
    the_rows(report)
        .iter()
        .filter(|r| r.get("unit").is_none())
        .collect()
}

/// The rows in a unit other than ns/op.
fn unit_rows(report: &Value) -> Vec<&Value> {
    the_rows(report)
        .iter()
        .filter(|r| r.get("unit").is_some())
        .collect()
}

/// Asserts that every row of `rows` has `verdict`; prints `report` if not.
fn assert_all<'a>(rows: impl IntoIterator<Item = &'a Value>, verdict: &str, report: &Value) {
    let all = rows.into_iter().all(|row| row["verdict"] == verdict);
    assert!(all, "not every row is {verdict}:\n{report:#}");
}

/// The one time row of `id`.
fn time_row<'a>(report: &'a Value, id: &str) -> &'a Value {
    let found: Vec<&Value> = time_rows(report)
        .into_iter()
        .filter(|r| r["id"] == id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one time row `{id}` in\n{report:#}"
    );
    found[0]
}

/// The row of `id` in `unit`.
fn unit_row<'a>(report: &'a Value, id: &str, unit: &str) -> &'a Value {
    the_rows(report)
        .iter()
        .find(|r| r["id"] == id && r["unit"] == unit)
        .unwrap_or_else(|| panic!("no `{unit}` row `{id}` in\n{report:#}"))
}

fn temp_copy(dir: &Path, name: &str, text: &str) -> PathBuf {
    write(dir, name, text)
}

#[test]
fn a_file_against_itself_is_unchanged() {
    let f = data(MEMGUARD_CPU1);
    let c = compare(&f, &f);
    c.ran.expect_code(0);
    assert!(
        c.ran.stdout.contains("gate: PASS"),
        "the table says so: {}",
        c.ran.all()
    );
    let r = &c.report;
    assert_eq!(r["verdict"], "pass");
    assert_eq!(time_rows(r).len(), 5, "{r:#}");
    assert_eq!(the_rows(r).len(), 15, "B/op and allocs/op rows too: {r:#}");
    for name in MEMGUARD_NAMES {
        let row = time_row(r, name);
        assert_eq!(row["verdict"], "unchanged", "{row:#}");
        assert_eq!(row["mode"], "undeclared", "Go output declares no mode");
        assert_eq!(row["threads"], 1);
        assert_eq!(row["ratio"], 1.0);
        assert_eq!(row["old"]["n"], 5, "-count 5");
        assert_eq!(row["old"], row["new"]);
        let [lo, hi] = [
            row["ratio_ci"][0].as_f64().unwrap(),
            row["ratio_ci"][1].as_f64().unwrap(),
        ];
        assert!(lo <= 1.0 && 1.0 <= hi, "{row:#}");
        assert!(row["p_value"].as_f64().unwrap() > 0.05, "{row:#}");
        assert!(
            c.ran.stdout.contains(name),
            "the table names {name}: {}",
            c.ran.stdout
        );
    }
    // The Go extra units are carried as counters of each side.
    let wb = time_row(r, "BenchmarkMemguardSecret_WithBytes");
    assert_eq!(wb["new"]["median_ns"], 3239.0, "{wb:#}");
    assert_eq!(wb["new"]["counters"]["allocs/op"], 3.0, "{wb:#}");
    assert_eq!(wb["new"]["counters"]["B/op"], 96.0, "{wb:#}");
}

#[test]
fn a_file_against_a_copy_twice_as_slow_regresses() {
    let dir = tempfile::tempdir().unwrap();
    let old = data(MEMGUARD_CPU1);
    let text = std::fs::read_to_string(&old).unwrap();
    let doubled = temp_copy(dir.path(), "doubled.txt", &scaled(&text, 2.0));
    let c = compare(&old, &doubled);
    c.ran.expect_code(1);
    assert!(c.ran.stdout.contains("REGRESSED"), "{}", c.ran.all());
    let r = &c.report;
    assert_eq!(r["verdict"], "regression");
    for name in MEMGUARD_NAMES {
        let row = time_row(r, name);
        assert_eq!(row["verdict"], "regressed", "{row:#}");
        assert!(
            (row["ratio"].as_f64().unwrap() - 2.0).abs() < 1e-12,
            "{row:#}"
        );
        assert!(row["ratio_ci"][0].as_f64().unwrap() > 1.05, "{row:#}");
        // 5 against 5, all apart: the exact test's extreme, times 5 (Holm).
        let p = row["p_value"].as_f64().unwrap();
        assert!(p < 0.05, "{row:#}");
        assert!((p - 5.0 * 2.0 / 252.0).abs() < 1e-9, "{row:#}");
    }

    // The reverse is an improvement, and passes.
    let c = compare(&doubled, &old);
    c.ran.expect_code(0);
    assert_all(time_rows(&c.report), "improved", &c.report);

    // Every value 3% slower: inside the 5% tolerance, not a regression.
    let slower = temp_copy(dir.path(), "slower.txt", &scaled(&text, 1.03));
    let c = compare(&old, &slower);
    c.ran.expect_code(0);
    assert_all(the_rows(&c.report), "unchanged", &c.report);
}

/// Two implementations measured the same way (GOMAXPROCS 1): the stored
/// figures are within noise of each other, so the gate calls it unchanged.
#[test]
fn memguard_against_protectedmemory_renamed_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data(PROTECTED_CPU1))
        .unwrap()
        .replace("BenchmarkProtectedMemory", "BenchmarkMemguard");
    let renamed = temp_copy(dir.path(), "protectedmemory.txt", &text);
    let c = compare(&data(MEMGUARD_CPU1), &renamed);
    c.ran.expect_code(0);
    let rows = time_rows(&c.report);
    assert_eq!(rows.len(), 5);
    for row in rows {
        assert_eq!(row["verdict"], "unchanged", "{row:#}");
        // Another package under the same names: paired, and said so.
        assert!(
            row["warnings"]
                .to_string()
                .contains("configuration differs: pkg: old"),
            "{row:#}"
        );
        let ratio = row["ratio"].as_f64().unwrap();
        assert!((0.9..1.1).contains(&ratio), "{row:#}");
        assert!(!row["old"].is_null() && !row["new"].is_null());
    }
}

/// `-N` is GOMAXPROCS: the cpu1 and cpu2 runs hold the same names at other
/// thread counts, which are never compared with each other.
#[test]
fn other_gomaxprocs_are_not_compared() {
    let c = compare(&data(MEMGUARD_CPU1), &data(MEMGUARD_CPU2));
    c.ran.expect_code(0);
    let rows = the_rows(&c.report);
    assert_eq!(rows.len(), 10, "{:#}", c.report);
    for name in MEMGUARD_NAMES {
        let fresh = rows
            .iter()
            .find(|r| r["id"] == name && r["verdict"] == "new")
            .unwrap_or_else(|| panic!("no new row {name}"));
        assert_eq!(fresh["threads"], 2);
        assert_eq!(fresh["mode"], "undeclared", "-2 is GOMAXPROCS, not a mode");
        assert!(fresh["old"].is_null() && fresh["ratio"].is_null());
        let gone = rows
            .iter()
            .find(|r| r["id"] == name && r["verdict"] == "missing")
            .unwrap_or_else(|| panic!("no missing row {name}"));
        assert_eq!(gone["threads"], 1);
        assert!(gone["new"].is_null() && gone["ratio"].is_null());
    }
}

/// Nine benchmarks of five samples each: even every value doubled cannot
/// be significant once Holm corrects for nine tests (best case 9 x 0.0079),
/// so the rows are `insufficient` with the advice, never a quiet
/// `unchanged`. Unit rows whose values vary between runs are tested too and
/// join the family; those the same on every run are compared exactly and do
/// not. The crash in the file (line 50) is reported, not fatal.
#[test]
fn a_family_too_large_for_five_samples_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let old = data(KEYCACHE_CPU1);
    let text = std::fs::read_to_string(&old).unwrap();
    let doubled = temp_copy(dir.path(), "keycache-doubled.txt", &scaled(&text, 2.0));
    let c = compare(&old, &doubled);
    c.ran.expect_code(0).stderr_has(&[
        "appencryption-keycache-cpu1.txt:50: the Go run crashed while running \
         BenchmarkKeyCache_GetOrLoadLatest_MultipleThreadsReadStaleRevokedKey",
    ]);
    let tested = the_rows(&c.report)
        .iter()
        .filter(|r| !r["p_value"].is_null())
        .count();
    assert!(tested >= 9, "{:#}", c.report);
    let rows = time_rows(&c.report);
    assert_eq!(rows.len(), 9, "{:#}", c.report);
    for row in rows {
        assert_eq!(row["verdict"], "insufficient", "{row:#}");
        assert!((row["ratio"].as_f64().unwrap() - 2.0).abs() < 1e-12);
        let warned = row["warnings"].as_array().unwrap().iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains(&format!("{tested} benchmarks compared at once")) && w.contains("-count 6")
        });
        assert!(warned, "{row:#}");
    }
}

#[test]
fn a_saved_report_compares_and_renders_again() {
    let dir = tempfile::tempdir().unwrap();
    let old = data(MEMGUARD_CPU1);
    let text = std::fs::read_to_string(&old).unwrap();
    let doubled = temp_copy(dir.path(), "doubled.txt", &scaled(&text, 2.0));
    let json = dir.path().join("report.json");
    run(gate()
        .arg("compare")
        .arg(&old)
        .arg(&doubled)
        .arg("--json")
        .arg(&json))
    .expect_code(1);
    // The report keeps every sample: comparing it with the doubled file is
    // a comparison of equal figures.
    let again = compare(&json, &doubled);
    again.ran.expect_code(0);
    assert!(
        the_rows(&again.report)
            .iter()
            .all(|row| row["verdict"] == "unchanged" && row["ratio"] == 1.0),
        "{:#}",
        again.report
    );
    // `gate report --format json` gives back the same contract.
    let ran = run(gate().args(["report", "--format", "json"]).arg(&json));
    ran.expect_code(0);
    let rendered: Value = serde_json::from_str(&ran.stdout).unwrap();
    contract::report(&rendered);
    assert_eq!(rendered, read_json(&json));
}

/// benchstat's own test data (golang.org/x/perf, `tests/data/benchstat/`).
const BENCHSTAT_OLD: &str = "benchstat/old.txt";
const BENCHSTAT_NEW: &str = "benchstat/new.txt";
const CRC_OLD: &str = "benchstat/crc-old.txt";
const CRC_NEW: &str = "benchstat/crc-new.txt";

/// A copy of Go benchmark text with every value of `unit` passed through
/// `f`. Result lines that carry `unit` are rebuilt with tabs (their other
/// values kept as written); every other line is kept, including a
/// `Benchmark...` line that starts a crash.
fn with_unit(text: &str, unit: &str, f: impl Fn(f64) -> f64) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match with_unit_on_line(line, unit, &f) {
            Some(rebuilt) => out.push_str(&rebuilt),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// `line` with its value of `unit` passed through `f`, or `None` unless it
/// is a result line (`BenchmarkName iterations` then value-unit pairs) with
/// a value in `unit`.
fn with_unit_on_line(line: &str, unit: &str, f: &impl Fn(f64) -> f64) -> Option<String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if !line.starts_with("Benchmark") || fields.len() < 4 || !fields.len().is_multiple_of(2) {
        return None;
    }
    fields[1].parse::<u64>().ok()?;
    let pairs: Vec<(&str, &str)> = fields[2..].chunks(2).map(|p| (p[0], p[1])).collect();
    let at = pairs.iter().position(|&(_, u)| u == unit)?;
    let value: f64 = pairs[at].0.parse().ok()?;
    let mut rebuilt = vec![fields[0].to_string(), fields[1].to_string()];
    for (i, (v, u)) in pairs.into_iter().enumerate() {
        rebuilt.push(if i == at {
            format!("{} {u}", f(value))
        } else {
            format!("{v} {u}")
        });
    }
    Some(rebuilt.join("\t"))
}

fn change(row: &Value) -> f64 {
    (row["ratio"].as_f64().unwrap() - 1.0) * 100.0
}

/// `benchstat old.txt new.txt` (its documentation's example):
/// Encode/format=json-48 1.718µ -> 1.423µ, -17.20% (p=0.000 n=10);
/// Encode/format=gob-48 3.066µ -> 3.070µ, ~ (p=0.446 n=10). The gate's
/// medians and changes agree to the digit; `-48` is GOMAXPROCS 48, not a
/// parallel mode.
#[test]
fn benchstat_s_example_agrees_with_benchstat() {
    let c = compare(&data(BENCHSTAT_OLD), &data(BENCHSTAT_NEW));
    c.ran.expect_code(0);
    let r = &c.report;
    assert_eq!(the_rows(r).len(), 2, "ns/op only: {r:#}");
    let json = time_row(r, "BenchmarkEncode/format=json");
    assert_eq!(
        (
            json["old"]["median_ns"].as_f64(),
            json["new"]["median_ns"].as_f64()
        ),
        (Some(1718.0), Some(1422.5))
    );
    assert_eq!(format!("{:+.2}%", change(json)), "-17.20%");
    assert_eq!(json["verdict"], "improved", "{json:#}");
    let gob = time_row(r, "BenchmarkEncode/format=gob");
    assert_eq!(
        (
            gob["old"]["median_ns"].as_f64(),
            gob["new"]["median_ns"].as_f64()
        ),
        (Some(3065.5), Some(3070.0))
    );
    assert_eq!(gob["verdict"], "unchanged", "{gob:#}");
    for row in [json, gob] {
        assert_eq!(
            (row["threads"].as_u64(), row["mode"].as_str()),
            (Some(48), Some("undeclared"))
        );
        assert_eq!(row["old"]["n"], 10);
    }
    assert!(c.ran.stdout.contains("(GOMAXPROCS 48)"), "{}", c.ran.stdout);
    assert!(!c.ran.stdout.contains("parallel"), "{}", c.ran.stdout);
}

/// crc-old.txt and crc-new.txt differ in their `note:` line (hardware
/// acceleration disabled / enabled), which makes benchstat put them in
/// separate tables. The gate compares them (as `benchstat -ignore note`
/// does, crcIgnore.stdout) and says, in each row and once in the notes,
/// that `note` differs, with both values. `-8` is GOMAXPROCS 8 and no
/// mode; `MB/s` rows exist, higher is better.
#[test]
fn a_differing_note_is_named_and_crc_agrees_with_benchstat_ignore_note() {
    let c = compare(&data(CRC_OLD), &data(CRC_NEW));
    let r = &c.report;
    let both = r#"note: old \"hw acceleration disabled\" vs new \"hw acceleration enabled\""#;
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("configuration `note` differs") && notes.contains("(36 benchmark(s))"),
        "{notes}"
    );
    assert!(
        c.ran.stdout.contains("configuration `note` differs"),
        "{}",
        c.ran.all()
    );
    assert_eq!(time_rows(r).len(), 36);
    assert_eq!(the_rows(r).len(), 72, "ns/op and MB/s per benchmark");
    for row in the_rows(r) {
        assert!(row["warnings"].to_string().contains(both), "{row:#}");
        assert_eq!(
            (row["threads"].as_u64(), row["mode"].as_str()),
            (Some(8), Some("undeclared"))
        );
    }
    assert!(c.ran.stdout.contains("(GOMAXPROCS 8)"), "{}", c.ran.stdout);
    assert!(!c.ran.stdout.contains("parallel"), "{}", c.ran.stdout);

    // crcIgnore.stdout: sec/op and B/s medians and changes.
    for (id, old_ns, new_ns, time, rate) in [
        (
            "BenchmarkCRC32/poly=IEEE/size=15/align=0",
            46.55,
            44.40,
            "-4.62%",
            "+4.84%",
        ),
        (
            "BenchmarkCRC32/poly=IEEE/size=512/align=0",
            237.5,
            56.75,
            "-76.11%",
            "+319.83%",
        ),
        (
            "BenchmarkCRC32/poly=Koopman/size=1kB/align=1",
            2154.5,
            2361.0,
            "+9.58%",
            "-8.76%",
        ),
    ] {
        let t = time_row(r, id);
        assert_eq!(
            (
                t["old"]["median_ns"].as_f64(),
                t["new"]["median_ns"].as_f64()
            ),
            (Some(old_ns), Some(new_ns)),
            "{t:#}"
        );
        assert_eq!(format!("{:+.2}%", change(t)), time, "{t:#}");
        let m = unit_row(r, id, "MB/s");
        assert_eq!(m["better"], "higher");
        assert_eq!(format!("{:+.2}%", change(m)), rate, "{m:#}");
    }
}

/// B/op and allocs/op have rows of their own, which regress when they grow
/// (the same on every run of each side: compared exactly) while the time
/// rows are unchanged; shrinking improves them.
#[test]
fn b_per_op_and_allocs_per_op_rows_regress_when_they_grow() {
    let dir = tempfile::tempdir().unwrap();
    let old = data(MEMGUARD_CPU1);
    let text = std::fs::read_to_string(&old).unwrap();
    let more = with_unit(&with_unit(&text, "B/op", |v| v + 16.0), "allocs/op", |v| {
        v + 1.0
    });
    let more = temp_copy(dir.path(), "more-allocs.txt", &more);
    let c = compare(&old, &more);
    c.ran.expect_code(1);
    let r = &c.report;
    for name in MEMGUARD_NAMES {
        assert_eq!(time_row(r, name)["verdict"], "unchanged");
        for unit in ["B/op", "allocs/op"] {
            let row = unit_row(r, name, unit);
            assert_eq!(
                (row["verdict"].as_str(), row["better"].as_str()),
                (Some("regressed"), Some("lower")),
                "{row:#}"
            );
        }
    }
    let wb = unit_row(r, "BenchmarkMemguardSecret_WithBytes", "B/op");
    assert_eq!(
        (
            wb["old"]["median_ns"].as_f64(),
            wb["new"]["median_ns"].as_f64()
        ),
        (Some(96.0), Some(112.0))
    );
    assert!(
        c.ran.stdout.contains("B/op, lower is better"),
        "{}",
        c.ran.stdout
    );
    assert!(c.ran.stdout.contains("96 B/op n=5"), "{}", c.ran.stdout);

    let c = compare(&more, &old);
    c.ran.expect_code(0);
    assert_all(unit_rows(&c.report), "improved", &c.report);
}

/// A throughput row regresses when it shrinks and improves when it grows.
#[test]
fn a_throughput_row_regresses_when_it_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let old = data(CRC_OLD);
    let text = std::fs::read_to_string(&old).unwrap();
    let halved = temp_copy(
        dir.path(),
        "halved.txt",
        &with_unit(&text, "MB/s", |v| v / 2.0),
    );
    let c = compare(&old, &halved);
    c.ran.expect_code(1);
    for row in the_rows(&c.report) {
        let want = if row["unit"] == "MB/s" {
            "regressed"
        } else {
            "unchanged"
        };
        assert_eq!(row["verdict"], want, "{row:#}");
    }
    let c = compare(&halved, &old);
    c.ran.expect_code(0);
    let throughput = unit_rows(&c.report)
        .into_iter()
        .filter(|row| row["unit"] == "MB/s");
    assert_all(throughput, "improved", &c.report);
}

/// `--mode` declares the mode of the Go benchmarks: the rows then say it.
#[test]
fn mode_comes_from_the_mode_flag() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let ran = run(gate()
        .args(["compare", "--mode", "parallel", "--json"])
        .arg(&json)
        .arg(data(BENCHSTAT_OLD))
        .arg(data(BENCHSTAT_NEW)));
    ran.expect_code(0);
    let r = read_json(&json);
    contract::report(&r);
    for row in the_rows(&r) {
        assert_eq!(
            (row["threads"].as_u64(), row["mode"].as_str()),
            (Some(48), Some("parallel"))
        );
    }
    assert!(
        ran.stdout.contains("(parallel, GOMAXPROCS 48)"),
        "{}",
        ran.stdout
    );
    run(gate()
        .args(["compare", "--mode", "fast"])
        .arg(data(BENCHSTAT_OLD))
        .arg(data(BENCHSTAT_NEW)))
    .expect_code(2);
}
