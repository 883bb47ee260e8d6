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

impl Report {
    /// How many benches the report compared: its distinct display ids, so
    /// that a bench measured on two runners of a merged report counts twice,
    /// as the tables list it.
    pub fn bench_count(&self) -> usize {
        let mut ids: Vec<String> = self
            .rows
            .iter()
            .map(crate::verdict::Row::display_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids.len()
    }
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
