//! `gate merge`: the reports of two runners become one report and one comment.

use assert_cmd::Command;
use gate_core::compare::compare_sets;
use gate_core::model::{Benchmark, Environment, Lang, Mode, ResultSet};
use gate_core::verdict::Options;

fn set(os: &str, arch: &str, center: f64) -> ResultSet {
    let bench = |id: &str, c: f64| {
        let samples = (0..20)
            .map(|i| c * (1.0 + 0.002 * f64::from(i % 5)))
            .collect();
        Benchmark::new(id, Lang::Rust, Mode::Sequential, 1, samples)
    };
    ResultSet {
        environment: Environment {
            os: Some(os.into()),
            arch: Some(arch.into()),
            cpu_model: Some(format!("{arch} cpu")),
            ..Default::default()
        },
        benchmarks: vec![
            bench("secret/with_bytes/sequential", center),
            bench("keycache/read_existing_key/sequential", 40.0),
        ],
        provenance: Some(format!("{os} runner")),
    }
}

fn report_file(
    dir: &std::path::Path,
    name: &str,
    old: f64,
    new: f64,
    os: &str,
    arch: &str,
) -> std::path::PathBuf {
    let r = compare_sets(
        &set(os, arch, old),
        &set(os, arch, new),
        &Options::default(),
    );
    let p = dir.join(name);
    gate_core::report::write_json(&r, &p).unwrap();
    p
}

#[test]
fn two_runners_render_one_comment_with_both() {
    let dir = tempfile::tempdir().unwrap();
    let linux = report_file(dir.path(), "linux.json", 1000.0, 1000.0, "linux", "x86_64");
    let mac = report_file(dir.path(), "mac.json", 1000.0, 2000.0, "macos", "aarch64");
    let merged = dir.path().join("merged.json");
    let out = Command::cargo_bin("gate")
        .unwrap()
        .args(["merge", "--format", "markdown", "--json"])
        .arg(&merged)
        .arg(&linux)
        .arg(&mac)
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    // The macOS runner regressed: the merged verdict is a regression.
    assert_eq!(out.status.code(), Some(1), "{md}");
    assert_eq!(
        md.matches("## Performance gate").count(),
        1,
        "one comment:\n{md}"
    );
    for label in ["linux/x86_64", "macos/aarch64"] {
        assert!(md.contains(label), "{label} missing:\n{md}");
    }
    assert!(
        md.matches("secret/with_bytes/sequential").count() >= 2,
        "{md}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(json["verdict"], "regression");
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let regressed: Vec<_> = rows
        .iter()
        .filter(|r| r["verdict"] == "regressed")
        .map(|r| (r["id"].as_str().unwrap(), r["runner"].as_str().unwrap()))
        .collect();
    assert_eq!(
        regressed,
        vec![("secret/with_bytes/sequential", "macos/aarch64")]
    );
}

#[test]
fn a_report_that_is_not_json_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let out = Command::cargo_bin("gate")
        .unwrap()
        .arg("merge")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json"));
}
