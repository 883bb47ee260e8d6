//! The base branch's recent history as a pull request comment shows it:
//! each bench's medians over the last runs (drawn as a sparkline) and the
//! change points whose first new run is among them.

use std::collections::BTreeMap;

use super::changes::{Change, changes};
use super::edivisive::Settings;
use super::record::{MIN_COMMIT_CHARS, Record};
use super::series::{Kind, series};

/// The recent history of the base branch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trend {
    /// How many runs the trend covers (at most the runs asked for).
    pub runs: usize,
    /// The newest run's commit: the pull request's base when the history
    /// holds it (the comment names it, so a reader sees where the trend
    /// ends).
    pub last_commit: Option<String>,
    /// Each bench's run medians (ns/op) over those runs, oldest first, by
    /// bench id; a run that did not measure the bench has no value.
    pub series: BTreeMap<String, Vec<f64>>,
    /// Change points of the benches and their Rust/Go ratios whose first
    /// run at the new level is among those runs, newest first. They are
    /// found over the whole history, for the power of the test.
    pub changes: Vec<Change>,
}

/// The trend of the last `runs` of `records` (in history order). When
/// `base` names a stored commit (a full id or a prefix of one), the history
/// ends there: runs after the pull request's base are not its past. A
/// `base` shorter than [`MIN_COMMIT_CHARS`] names no commit surely and is
/// ignored.
pub fn trend(
    records: &[Record],
    is_floor: &dyn Fn(&str) -> bool,
    settings: &Settings,
    runs: usize,
    base: Option<&str>,
) -> Trend {
    let end = base
        .filter(|b| b.len() >= MIN_COMMIT_CHARS)
        .and_then(|b| records.iter().rposition(|r| r.commit.starts_with(b)))
        .map_or(records.len(), |i| i + 1);
    let records = &records[..end];
    let first = records.len().saturating_sub(runs);
    let all = series(records, is_floor);
    let series = all
        .iter()
        .filter(|s| s.kind != Kind::Ratio)
        .map(|s| {
            let values = s.points.iter().filter(|p| p.run >= first);
            (s.id.clone(), values.map(|p| p.value).collect::<Vec<f64>>())
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let mut found: Vec<Change> = changes(records, &all, settings)
        .into_iter()
        .filter(|c| c.run >= first)
        .collect();
    found.sort_by(|a, b| b.run.cmp(&a.run).then_with(|| a.series.cmp(&b.series)));
    Trend {
        runs: records.len() - first,
        last_commit: records.last().map(|r| r.commit.clone()),
        series,
        changes: found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::evaluate::synthetic;
    use crate::model::{Environment, Mode};
    use crate::verdict::{Report, Row, RowKind, RowVerdict, Side, Verdict};

    fn record(i: usize, median: f64) -> Record {
        let side = Side {
            median_ns: median,
            n: 20,
            counters: BTreeMap::new(),
            samples: Vec::new(),
            exact_counters: Vec::new(),
            median_ci: None,
        };
        let row = Row {
            new: Some(side),
            ..Row::new(
                "keycache/load/sequential",
                RowKind::RustVsRust,
                Mode::Sequential,
                1,
                RowVerdict::New,
            )
        };
        Record {
            schema: 1,
            commit: format!("{i:02x}{:038x}", 0xabc),
            time: format!("2025-01-01T00:{:02}:00Z", i),
            recorded_at: "2025-01-02T00:00:00Z".into(),
            subject: Some(format!("change {i}")),
            environment: Environment::default(),
            quick: false,
            report: Report {
                schema: 1,
                verdict: Verdict::Pass,
                environment: Environment::default(),
                baseline_environments: BTreeMap::new(),
                rows: vec![row],
                notes: Vec::new(),
                builds: BTreeMap::new(),
            },
        }
    }

    /// A 10% step at run 24 of 30: the last 10 runs show it, and the
    /// history cut at the base (run 27) ends there.
    #[test]
    fn the_last_runs_and_their_change_points_up_to_the_base() {
        let values = synthetic(30, 24, 0.10, 0.01, 3);
        let records: Vec<Record> = (0..30).map(|i| record(i, values[i])).collect();
        let base = records[27].commit[..12].to_string();
        let t = trend(&records, &|_| false, &Settings::default(), 10, Some(&base));
        assert_eq!(t.runs, 10);
        assert_eq!(t.last_commit.as_deref(), Some(records[27].commit.as_str()));
        assert_eq!(
            t.series["keycache/load/sequential"],
            values[18..28].to_vec()
        );
        assert_eq!(t.changes.len(), 1, "{:?}", t.changes);
        assert_eq!(t.changes[0].after, records[24].commit);
        let early = trend(&records, &|_| false, &Settings::default(), 5, None);
        assert!(early.changes.is_empty(), "{:?}", early.changes);
    }
}
