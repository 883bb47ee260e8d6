//! Change points of every series of a history, with the commits on each
//! side of the step, the step's size as a ratio of the two levels' medians
//! with a bootstrap interval, and its permutation p-value.

use serde::Serialize;

use crate::stats::bootstrap_ratio_ci;

use super::edivisive::{self, Settings};
use super::record::Record;
use super::series::Series;

/// One persistent shift of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The series (bench id, or `<id> rust/go`).
    pub series: String,
    /// The last commit measured at the old level.
    pub before: String,
    /// The first commit measured at the new level: the step is in
    /// `before..after` (one commit when they are neighbours).
    pub after: String,
    /// The subject of `after`, when stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Index of `after` in the history (runs in order).
    pub run: usize,
    /// Median of the old level's values and of the new level's.
    pub old_median: f64,
    pub new_median: f64,
    /// `new_median / old_median`: above 1 is slower (for a ratio series,
    /// Rust slower relative to Go).
    pub ratio: f64,
    /// 95% bootstrap interval of the ratio (level values resampled).
    pub ratio_ci: [f64; 2],
    /// Permutation p-value of the split (E-divisive).
    pub p_value: f64,
    /// Points in the old and the new level.
    pub old_points: usize,
    pub new_points: usize,
}

/// The change points of each series, in series order and then history order.
pub fn changes(records: &[Record], series: &[Series], settings: &Settings) -> Vec<Change> {
    let found: Vec<Vec<edivisive::Split>> = std::thread::scope(|scope| {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        let chunk = series.len().div_ceil(workers.max(1)).max(1);
        let handles: Vec<_> = series
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|s| edivisive::change_points(&s.values(), settings))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a change-point worker panicked"))
            .collect()
    });
    series
        .iter()
        .zip(found)
        .flat_map(|(s, splits)| describe(records, s, &splits))
        .collect()
}

/// The splits of one series as changes: each level runs from the previous
/// split (or the start) to the next (or the end).
fn describe(records: &[Record], s: &Series, splits: &[edivisive::Split]) -> Vec<Change> {
    let values = s.values();
    let mut cuts = vec![0];
    cuts.extend(splits.iter().map(|p| p.index));
    cuts.push(values.len());
    let mut out = Vec::new();
    for (k, split) in splits.iter().enumerate() {
        let old = &values[cuts[k]..cuts[k + 1]];
        let new = &values[cuts[k + 1]..cuts[k + 2]];
        let seed = 0x5eed ^ split.index as u64;
        let Ok(ci) = bootstrap_ratio_ci(old, new, 0.95, 2000, seed) else {
            continue;
        };
        let before = &records[s.points[split.index - 1].run];
        let run = s.points[split.index].run;
        out.push(Change {
            series: s.id.clone(),
            before: before.commit.clone(),
            after: records[run].commit.clone(),
            subject: records[run].subject.clone(),
            run,
            old_median: crate::stats::median(old).unwrap_or(f64::NAN),
            new_median: crate::stats::median(new).unwrap_or(f64::NAN),
            ratio: ci.estimate,
            ratio_ci: [ci.lower, ci.upper],
            p_value: split.p_value,
            old_points: old.len(),
            new_points: new.len(),
        });
    }
    out
}
