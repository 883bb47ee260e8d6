//! The terminal table: the same figures locally and in CI.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::figures::{fmt_change, fmt_change_ci, fmt_count, fmt_median, fmt_slowdown};
use crate::model::Lang;
use crate::verdict::{Report, Row, RowKind, RowVerdict, Side, Verdict};

/// What a `gate compare` row of Go results ran at: GOMAXPROCS (the name's
/// `-N` suffix) and the mode, named only when something declared it
/// (`--mode`); `None` for other rows, whose id says both.
fn go_setting(row: &Row) -> Option<String> {
    if row.kind != RowKind::Compare || row.lang() != Lang::Go {
        return None;
    }
    Some(if row.mode.is_declared() {
        format!("{}, GOMAXPROCS {}", row.mode, row.threads)
    } else {
        format!("GOMAXPROCS {}", row.threads)
    })
}

fn kind_label(row: &Row) -> String {
    match row.kind {
        RowKind::RustVsRust if row.is_paired() => "base, lockstep".into(),
        RowKind::RustVsRust => "rust baseline".into(),
        RowKind::RustVsGo => format!("go {}", row.go.as_deref().unwrap_or("?")),
        RowKind::Compare => "old".into(),
    }
}

/// The change column: a percentage for Rust-vs-Rust (a change of the same
/// code) and a ratio for Rust/Go (two different programs), with the interval.
fn change_cell(row: &Row) -> String {
    let Some(r) = row.ratio else {
        return "-".into();
    };
    match (row.kind, row.ratio_ci) {
        (RowKind::RustVsGo, Some([lo, hi])) => format!("{r:.2}x [{lo:.2}, {hi:.2}]"),
        (RowKind::RustVsGo, None) => format!("{r:.2}x"),
        (_, Some(ci)) => fmt_change_ci(r, ci),
        (_, None) => fmt_change(r),
    }
}

fn verdict_label(v: RowVerdict) -> &'static str {
    match v {
        RowVerdict::Regressed => "REGRESSED",
        RowVerdict::Improved => "improved",
        RowVerdict::Unchanged => "~",
        RowVerdict::Insufficient => "insufficient",
        RowVerdict::Incomparable => "incomparable",
        RowVerdict::New => "new",
        RowVerdict::Missing => "MISSING",
        RowVerdict::Undecided => "UNDECIDED",
    }
}

/// The exact (deterministic) counters of a row, per op: `mprotect 2`, or
/// `mprotect 2→3` when the count changed. Timing noise cannot move these.
fn counters_cell(row: &Row) -> String {
    let Some(new) = &row.new else {
        return String::new();
    };
    new.exact_counters
        .iter()
        .filter_map(|name| {
            let n = new.counters.get(name)?;
            let short = name.strip_suffix("_per_op").unwrap_or(name);
            let old = row
                .old
                .as_ref()
                .filter(|_| row.kind != RowKind::RustVsGo)
                .and_then(|o| o.counters.get(name));
            Some(match old {
                Some(o) if (o - n).abs() > 1e-9 => {
                    format!("{short} {}→{}", fmt_count(*o), fmt_count(*n))
                }
                _ => format!("{short} {}", fmt_count(*n)),
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One side's median and sample count: a time, or a value in the row's unit.
fn side_cell(row: &Row, side: Option<&Side>) -> String {
    match side {
        Some(s) => format!("{} n={}", fmt_median(row.unit.as_deref(), s.median_ns), s.n),
        None => "-".into(),
    }
}

/// A terminal table in the gate's one style (condensed UTF-8 borders,
/// columns fitted to the terminal), with `header`.
pub fn new_table<T: Into<comfy_table::Row>>(header: T) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    t
}

/// A right-aligned cell (numbers).
pub fn right(text: impl ToString) -> Cell {
    Cell::new(text.to_string()).set_alignment(CellAlignment::Right)
}

/// Renders the report as a terminal table followed by notes and warnings.
pub fn render(report: &Report) -> String {
    let mut t = new_table(vec![
        "bench",
        "against",
        "old",
        "new",
        "change [CI]",
        "p (Holm)",
        "counters",
        "verdict",
    ]);
    for row in &report.rows {
        let limit = match (row.kind, row.max_ratio) {
            (RowKind::RustVsGo, Some(m)) => format!(" (max {m:.2}x)"),
            _ => String::new(),
        };
        let mut bench = row.display_id();
        if let Some(setting) = go_setting(row) {
            bench.push_str(&format!(" ({setting})"));
        }
        if let (Some(unit), Some(better)) = (&row.unit, row.better) {
            bench.push_str(&format!(" {unit}, {}", better.words()));
        }
        t.add_row(vec![
            Cell::new(bench),
            Cell::new(kind_label(row)),
            Cell::new(side_cell(row, row.old.as_ref())).set_alignment(CellAlignment::Right),
            Cell::new(side_cell(row, row.new.as_ref())).set_alignment(CellAlignment::Right),
            Cell::new(format!("{}{limit}", change_cell(row))).set_alignment(CellAlignment::Right),
            Cell::new(
                row.p_value
                    .map(|p| format!("{p:.2e}"))
                    .unwrap_or("-".into()),
            )
            .set_alignment(CellAlignment::Right),
            Cell::new(counters_cell(row)),
            Cell::new(format!(
                "{}{}",
                match (row.earlier.is_empty(), row.verdict) {
                    (true, v) => verdict_label(v).to_string(),
                    (false, RowVerdict::Regressed) => "REGRESSED (confirmed)".to_string(),
                    (false, v) => format!("{} (not confirmed)", verdict_label(v)),
                },
                row.min_detectable
                    .map(|m| format!(" (sees >= {})", fmt_slowdown(m)))
                    .unwrap_or_default()
            )),
        ]);
    }
    let mut out = String::new();
    let counts = |v: RowVerdict| report.rows.iter().filter(|r| r.verdict == v).count();
    out.push_str(&format!(
        "gate: {} — {} rows: {} regressed, {} improved, {} unchanged, {} insufficient, {} incomparable, {} new, {} missing\n",
        match report.verdict {
            Verdict::Pass => "PASS",
            Verdict::Regression => "REGRESSION",
            Verdict::Error => "ERROR",
        },
        report.rows.len(),
        counts(RowVerdict::Regressed),
        counts(RowVerdict::Improved),
        counts(RowVerdict::Unchanged),
        counts(RowVerdict::Insufficient),
        counts(RowVerdict::Incomparable),
        counts(RowVerdict::New),
        counts(RowVerdict::Missing),
    ));
    if let Some(line) = report.undecided_line() {
        out.push_str(&format!("gate: {line}\n"));
    }
    out.push_str(&t.to_string());
    out.push('\n');
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for row in &report.rows {
        for w in &row.warnings {
            out.push_str(&format!(
                "warning: {} ({}): {w}\n",
                row.display_id(),
                kind_label(row)
            ));
        }
    }
    out
}
