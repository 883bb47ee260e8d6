//! The terminal table: the same figures locally and in CI.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::{fmt_change, fmt_ns};
use crate::verdict::{Report, Row, RowKind, RowVerdict, Verdict};

fn kind_label(row: &Row) -> String {
    match row.kind {
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
        (_, Some([lo, hi])) => {
            format!("{} [{}, {}]", fmt_change(r), fmt_change(lo), fmt_change(hi))
        }
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
    }
}

/// Renders the report as a terminal table followed by notes and warnings.
pub fn render(report: &Report) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "bench",
            "against",
            "old",
            "new",
            "change [CI]",
            "p (Holm)",
            "verdict",
        ]);
    for row in &report.rows {
        let limit = match (row.kind, row.max_ratio) {
            (RowKind::RustVsGo, Some(m)) => format!(" (max {m:.2}x)"),
            _ => String::new(),
        };
        t.add_row(vec![
            Cell::new(&row.id),
            Cell::new(kind_label(row)),
            Cell::new(
                row.old
                    .as_ref()
                    .map(|s| format!("{} n={}", fmt_ns(s.median_ns), s.n))
                    .unwrap_or("-".into()),
            )
            .set_alignment(CellAlignment::Right),
            Cell::new(
                row.new
                    .as_ref()
                    .map(|s| format!("{} n={}", fmt_ns(s.median_ns), s.n))
                    .unwrap_or("-".into()),
            )
            .set_alignment(CellAlignment::Right),
            Cell::new(format!("{}{limit}", change_cell(row))).set_alignment(CellAlignment::Right),
            Cell::new(
                row.p_value
                    .map(|p| format!("{p:.2e}"))
                    .unwrap_or("-".into()),
            )
            .set_alignment(CellAlignment::Right),
            Cell::new(match (row.earlier.is_empty(), row.verdict) {
                (true, v) => verdict_label(v).to_string(),
                (false, RowVerdict::Regressed) => "REGRESSED (confirmed)".to_string(),
                (false, v) => format!("{} (not confirmed)", verdict_label(v)),
            }),
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
    out.push_str(&t.to_string());
    out.push('\n');
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for row in &report.rows {
        for w in &row.warnings {
            out.push_str(&format!("warning: {} ({}): {w}\n", row.id, kind_label(row)));
        }
    }
    out
}
