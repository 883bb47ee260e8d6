//! The history as one series per bench: each run's median with its
//! interval, the Rust/Go ratio of each paired bench, and the floor benches
//! (the machine's own line).

use std::collections::BTreeMap;

use crate::verdict::RowKind;

use super::record::Record;

/// What a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A bench's median ns/op.
    Bench,
    /// A paired bench's Rust/Go ratio.
    Ratio,
    /// A floor bench: the machine, not the code.
    Floor,
}

/// One value of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Index of the run in the history (into the records).
    pub run: usize,
    pub value: f64,
    /// The value's confidence interval, when the report has one.
    pub band: Option<[f64; 2]>,
}

/// One series of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The bench id; a ratio series is `<id> rust/go`.
    pub id: String,
    pub kind: Kind,
    pub points: Vec<Point>,
}

impl Series {
    /// The values alone, in history order.
    pub fn values(&self) -> Vec<f64> {
        self.points.iter().map(|p| p.value).collect()
    }

    /// The unit of the values.
    pub fn unit(&self) -> &'static str {
        match self.kind {
            Kind::Ratio => "rust/go",
            Kind::Bench | Kind::Floor => "ns/op",
        }
    }
}

/// The series of `records` (in history order): benches, then ratios, then
/// floor benches, each sorted by id. A run that did not measure a bench has
/// no point in its series; values that are not finite and positive are left
/// out.
pub fn series(records: &[Record], is_floor: &dyn Fn(&str) -> bool) -> Vec<Series> {
    let mut by_key: BTreeMap<(Kind, String), Vec<Point>> = BTreeMap::new();
    for (run, record) in records.iter().enumerate() {
        for row in &record.report.rows {
            if let Some(side) = &row.new {
                let kind = if is_floor(&row.id) {
                    Kind::Floor
                } else {
                    Kind::Bench
                };
                push(
                    &mut by_key,
                    (kind, row.id.clone()),
                    Point {
                        run,
                        value: side.median_ns,
                        band: side.median_ci,
                    },
                );
            }
            if row.kind == RowKind::RustVsGo
                && let Some(ratio) = row.ratio
            {
                push(
                    &mut by_key,
                    (Kind::Ratio, format!("{} rust/go", row.id)),
                    Point {
                        run,
                        value: ratio,
                        band: row.ratio_ci,
                    },
                );
            }
        }
    }
    by_key
        .into_iter()
        .map(|((kind, id), points)| Series { id, kind, points })
        .collect()
}

/// Adds the run's first point of a series (a bench has rows of several
/// kinds in one report, each with the same measured side).
fn push(by_key: &mut BTreeMap<(Kind, String), Vec<Point>>, key: (Kind, String), p: Point) {
    if !(p.value.is_finite() && p.value > 0.0) {
        return;
    }
    let points = by_key.entry(key).or_default();
    if points.last().is_none_or(|last| last.run != p.run) {
        points.push(p);
    }
}
