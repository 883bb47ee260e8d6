//! `gate merge FILE...`: one report (and so one PR comment) from the reports
//! of several runners, e.g. the jobs of a GitHub Actions matrix over OS and
//! architecture. Each row keeps the runner it was measured on; nothing is
//! compared across runners (that would compare machines, not code).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::model::SCHEMA_VERSION;
use crate::verdict::{Report, Verdict};

/// A short runner label from a report's environment (`linux/x86_64`),
/// made unique with the file name when two runners look alike.
fn labels(reports: &[(PathBuf, Report)]) -> Vec<String> {
    let base: Vec<String> = reports
        .iter()
        .map(|(_, r)| {
            let e = &r.environment;
            format!(
                "{}/{}",
                e.os.as_deref().unwrap_or("?"),
                e.arch
                    .as_deref()
                    .map(crate::model::normalize_arch)
                    .unwrap_or("?")
            )
        })
        .collect();
    base.iter()
        .zip(reports)
        .map(|(label, (path, _))| {
            if base.iter().filter(|l| *l == label).count() > 1 {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{label} {stem}")
            } else {
                label.clone()
            }
        })
        .collect()
}

/// Merges the reports: rows tagged with their runner, the worst verdict,
/// every environment, every note prefixed with its runner.
pub fn merge_reports(reports: &[(PathBuf, Report)]) -> Report {
    let labels = labels(reports);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut baseline_environments = BTreeMap::new();
    for (label, (_, report)) in labels.iter().zip(reports) {
        for row in &report.rows {
            let mut row = row.clone();
            row.runner = Some(label.clone());
            rows.push(row);
        }
        baseline_environments.insert(format!("runner {label}"), report.environment.clone());
        for (name, env) in &report.baseline_environments {
            baseline_environments.insert(format!("{label}: {name}"), env.clone());
        }
        notes.extend(report.notes.iter().map(|n| format!("[{label}] {n}")));
    }
    let verdict = if reports.iter().any(|(_, r)| r.verdict == Verdict::Error) {
        Verdict::Error
    } else if reports
        .iter()
        .any(|(_, r)| r.verdict == Verdict::Regression)
    {
        Verdict::Regression
    } else {
        Verdict::Pass
    };
    notes.insert(
        0,
        format!(
            "merged from {} runner(s): {}; rows are compared within each runner only",
            reports.len(),
            labels.join(", ")
        ),
    );
    Report {
        schema: SCHEMA_VERSION,
        verdict,
        environment: reports
            .first()
            .map(|(_, r)| r.environment.clone())
            .unwrap_or_default(),
        baseline_environments,
        rows,
        notes,
        builds: Default::default(),
    }
}
