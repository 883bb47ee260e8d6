//! Stored baselines: `baselines/go.yaml` and `baselines/rust.yaml`.
//!
//! ```yaml
//! schema: 1
//! kind: go-baseline            # or rust-baseline
//! updated_at: 2026-01-01T12:00:00Z
//! sets:                        # one per imported Go file / per Rust run
//!   - environment: { cpu_model: AMD EPYC, os: linux, ... }
//!     provenance: securememory-memguard-cpu1.txt
//!     benchmarks: [ ... ]
//! ```
//!
//! Each set keeps its own environment and provenance, because figures from
//! two machines must never be silently pooled. Writing goes through
//! [`write_atomic`], so a crash never leaves a half-written baseline.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::schema::{self, Header};
use crate::model::{Benchmark, Lang, ResultSet, SCHEMA_VERSION};

/// Which language a baseline holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BaselineKind {
    #[serde(rename = "go-baseline")]
    Go,
    #[serde(rename = "rust-baseline")]
    Rust,
}

impl BaselineKind {
    /// The `kind` value in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineKind::Go => "go-baseline",
            BaselineKind::Rust => "rust-baseline",
        }
    }

    /// The language of every benchmark in such a baseline.
    pub fn lang(self) -> Lang {
        match self {
            BaselineKind::Go => Lang::Go,
            BaselineKind::Rust => Lang::Rust,
        }
    }
}

/// A baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub schema: u32,
    pub kind: BaselineKind,
    /// When the file was last written (RFC 3339).
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub sets: Vec<ResultSet>,
}

/// A benchmark found in a baseline, with the set (environment, provenance)
/// it was measured in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found<'a> {
    pub set: &'a ResultSet,
    pub benchmark: &'a Benchmark,
}

impl Baseline {
    /// An empty baseline of the current schema, stamped now.
    pub fn new(kind: BaselineKind) -> Baseline {
        Baseline {
            schema: SCHEMA_VERSION,
            kind,
            updated_at: Utc::now(),
            sets: Vec::new(),
        }
    }

    /// Finds `(lang, id, threads)` across the sets. A measured figure is
    /// preferred over a `reference_only` one (which is shown, never used to
    /// fail); among figures of the same standing the latest set wins, since
    /// sets are appended as they are imported or measured.
    pub fn find(&self, lang: Lang, id: &str, threads: u32) -> Option<Found<'_>> {
        let mut best: Option<Found<'_>> = None;
        for set in &self.sets {
            if let Some(benchmark) = set.find(lang, id, threads) {
                let better = match best {
                    None => true,
                    Some(b) => !benchmark.reference_only || b.benchmark.reference_only,
                };
                if better {
                    best = Some(Found { set, benchmark });
                }
            }
        }
        best
    }

    /// Every benchmark of every set, in order.
    pub fn benchmarks(&self) -> impl Iterator<Item = &Benchmark> {
        self.sets.iter().flat_map(|s| s.benchmarks.iter())
    }

    /// The baseline as YAML text.
    pub fn to_yaml(&self) -> Result<String> {
        serde_yaml::to_string(self).context("cannot serialise the baseline")
    }
}

/// Reads a baseline file; errors name the file and the line (and the field
/// path, e.g. `sets[0].benchmarks[2].threads`).
pub fn read_baseline(path: &Path) -> Result<Baseline> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read baseline {}", path.display()))?;
    parse_baseline(&text, path)
}

/// Parses baseline YAML; `path` names it in messages.
pub fn parse_baseline(text: &str, path: &Path) -> Result<Baseline> {
    let file = path.display().to_string();
    if text.trim().is_empty() {
        bail!("{file}: the file is empty; expected a gate baseline (YAML)");
    }
    let header: Header = serde_yaml::from_str(text).map_err(|e| anyhow!("{file}: {e}"))?;
    schema::check(
        &file,
        &header,
        &[BaselineKind::Go.as_str(), BaselineKind::Rust.as_str()],
    )?;
    let baseline: Baseline = serde_yaml::from_str(text).map_err(|e| anyhow!("{file}: {e}"))?;
    let lang = baseline.kind.lang();
    for (i, set) in baseline.sets.iter().enumerate() {
        for (j, b) in set.benchmarks.iter().enumerate() {
            if b.lang != lang {
                bail!(
                    "{file}: sets[{i}].benchmarks[{j}] (`{}`) is a {} figure in a {}",
                    b.id,
                    b.lang,
                    baseline.kind.as_str()
                );
            }
            // YAML can spell `.nan` and `.inf`; no reader of measurements
            // produces them, and the statistics would only carry them along.
            if let Some((k, v)) = b.samples.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                bail!(
                    "{file}: sets[{i}].benchmarks[{j}].samples[{k}] (`{}`) is {v}, not a measurement",
                    b.id
                );
            }
            if let Some((name, v)) = b.counters.iter().find(|(_, v)| !v.is_finite()) {
                bail!(
                    "{file}: sets[{i}].benchmarks[{j}].counters.{name} (`{}`) is {v}, not a measurement",
                    b.id
                );
            }
        }
    }
    Ok(baseline)
}

/// Writes a baseline atomically: the previous file stays whole until the
/// new one is complete on disk.
pub fn write_baseline(path: &Path, baseline: &Baseline) -> Result<()> {
    write_atomic(path, |w| {
        serde_yaml::to_writer(w, baseline).context("cannot serialise the baseline")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Environment, Mode};

    fn bench(id: &str, lang: Lang, threads: u32, median: f64, reference_only: bool) -> Benchmark {
        Benchmark {
            id: id.into(),
            lang,
            mode: if threads == 1 {
                Mode::Sequential
            } else {
                Mode::Parallel
            },
            threads,
            unit: "ns/op".into(),
            samples: vec![median, median + 1.0, median - 1.0],
            counters: [("B/op".to_string(), 96.0)].into(),
            metrics: Default::default(),
            labels: [("pkg".to_string(), "x".to_string())].into(),
            reference_only,
            source: Some("f.txt".into()),
        }
    }

    fn baseline() -> Baseline {
        let set = |name: &str, benchmarks| ResultSet {
            environment: Environment {
                cpu_model: Some("AMD EPYC".into()),
                ..Environment::default()
            },
            benchmarks,
            provenance: Some(name.into()),
        };
        Baseline {
            updated_at: "2026-01-02T03:04:05Z".parse().unwrap(),
            sets: vec![
                set(
                    "measured-old",
                    vec![bench("BenchmarkA", Lang::Go, 1, 100.0, false)],
                ),
                set("doc", vec![bench("BenchmarkA", Lang::Go, 1, 300.0, true)]),
                set("cpu2", vec![bench("BenchmarkA", Lang::Go, 2, 50.0, false)]),
                set(
                    "measured-new",
                    vec![bench("BenchmarkA", Lang::Go, 1, 90.0, false)],
                ),
            ],
            ..Baseline::new(BaselineKind::Go)
        }
    }

    #[test]
    fn yaml_round_trip_through_an_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("go.yaml");
        write_baseline(&path, &baseline()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("schema: 1\nkind: go-baseline\nupdated_at: 2026-01-02T03:04:05Z\n"),
            "{text}"
        );
        assert_eq!(read_baseline(&path).unwrap(), baseline());
    }

    #[test]
    fn lookup_prefers_measured_figures_then_the_latest_set() {
        let b = baseline();
        let f = b.find(Lang::Go, "BenchmarkA", 1).unwrap();
        assert_eq!(f.set.provenance.as_deref(), Some("measured-new"));
        assert_eq!(
            b.find(Lang::Go, "BenchmarkA", 2).unwrap().benchmark.samples[0],
            50.0
        );
        assert!(b.find(Lang::Go, "BenchmarkA", 4).is_none());
        assert!(b.find(Lang::Rust, "BenchmarkA", 1).is_none());
        let only_doc = Baseline {
            sets: vec![b.sets[1].clone()],
            ..b.clone()
        };
        assert!(
            only_doc
                .find(Lang::Go, "BenchmarkA", 1)
                .unwrap()
                .benchmark
                .reference_only
        );
        let measured_first = Baseline {
            sets: vec![b.sets[0].clone(), b.sets[1].clone()],
            ..b.clone()
        };
        let f = measured_first.find(Lang::Go, "BenchmarkA", 1).unwrap();
        assert_eq!(f.set.provenance.as_deref(), Some("measured-old"));
    }

    #[test]
    fn malformed_yaml_names_file_and_line() {
        let p = Path::new("baselines/go.yaml");
        let text = "schema: 1\nkind: go-baseline\nupdated_at: 2026-01-02T03:04:05Z\nsets:\n  - benchmarks:\n      - id: BenchmarkA\n        lang: go\n        mode: sequential\n        threads: many\n";
        let err = format!("{:#}", parse_baseline(text, p).unwrap_err());
        assert!(
            err.contains("baselines/go.yaml") && err.contains("line 9"),
            "{err}"
        );
        assert!(err.contains("threads"), "{err}");
        let err = format!(
            "{:#}",
            parse_baseline("schema: 1\nkind: [go-baseline\n", p).unwrap_err()
        );
        assert!(
            err.contains("baselines/go.yaml") && err.contains("line "),
            "{err}"
        );
        let err = format!("{:#}", parse_baseline("\n", p).unwrap_err());
        assert!(err.contains("empty"), "{err}");
    }

    #[test]
    fn newer_schema_wrong_kind_and_foreign_figures_are_refused() {
        let p = Path::new("b.yaml");
        let err = format!(
            "{:#}",
            parse_baseline("schema: 2\nkind: go-baseline\nsets: {new: layout}\n", p).unwrap_err()
        );
        assert!(
            err.contains("b.yaml") && err.contains("schema 2") && err.contains("upgrade"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            parse_baseline("schema: 1\nkind: results\n", p).unwrap_err()
        );
        assert!(err.contains("`results`"), "{err}");
        let mut b = baseline();
        b.sets[2].benchmarks[0].lang = Lang::Rust;
        let err = format!(
            "{:#}",
            parse_baseline(&b.to_yaml().unwrap(), p).unwrap_err()
        );
        assert!(
            err.contains("sets[2].benchmarks[0]") && err.contains("rust figure in a go-baseline"),
            "{err}"
        );
    }

    /// `.nan` and `.inf` are YAML numbers but not measurements: refused,
    /// naming the field.
    #[test]
    fn non_finite_samples_and_counters_are_refused() {
        let p = Path::new("b.yaml");
        let text = "schema: 1\nkind: go-baseline\nupdated_at: 2026-01-02T03:04:05Z\nsets:\n  - benchmarks:\n      - id: BenchmarkA\n        lang: go\n        mode: sequential\n        threads: 1\n        unit: ns/op\n        samples: [1.0, .nan]\n";
        let err = format!("{:#}", parse_baseline(text, p).unwrap_err());
        assert!(
            err.contains("b.yaml") && err.contains("sets[0].benchmarks[0].samples[1]"),
            "{err}"
        );
        let text = text.replace(".nan]", "2.0]\n        counters: {B/op: -.inf}");
        let err = format!("{:#}", parse_baseline(&text, p).unwrap_err());
        assert!(
            err.contains("counters.B/op") && err.contains("-inf"),
            "{err}"
        );
    }
}
