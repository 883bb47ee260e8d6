//! How long the history takes at scale: 1,000 runs x 30 benches (27 benches
//! and 3 floor benches, a step in every third bench), change points of
//! every series and the whole page rendered, after reading the 1,000
//! record files from a folder. The figures are those of
//! `docs/history.md`.
//!
//! ```text
//! cargo bench --bench history_render
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use gate_core::history::evaluate::synthetic;
use gate_core::history::{Record, Settings, changes, page, series};
use gate_core::model::{Environment, Mode};
use gate_core::verdict::{Report, Row, RowKind, RowVerdict, Side, Verdict};

const RUNS: usize = 1000;
const BENCHES: usize = 30;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for r in history() {
        gate_core::history::write_into(dir.path(), &r).expect("record written");
    }
    let t = Instant::now();
    let records = gate_core::history::read_dir(dir.path()).expect("records read");
    let t_load = t.elapsed();
    let is_floor = |id: &str| id.starts_with("floor/");
    let t = Instant::now();
    let all = series(&records, &is_floor);
    let t_series = t.elapsed();
    let t = Instant::now();
    let found = changes(&records, &all, &Settings::default());
    let t_changes = t.elapsed();
    let t = Instant::now();
    let html = page::render(&records, &all, &found);
    let t_render = t.elapsed();
    println!(
        "{RUNS} runs x {BENCHES} benches: reading the records {:.3} s, series {:.3} s, change points {:.3} s ({} found), page {:.3} s ({:.1} MB)",
        t_load.as_secs_f64(),
        t_series.as_secs_f64(),
        t_changes.as_secs_f64(),
        found.len(),
        t_render.as_secs_f64(),
        html.len() as f64 / 1e6
    );
}

/// A synthetic history: run medians with 2% noise, a 5% step at run 600
/// in every third bench; each row keeps 20 samples, as a quick run's
/// report does.
fn history() -> Vec<Record> {
    let values: Vec<(String, Vec<f64>)> = (0..BENCHES)
        .map(|b| {
            let id = if b >= BENCHES - 3 {
                format!("floor/f{b}/sequential")
            } else {
                format!("group/bench{b}/sequential")
            };
            let step = if b % 3 == 0 { 0.05 } else { 0.0 };
            (id, synthetic(RUNS, 600, step, 0.02, b as u64))
        })
        .collect();
    (0..RUNS)
        .map(|run| {
            let rows = values.iter().map(|(id, v)| row(id, v[run])).collect();
            let time = chrono::DateTime::from_timestamp(1_700_000_000 + run as i64 * 3600, 0)
                .unwrap()
                .to_rfc3339();
            Record {
                schema: 1,
                commit: format!("{run:040x}"),
                time: time.clone(),
                recorded_at: time,
                subject: Some(format!("commit number {run}")),
                environment: Environment::default(),
                quick: false,
                report: Report {
                    schema: 1,
                    verdict: Verdict::Pass,
                    environment: Environment::default(),
                    baseline_environments: BTreeMap::new(),
                    rows,
                    notes: Vec::new(),
                    builds: BTreeMap::new(),
                },
            }
        })
        .collect()
}

fn row(id: &str, median: f64) -> Row {
    Row {
        new: Some(Side {
            median_ns: median,
            n: 50,
            counters: BTreeMap::new(),
            samples: (0..20).map(|k| median * (1.0 + 0.001 * k as f64)).collect(),
            exact_counters: Vec::new(),
            median_ci: Some([median * 0.99, median * 1.01]),
        }),
        ..Row::new(
            id,
            RowKind::RustVsRust,
            Mode::Sequential,
            1,
            RowVerdict::New,
        )
    }
}
