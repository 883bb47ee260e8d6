//! The table rows of the comment: one line per Rust bench (and per Go
//! benchmark it is paired with) or per compared pair, with the figures
//! formatted here so that every template rounds and words them alike, and
//! each line's place: what changed first (regressed, undecided, improved),
//! the rest folded.

use std::collections::BTreeMap;

use minijinja::value::Value;
use serde::Serialize;

use super::inert::{code, inert, markup};
use super::sparkline::sparkline;
use crate::figures::{fmt_change, fmt_change_ci, fmt_median, fmt_ns, fmt_slowdown};
use crate::history::Trend;
use crate::verdict::{Row, RowKind, RowVerdict, Side};

/// One line of the benches table.
#[derive(Debug, Serialize)]
pub struct BenchView {
    pub id: Value,
    pub mode: String,
    pub threads: u32,
    pub rust_now: Value,
    pub rust_baseline: Value,
    pub change: Value,
    pub go: Value,
    pub ratio: Value,
    pub verdict: Value,
    pub regressed: bool,
    /// Regressed, undecided or improved: shown before the fold.
    pub changed: bool,
    /// The Rust baseline's (or the base's) median alone, for the folded table.
    pub rust_baseline_brief: Value,
    /// The Rust/Go ratio alone (`0.38×`), for the folded table.
    pub ratio_brief: Value,
    /// The verdict against the Rust baseline (or Go) in words, for the folded table.
    pub verdict_brief: Value,
    /// The bench's medians over the base branch's last runs as a
    /// sparkline; empty without a history.
    pub trend: Value,
    #[serde(skip)]
    rank: u8,
}

/// One line of the table of `gate compare`.
#[derive(Debug, Serialize)]
pub struct CompareView {
    pub id: Value,
    pub old: Value,
    pub new: Value,
    pub change: Value,
    pub verdict: Value,
    pub regressed: bool,
    /// Regressed, undecided or improved: shown before the fold.
    pub changed: bool,
    /// The verdict in plain words, for the fold's summary.
    #[serde(skip)]
    word: &'static str,
    #[serde(skip)]
    rank: u8,
}

/// Where a line goes: regressed (0), undecided (1), improved (2) before
/// the fold; anything else (3) folded. A regression against Go counts; an
/// improvement against Go alone is the standing Rust/Go state, not a change.
fn rank(vs_rust: Option<&Row>, vs_go: Option<&Row>) -> u8 {
    let any = |v: RowVerdict| [vs_rust, vs_go].iter().flatten().any(|r| r.verdict == v);
    let primary = vs_rust.or(vs_go).map(|r| r.verdict);
    if any(RowVerdict::Regressed) {
        0
    } else if any(RowVerdict::Undecided) {
        1
    } else if primary == Some(RowVerdict::Improved) {
        2
    } else {
        3
    }
}

/// A summary of the folded lines by verdict: `22 unchanged rows`, or
/// `3 more rows: 1 unchanged, 1 too few samples, 1 new`.
pub fn folded_summary<'a>(verdicts: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in verdicts {
        match counts.iter_mut().find(|(label, _)| *label == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let rows = |n: usize| if n == 1 { "row" } else { "rows" };
    match counts.as_slice() {
        [] => String::new(),
        [(label, n)] => format!("{n} {label} {}", rows(*n)),
        _ => format!(
            "{total} more {}: {}",
            rows(total),
            counts
                .iter()
                .map(|(label, n)| format!("{n} {label}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The lines of the `gate compare` rows, what changed first (a stable
/// sort: report order within a rank).
pub fn compare_views(rows: &[Row]) -> Vec<CompareView> {
    let mut views: Vec<CompareView> = rows
        .iter()
        .filter(|r| r.kind == RowKind::Compare)
        .map(|r| {
            let rank = rank(Some(r), None);
            CompareView {
                id: markup(code(&r.display_id())),
                old: markup(side_value(r, r.old.as_ref())),
                new: markup(side_value(r, r.new.as_ref())),
                change: markup(change(r)),
                verdict: markup(verdict_label(r.verdict)),
                regressed: r.verdict == RowVerdict::Regressed,
                changed: rank < 3,
                word: verdict_word(r.verdict),
                rank,
            }
        })
        .collect();
    views.sort_by_key(|v| v.rank);
    views
}

/// The folded verdict words of the compare lines that are not changed.
pub fn folded_compares(views: &[CompareView]) -> String {
    folded_summary(views.iter().filter(|v| !v.changed).map(|v| v.word))
}

/// Groups the Rust rows by id, in the order the report lists them: one
/// table line per Go comparison of a bench (a bench may be paired with
/// several Go benchmarks), or one line when it has none; what changed
/// first (a stable sort: report order within a rank).
pub fn bench_views(rows: &[Row], trend: Option<&Trend>) -> Vec<BenchView> {
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
    let mut views: Vec<BenchView> = order
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
        .map(|(id, vs_rust, vs_go)| bench_view(&id, vs_rust, vs_go, trend))
        .collect();
    views.sort_by_key(|v| v.rank);
    views
}

/// The folded verdict words of the bench lines that are not changed.
pub fn folded_benches(views: &[BenchView]) -> String {
    folded_summary(
        views
            .iter()
            .filter(|v| !v.changed)
            .map(|v| v.verdict_brief.as_str().unwrap_or("")),
    )
}

/// One table line: a bench's comparison with its Rust baseline and with
/// one Go benchmark, either of which may be absent.
fn bench_view(
    id: &str,
    vs_rust: Option<&Row>,
    vs_go: Option<&Row>,
    trend: Option<&Trend>,
) -> BenchView {
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
    let baseline = vs_rust.map_or_else(|| "—".into(), |r| side_time(r.old.as_ref()));
    // A paired row's old side is the base measured in lockstep on this
    // runner, not the stored baseline: say so.
    let rust_baseline = match vs_rust {
        Some(r) if r.is_paired() => format!("{baseline} (base, lockstep)"),
        _ => baseline.clone(),
    };
    let rank = rank(vs_rust, vs_go);
    let trend = trend
        .and_then(|t| t.series.get(&any.id))
        .map(|values| sparkline(values))
        .unwrap_or_default();
    BenchView {
        id: markup(code(id)),
        mode: any.mode.to_string(),
        threads: any.threads,
        rust_now: markup(side_time(now)),
        rust_baseline: markup(rust_baseline),
        change: markup(vs_rust.map(change).unwrap_or_else(|| "—".into())),
        go: markup(go),
        ratio: markup(vs_go.map(go_ratio).unwrap_or_else(|| "—".into())),
        verdict: markup(format!(
            "{}{}",
            combined_verdict(vs_rust, vs_go),
            vs_rust
                .and_then(|r| r.min_detectable)
                .map(|m| format!(" (sees ≥ {})", fmt_slowdown(m)))
                .unwrap_or_default()
        )),
        regressed: rank == 0,
        changed: rank < 3,
        rust_baseline_brief: markup(baseline),
        ratio_brief: markup(vs_go.and_then(ratio_figure).unwrap_or_else(|| "—".into())),
        verdict_brief: markup(verdict_word(any.verdict)),
        trend: markup(trend),
        rank,
    }
}

/// A verdict in plain words, for summaries and the folded table.
fn verdict_word(v: RowVerdict) -> &'static str {
    match v {
        RowVerdict::Regressed => "regressed",
        RowVerdict::Improved => "improved",
        RowVerdict::Unchanged => "unchanged",
        RowVerdict::Insufficient => "too few samples",
        RowVerdict::Incomparable => "not comparable",
        RowVerdict::New => "new",
        RowVerdict::Missing => "missing",
        RowVerdict::Undecided => "undecided",
    }
}

/// One label when both comparisons agree, else one per comparison, so a
/// reader sees which baseline a regression is against.
fn combined_verdict(vs_rust: Option<&Row>, vs_go: Option<&Row>) -> String {
    match (vs_rust, vs_go) {
        (Some(a), Some(b)) if a.verdict == b.verdict => verdict_label(a.verdict),
        (Some(a), Some(b)) => format!(
            "{} vs Rust baseline<br>{} vs Go",
            verdict_label(a.verdict),
            verdict_label(b.verdict)
        ),
        (Some(a), None) => verdict_label(a.verdict),
        (None, Some(b)) => format!("{} vs Go", verdict_label(b.verdict)),
        (None, None) => "—".into(),
    }
}

/// The verdict in words after its emoji (`:x: regressed`); an unchanged
/// row has no emoji.
fn verdict_label(v: RowVerdict) -> String {
    let mark = match v {
        RowVerdict::Regressed => ":x:",
        RowVerdict::Improved => ":rocket:",
        RowVerdict::Unchanged => return verdict_word(v).into(),
        RowVerdict::Insufficient | RowVerdict::Incomparable => ":warning:",
        RowVerdict::New => ":new:",
        RowVerdict::Missing => ":grey_question:",
        RowVerdict::Undecided => ":hourglass:",
    };
    format!("{mark} {}", verdict_word(v))
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
    match row.ratio_ci {
        Some(ci) if ci.iter().all(|x| x.is_finite()) => fmt_change_ci(ratio, ci),
        _ => fmt_change(ratio),
    }
}

/// The Rust/Go ratio alone (`0.38×`), when it is a number.
fn ratio_figure(row: &Row) -> Option<String> {
    row.ratio
        .filter(|r| r.is_finite())
        .map(|r| format!("{}×", ratio_num(r)))
}

/// The Rust/Go ratio with its interval and allowed maximum.
fn go_ratio(row: &Row) -> String {
    let Some(mut s) = ratio_figure(row) else {
        return "—".into();
    };
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

/// The median of a side through `fmt`, or the comment's empty cell `—`
/// when the side is absent or its median is not a number.
fn side_cell(side: Option<&Side>, fmt: impl Fn(f64) -> String) -> String {
    side.map(|s| s.median_ns)
        .filter(|m| m.is_finite())
        .map_or_else(|| "—".into(), fmt)
}

/// The median of a side as a time.
fn side_time(side: Option<&Side>) -> String {
    side_cell(side, fmt_ns)
}

/// The median of a side in its row's unit.
fn side_value(row: &Row, side: Option<&Side>) -> String {
    side_cell(side, |m| fmt_median(row.unit.as_deref(), m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fold_is_summarised_by_verdict() {
        let words = ["unchanged", "new", "unchanged"];
        assert_eq!(
            folded_summary(words.into_iter()),
            "3 more rows: 2 unchanged, 1 new"
        );
        let words = ["unchanged"; 22];
        assert_eq!(folded_summary(words.into_iter()), "22 unchanged rows");
    }
}
