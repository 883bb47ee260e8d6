//! The comment template rendered from fixture reports, compared with
//! reviewed Markdown snapshots (`tests/snapshots/`), and template overrides.

use std::path::Path;

use gate_core::report::markdown::render_markdown;
use gate_core::verdict::Report;

fn report(name: &str) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/github")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn regression_report_renders_to_the_reviewed_markdown() {
    let md = render_markdown(&report("report-regression.json"), None).unwrap();
    insta::assert_snapshot!("comment_regression", md);
}

#[test]
fn pass_report_renders_to_the_reviewed_markdown() {
    let md = render_markdown(&report("report-pass.json"), None).unwrap();
    insta::assert_snapshot!("comment_pass", md);
}

#[test]
fn compare_report_renders_to_the_reviewed_markdown() {
    let md = render_markdown(&report("report-compare.json"), None).unwrap();
    insta::assert_snapshot!("comment_compare", md);
}

#[test]
fn verdict_comes_first_then_table_chart_environment_method() {
    let md = render_markdown(&report("report-regression.json"), None).unwrap();
    let at = |needle: &str| {
        md.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing from:\n{md}"))
    };
    assert!(at("**Regression**") < at("| Benchmark |"));
    assert!(at("| Benchmark |") < at("```mermaid"));
    assert!(at("```mermaid") < at("<details><summary>Environment: This run"));
    assert!(at("<details><summary>Environment: Go baseline") < at("Mann-Whitney U"));
    assert!(md.contains("Quick mode"), "notes are shown");
}

#[test]
fn a_template_from_the_config_overrides_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.md.j2");
    std::fs::write(
        &path,
        "Verdict {{ verdict }}{% for b in benches %} [{{ b.id }} {{ b.ratio }}]{% endfor %} n={{ report.rows | length }}\n",
    )
    .unwrap();
    let md = render_markdown(&report("report-pass.json"), Some(&path)).unwrap();
    assert_eq!(
        md,
        "Verdict pass [`secret/with_bytes/parallel/t2` —] [`keycache/read_existing_key/sequential` —] n=2\n"
    );
}

#[test]
fn a_broken_template_names_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.md.j2");
    std::fs::write(&path, "{{ verdcit }}\n").unwrap();
    let err = render_markdown(&report("report-pass.json"), Some(&path))
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken.md.j2"), "{err}");
    assert!(err.contains("undefined"), "{err}");
    let missing = render_markdown(
        &report("report-pass.json"),
        Some(&dir.path().join("nope.j2")),
    )
    .unwrap_err()
    .to_string();
    assert!(missing.contains("nope.j2"), "{missing}");
}
