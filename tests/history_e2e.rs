//! `gate history` end to end: 30 commits of a throw-away repository, each
//! with a report appended to a history folder (one bench slows by 10% at
//! commit 15, a floor bench stays flat), then `changes` and `html`. The
//! page is loaded in headless Chromium: every series has a chart and every
//! change point a marker, and a screenshot is kept as an artifact
//! (`<target>/gate/history-page.png`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use gate_core::history::evaluate::synthetic;
use gate_core::model::{Environment, Mode};
use gate_core::verdict::{Report, Row, RowKind, RowVerdict, Side, Verdict};

use common::{gate, git, git_output, run};

const COMMITS: usize = 30;
const STEP_AT: usize = 15;

fn row(id: &str, median: f64) -> Row {
    Row {
        new: Some(Side {
            median_ns: median,
            n: 20,
            counters: BTreeMap::new(),
            samples: Vec::new(),
            exact_counters: Vec::new(),
            median_ci: Some([median * 0.99, median * 1.01]),
        }),
        ..Row::new(
            id,
            RowKind::RustVsRust,
            Mode::Sequential,
            1,
            RowVerdict::New,
        )
    }
}

/// A repository of 30 commits with a history folder of 30 appended
/// reports; returns (repo, history, commits oldest first).
fn build_history(tmp: &Path) -> (PathBuf, PathBuf, Vec<String>) {
    let repo = tmp.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "--quiet"]);
    std::fs::copy(common::repo().join("gate.yaml"), repo.join("gate.yaml")).unwrap();
    let slow = synthetic(COMMITS, STEP_AT, 0.10, 0.01, 7);
    let flat = synthetic(COMMITS, COMMITS, 0.0, 0.01, 8);
    let floor = synthetic(COMMITS, COMMITS, 0.0, 0.01, 9);
    let history = tmp.join("history");
    let mut commits = Vec::new();
    for i in 0..COMMITS {
        let message = format!("change {i}");
        git(
            &repo,
            &["commit", "--quiet", "--allow-empty", "-m", &message],
        );
        let commit = git_output(&repo, &["rev-parse", "HEAD"]);
        let report = Report {
            schema: 1,
            verdict: Verdict::Pass,
            environment: Environment::default(),
            baseline_environments: BTreeMap::new(),
            rows: vec![
                row("keycache/load/sequential", slow[i]),
                row("secret/new/sequential", flat[i]),
                row("floor/syscall/sequential", floor[i]),
            ],
            notes: Vec::new(),
            builds: BTreeMap::new(),
        };
        let path = tmp.join("report.json");
        std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
        gate()
            .current_dir(&repo)
            .args(["history", "append", "--history"])
            .arg(&history)
            .arg("--report")
            .arg(&path)
            .assert()
            .success();
        commits.push(commit);
    }
    (repo, history, commits)
}

#[test]
fn append_changes_html_and_the_page_in_a_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, history, commits) = build_history(tmp.path());
    assert_eq!(std::fs::read_dir(&history).unwrap().count(), COMMITS);

    let json = tmp.path().join("changes.json");
    let ran = run(gate()
        .current_dir(&repo)
        .args(["history", "changes", "--history"])
        .arg(&history)
        .arg("--json")
        .arg(&json));
    ran.expect_code(0);
    let text = &ran.stdout;
    let changes: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let step: Vec<_> = changes
        .iter()
        .filter(|c| c["series"] == "keycache/load/sequential")
        .collect();
    assert_eq!(step.len(), 1, "{text}");
    assert_eq!(step[0]["after"], commits[STEP_AT].as_str(), "{text}");
    assert_eq!(step[0]["before"], commits[STEP_AT - 1].as_str(), "{text}");
    let ci = step[0]["ratio_ci"].as_array().unwrap();
    assert!(
        ci[0].as_f64().unwrap() > 1.05 && ci[1].as_f64().unwrap() < 1.15,
        "{text}"
    );
    assert!(
        text.contains("change 15"),
        "the subject names the commit: {text}"
    );

    let out_dir = tmp.path().join("page");
    gate()
        .current_dir(&repo)
        .args(["history", "html"])
        .arg(&out_dir)
        .arg("--history")
        .arg(&history)
        .assert()
        .success();
    let page = out_dir.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("<script"),
        "the page is self-contained"
    );
    in_browser(&page, &changes);
}

/// Loads the page in headless Chromium, checks the DOM and keeps a screenshot.
fn in_browser(page: &Path, changes: &[serde_json::Value]) {
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        eprintln!(
            "SKIPPED the browser part: no `chromium` on PATH (apt-get install -y chromium; .ci/run installs it)"
        );
        return;
    };
    let url = format!("file://{}", page.display());
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ];
    let dom = Command::new(chromium)
        .args(flags)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    for id in [
        "keycache/load/sequential",
        "secret/new/sequential",
        "floor/syscall/sequential",
    ] {
        let at = dom
            .find(&format!("data-series=\"{id}\" data-kind"))
            .unwrap_or_else(|| panic!("no chart figure for {id}"));
        let figure = &dom[at..at + dom[at..].find("</figure>").unwrap()];
        assert!(figure.contains("<svg"), "the figure of {id} has no chart");
        assert!(
            figure.matches("class=\"point\"").count() == COMMITS,
            "{id}: a point per run"
        );
    }
    assert!(
        dom.contains("data-kind=\"floor\""),
        "the floor is the machine's own chart"
    );
    assert!(
        dom.contains("class=\"machine\""),
        "bench charts carry the machine's line"
    );
    for c in changes {
        let marker = format!(
            "class=\"change\" data-commit=\"{}\" data-series=\"{}\"",
            c["after"].as_str().unwrap(),
            c["series"].as_str().unwrap()
        );
        assert!(dom.contains(&marker), "no marker for {c}");
    }
    assert_eq!(dom.matches("class=\"change\"").count(), changes.len());
    let shot = common::target_dir().join("gate").join("history-page.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let st = Command::new(chromium)
        .args(flags)
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=900,1400")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        st.status.success() && shot.exists(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    eprintln!("screenshot kept at {}", shot.display());
}

/// A pull request's report rendered with the history folder: its changed
/// row carries the base branch's trend as a sparkline, and the comment names
/// the change point of the history (the 10% step at commit 15) and links
/// the history page. Without the history, neither.
#[test]
fn the_comment_shows_the_trend_and_names_the_change_point() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, history, commits) = build_history(tmp.path());
    let mut slower = row("keycache/load/sequential", 115.0);
    slower.old = row("keycache/load/sequential", 106.0).new;
    (slower.ratio, slower.ratio_ci) = (Some(1.085), Some([1.06, 1.11]));
    slower.verdict = RowVerdict::Regressed;
    let mut same = row("secret/new/sequential", 100.0);
    same.old = same.new.clone();
    (same.ratio, same.ratio_ci) = (Some(1.0), Some([0.99, 1.01]));
    same.verdict = RowVerdict::Unchanged;
    let build = |commit: &str| gate_core::model::Build {
        commit: Some(commit.into()),
        ..Default::default()
    };
    let report = Report {
        schema: 1,
        verdict: Verdict::Regression,
        environment: Environment::default(),
        baseline_environments: BTreeMap::new(),
        rows: vec![slower, same],
        notes: Vec::new(),
        builds: BTreeMap::from([
            ("base".to_string(), build(&commits[COMMITS - 1])),
            ("head".to_string(), build(&"f".repeat(40))),
        ]),
    };
    let path = tmp.path().join("pr.json");
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    let render = |extra: &[&std::ffi::OsStr]| {
        let ran = run(gate()
            .current_dir(&repo)
            .args(["report", "--format", "markdown"])
            .arg(&path)
            .args(extra));
        ran.expect_code(0);
        ran.stdout
    };
    let md = render(&[
        "--history".as_ref(),
        history.as_os_str(),
        "--history-url".as_ref(),
        "https://owner.github.io/gate/".as_ref(),
    ]);
    eprintln!("{md}");
    let line = md
        .lines()
        .find(|l| l.contains("**`keycache/load/sequential`**"))
        .unwrap_or_else(|| panic!("no row for the changed bench:\n{md}"));
    let spark: String = line.chars().filter(|c| ('▁'..='█').contains(c)).collect();
    assert_eq!(spark.chars().count(), 20, "the last 20 runs: {line}");
    let (before, after) = spark.split_at(spark.char_indices().nth(5).unwrap().0);
    assert!(
        before.chars().all(|c| c <= '▄') && after.chars().all(|c| c >= '▄'),
        "the step shows: {spark}"
    );
    assert!(md.contains("Base, last 20 runs"), "{md}");
    let range = format!(
        "`{}..{}`",
        &commits[STEP_AT - 1][..10],
        &commits[STEP_AT][..10]
    );
    let named = md
        .lines()
        .find(|l| l.contains(&range))
        .unwrap_or_else(|| panic!("no change point {range}:\n{md}"));
    assert!(
        named.contains("`keycache/load/sequential`") && named.contains("(change 15)"),
        "{named}"
    );
    assert!(
        md.contains("[history](https://owner.github.io/gate/)"),
        "{md}"
    );

    let plain = render(&[]);
    assert!(
        !plain.contains("Change points") && !plain.contains("Base, last"),
        "{plain}"
    );
    assert!(!plain.chars().any(|c| ('▁'..='█').contains(&c)), "{plain}");
}

#[test]
fn a_bad_record_is_named_with_its_field() {
    let tmp = tempfile::tempdir().unwrap();
    let history = tmp.path().join("history");
    std::fs::create_dir_all(&history).unwrap();
    std::fs::write(
        history.join("abc1234.json"),
        r#"{"schema":1,"commit":"abc1234","time":"last week","recorded_at":"2026-01-01T00:00:00Z","environment":{},"report":{"schema":1,"verdict":"pass","environment":{},"rows":[]}}"#,
    )
    .unwrap();
    let out = gate()
        .current_dir(common::repo())
        .args(["history", "changes", "--history"])
        .arg(&history)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("abc1234.json") && err.contains("`time`"),
        "{err}"
    );
}

/// The same commands on a data branch of a bare "remote": appends create
/// the orphan branch, and `changes` reads the records back from it.
#[test]
fn a_data_branch_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, history, commits) = build_history(tmp.path());
    let bare = tmp.path().join("origin.git");
    std::fs::create_dir(&bare).unwrap();
    git(&bare, &["init", "--quiet", "--bare"]);
    for commit in &commits[..6] {
        let record = history.join(format!("{commit}.json"));
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
        let report = tmp.path().join("r.json");
        std::fs::write(&report, value["report"].to_string()).unwrap();
        gate()
            .current_dir(&repo)
            .args(["history", "append", "--branch", "gate-history", "--remote"])
            .arg(&bare)
            .arg("--report")
            .arg(&report)
            .args(["--commit", commit])
            .assert()
            .success();
    }
    let ran = run(gate()
        .current_dir(&repo)
        .args(["history", "changes", "--branch", "gate-history", "--remote"])
        .arg(&bare));
    ran.expect_code(0);
    let text = &ran.stdout;
    assert!(text.starts_with("6 runs, 3 series"), "{text}");
    let root = git_output(&bare, &["rev-list", "--max-parents=0", "gate-history"]);
    assert_eq!(root.lines().count(), 1, "one orphan root");
    let files = git_output(&bare, &["ls-tree", "--name-only", "gate-history"]);
    assert_eq!(files.lines().count(), 6, "{files}");
}
