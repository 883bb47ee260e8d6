//! The comment template rendered from fixture reports, compared with
//! reviewed Markdown snapshots (`tests/snapshots/`), template overrides, and
//! the size of the comment of a passing check of this repository's suite.

use std::collections::BTreeMap;
use std::path::Path;

use gate_core::model::{Build, Environment, Mode};
use gate_core::report::context::CommentContext;
use gate_core::report::markdown::render_markdown;
use gate_core::verdict::{Report, Row, RowKind, RowVerdict, Side, Verdict, WarningKind};

fn report(name: &str) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/github")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The markdown of the report `name` with the built-in template, outside a run.
fn render(name: &str) -> String {
    render_markdown(&report(name), None, &CommentContext::default()).unwrap()
}

/// The markdown of the report `name` with the template at `template`, outside a run.
fn render_with(name: &str, template: &Path) -> anyhow::Result<String> {
    render_markdown(&report(name), Some(template), &CommentContext::default())
}

#[test]
fn regression_report_renders_to_the_reviewed_markdown() {
    let md = render("report-regression.json");
    insta::assert_snapshot!("comment_regression", md);
}

#[test]
fn pass_report_renders_to_the_reviewed_markdown() {
    let md = render("report-pass.json");
    insta::assert_snapshot!("comment_pass", md);
}

#[test]
fn compare_report_renders_to_the_reviewed_markdown() {
    let md = render("report-compare.json");
    insta::assert_snapshot!("comment_compare", md);
}

#[test]
fn verdict_comes_first_then_table_chart_environment_method() {
    let md = render("report-regression.json");
    let at = |needle: &str| {
        md.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing from:\n{md}"))
    };
    assert!(at("**Regression**") < at("| Benchmark |"));
    assert!(at("| Benchmark |") < at("<details><summary>3 more rows"));
    assert!(at("<details><summary>3 more rows") < at("**Warnings**"));
    assert!(at("**Warnings**") < at("<details><summary>Environments and method"));
    assert!(at("**Go baseline**") < at("Mann-Whitney U"));
    assert!(
        !md.contains("```mermaid"),
        "no chart: the table says it all"
    );
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
    let md = render_with("report-pass.json", &path).unwrap();
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
    let err = render_with("report-pass.json", &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken.md.j2"), "{err}");
    assert!(err.contains("undefined"), "{err}");
    let missing = render_with("report-pass.json", &dir.path().join("nope.j2"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope.j2"), "{missing}");
}

/// The context of a comment posted from a workflow run.
fn in_a_run() -> CommentContext {
    CommentContext {
        run_url: Some("https://github.com/OWNER/gate/actions/runs/1234567890".into()),
        ..CommentContext::default()
    }
}

/// The lines of `md` a reader sees before unfolding anything: every line
/// outside `<details>` blocks, and each block's summary line.
fn unfolded_lines(md: &str) -> usize {
    let mut depth = 0usize;
    let mut lines = 0;
    for line in md.lines() {
        let opens = line.matches("<details>").count();
        if depth == 0 && (opens == 0 || line.contains("<summary>")) {
            lines += 1;
        }
        depth += opens;
        depth = depth.saturating_sub(line.matches("</details>").count());
    }
    lines
}

/// The comment of a passing check of this repository's suite
/// (`report-check.json`: `gate check` on main, 28 benches and their 24
/// Rust/Go pairs, 61 warnings, samples left out) fits in 8 KB, and its
/// unfolded part on one screen.
#[test]
fn a_passing_check_fits_under_8_kb_and_one_screen() {
    let md = render_markdown(&report("report-check.json"), None, &in_a_run()).unwrap();
    let (bytes, lines) = (md.len(), unfolded_lines(&md));
    eprintln!("comment of a passing check: {bytes} bytes, {lines} unfolded lines\n{md}");
    assert!(bytes < 8 * 1024, "{bytes} bytes:\n{md}");
    assert!(lines <= 40, "{lines} unfolded lines:\n{md}");
    assert!(md.contains("head `9c64afd7fa`"), "{md}");
    assert!(md.contains("(written at `5ac2abd7e7`)"), "{md}");
    assert!(md.contains("[workflow run](https://github.com/OWNER/gate/actions/runs/1234567890)"));
}

/// The ids of this repository's 28 benches.
fn suite_ids() -> Vec<String> {
    report("report-check.json")
        .rows
        .iter()
        .filter(|r| r.kind == RowKind::RustVsRust)
        .map(|r| r.id.clone())
        .collect()
}

fn side(median_ns: f64) -> Side {
    Side {
        median_ns,
        n: 240,
        counters: BTreeMap::new(),
        samples: Vec::new(),
        exact_counters: Vec::new(),
        median_ci: Some([median_ns * 0.995, median_ns * 1.005]),
    }
}

/// A row of a lockstep (`--base`) check as the check writes it: its paired
/// warning, what it could detect.
fn paired_row(id: &str, i: usize, ratio: f64, ci: [f64; 2], verdict: RowVerdict) -> Row {
    let base = 100.0 + 37.0 * i as f64;
    let mut row = Row {
        old: Some(side(base)),
        new: Some(side(base * ratio)),
        ratio: Some(ratio),
        ratio_ci: Some(ci),
        p_value: Some(if verdict == RowVerdict::Unchanged {
            0.4
        } else {
            0.001
        }),
        min_detectable: Some(0.021 + 0.001 * (i % 7) as f64),
        ..Row::new(
            id,
            RowKind::RustVsRust,
            if id.contains("/parallel/") {
                Mode::Parallel
            } else {
                Mode::Sequential
            },
            if id.ends_with("/t2") { 2 } else { 1 },
            verdict,
        )
    };
    row.warn(
        WarningKind::Paired,
        format!(
            "paired: {} lockstep pair(s) x 30 samples, signed-rank test; spread between pairs {:.1}%",
            4 + 2 * (i % 3),
            0.3 + 0.1 * (i % 5) as f64
        ),
    );
    row
}

/// A lockstep check of 28 benches of which 2 changed: one regressed, one
/// improved.
fn lockstep_report() -> Report {
    let rows = suite_ids()
        .iter()
        .enumerate()
        .map(|(i, id)| match i {
            5 => paired_row(id, i, 1.082, [1.061, 1.104], RowVerdict::Regressed),
            17 => paired_row(id, i, 0.902, [0.884, 0.921], RowVerdict::Improved),
            _ => {
                let r = 1.0 + 0.002 * (i as f64 - 14.0) / 14.0;
                paired_row(id, i, r, [r - 0.012, r + 0.012], RowVerdict::Unchanged)
            }
        })
        .collect();
    let build = |commit: &str| Build {
        reference: None,
        commit: Some(commit.into()),
        dirty: false,
        executables: BTreeMap::new(),
    };
    Report {
        schema: 1,
        verdict: Verdict::Regression,
        environment: Environment {
            cpu_model: Some("AMD EPYC 7763 64-Core Processor".into()),
            cores: Some(2),
            ..Environment::default()
        },
        baseline_environments: BTreeMap::new(),
        rows,
        notes: vec![
            "base and head built from their commits and measured in lockstep on this runner".into(),
        ],
        builds: BTreeMap::from([
            (
                "base".to_string(),
                build("5ac2abd7e7401ad35e1e2044e18073d213792de9"),
            ),
            (
                "head".to_string(),
                build("9c64afd7fad6614a16717865eacb46bf57e607b0"),
            ),
        ]),
    }
}

/// The two changed rows come first, the 26 others are folded, and the
/// comment names both commits and links the run.
#[test]
fn a_lockstep_check_leads_with_its_two_changed_rows() {
    let md = render_markdown(&lockstep_report(), None, &in_a_run()).unwrap();
    insta::assert_snapshot!("comment_changed_first", md);
    let fold = md.find("<details>").unwrap();
    let before = &md[..fold];
    assert!(
        before.contains("**`keycache/read_existing_key/sequential`**")
            && before.contains("`secret/reader_read/sequential`"),
        "{before}"
    );
    assert!(
        before.contains(":x: regressed") && before.contains(":rocket: improved"),
        "{before}"
    );
    assert_eq!(
        before.matches("| `").count() + before.matches("| **`").count(),
        2,
        "{before}"
    );
    assert!(md.contains("<summary>26 unchanged rows</summary>"), "{md}");
    assert_eq!(suite_ids().len(), 28);
    assert!(md.contains("base `5ac2abd7e7` → head `9c64afd7fa`"), "{md}");
    assert!(md.contains("[workflow run](https://github.com/OWNER/gate/actions/runs/1234567890)"));
    assert!(md.len() < 8 * 1024 && unfolded_lines(&md) <= 40, "{md}");
}
