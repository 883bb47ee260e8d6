//! Markdown for GitHub: the PR comment and the job summary.
//!
//! What changed comes first and context is folded: the rows and their
//! place (`rows`), the warnings grouped by kind (`warnings`), the commits
//! compared and the links (`links`), and what the caller adds beyond the
//! report, the run and the base branch's trend (`context`).
//!
//! The figures are turned into display strings here, in Rust, and the
//! template only lays them out. That keeps the rounding and the wording
//! identical between the built-in template and a user's override, and lets a
//! template author write Markdown without learning our number formats. The
//! raw report is passed too (`report`), for templates that want more.
//!
//! Report text can come from an untrusted place (the `workflow_run` pattern
//! renders an artifact built by a fork's code). The engine escapes every
//! value a template prints with [`inert`] (auto-escape with a Markdown
//! formatter), unless the value is Markdown the gate built itself: those
//! fields are [`Value::from_safe_string`], and the report text inside them
//! went through [`inert`] when they were built. A custom template therefore
//! gets the same protection without asking for it; `|safe` or
//! `{% autoescape false %}` opts out, visibly.

use std::path::Path;

use anyhow::{Context, Result};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, Output, State, UndefinedBehavior};
use serde::Serialize;

use super::context::CommentContext;
use super::inert::{code, inert, markup};
use super::rows::{self, BenchView, CompareView};
use super::{links, warnings};

use crate::figures::short;
use crate::model::Environment as MeasureEnv;
use crate::verdict::{Report, Row, RowVerdict, Verdict};

/// The built-in comment template (`crates/gate-core/templates/comment.md.j2`), compiled in so
/// the binary renders the same comment wherever it runs.
pub const BUILTIN_TEMPLATE: &str = include_str!("../../templates/comment.md.j2");

/// Renders a report to Markdown with the built-in template or the one at
/// `template` (a minijinja file, e.g. `comment.template` of `gate.yaml`),
/// with what `context` adds (the run, the history).
pub fn render_markdown(
    report: &Report,
    template: Option<&Path>,
    context: &CommentContext,
) -> Result<String> {
    let (name, source) = match template {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read comment template {}", path.display()))?,
        ),
        None => (
            "templates/comment.md.j2".to_string(),
            BUILTIN_TEMPLATE.to_string(),
        ),
    };
    render_with(report, &name, &source, context)
}

/// Renders `source` (named `name` in error messages) with the view of
/// `report` and `context`.
pub fn render_with(
    report: &Report,
    name: &str,
    source: &str,
    context: &CommentContext,
) -> Result<String> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| MARKDOWN);
    env.set_formatter(markdown_formatter);
    // A typo in an override must be an error, not a silently empty cell;
    // `{% if x %}` on an absent field stays allowed.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template_owned(name.to_string(), source.to_string())
        .with_context(|| format!("comment template {name} does not parse"))?;
    let view = View::new(report, context);
    let text = env
        .get_template(name)
        .and_then(|t| t.render(&view))
        .map_err(|e| anyhow::anyhow!("cannot render comment template {name}: {e:#}"))?;
    Ok(tidy(&text))
}

/// The auto-escape mode of every comment template.
const MARKDOWN: AutoEscape = AutoEscape::Custom("markdown");

/// Prints a template value: Markdown the gate built (a safe string) as it
/// is, anything else through [`inert`]. Inside `{% autoescape false %}` a
/// template author has chosen raw output.
fn markdown_formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    let text = value.to_string();
    let raw = value.is_safe() || state.auto_escape() != MARKDOWN;
    let text = if raw { text } else { inert(&text) };
    out.write_str(&text).map_err(Error::from)
}

/// Collapses runs of blank lines a template's conditionals leave behind, and
/// ends the text with exactly one newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    let mut in_fence = false;
    for line in text.trim_matches('\n').lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if line.trim().is_empty() && !in_fence {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// What the template sees. `Value` fields are Markdown the gate built
/// (safe strings); `String` fields are report text, escaped when printed.
/// docs/github.md documents every field.
#[derive(Debug, Serialize)]
struct View {
    /// `pass`, `regression` or `error`.
    verdict: &'static str,
    /// One sentence with the verdict first.
    headline: Value,
    /// The commits compared, the workflow run and the history page, on one
    /// line ([`links::Lead::line`]); absent when there is none of them.
    lead: Option<Value>,
    /// The commits compared alone (`base … → head …`).
    commits: Option<Value>,
    /// `[workflow run](…)`, when the caller knows the run.
    run_link: Option<Value>,
    /// `[history](…)`, when a history page URL is configured.
    history_link: Option<Value>,
    /// Rust benches: one entry per id and Go benchmark, what changed first.
    benches: Vec<BenchView>,
    /// Summary of the benches that did not change (`22 unchanged, 1 new`).
    benches_folded: Value,
    /// Rows of `gate compare`, what changed first.
    compares: Vec<CompareView>,
    /// Summary of the compare rows that did not change.
    compares_folded: Value,
    /// Runs of the base branch behind each bench's `trend` (0: no history).
    trend_runs: usize,
    /// The commit of the newest of those runs, as code; absent without a
    /// history.
    trend_end: Option<Value>,
    /// Change points of the base branch's last `trend_runs` runs, newest
    /// first, at most [`MAX_CHANGES`].
    changes: Vec<Value>,
    /// Change points found beyond the ones listed.
    changes_more: usize,
    /// Warnings that change how their rows read, one line per kind.
    warnings_shown: Vec<Value>,
    /// The other warnings, one line per kind.
    warnings_folded: Vec<Value>,
    /// How many warnings `warnings_folded` groups.
    warnings_folded_count: usize,
    /// Where each side was measured.
    environments: Vec<EnvView>,
    /// How the figures were obtained, in one sentence.
    method: Value,
    /// The report's own notes (quick mode, same runner, normalisation).
    notes: Vec<String>,
    /// Every row warning, one per line after its id (the full texts).
    warnings: Vec<Value>,
    /// Number of regressed rows.
    regressions: usize,
    /// The report as written by `gate check --json`, for custom templates.
    report: serde_json::Value,
}

#[derive(Debug, Serialize)]
struct EnvView {
    name: Value,
    /// Key and value pairs as the report has them.
    items: Vec<(String, String)>,
}

/// The single sentence on method shown under every table.
const METHOD: &str = "Each figure is the median ns/op of its samples; a change is the ratio \
of medians with its bootstrap confidence interval, tested for significance with the \
Mann-Whitney U test (Holm-corrected across benchmarks), and `~` means no significant change \
beyond the tolerance.";

/// The most change points a comment lists; the page has them all.
const MAX_CHANGES: usize = 8;

impl View {
    fn new(report: &Report, context: &CommentContext) -> View {
        let regressions = report
            .rows
            .iter()
            .filter(|r| r.verdict == RowVerdict::Regressed)
            .count();
        let trend = context.trend.as_ref();
        let benches = rows::bench_views(&report.rows, trend);
        let compares = rows::compare_views(&report.rows);
        let changes = trend.map_or(&[][..], |t| &t.changes);
        let listed = &changes[..changes.len().min(MAX_CHANGES)];
        let groups = warnings::groups(&report.rows);
        let total = report.bench_count();
        let (shown, folded): (Vec<_>, Vec<_>) = groups.iter().partition(|g| g.shown());
        let lines = |gs: &[&warnings::Group]| -> Vec<Value> {
            warnings::lines(gs, total).into_iter().map(markup).collect()
        };
        let lead = links::Lead::new(report, context);
        View {
            verdict: match report.verdict {
                Verdict::Pass => "pass",
                Verdict::Regression => "regression",
                Verdict::Error => "error",
            },
            headline: markup(headline(report, total)),
            lead: lead.line().map(markup),
            commits: lead.commits.map(markup),
            run_link: lead.run_link.map(markup),
            history_link: lead.history_link.map(markup),
            benches_folded: markup(rows::folded_benches(&benches)),
            benches,
            compares_folded: markup(rows::folded_compares(&compares)),
            compares,
            trend_runs: trend.filter(|t| !t.series.is_empty()).map_or(0, |t| t.runs),
            trend_end: trend
                .and_then(|t| t.last_commit.as_deref())
                .map(|c| markup(code(short(c)))),
            changes: links::change_lines(listed)
                .into_iter()
                .map(markup)
                .collect(),
            changes_more: changes.len() - listed.len(),
            warnings_shown: lines(&shown),
            warnings_folded_count: folded.iter().map(|g| g.count).sum(),
            warnings_folded: lines(&folded),
            environments: environments(report),
            method: markup(METHOD),
            notes: report.notes.clone(),
            warnings: all_warnings(&report.rows),
            regressions,
            report: serde_json::to_value(report).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The verdict first, with the count compared (`compared`,
/// [`Report::bench_count`]) and the first regressed benches.
fn headline(report: &Report, compared: usize) -> String {
    let mut ids: Vec<String> = Vec::new();
    for r in report
        .rows
        .iter()
        .filter(|r| r.verdict == RowVerdict::Regressed)
    {
        let id = r.display_id();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let undecided = report
        .undecided_line()
        .map(|l| format!(" :hourglass: {}", inert(&l)))
        .unwrap_or_default();
    match report.verdict {
        Verdict::Pass => {
            format!(
                ":white_check_mark: **Pass**: no benchmark regressed ({compared} compared).{undecided}"
            )
        }
        Verdict::Regression if ids.is_empty() => {
            format!(
                ":x: **Undecided**: no benchmark regressed ({compared} compared), but `undecided: fail` is set.{undecided}"
            )
        }
        Verdict::Regression => {
            // The table has them all; the headline names the first few.
            let mut named: Vec<String> = ids.iter().take(5).map(|i| code(i)).collect();
            if ids.len() > 5 {
                named.push(format!("and {} more", ids.len() - 5));
            }
            format!(
                ":x: **Regression**: {} of {compared} benchmarks regressed: {}.",
                ids.len(),
                named.join(", ")
            )
        }
        Verdict::Error => format!(
            ":warning: **Error**: the check could not decide ({compared} compared); see the warnings below and the job log."
        ),
    }
}

/// Every row warning, after the id it is about.
fn all_warnings(rows: &[Row]) -> Vec<Value> {
    rows.iter()
        .flat_map(|r| {
            r.warnings
                .iter()
                .map(move |w| markup(format!("{}: {}", code(&r.id), inert(w))))
        })
        .collect()
}

/// This run's environment, then each baseline's.
fn environments(report: &Report) -> Vec<EnvView> {
    let mut environments = vec![EnvView {
        name: markup("This run"),
        items: env_items(&report.environment),
    }];
    for (name, env) in &report.baseline_environments {
        let label = match name.as_str() {
            "rust" => "Rust baseline".to_string(),
            "go" => "Go baseline".to_string(),
            other => format!("Baseline {}", code(other)),
        };
        environments.push(EnvView {
            name: markup(label),
            items: env_items(env),
        });
    }
    environments
}

fn env_items(env: &MeasureEnv) -> Vec<(String, String)> {
    let mut items = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            items.push((k.to_string(), v));
        }
    };
    put("CPU", env.cpu_model.clone());
    put("Cores", env.cores.map(|c| c.to_string()));
    put(
        "OS / arch",
        match (&env.os, &env.arch) {
            (Some(o), Some(a)) => Some(format!("{o} / {a}")),
            (Some(o), None) => Some(o.clone()),
            (None, Some(a)) => Some(a.clone()),
            (None, None) => None,
        },
    );
    put("Kernel", env.kernel.clone());
    put(
        "Virtualised",
        env.virtualized
            .map(|v| if v { "yes" } else { "no" }.to_string()),
    );
    put("RLIMIT_MEMLOCK", env.rlimit_memlock.map(memlock));
    put("rustc", env.rustc.clone());
    put("Go", env.go.clone());
    put(
        "Features",
        (!env.features.is_empty()).then(|| env.features.join(", ")),
    );
    put(
        "Flags",
        (!env.flags.is_empty()).then(|| env.flags.join(", ")),
    );
    for (k, v) in &env.extra {
        put(k, Some(v.clone()));
    }
    if items.is_empty() {
        items.push(("Unknown".into(), "no environment was recorded".into()));
    }
    items
}

fn memlock(bytes: u64) -> String {
    if bytes == u64::MAX {
        "unlimited".into()
    } else if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_text_cannot_break_tables_or_ping() {
        assert_eq!(inert("a|b <x> @team"), "a\\|b &lt;x&gt; @\u{200d}team");
        assert_eq!(inert("CPU @ 2.80GHz"), "CPU @ 2.80GHz");
        assert_eq!(code("a|`b`"), "`a\\|'b'`");
    }

    #[test]
    fn memlock_is_human() {
        assert_eq!(memlock(u64::MAX), "unlimited");
        assert_eq!(memlock(8 << 20), "8 MiB");
        assert_eq!(memlock(65536), "64 KiB");
        assert_eq!(memlock(1000), "1000 B");
    }

    #[test]
    fn a_custom_template_escapes_report_text_without_asking() {
        let report: Report = serde_json::from_value(serde_json::json!({
            "schema": 1, "verdict": "pass", "environment": {"extra": {"<b>k": "@v"}},
            "rows": [], "notes": ["<img src=x> [x](y)"]
        }))
        .unwrap();
        let source = "{{ notes[0] }}|{{ report.notes[0] }}|{% for e in environments %}\
            {% for i in e.items %}{{ i[0] }}={{ i[1] }}{% endfor %}{% endfor %}|{{ notes[0] | safe }}";
        let md = render_with(&report, "t", source, &CommentContext::default()).unwrap();
        let inert_note = "&lt;img src=x&gt; \\[x\\](y)";
        assert_eq!(
            md,
            format!("{inert_note}|{inert_note}|&lt;b&gt;k=@\u{200d}v|<img src=x> [x](y)\n")
        );
    }

    #[test]
    fn tidy_collapses_blank_lines_outside_fences() {
        assert_eq!(
            tidy("\n\na\n\n\n\nb\n```\n\n\n```\n"),
            "a\n\nb\n```\n\n\n```\n"
        );
    }
}
