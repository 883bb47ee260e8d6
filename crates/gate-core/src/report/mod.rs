//! Stage 5, "report": one renderer per output format, all from a [`Report`].
//!
//! The terminal table shows the same figures locally and in CI; JSON is the
//! machine contract; Markdown is for GitHub; the Go benchmark format lets
//! `benchstat` read our results.

pub mod context;
pub mod inert;
pub mod links;
pub mod markdown;
pub mod rows;
pub mod sparkline;
pub mod table;
pub mod warnings;

use std::path::Path;

use anyhow::{Context, Result};

use crate::verdict::Report;

/// Formats nanoseconds with a unit that keeps three significant digits.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "-".into();
    }
    let (v, unit) = if ns.abs() >= 1e9 {
        (ns / 1e9, "s")
    } else if ns.abs() >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns.abs() >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

/// A median in its row's unit: a time (`None`: ns per op), or the value
/// and the unit (`0 allocs/op`, `337.785 MB/s`).
pub fn fmt_median(unit: Option<&str>, v: f64) -> String {
    match unit {
        Some(unit) => format!("{} {unit}", fmt_count(v)),
        None => fmt_ns(v),
    }
}

/// A count or a value in a unit: whole numbers without decimals, others
/// with three.
pub fn fmt_count(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.3}")
    }
}

/// Formats a ratio new/old as a signed percentage change (`+4.1%`).
pub fn fmt_change(ratio: f64) -> String {
    format!("{:+.1}%", (ratio - 1.0) * 100.0)
}

/// Writes the report as pretty JSON (the documented contract), atomically.
pub fn write_json(report: &Report, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report).context("serialising the report")?;
    crate::formats::write_atomic_bytes(path, text.as_bytes())
}

/// Reads a report JSON written by `--json`.
pub fn read_json(path: &Path) -> Result<Report> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    parse_json(&text, path)
}

/// Parses report JSON; `path` names it in messages, with the line and column.
pub fn parse_json(text: &str, path: &Path) -> Result<Report> {
    serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not a gate report: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_changes() {
        assert_eq!(fmt_ns(98.123), "98.1 ns");
        assert_eq!(fmt_ns(2134.0), "2.13 µs");
        assert_eq!(fmt_ns(312_000.0), "312 µs");
        assert_eq!(fmt_change(1.041), "+4.1%");
        assert_eq!(fmt_change(0.5), "-50.0%");
    }
}
