//! `gate comment` against a fake GitHub on loopback, through the real
//! octocrab client: the comment's life cycle, pagination, forks, retries,
//! GitHub Enterprise URLs, and the files a runner reads afterwards.

mod github_support;

use github_support::*;
use serde_json::json;
use wiremock::ResponseTemplate;

const MARKER: &str = "<!-- gate-comment: gate -->";

fn ours(fake: &FakeGitHub) -> Vec<StoredComment> {
    fake.comments()
        .into_iter()
        .filter(|c| c.body.starts_with(MARKER))
        .collect()
}

#[tokio::test]
async fn first_run_creates_the_comment_second_run_updates_it() {
    let (_server, fake) = FakeGitHub::start().await;
    fake.add_comment("LGTM, but please check the numbers");

    let step = Step::new(&pull_request_event());
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let mine = ours(&fake);
    assert_eq!(mine.len(), 1, "one comment created: {:?}", fake.log());
    assert!(mine[0].body.contains("**Pass**"), "{}", mine[0].body);
    assert!(
        fake.log()
            .iter()
            .any(|l| l == &format!("POST /repos/{OWNER}/{REPO}/issues/{PR}/comments"))
    );
    let outputs = step.outputs();
    assert_eq!(outputs["verdict"], "pass");
    assert_eq!(outputs["regressions"], "0");
    assert!(outputs["comment-url"].ends_with(&format!("#issuecomment-{}", mine[0].id)));
    assert!(outputs["report-path"].ends_with("report-pass.json"));
    assert!(stderr.contains("PR comment created"), "{stderr}");

    // Second run, new results: the same comment changes, no second one appears.
    let step2 = Step::new(&pull_request_event());
    let out = run(step2.command(&fake.api_url(), &fixture("report-regression.json"))).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let after = ours(&fake);
    assert_eq!(after.len(), 1, "no duplicate: {:?}", fake.log());
    assert_eq!(after[0].id, mine[0].id);
    assert!(
        after[0].body.contains("**Regression**"),
        "{}",
        after[0].body
    );
    assert_eq!(fake.comments().len(), 2, "the human comment is untouched");
    assert!(
        fake.log()
            .iter()
            .any(|l| l == &format!("PATCH /repos/{OWNER}/{REPO}/issues/comments/{}", mine[0].id))
    );
    assert_eq!(step2.outputs()["verdict"], "regression");
    assert_eq!(step2.outputs()["regressions"], "2");
    // The token went to the API, and nowhere else.
    assert!(
        fake.state
            .lock()
            .unwrap()
            .auth
            .iter()
            .all(|a| a.contains(TOKEN))
    );
}

#[tokio::test]
async fn marker_is_found_on_the_third_page() {
    let (_server, fake) = FakeGitHub::start().await;
    let mut our_id = 0;
    for i in 0..250 {
        if i == 230 {
            our_id = fake.add_comment(&format!("{MARKER}\nold report"));
        } else if i == 10 {
            // Someone quoting our marker mid-text: not ours.
            fake.add_comment(&format!("I saw {MARKER} somewhere"));
        } else {
            fake.add_comment(&format!("comment {i}"));
        }
    }
    let step = Step::new(&pull_request_event());
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let log = fake.log();
    assert!(
        log.iter().any(
            |l| l.contains(&format!("/repositories/{REPO_ID}/issues/{PR}/comments"))
                && l.contains("page=3")
        ),
        "followed the Link header to page 3: {log:?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("POST")), "{log:?}");
    assert_eq!(fake.comments().len(), 250);
    let updated = fake
        .comments()
        .into_iter()
        .find(|c| c.id == our_id)
        .unwrap();
    assert!(updated.body.contains("**Pass**"), "{}", updated.body);
}

#[tokio::test]
async fn fork_pull_request_403_keeps_summary_and_verdict_and_explains() {
    let (_server, fake) = FakeGitHub::start().await;
    fake.state.lock().unwrap().read_only = true;
    let step = Step::new(&pull_request_event());
    let out = run(step.command(&fake.api_url(), &fixture("report-regression.json"))).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit code of the verdict: {stdout}\n{stderr}"
    );
    let notice = stdout
        .lines()
        .find(|l| l.starts_with("::notice"))
        .unwrap_or_else(|| panic!("no ::notice in {stdout}"));
    assert!(notice.contains("403"), "{notice}");
    assert!(notice.contains("fork"), "{notice}");
    assert!(notice.contains("workflow_run"), "{notice}");
    assert!(notice.contains("gate comment --results"), "{notice}");
    assert!(step.summary().contains("**Regression**"));
    assert!(step.summary().contains("| Benchmark |"));
    let outputs = step.outputs();
    assert_eq!(outputs["verdict"], "regression");
    assert_eq!(outputs["comment-url"], "");
    assert!(fake.comments().is_empty());
    // Two error annotations, the worst first: Rust/Go 1.58 over a max of 1.0
    // beats 1.18 over the Rust baseline.
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 2, "{stdout}");
    assert!(
        errors[0].contains("keycache/read_existing_key/sequential"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("secret/with_bytes/sequential"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let (_server, fake) = FakeGitHub::start().await;
    fake.inject(
        "GET",
        ResponseTemplate::new(500).set_body_json(json!({"message": "Server Error"})),
    );
    fake.inject(
        "POST",
        ResponseTemplate::new(502).set_body_json(json!({"message": "Bad Gateway"})),
    );
    let step = Step::new(&pull_request_event());
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("HTTP 500"), "{stderr}");
    assert!(stderr.contains("retrying"), "{stderr}");
    let log = fake.log();
    // The list before the POST was retried once; the list after the POST
    // is the duplicate check that follows every creation.
    assert_eq!(
        log.iter()
            .take_while(|l| !l.starts_with("POST"))
            .filter(|l| l.starts_with("GET"))
            .count(),
        2,
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|l| l.starts_with("POST")).count(),
        2,
        "{log:?}"
    );
    assert_eq!(ours(&fake).len(), 1, "one comment despite the retried POST");
}

#[tokio::test]
async fn secondary_rate_limit_is_waited_out() {
    let (_server, fake) = FakeGitHub::start().await;
    fake.inject(
        "GET",
        ResponseTemplate::new(403)
            .insert_header("retry-after", "0")
            .set_body_json(json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."})),
    );
    let step = Step::new(&pull_request_event());
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("secondary rate limit"), "{stderr}");
    assert!(
        !stdout.contains("::notice"),
        "a rate limit is not a permission problem: {stdout}"
    );
    assert_eq!(ours(&fake).len(), 1);
}

#[tokio::test]
async fn persistent_server_errors_give_a_clear_error_after_the_outputs() {
    let (_server, fake) = FakeGitHub::start().await;
    for _ in 0..5 {
        fake.inject(
            "GET",
            ResponseTemplate::new(503).set_body_json(json!({"message": "Service Unavailable"})),
        );
    }
    let step = Step::new(&pull_request_event());
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("failed after 5 attempts"), "{stderr}");
    assert!(stderr.contains("HTTP 503"), "{stderr}");
    assert!(
        stderr.contains("job summary and outputs were written"),
        "{stderr}"
    );
    assert_eq!(step.outputs()["verdict"], "pass");
    assert!(step.summary().contains("**Pass**"));
}

#[tokio::test]
async fn github_api_url_is_honoured_with_an_enterprise_prefix() {
    let (_server, fake) = FakeGitHub::start_with_prefix("/api/v3").await;
    let step = Step::new(&pull_request_event());
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(ours(&fake).len(), 1);
    assert!(
        fake.log().iter().all(|l| l.contains(" /api/v3/repos/")),
        "{:?}",
        fake.log()
    );
}

#[tokio::test]
async fn the_token_never_appears_in_output() {
    let (_server, fake) = FakeGitHub::start().await;
    // A server error that echoes the credentials it was sent.
    fake.inject(
        "GET",
        ResponseTemplate::new(422)
            .set_body_json(json!({"message": format!("Validation Failed for token {TOKEN}")})),
    );
    let step = Step::new(&pull_request_event());
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("Validation Failed"), "{stderr}");
    assert!(stderr.contains("***"), "{stderr}");
    for (name, s) in [
        ("stdout", stdout),
        ("stderr", stderr),
        ("summary", step.summary()),
        ("outputs", std::fs::read_to_string(&step.output).unwrap()),
    ] {
        assert!(!s.contains(TOKEN), "the token leaked into {name}: {s}");
    }
}

#[tokio::test]
async fn on_regression_mode_creates_only_on_regression_then_keeps_updating() {
    let (_server, fake) = FakeGitHub::start().await;
    let step = Step::new(&pull_request_event());
    std::fs::write(
        step.dir.path().join("gate.yaml"),
        "comment:\n  mode: on-regression\n",
    )
    .unwrap();

    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(
        fake.comments().is_empty(),
        "no comment while nothing regressed"
    );
    assert!(text(&out).1.contains("on-regression"), "{:?}", text(&out));

    let out = run(step.command(&fake.api_url(), &fixture("report-regression.json"))).await;
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert_eq!(ours(&fake).len(), 1);

    // Fixed again: the comment now says so, rather than going stale.
    let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let mine = ours(&fake);
    assert_eq!(mine.len(), 1);
    assert!(mine[0].body.contains("**Pass**"));
}

#[tokio::test]
async fn never_mode_and_action_input_override_make_no_request() {
    let (_server, fake) = FakeGitHub::start().await;
    let step = Step::new(&pull_request_event());
    // The config says always; the action's `comment: never` input wins.
    std::fs::write(
        step.dir.path().join("gate.yaml"),
        "comment:\n  mode: always\n",
    )
    .unwrap();
    let mut cmd = step.command(&fake.api_url(), &fixture("report-regression.json"));
    cmd.env("GATE_COMMENT_MODE", "never");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    assert!(step.summary().contains("**Regression**"));
    assert_eq!(step.outputs()["verdict"], "regression");
}

#[tokio::test]
async fn matrix_jobs_with_different_markers_keep_separate_comments() {
    let (_server, fake) = FakeGitHub::start().await;
    let step = Step::new(&pull_request_event());
    for marker in ["linux", "macos", "linux"] {
        std::fs::write(
            step.dir.path().join("gate.yaml"),
            format!("comment:\n  marker: {marker}\n"),
        )
        .unwrap();
        let out = run(step.command(&fake.api_url(), &fixture("report-pass.json"))).await;
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    }
    let bodies: Vec<String> = fake.comments().into_iter().map(|c| c.body).collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies[0].starts_with("<!-- gate-comment: linux -->"));
    assert!(bodies[1].starts_with("<!-- gate-comment: macos -->"));
}

#[tokio::test]
async fn workflow_run_of_a_fork_finds_the_pull_request_by_head() {
    let (_server, fake) = FakeGitHub::start().await;
    fake.state.lock().unwrap().pulls = vec![
        (3, "forker:feature".into(), "0ld".into()),
        (PR, "forker:feature".into(), "abc123".into()),
    ];
    let event = json!({"action": "completed", "workflow_run": {
        "event": "pull_request", "head_sha": "abc123", "head_branch": "feature",
        "pull_requests": [], "head_repository": {"owner": {"login": "forker"}}}});
    let step = Step::new(&event);
    let mut cmd = step.command(&fake.api_url(), &fixture("report-regression.json"));
    cmd.env("GITHUB_EVENT_NAME", "workflow_run");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert_eq!(ours(&fake).len(), 1, "{:?}", fake.log());
    assert!(
        fake.log()
            .iter()
            .any(|l| l.contains("/pulls?") && l.contains("head=forker%3Afeature")),
        "{:?}",
        fake.log()
    );
}

#[tokio::test]
async fn a_push_has_no_pull_request_and_still_writes_the_summary() {
    let (_server, fake) = FakeGitHub::start().await;
    let step = Step::new(&json!({"ref": "refs/heads/main"}));
    let mut cmd = step.command(&fake.api_url(), &fixture("report-pass.json"));
    cmd.env("GITHUB_EVENT_NAME", "push");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(fake.log().is_empty());
    assert!(step.summary().contains("**Pass**"));
    assert_eq!(step.outputs()["comment-url"], "");
}

#[tokio::test]
async fn a_huge_report_is_cut_below_the_comment_limit_with_a_pointer() {
    let (_server, fake) = FakeGitHub::start().await;
    let step = Step::new(&pull_request_event());
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("report-regression.json")).unwrap())
            .unwrap();
    let template = report["rows"][0].clone();
    let rows = report["rows"].as_array_mut().unwrap();
    for i in 0..1500 {
        let mut r = template.clone();
        r["id"] = json!(format!("secret/with_bytes_{i:04}/sequential"));
        rows.push(r);
    }
    let path = step.dir.path().join("huge.json");
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    let out = run(step.command(&fake.api_url(), &path)).await;
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let mine = ours(&fake);
    assert_eq!(mine.len(), 1);
    let body = &mine[0].body;
    assert!(body.chars().count() < 65_536, "{}", body.chars().count());
    assert!(
        body.chars().count() > 60_000,
        "cut near the limit, not far below"
    );
    assert!(body.contains("65,536-character limit"));
    assert!(body.contains("https://github.example/acme/vault/actions/runs/99"));
    // The summary holds everything.
    assert!(step.summary().contains("secret/with_bytes_1499/sequential"));
    assert!(!body.contains("secret/with_bytes_1499/sequential"));
}
