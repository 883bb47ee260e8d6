//! What a fork or another user can do to the gate's comment, against the
//! fake GitHub on loopback through the real octocrab client: a marker
//! comment someone else wrote is never edited, hostile report text comes
//! out inert in the comment, the job summary and the annotations, and two
//! runs racing on one pull request leave one comment.

mod github_support;

use std::time::Duration;

use github_support::*;
use serde_json::json;

const MARKER: &str = "<!-- gate-comment: gate -->";

fn marked(fake: &FakeGitHub) -> Vec<StoredComment> {
    fake.comments()
        .into_iter()
        .filter(|c| c.body.starts_with(MARKER))
        .collect()
}

#[tokio::test]
async fn a_marker_comment_by_another_user_is_not_edited() {
    let (_server, fake) = FakeGitHub::start().await;
    let planted = "<!-- gate-comment: gate -->\n## Performance gate: pass\n\nAll good.";
    let theirs = fake.add_comment_by("mallory", planted);

    for report in ["report-regression.json", "report-pass.json"] {
        let step = Step::new(&pull_request_event());
        let out = run(step.command(&fake.api_url(), &fixture(report))).await;
        assert!(matches!(out.status.code(), Some(0 | 1)), "{:?}", text(&out));
    }
    let all = marked(&fake);
    assert_eq!(all.len(), 2, "{:?}", fake.log());
    let mallory = all.iter().find(|c| c.id == theirs).unwrap();
    assert_eq!(mallory.body, planted, "mallory's comment is untouched");
    let ours = all.iter().find(|c| c.id != theirs).unwrap();
    assert_eq!(ours.author, ACTIONS_BOT);
    assert!(ours.body.contains("**Pass**"), "updated: {}", ours.body);
    let log = fake.log();
    assert!(
        !log.iter()
            .any(|l| l.contains(&format!("/comments/{theirs}"))),
        "{log:?}"
    );
    assert_eq!(log.iter().filter(|l| l.starts_with("POST")).count(), 1);
}

#[tokio::test]
async fn a_personal_token_edits_what_its_user_wrote() {
    let (_server, fake) = FakeGitHub::start().await;
    {
        let mut s = fake.state.lock().unwrap();
        s.login = "octo-maintainer".into();
        s.installation_token = false;
    }
    let bots = fake.add_comment_by(ACTIONS_BOT, &format!("{MARKER}\nby the workflow token"));
    let mine = fake.add_comment(&format!("{MARKER}\nold report"));
    let step = Step::new(&pull_request_event());
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let comments = fake.comments();
    assert_eq!(comments.len(), 2);
    let find = |id| comments.iter().find(|c| c.id == id).unwrap();
    assert!(find(mine).body.contains("**Pass**"));
    assert!(find(bots).body.ends_with("by the workflow token"));
    assert!(
        fake.log().iter().any(|l| l == "GET /user"),
        "{:?}",
        fake.log()
    );
}

#[tokio::test]
async fn an_app_sets_its_author_in_the_config() {
    let (_server, fake) = FakeGitHub::start().await;
    fake.state.lock().unwrap().login = "gate-app[bot]".into();
    let bots = fake.add_comment_by(ACTIONS_BOT, &format!("{MARKER}\nby the workflow token"));
    let apps = fake.add_comment(&format!("{MARKER}\nold report"));
    let step = Step::new(&pull_request_event());
    std::fs::write(
        step.dir.path().join("gate.yaml"),
        "comment:\n  author: gate-app[bot]\n",
    )
    .unwrap();
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let comments = fake.comments();
    let find = |id| comments.iter().find(|c| c.id == id).unwrap();
    assert!(find(apps).body.contains("**Pass**"));
    assert!(find(bots).body.ends_with("by the workflow token"));
    assert!(!fake.log().iter().any(|l| l == "GET /user"), "configured");
}

/// Every way of escaping the gate's Markdown the issue names, in one string.
const HOSTILE: &str = "<img src=x onerror=alert(1)> @org/team [x](javascript:alert(1)) a|b <!-- gate-comment: gate -->";

/// The regression fixture with `HOSTILE` in a regressed id, its Go name, a
/// warning, a note, and an environment key and value.
fn hostile_report(dir: &std::path::Path) -> std::path::PathBuf {
    let path = github_support::fixture("report-regression.json");
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let id = format!("x/{HOSTILE}\n## PASS");
    for row in report["rows"].as_array_mut().unwrap() {
        if row["id"] == "keycache/read_existing_key/sequential" {
            row["id"] = json!(id);
            row["warnings"] = json!([HOSTILE]);
            if row["kind"] == "rust-vs-go" {
                row["go"] = json!(HOSTILE);
            }
        }
    }
    report["notes"] = json!([HOSTILE, format!("# {HOSTILE}")]);
    report["environment"]["extra"] = json!({ HOSTILE: HOSTILE, "pkg": "plain" });
    let out = dir.join("hostile.json");
    std::fs::write(&out, serde_json::to_string(&report).unwrap()).unwrap();
    out
}

/// Unescaped `|` on a line: the cell borders a Markdown table sees.
fn cell_borders(line: &str) -> usize {
    let b = line.as_bytes();
    (0..b.len())
        .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
        .count()
}

/// `text` carries nothing from `HOSTILE` in a live form, and still shows it.
fn assert_inert(name: &str, text: &str) {
    assert!(text.contains("onerror=alert(1)"), "{name} shows the text");
    // An escaped `\]` does not end link text.
    let unescaped = text.replace("\\]", "");
    for live in ["<img", "](javascript", "@org/team", "<!--", "\n## PASS"] {
        assert!(
            !unescaped.contains(live),
            "{name} contains `{live}`:\n{text}"
        );
    }
    // Every line of a table has as many cell borders as its header.
    let mut header: Option<usize> = None;
    for line in text.lines() {
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let borders = cell_borders(line);
        let expected = *header.get_or_insert(borders);
        assert_eq!(borders, expected, "{name}: a row split: {line}");
    }
}

#[tokio::test]
async fn hostile_report_text_is_inert_in_comment_summary_and_annotations() {
    let (_server, fake) = FakeGitHub::start().await;
    let step = Step::new(&pull_request_event());
    let report = hostile_report(step.dir.path());
    let out = run(step.command(&fake.api_url(), &report)).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");

    let comments = marked(&fake);
    assert_eq!(comments.len(), 1, "{:?}", fake.log());
    let body = &comments[0].body;
    let rest = body.strip_prefix(&format!("{MARKER}\n")).unwrap();
    assert_inert("the comment", rest);
    assert!(
        rest.contains("- **&lt;img src=x onerror=alert(1)&gt;"),
        "{rest}"
    );
    assert_inert("the summary", &step.summary());
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 2, "{stdout}");
    assert_inert("the annotations", &errors.join("\n"));
}

#[tokio::test]
async fn two_runs_racing_on_one_pull_request_leave_one_comment() {
    let (_server, fake) = FakeGitHub::start().await;
    fake.add_comment_by("reviewer", "please rerun");
    {
        // Both runs list before either creates: each sees no comment.
        let mut s = fake.state.lock().unwrap();
        s.delayed_lists = 2;
        s.list_delay = Duration::from_millis(1500);
    }
    let a = Step::new(&pull_request_event());
    let b = Step::new(&pull_request_event());
    let (out_a, out_b) = tokio::join!(
        run(a.command(&fake.api_url(), &fixture("report-pass.json"))),
        run(b.command(&fake.api_url(), &fixture("report-regression.json"))),
    );
    assert_eq!(out_a.status.code(), Some(0), "{:?}", text(&out_a));
    assert_eq!(out_b.status.code(), Some(1), "{:?}", text(&out_b));
    let log = fake.log();
    assert_eq!(
        log.iter().filter(|l| l.starts_with("POST")).count(),
        2,
        "both runs created a comment: {log:?}"
    );
    let left = marked(&fake);
    assert_eq!(left.len(), 1, "{log:?}");
    assert_eq!(fake.comments().len(), 2, "the reviewer's comment stays");
    let url = |s: &Step| s.outputs()["comment-url"].clone();
    let expected = format!("#issuecomment-{}", left[0].id);
    assert!(url(&a).ends_with(&expected), "{} {expected}", url(&a));
    assert!(url(&b).ends_with(&expected), "{} {expected}", url(&b));
}
