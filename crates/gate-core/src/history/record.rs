//! One stored run of the history: a report with the commit it measured,
//! when, and where. One JSON file per commit, named `<commit>.json`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::model::Environment;
use crate::verdict::Report;

/// Version of the record format; readers refuse newer ones.
pub const RECORD_SCHEMA: u32 = 1;

/// The fewest hexadecimal characters that name a commit: git abbreviates
/// ids to at least 7, and a shorter prefix may match several commits.
pub const MIN_COMMIT_CHARS: usize = 7;

/// One run of the default branch, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema: u32,
    /// The full commit id measured.
    pub commit: String,
    /// The commit's committer time (RFC 3339): the order of the history.
    pub time: String,
    /// When the run was stored (RFC 3339).
    pub recorded_at: String,
    /// The commit's subject line, for tooltips and change lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Where the figures were measured (the report's own environment).
    pub environment: Environment,
    /// Measured with quick settings (`gate history backfill`, `--quick`).
    #[serde(default)]
    pub quick: bool,
    /// The check's report: rows with every sample, notes, builds.
    pub report: Report,
}

impl Record {
    /// The file name of the record of `commit`.
    pub fn file_name(commit: &str) -> String {
        format!("{commit}.json")
    }

    /// Parses a record read from `name` (a path or `branch:path`), naming
    /// the file and the field of whatever is wrong.
    pub fn parse(text: &str, name: &str) -> Result<Record> {
        let r: Record = serde_json::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "{name}:{}:{}: not a gate history record: {e}",
                e.line(),
                e.column()
            )
        })?;
        if r.schema > RECORD_SCHEMA {
            bail!(
                "{name}: field `schema` is {}, newer than this gate reads ({RECORD_SCHEMA}); update the gate",
                r.schema
            );
        }
        if r.commit.len() < MIN_COMMIT_CHARS || !r.commit.chars().all(|c| c.is_ascii_hexdigit()) {
            bail!(
                "{name}: field `commit` is `{}`, not a commit id (hexadecimal, {MIN_COMMIT_CHARS} characters or more)",
                r.commit
            );
        }
        for (field, value) in [("time", &r.time), ("recorded_at", &r.recorded_at)] {
            chrono::DateTime::parse_from_rfc3339(value).map_err(|e| {
                anyhow::anyhow!("{name}: field `{field}` is `{value}`, not an RFC 3339 time: {e}")
            })?;
        }
        Ok(r)
    }

    /// Reads the record at `path`.
    pub fn read(path: &Path) -> Result<Record> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read history record {}", path.display()))?;
        Record::parse(&text, &path.display().to_string())
    }

    /// The record as pretty JSON, the stored form.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).context("serialising a history record")
    }
}

/// Puts records in history order: commit time, then storing time, then id.
/// A commit stored twice keeps its latest record only.
pub fn order(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by(|a, b| {
        (time_key(&a.time), time_key(&a.recorded_at), &a.commit).cmp(&(
            time_key(&b.time),
            time_key(&b.recorded_at),
            &b.commit,
        ))
    });
    let mut out: Vec<Record> = Vec::with_capacity(records.len());
    for r in records {
        if let Some(i) = out.iter().rposition(|o| o.commit == r.commit) {
            out.remove(i);
        }
        out.push(r);
    }
    out
}

fn time_key(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t).map_or(0, |d| d.timestamp_millis())
}

/// Reads every `*.json` record of the folder `dir`, in history order; an
/// absent folder is an empty history.
pub fn read_dir(dir: &Path) -> Result<Vec<Record>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut records = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "json") {
            records.push(Record::read(&path)?);
        }
    }
    Ok(order(records))
}

/// Writes `record` into the folder `dir` as `<commit>.json`, atomically;
/// returns its path.
pub fn write_into(dir: &Path, record: &Record) -> Result<std::path::PathBuf> {
    let path = dir.join(Record::file_name(&record.commit));
    crate::formats::write_atomic_bytes(&path, record.to_json()?.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(commit: &str, time: &str) -> Record {
        Record {
            schema: RECORD_SCHEMA,
            commit: commit.into(),
            time: time.into(),
            recorded_at: time.into(),
            subject: None,
            environment: Environment::default(),
            quick: false,
            report: Report::error(&Environment::default(), "x".into()),
        }
    }

    #[test]
    fn bad_fields_are_named_with_the_file() {
        let mut r = record("abcdef1", "2026-01-01T00:00:00Z");
        r.time = "yesterday".into();
        let text = r.to_json().unwrap();
        let err = Record::parse(&text, "h/abcdef1.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("h/abcdef1.json") && err.contains("`time`"),
            "{err}"
        );
        let err = Record::parse("{\"schema\":1}", "h/x.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("h/x.json") && err.contains("commit"), "{err}");
    }

    #[test]
    fn order_is_by_commit_time_and_keeps_the_latest_of_a_commit() {
        let a = record("aaaaaaa", "2026-01-02T00:00:00Z");
        let b = record("bbbbbbb", "2026-01-01T00:00:00Z");
        let mut a2 = a.clone();
        a2.recorded_at = "2026-02-01T00:00:00Z".into();
        a2.quick = true;
        let got = order(vec![a, b, a2]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].commit, "bbbbbbb");
        assert!(got[1].quick);
    }
}
