//! Markdown for GitHub: the PR comment and the job summary.
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

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, Output, State, UndefinedBehavior};
use serde::Serialize;

use super::inert::{code, inert};

use crate::model::Environment as MeasureEnv;
use crate::verdict::{Report, Row, RowKind, RowVerdict, Side, Verdict};

/// The built-in comment template (`crates/gate-core/templates/comment.md.j2`), compiled in so
/// the binary renders the same comment wherever it runs.
pub const BUILTIN_TEMPLATE: &str = include_str!("../../templates/comment.md.j2");

/// Renders a report to Markdown with the built-in template or the one at
/// `template` (a minijinja file, e.g. `comment.template` of `gate.yaml`).
pub fn render_markdown(report: &Report, template: Option<&Path>) -> Result<String> {
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
    render_with(report, &name, &source)
}

/// Renders `source` (named `name` in error messages) with the view of `report`.
pub fn render_with(report: &Report, name: &str, source: &str) -> Result<String> {
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
    let view = View::new(report);
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

/// Markdown the gate built itself, printed as it is.
fn markup(s: impl Into<String>) -> Value {
    Value::from_safe_string(s.into())
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
#[derive(Debug, Serialize)]
struct View {
    /// `pass`, `regression` or `error`.
    verdict: &'static str,
    /// One sentence with the verdict first.
    headline: Value,
    /// Rust benches: one entry per id, built from its `rust-vs-rust` and `rust-vs-go` rows.
    benches: Vec<BenchView>,
    /// Rows of `gate compare`.
    compares: Vec<CompareView>,
    /// The Rust/Go ratio chart, when at least one ratio exists.
    chart: Option<ChartView>,
    /// Where each side was measured.
    environments: Vec<EnvView>,
    /// How the figures were obtained, in one sentence.
    method: Value,
    /// The report's own notes (quick mode, same runner, normalisation).
    notes: Vec<String>,
    /// Row warnings, prefixed with their id.
    warnings: Vec<Value>,
    /// Number of regressed rows.
    regressions: usize,
    /// The report as written by `gate check --json`, for custom templates.
    report: serde_json::Value,
}

#[derive(Debug, Serialize)]
struct BenchView {
    id: Value,
    mode: String,
    threads: u32,
    rust_now: Value,
    rust_baseline: Value,
    change: Value,
    go: Value,
    ratio: Value,
    verdict: Value,
    regressed: bool,
}

#[derive(Debug, Serialize)]
struct CompareView {
    id: Value,
    old: Value,
    new: Value,
    change: Value,
    verdict: Value,
    regressed: bool,
}

#[derive(Debug, Serialize)]
struct ChartView {
    /// The x-axis labels, quoted for mermaid.
    labels: Value,
    /// The bars, comma-separated.
    bars: Value,
    /// A line at 1 (parity), comma-separated.
    parity: Value,
    /// The top of the y-axis.
    top: Value,
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

impl View {
    fn new(report: &Report) -> View {
        let regressions = report
            .rows
            .iter()
            .filter(|r| r.verdict == RowVerdict::Regressed)
            .count();
        View {
            verdict: match report.verdict {
                Verdict::Pass => "pass",
                Verdict::Regression => "regression",
                Verdict::Error => "error",
            },
            headline: markup(headline(report)),
            chart: chart(&report.rows),
            benches: bench_views(&report.rows),
            compares: compare_views(&report.rows),
            environments: environments(report),
            method: markup(METHOD),
            notes: report.notes.clone(),
            warnings: warnings(&report.rows),
            regressions,
            report: serde_json::to_value(report).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The verdict first, with the count compared and the first regressed ids.
fn headline(report: &Report) -> String {
    let mut ids: Vec<&str> = Vec::new();
    for r in report
        .rows
        .iter()
        .filter(|r| r.verdict == RowVerdict::Regressed)
    {
        if !ids.contains(&r.id.as_str()) {
            ids.push(&r.id);
        }
    }
    let compared = {
        let mut all: Vec<&str> = report.rows.iter().map(|r| r.id.as_str()).collect();
        all.sort();
        all.dedup();
        all.len()
    };
    match report.verdict {
        Verdict::Pass => {
            format!(":white_check_mark: **Pass**: no benchmark regressed ({compared} compared).")
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

fn compare_views(rows: &[Row]) -> Vec<CompareView> {
    rows.iter()
        .filter(|r| r.kind == RowKind::Compare)
        .map(|r| CompareView {
            id: markup(code(&r.display_id())),
            old: markup(side_time(r.old.as_ref())),
            new: markup(side_time(r.new.as_ref())),
            change: markup(change(r)),
            verdict: markup(verdict_label(r.verdict)),
            regressed: r.verdict == RowVerdict::Regressed,
        })
        .collect()
}

/// Every row warning, after the id it is about.
fn warnings(rows: &[Row]) -> Vec<Value> {
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

/// Groups the Rust rows by id, in the order the report lists them: one
/// table line per Go comparison of a bench (a bench may be paired with
/// several Go benchmarks), or one line when it has none.
fn bench_views(rows: &[Row]) -> Vec<BenchView> {
    let mut order: Vec<String> = Vec::new();
    let mut by_id: BTreeMap<String, (Option<&Row>, Vec<&Row>)> = BTreeMap::new();
    for row in rows {
        let slot = match row.kind {
            RowKind::RustVsRust | RowKind::RustVsGo => {
                by_id.entry(row.display_id()).or_insert_with(|| {
                    order.push(row.display_id());
                    (None, Vec::new())
                })
            }
            RowKind::Compare => continue,
        };
        match row.kind {
            RowKind::RustVsRust => slot.0 = Some(row),
            _ => slot.1.push(row),
        }
    }
    order
        .into_iter()
        .flat_map(|id| {
            let (vs_rust, go_rows) = &by_id[&id];
            let vs_rust = *vs_rust;
            let gos: Vec<Option<&Row>> = if go_rows.is_empty() {
                vec![None]
            } else {
                go_rows.iter().map(|r| Some(*r)).collect()
            };
            gos.into_iter()
                .map(move |vs_go| (id.clone(), vs_rust, vs_go))
        })
        .map(|(id, vs_rust, vs_go)| bench_view(&id, vs_rust, vs_go))
        .collect()
}

/// One table line: a bench's comparison with its Rust baseline and with
/// one Go benchmark, either of which may be absent.
fn bench_view(id: &str, vs_rust: Option<&Row>, vs_go: Option<&Row>) -> BenchView {
    let any = vs_rust.or(vs_go).expect("grouped rows exist");
    let now = vs_rust
        .and_then(|r| r.new.as_ref())
        .or(vs_go.and_then(|r| r.new.as_ref()));
    let go = match vs_go {
        Some(r) => {
            let t = side_time(r.old.as_ref());
            match &r.go {
                Some(name) => format!("{t}<br><sub>{}</sub>", inert(name)),
                None => t,
            }
        }
        None => "—".into(),
    };
    // A paired row's old side is the base measured in lockstep on this
    // runner, not the stored baseline: say so.
    let rust_baseline = vs_rust
        .map(|r| {
            let t = side_time(r.old.as_ref());
            if r.is_paired() {
                format!("{t} (base, lockstep)")
            } else {
                t
            }
        })
        .unwrap_or_else(|| "—".into());
    BenchView {
        id: markup(code(id)),
        mode: any.mode.to_string(),
        threads: any.threads,
        rust_now: markup(side_time(now)),
        rust_baseline: markup(rust_baseline),
        change: markup(vs_rust.map(change).unwrap_or_else(|| "—".into())),
        go: markup(go),
        ratio: markup(vs_go.map(go_ratio).unwrap_or_else(|| "—".into())),
        verdict: markup(combined_verdict(vs_rust, vs_go)),
        regressed: [vs_rust, vs_go]
            .iter()
            .flatten()
            .any(|r| r.verdict == RowVerdict::Regressed),
    }
}

/// One label when both comparisons agree, else one per comparison, so a
/// reader sees which baseline a regression is against.
fn combined_verdict(vs_rust: Option<&Row>, vs_go: Option<&Row>) -> String {
    match (vs_rust, vs_go) {
        (Some(a), Some(b)) if a.verdict == b.verdict => verdict_label(a.verdict).into(),
        (Some(a), Some(b)) => format!(
            "{} vs Rust baseline<br>{} vs Go",
            verdict_label(a.verdict),
            verdict_label(b.verdict)
        ),
        (Some(a), None) => verdict_label(a.verdict).into(),
        (None, Some(b)) => format!("{} vs Go", verdict_label(b.verdict)),
        (None, None) => "—".into(),
    }
}

fn verdict_label(v: RowVerdict) -> &'static str {
    match v {
        RowVerdict::Regressed => ":x: regressed",
        RowVerdict::Improved => ":rocket: improved",
        RowVerdict::Unchanged => "unchanged",
        RowVerdict::Insufficient => ":warning: too few samples",
        RowVerdict::Incomparable => ":warning: not comparable",
        RowVerdict::New => ":new: new",
        RowVerdict::Missing => ":grey_question: missing",
    }
}

/// The change of the median, `+12.3% [+8.1%, +16.0%]`, or `~` when it is
/// not a significant change (benchstat's convention).
fn change(row: &Row) -> String {
    match row.verdict {
        RowVerdict::Unchanged | RowVerdict::Insufficient => return "~".into(),
        RowVerdict::New | RowVerdict::Missing => return "—".into(),
        _ => {}
    }
    let Some(ratio) = row.ratio.filter(|r| r.is_finite()) else {
        return "—".into();
    };
    let pct = |r: f64| format!("{:+.1}%", (r - 1.0) * 100.0);
    match row.ratio_ci {
        Some([lo, hi]) if lo.is_finite() && hi.is_finite() => {
            format!("{} [{}, {}]", pct(ratio), pct(lo), pct(hi))
        }
        _ => pct(ratio),
    }
}

/// The Rust/Go ratio with its interval and allowed maximum.
fn go_ratio(row: &Row) -> String {
    let Some(ratio) = row.ratio.filter(|r| r.is_finite()) else {
        return "—".into();
    };
    let mut s = format!("{}×", ratio_num(ratio));
    if let Some([lo, hi]) = row.ratio_ci.filter(|c| c.iter().all(|x| x.is_finite())) {
        s.push_str(&format!(" [{}, {}]", ratio_num(lo), ratio_num(hi)));
    }
    if let Some(max) = row.max_ratio {
        s.push_str(&format!(" (max {})", ratio_num(max)));
    }
    s
}

/// Ratios with three significant figures, enough to see a 5% tolerance.
fn ratio_num(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else if r >= 0.1 {
        format!("{r:.2}")
    } else {
        format!("{r:.3}")
    }
}

/// The median of a side as a time, or `—` when the side is absent.
fn side_time(side: Option<&Side>) -> String {
    side.map(|s| format_ns(s.median_ns))
        .unwrap_or_else(|| "—".into())
}

/// A duration in ns with three significant figures and the unit a reader
/// expects (`330 ns`, `3.21 µs`, `1.50 ms`).
pub fn format_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "—".into();
    }
    let (value, unit) = if ns.abs() >= 1e9 {
        (ns / 1e9, "s")
    } else if ns.abs() >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns.abs() >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    let digits = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

fn chart(rows: &[Row]) -> Option<ChartView> {
    let points: Vec<(String, f64)> = rows
        .iter()
        .filter(|r| r.kind == RowKind::RustVsGo)
        .filter_map(|r| {
            r.ratio
                .filter(|x| x.is_finite() && *x >= 0.0)
                .map(|x| (r.id.clone(), x))
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    let max = points.iter().map(|p| p.1).fold(1.0_f64, f64::max);
    let top = ((max * 1.2) * 10.0).ceil() / 10.0;
    let labels = points
        .iter()
        .map(|(id, _)| format!("\"{}\"", inert(&id.replace('"', "'"))))
        .collect::<Vec<_>>()
        .join(", ");
    let bars = points
        .iter()
        .map(|(_, r)| format!("{r:.3}"))
        .collect::<Vec<_>>()
        .join(", ");
    let parity = vec!["1"; points.len()].join(", ");
    Some(ChartView {
        labels: markup(labels),
        bars: markup(bars),
        parity: markup(parity),
        top: markup(format!("{top:.1}")),
    })
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
    fn times_have_three_significant_figures() {
        assert_eq!(format_ns(330.4), "330 ns");
        assert_eq!(format_ns(3210.0), "3.21 µs");
        assert_eq!(format_ns(21_000.0), "21.0 µs");
        assert_eq!(format_ns(1_500_000.0), "1.50 ms");
        assert_eq!(format_ns(f64::NAN), "—");
    }

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
        let md = render_with(&report, "t", source).unwrap();
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
