//! Decide: turn compared pairs into row verdicts and one check verdict.
//!
//! The types here are the JSON contract of `gate check --json` (issue 4):
//! `{"schema": 1, "verdict", "environment", "rows": [...]}`. Field names are
//! fixed; other tools read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Environment, Mode};

/// The verdict of a whole check; decides the exit code (0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Regression,
    Error,
}

/// What a row compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowKind {
    /// Rust now against the stored Rust baseline.
    #[serde(rename = "rust-vs-rust")]
    RustVsRust,
    /// Rust now against Go (stored or measured in the same run); `old` is Go.
    #[serde(rename = "rust-vs-go")]
    RustVsGo,
    /// `gate compare OLD NEW`: two arbitrary result sets.
    #[serde(rename = "compare")]
    Compare,
}

/// The verdict of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowVerdict {
    /// Significant, and the ratio CI's lower bound above 1 + tolerance (or above `max_ratio`).
    Regressed,
    /// Significant, and the ratio CI's upper bound below 1 - tolerance.
    Improved,
    /// Not significant, or inside the tolerance.
    Unchanged,
    /// Too few samples to ever be significant.
    Insufficient,
    /// The two sides cannot be compared (different units, reference-only figure, ...).
    Incomparable,
    /// Only in the new set.
    New,
    /// Only in the old set.
    Missing,
}

/// One side of a row: summary of a benchmark's samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub median_ns: f64,
    /// Number of samples.
    pub n: usize,
    #[serde(default)]
    pub counters: BTreeMap<String, f64>,
    /// Every per-sample ns/op, so a saved report can be compared and
    /// rendered again (`gate compare`, `gate report --format gobench`) (added field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<f64>,
    /// Distribution-free confidence interval of the median (added field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ci: Option<[f64; 2]>,
}

/// One compared pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub kind: RowKind,
    pub mode: Mode,
    pub threads: u32,
    pub old: Option<Side>,
    pub new: Option<Side>,
    /// new median / old median.
    pub ratio: Option<f64>,
    /// Bootstrap confidence interval of the ratio of medians.
    pub ratio_ci: Option<[f64; 2]>,
    /// Mann-Whitney U p-value, Holm-adjusted across the rows of one check.
    pub p_value: Option<f64>,
    pub verdict: RowVerdict,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// For a Rust/Go row: the Go benchmark name (with `-N` when GOMAXPROCS > 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<String>,
    /// For a Rust/Go row: the allowed Rust/Go ratio, if the pair sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ratio: Option<f64>,
}

/// The result of one check: what `--json` writes and what every reporter renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub verdict: Verdict,
    /// Where the new figures were measured.
    pub environment: Environment,
    /// Where each baseline was measured, by name (`rust`, `go`) (added field).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub baseline_environments: BTreeMap<String, Environment>,
    pub rows: Vec<Row>,
    /// Sentences about how the figures were obtained (quick mode, same
    /// runner or stored baseline, normalisation) (added field).
    #[serde(default)]
    pub notes: Vec<String>,
}
