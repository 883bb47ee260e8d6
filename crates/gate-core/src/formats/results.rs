//! The results file `gate check` saves: one [`ResultSet`] as JSON with a
//! header, `{"schema": 1, "kind": "results", "environment": ..,
//! "benchmarks": [..], "provenance": ..}`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::atomic::write_atomic;
use super::schema::{self, Header};
use crate::model::{ResultSet, SCHEMA_VERSION};

/// `kind` of a results file.
pub const RESULTS_KIND: &str = "results";

#[derive(Serialize)]
struct ResultsFile<'a> {
    schema: u32,
    kind: &'a str,
    #[serde(flatten)]
    set: &'a ResultSet,
}

/// The results file as pretty JSON text.
pub fn results_json(set: &ResultSet) -> Result<String> {
    let file = ResultsFile {
        schema: SCHEMA_VERSION,
        kind: RESULTS_KIND,
        set,
    };
    let mut text = serde_json::to_string_pretty(&file).context("cannot serialise results")?;
    text.push('\n');
    Ok(text)
}

/// Writes a results file atomically.
pub fn write_results(path: &Path, set: &ResultSet) -> Result<()> {
    let text = results_json(set).with_context(|| path.display().to_string())?;
    write_atomic(path, |w| Ok(w.write_all(text.as_bytes())?))
}

/// Reads a results file; errors name the file, line and column.
pub fn read_results(path: &Path) -> Result<ResultSet> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_results(&text, path)
}

/// Parses results JSON; `path` names it in messages.
pub fn parse_results(text: &str, path: &Path) -> Result<ResultSet> {
    let file = path.display().to_string();
    if text.trim().is_empty() {
        bail!("{file}: the file is empty; expected a gate results file (JSON)");
    }
    // The header first, then the whole set from the same text, so that
    // serde_json's line and column point into the file.
    let header: Header = serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    schema::check(&file, &header, &[RESULTS_KIND])?;
    let mut set: ResultSet =
        serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    if set.provenance.is_none() {
        set.provenance = Some(file);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Benchmark, Lang, Mode};

    fn set() -> ResultSet {
        ResultSet {
            benchmarks: vec![Benchmark {
                id: "secret/with_bytes/sequential".into(),
                lang: Lang::Rust,
                mode: Mode::Sequential,
                threads: 1,
                unit: "ns/op".into(),
                samples: vec![2100.5, 2099.0],
                counters: [("mprotect_per_op".to_string(), 2.0)].into(),
                metrics: Default::default(),
                labels: Default::default(),
                reference_only: false,
                source: None,
            }],
            provenance: Some("run 1".into()),
            ..ResultSet::default()
        }
    }

    #[test]
    fn writes_header_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_results(&path, &set()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["kind"], "results");
        assert!(v["benchmarks"].is_array());
        assert_eq!(read_results(&path).unwrap(), set());
    }

    #[test]
    fn refuses_newer_schema_other_kind_and_malformed_input() {
        let p = Path::new("r.json");
        let err = format!(
            "{:#}",
            parse_results(r#"{"schema": 2, "kind": "results", "future": true}"#, p).unwrap_err()
        );
        assert!(
            err.contains("r.json") && err.contains("schema 2") && err.contains("upgrade"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            parse_results(r#"{"schema": 1, "kind": "report", "benchmarks": []}"#, p).unwrap_err()
        );
        assert!(err.contains("`report`"), "{err}");
        let err = format!(
            "{:#}",
            parse_results(
                "{\"schema\": 1,\n\"kind\": \"results\",\n\"benchmarks\": [{\"id\": 3}]}",
                p
            )
            .unwrap_err()
        );
        assert!(err.contains("r.json") && err.contains("line 3"), "{err}");
        let err = format!(
            "{:#}",
            parse_results("{\"schema\": 1,\n\"kind\": ", p).unwrap_err()
        );
        assert!(err.contains("r.json") && err.contains("line 2"), "{err}");
        let err = format!("{:#}", parse_results("", p).unwrap_err());
        assert!(err.contains("r.json") && err.contains("empty"), "{err}");
    }

    /// Figures read back bit for bit, also those whose shortest form has 17
    /// digits or a large exponent (serde_json's default parser was one unit
    /// in the last place off for them).
    #[test]
    fn figures_read_back_bit_for_bit() {
        let mut s = set();
        s.benchmarks[0].samples = vec![1.0715660391465826e-75, -1.81996730402717e-179, 0.1 + 0.2];
        let text = results_json(&s).unwrap();
        let back = parse_results(&text, Path::new("r.json")).unwrap();
        let bits = |set: &ResultSet| -> Vec<u64> {
            set.benchmarks[0]
                .samples
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(bits(&back), bits(&s));
    }
}
