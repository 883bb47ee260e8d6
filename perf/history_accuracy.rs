//! Accuracy of the history's change points (E-divisive, `gate history
//! changes`) against the threshold baseline, on series nobody here wrote
//! and on synthetic bench histories with known steps. The figures are
//! those of `docs/history.md`.
//!
//! ```text
//! cargo bench --bench history_accuracy -- --otava OTAVA --tcpd TCPD
//! ```
//!
//! OTAVA is Apache Otava's repository and TCPD the Turing Change Point
//! Dataset's (a checkout, or a bare git directory whose HEAD is read).
//! Either may be left out; the synthetic part always runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use gate_core::history::edivisive::{Settings, change_points};
use gate_core::history::evaluate::{Tally, matched, synthetic, threshold_changes};

/// Margin, in indices, within which a found change matches a known one
/// (TCPDBench's margin).
const MARGIN: usize = 5;
/// The baseline's threshold in noise deviations.
const K: f64 = 3.0;

/// One series with its annotations (one list per annotator).
struct Labelled {
    name: String,
    values: Vec<f64>,
    annotations: Vec<Vec<usize>>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from)
    };
    let settings = Settings::default();
    println!(
        "E-divisive: alpha {}, {} permutations, min {} points a side; baseline: jump > {K} noise sd; margin {MARGIN}\n",
        settings.alpha, settings.permutations, settings.min_size
    );
    if let Some(dir) = arg("--otava") {
        report("Apache Otava test series", &otava(&dir), &settings);
    }
    if let Some(dir) = arg("--tcpd") {
        report("TCPD (Turing Change Point Dataset)", &tcpd(&dir), &settings);
    }
    synthetic_table(&settings);
}

/// Precision, recall and F1 of both methods over a data set, and the
/// points found per series.
fn report(title: &str, set: &[Labelled], settings: &Settings) {
    let (mut ed, mut th) = (Tally::default(), Tally::default());
    println!("## {title}: {} series\n", set.len());
    println!("| series | n | annotated | E-divisive | threshold |");
    println!("|---|---|---|---|---|");
    for s in set {
        let e: Vec<usize> = change_points(&s.values, settings)
            .iter()
            .map(|c| c.index)
            .collect();
        let t = threshold_changes(&s.values, K);
        ed.add(&s.annotations, &e, MARGIN);
        th.add(&s.annotations, &t, MARGIN);
        let mut union: Vec<usize> = s.annotations.iter().flatten().copied().collect();
        union.sort_unstable();
        union.dedup();
        println!(
            "| {} | {} | {:?} | {:?} | {} |",
            s.name,
            s.values.len(),
            union,
            e,
            short(&t)
        );
    }
    println!("\n| method | found | precision | recall | F1 |");
    println!("|---|---|---|---|---|");
    for (name, t) in [("E-divisive", ed), ("threshold", th)] {
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} |",
            t.found,
            t.precision(),
            t.recall(),
            t.f1()
        );
    }
    println!();
}

fn short(v: &[usize]) -> String {
    if v.len() <= 8 {
        format!("{v:?}")
    } else {
        format!("{} points", v.len())
    }
}

/// Detection and false-change rates on synthetic histories of 40 runs with
/// a step at run 20, 200 series per cell.
fn synthetic_table(settings: &Settings) {
    const N: usize = 40;
    const AT: usize = 20;
    const SERIES: u64 = 200;
    println!("## Synthetic: {N} runs, step at run {AT}, {SERIES} series per cell, margin 3\n");
    println!(
        "| noise sd | step | E-divisive detected | E-divisive false/series | threshold detected | threshold false/series |"
    );
    println!("|---|---|---|---|---|---|");
    for sd in [0.01, 0.02, 0.03] {
        for step in [0.0, 0.02, 0.05, 0.10] {
            let (mut ed_hit, mut ed_false, mut th_hit, mut th_false) = (0, 0, 0, 0);
            for seed in 0..SERIES {
                let x = synthetic(N, if step == 0.0 { N } else { AT }, step, sd, seed);
                let truth: &[usize] = if step == 0.0 { &[] } else { &[AT] };
                let e: Vec<usize> = change_points(&x, settings)
                    .iter()
                    .map(|c| c.index)
                    .collect();
                let t = threshold_changes(&x, K);
                let (em, tm) = (matched(truth, &e, 3), matched(truth, &t, 3));
                ed_hit += em;
                th_hit += tm;
                ed_false += e.len() - em;
                th_false += t.len() - tm;
            }
            let rate = |hits: usize| {
                if step == 0.0 {
                    "-".to_string()
                } else {
                    format!("{:.0}%", 100.0 * hits as f64 / SERIES as f64)
                }
            };
            println!(
                "| {:.0}% | {:.0}% | {} | {:.3} | {} | {:.3} |",
                sd * 100.0,
                step * 100.0,
                rate(ed_hit),
                ed_false as f64 / SERIES as f64,
                rate(th_hit),
                th_false as f64 / SERIES as f64
            );
        }
    }
}

/// A file of a checkout, or of the HEAD of a bare git directory.
fn read(repo: &Path, path: &str) -> String {
    try_read(repo, path).unwrap_or_else(|| panic!("{}: no {path}", repo.display()))
}

fn try_read(repo: &Path, path: &str) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(repo.join(path)) {
        return Some(text);
    }
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(["show", &format!("HEAD:{path}")])
        .output()
        .expect("cannot run git");
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).expect("not UTF-8"))
}

/// The numbers of the first `[...]` after `marker` in `text`.
fn list_after(text: &str, marker: &str) -> Vec<f64> {
    let at = text.find(marker).unwrap_or_else(|| panic!("no `{marker}`"));
    let open = at + text[at..].find('[').unwrap();
    let close = open + text[open..].find(']').unwrap();
    text[open + 1..close]
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

/// Otava's test series and the change points its tests expect: the
/// Tigerbeetle series (`[15, 71]` at the tests' default-like settings,
/// p 0.01 and a 5% magnitude), the single-step series (`[10]`), and the
/// two metrics of its CSV sample (metric2 changes at row 6; metric1 none).
fn otava(repo: &Path) -> Vec<Labelled> {
    let tb = read(repo, "tests/tigerbeetle_test.py");
    let single = read(repo, "tests/analysis_test.py");
    let csv = read(repo, "tests/resources/sample.csv");
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let column = |i: usize| rows.iter().map(|r| r[i].trim().parse().unwrap()).collect();
    vec![
        Labelled {
            name: "tigerbeetle".into(),
            values: list_after(&tb, "return ["),
            annotations: vec![vec![15, 71]],
        },
        Labelled {
            name: "single_series".into(),
            values: list_after(&single, "series = ["),
            annotations: vec![vec![10]],
        },
        Labelled {
            name: "sample.csv metric1".into(),
            values: column(2),
            annotations: vec![vec![]],
        },
        Labelled {
            name: "sample.csv metric2".into(),
            values: column(3),
            annotations: vec![vec![6]],
        },
    ]
}

/// TCPD's univariate series without missing values, with every
/// annotator's change points (0-based).
fn tcpd(repo: &Path) -> Vec<Labelled> {
    let annotations: serde_json::Value =
        serde_json::from_str(&read(repo, "annotations.json")).expect("annotations.json");
    let mut out = Vec::new();
    for (name, by_annotator) in annotations.as_object().expect("an object") {
        let Some(text) = try_read(repo, &format!("datasets/{name}/{name}.json")) else {
            continue; // not redistributed: TCPD downloads it at build time
        };
        let d: serde_json::Value = serde_json::from_str(&text).expect("dataset JSON");
        if d["n_dim"] != 1 {
            continue;
        }
        let raw = d["series"][0]["raw"].as_array().expect("raw");
        let Some(values) = raw.iter().map(|v| v.as_f64()).collect::<Option<Vec<f64>>>() else {
            continue; // missing values
        };
        let annotations = by_annotator
            .as_object()
            .expect("annotators")
            .values()
            .map(|a| {
                a.as_array()
                    .expect("indices")
                    .iter()
                    .map(|i| i.as_u64().unwrap() as usize)
                    .collect()
            })
            .collect();
        out.push(Labelled {
            name: name.clone(),
            values,
            annotations,
        });
    }
    out
}
