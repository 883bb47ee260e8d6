//! [`load_any`]: whatever `gate compare OLD NEW` is given, as one result set.
//!
//! Recognised, in this order:
//! 1. a folder: a criterion home, or a folder holding `criterion/` (such as
//!    `target/`), read with [`read_criterion`];
//! 2. JSON with `rows`: a saved report ([`Report`]); the `new` side of each
//!    row is taken (id, mode, threads, samples, counters), rows without a
//!    `new` side are skipped; a row of a unit other than time gives its
//!    samples back to the benchmark's metrics under that unit;
//! 3. JSON with `benchmarks`: a results file;
//! 4. YAML whose `kind` is `go-baseline`/`rust-baseline` (or any `.yaml`/
//!    `.yml` file): a baseline, all sets merged;
//! 5. anything else: Go benchmark text.
//!
//! The mode override only applies to Go text; every other format records
//! the mode of each benchmark.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use super::Parsed;
use super::baseline::{Baseline, parse_baseline};
use super::criterion::read_criterion;
use super::gobench::parse_go;
use super::results::parse_results;
use crate::model::{Benchmark, Mode, ResultSet, SCHEMA_VERSION};
use crate::units;
use crate::verdict::Report;

/// Loads a result set from any format the gate reads (see the module doc).
pub fn load_any(path: &Path, mode_override: Option<Mode>) -> Result<Parsed> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {file}"))?;
    if meta.is_dir() {
        let nested = path.join("criterion");
        let home = if nested.is_dir() {
            nested
        } else {
            path.to_path_buf()
        };
        return with_mode_note(read_criterion(&home, None)?, &file, mode_override);
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {file}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{file}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    load_text(&text, path, mode_override)
}

/// Recognises and reads the text of a file (every format of the module doc
/// but a criterion folder); `path` names it in messages, and its extension
/// counts as for [`load_any`].
pub fn load_text(text: &str, path: &Path, mode_override: Option<Mode>) -> Result<Parsed> {
    let file = path.display().to_string();
    if text.trim_start().starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| anyhow!("{file}: {e}"))?;
        let parsed = if value.get("rows").is_some() {
            let report: Report = serde_json::from_str(text).map_err(|e| anyhow!("{file}: {e}"))?;
            report_set(&report, &file)?
        } else if value.get("benchmarks").is_some() {
            Parsed {
                set: parse_results(text, path)?,
                warnings: Vec::new(),
            }
        } else {
            bail!("{file}: JSON, but neither a report (`rows`) nor a results file (`benchmarks`)");
        };
        return with_mode_note(parsed, &file, mode_override);
    }

    let yaml_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if yaml_name || looks_like_baseline(text) {
        let baseline = parse_baseline(text, path)?;
        return with_mode_note(baseline_set(&baseline, &file)?, &file, mode_override);
    }

    parse_go(text, path, mode_override)
}

/// A top-level `kind: go-baseline` / `kind: rust-baseline` line.
fn looks_like_baseline(text: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix("kind:").is_some_and(|v| {
            let v = v.trim().trim_matches(['"', '\'']);
            v == "go-baseline" || v == "rust-baseline"
        })
    })
}

fn with_mode_note(mut parsed: Parsed, file: &str, mode: Option<Mode>) -> Result<Parsed> {
    if let Some(m) = mode {
        parsed.warnings.push(format!(
            "{file}: the mode override `{m}` applies to Go benchmark text only; \
             this file records the mode of each benchmark"
        ));
    }
    Ok(parsed)
}

/// The new side of a saved report. A Rust benchmark appears in several rows
/// (against the Rust and the Go baseline); it is taken once.
fn report_set(report: &Report, file: &str) -> Result<Parsed> {
    if report.schema > SCHEMA_VERSION {
        bail!(
            "{file}: written with schema {}, but this gate reads schema {SCHEMA_VERSION} at most; \
             upgrade gate to read it",
            report.schema
        );
    }
    let mut warnings = Vec::new();
    let mut seen = HashSet::new();
    let mut benchmarks = Vec::new();
    for row in &report.rows {
        let Some(side) = &row.new else { continue };
        let lang = row.lang();
        // A row of a unit other than time (`gate compare` of Go results)
        // gives that unit's values back to its benchmark's metrics, and its
        // direction back to its labels when a `Unit` line had declared it.
        if let Some(unit) = &row.unit {
            if let Some(b) = benchmarks
                .iter_mut()
                .find(|b: &&mut Benchmark| b.key() == (lang, row.id.as_str(), row.threads))
            {
                b.metrics.insert(unit.clone(), side.samples.clone());
                b.labels.extend(
                    row.better
                        .and_then(|better| units::better_label(unit, better)),
                );
            }
            continue;
        }
        if !seen.insert((lang, row.id.clone(), row.threads)) {
            continue;
        }
        let (samples, reference_only) = if side.samples.is_empty() && side.n > 0 {
            warnings.push(format!(
                "{file}: row `{}` keeps no samples, only its median; it is used for reference only",
                row.id
            ));
            (vec![side.median_ns], true)
        } else {
            (side.samples.clone(), false)
        };
        benchmarks.push(Benchmark {
            id: row.id.clone(),
            lang,
            mode: row.mode,
            threads: row.threads,
            unit: units::TIME_UNIT.to_string(),
            samples,
            counters: side.counters.clone(),
            metrics: Default::default(),
            // Keep which counters are exact, so a saved report compares them exactly too.
            labels: if side.exact_counters.is_empty() {
                Default::default()
            } else {
                let mut names = side.exact_counters.clone();
                names.sort();
                [(super::EXACT_LABEL.to_string(), names.join(","))].into()
            },
            reference_only,
            source: Some(file.to_string()),
        });
    }
    if benchmarks.is_empty() {
        bail!("{file}: the report has no row with new figures");
    }
    Ok(Parsed {
        set: ResultSet {
            environment: report.environment.clone(),
            benchmarks,
            provenance: Some(file.to_string()),
        },
        warnings,
    })
}

/// All sets of a baseline as one set. Where a benchmark is in several sets,
/// the one [`Baseline::find`] prefers is taken. The environment is the first
/// set's; a warning says when the sets were measured on different machines.
fn baseline_set(baseline: &Baseline, file: &str) -> Result<Parsed> {
    let mut warnings = Vec::new();
    let mut seen = HashSet::new();
    let mut benchmarks = Vec::new();
    for b in baseline.benchmarks() {
        if seen.insert(b.key()) {
            let found = baseline
                .find(b.lang, &b.id, b.threads)
                .expect("a benchmark of the baseline is found in it");
            benchmarks.push(found.benchmark.clone());
        }
    }
    if benchmarks.is_empty() {
        bail!("{file}: the {} holds no benchmarks", baseline.kind.as_str());
    }
    let environment = baseline.sets[0].environment.clone();
    let prints: Vec<String> = baseline
        .sets
        .iter()
        .map(|s| s.environment.fingerprint())
        .collect();
    if prints.iter().any(|p| *p != prints[0]) {
        warnings.push(format!(
            "{file}: its sets were measured on different machines ({}); the merged set shows \
             the first set's environment",
            unique(&prints).join("; ")
        ));
    }
    Ok(Parsed {
        set: ResultSet {
            environment,
            benchmarks,
            provenance: Some(file.to_string()),
        },
        warnings,
    })
}

fn unique(items: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for i in items {
        if !out.contains(&i.as_str()) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::formats::{BaselineKind, write_baseline, write_results};
    use crate::model::{Environment, Lang};
    use crate::verdict::{Row, RowKind, RowVerdict, Side, Verdict};

    fn data(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/formats")
            .join(rel)
    }

    fn side(samples: Vec<f64>) -> Side {
        Side {
            median_ns: 100.0,
            n: samples.len().max(3),
            counters: [("mprotect_per_op".to_string(), 0.03)].into(),
            samples,
            exact_counters: Vec::new(),
            median_ci: None,
        }
    }

    fn row(id: &str, kind: RowKind, threads: u32, new: Option<Side>) -> Row {
        Row {
            old: Some(side(vec![1.0, 2.0, 3.0])),
            new,
            ..Row::new(
                id,
                kind,
                if threads == 1 {
                    Mode::Sequential
                } else {
                    Mode::Parallel
                },
                threads,
                RowVerdict::Unchanged,
            )
        }
    }

    #[test]
    fn a_criterion_home_or_a_folder_holding_one() {
        let p = load_any(&data("criterion"), None).unwrap();
        assert_eq!(p.set.benchmarks.len(), 4);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("criterion")).unwrap();
        let err = format!("{:#}", load_any(dir.path(), None).unwrap_err());
        assert!(
            err.contains("criterion") && err.contains("no criterion result"),
            "{err}"
        );
    }

    #[test]
    fn a_report_gives_its_new_side_once_per_benchmark() {
        let report = Report {
            schema: 1,
            verdict: Verdict::Pass,
            environment: Environment {
                cpu_model: Some("AMD EPYC".into()),
                ..Environment::default()
            },
            baseline_environments: BTreeMap::new(),
            builds: BTreeMap::new(),
            rows: vec![
                row(
                    "secret/with_bytes/parallel/t2",
                    RowKind::RustVsRust,
                    2,
                    Some(side(vec![90.0, 95.0, 99.0, 100.0])),
                ),
                row(
                    "secret/with_bytes/parallel/t2",
                    RowKind::RustVsGo,
                    2,
                    Some(side(vec![90.0, 95.0, 99.0, 100.0])),
                ),
                row("secret/gone/sequential", RowKind::RustVsRust, 1, None),
                row(
                    "BenchmarkX",
                    RowKind::Compare,
                    2,
                    Some(side(vec![5.0, 6.0, 7.0])),
                ),
                row(
                    "keycache/read/sequential",
                    RowKind::Compare,
                    1,
                    Some(side(vec![])),
                ),
            ],
            notes: vec![],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
        let p = load_any(&path, None).unwrap();
        let got: Vec<(&str, Lang, u32, bool)> = p
            .set
            .benchmarks
            .iter()
            .map(|b| (b.id.as_str(), b.lang, b.threads, b.reference_only))
            .collect();
        assert_eq!(
            got,
            [
                ("secret/with_bytes/parallel/t2", Lang::Rust, 2, false),
                ("BenchmarkX", Lang::Go, 2, false),
                ("keycache/read/sequential", Lang::Rust, 1, true),
            ]
        );
        let first = &p.set.benchmarks[0];
        assert_eq!(first.samples, vec![90.0, 95.0, 99.0, 100.0]);
        assert_eq!(first.counters["mprotect_per_op"], 0.03);
        assert_eq!(first.mode, Mode::Parallel);
        assert_eq!(p.set.benchmarks[2].samples, vec![100.0]);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("keycache/read/sequential"));
        assert_eq!(p.set.environment.cpu_model.as_deref(), Some("AMD EPYC"));
    }

    /// A unit row gives back its direction when a `Unit` line had declared
    /// it against the unit's own rule, so the unit compares the same way
    /// again; a direction the rule gives adds no label.
    #[test]
    fn a_unit_row_gives_back_its_declared_direction() {
        let unit_row = |unit: &str, better: units::Better| Row {
            unit: Some(unit.into()),
            better: Some(better),
            ..row(
                "BenchmarkX",
                RowKind::Compare,
                2,
                Some(side(vec![7.0, 8.0])),
            )
        };
        let report = Report {
            rows: vec![
                row(
                    "BenchmarkX",
                    RowKind::Compare,
                    2,
                    Some(side(vec![5.0, 6.0])),
                ),
                unit_row("hits", units::Better::Higher),
                unit_row("MB/s", units::Better::Higher),
            ],
            ..Report::error(&Environment::default(), String::new())
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
        let p = load_any(&path, None).unwrap();
        let b = &p.set.benchmarks[0];
        assert_eq!(b.metrics["hits"], vec![7.0, 8.0]);
        assert_eq!(
            b.labels.keys().collect::<Vec<_>>(),
            ["unit:hits:better"],
            "{:?}",
            b.labels
        );
        let hits = Benchmark {
            unit: "hits".into(),
            ..b.clone()
        };
        assert_eq!(units::better_of(&hits).0, units::Better::Higher);
    }

    #[test]
    fn results_files_and_baselines_are_recognised() {
        let go = load_any(&data("go-bench/securememory-memguard-cpu1.txt"), None).unwrap();
        let dir = tempfile::tempdir().unwrap();

        let results = dir.path().join("results.json");
        write_results(&results, &go.set).unwrap();
        let p = load_any(&results, None).unwrap();
        assert_eq!(p.set.benchmarks, go.set.benchmarks);

        let mut baseline = Baseline::new(BaselineKind::Go);
        baseline.sets.push(go.set.clone());
        let cpu2 = load_any(&data("go-bench/securememory-memguard-cpu2.txt"), None).unwrap();
        let mut other_machine = cpu2.set.clone();
        other_machine.environment.cpu_model = Some("Other CPU".into());
        baseline.sets.push(other_machine);
        for name in ["go.yaml", "go-baseline.data"] {
            let path = dir.path().join(name);
            write_baseline(&path, &baseline).unwrap();
            let p = load_any(&path, None).unwrap();
            assert_eq!(p.set.benchmarks.len(), 10, "{name}");
            assert_eq!(p.set.environment.cpu_model.as_deref(), Some("AMD EPYC"));
            assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
            assert!(p.warnings[0].contains("different machines"));
        }
    }

    #[test]
    fn go_text_takes_the_mode_override_other_formats_say_they_ignore_it() {
        let path = data("go-bench/securememory-memguard-cpu1.txt");
        let p = load_any(&path, Some(Mode::Parallel)).unwrap();
        assert!(p.set.benchmarks.iter().all(|b| b.mode == Mode::Parallel));
        assert!(p.warnings.is_empty());
        let p = load_any(&data("criterion"), Some(Mode::Parallel)).unwrap();
        assert!(p.warnings.iter().any(|w| w.contains("mode override")));
    }

    #[test]
    fn unreadable_inputs_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.txt");
        assert!(format!("{:#}", load_any(&missing, None).unwrap_err()).contains("missing.txt"));
        let odd = dir.path().join("odd.json");
        std::fs::write(&odd, r#"{"something": 1}"#).unwrap();
        let err = format!("{:#}", load_any(&odd, None).unwrap_err());
        assert!(err.contains("odd.json") && err.contains("neither"), "{err}");
        let broken = dir.path().join("rust.yaml");
        std::fs::write(&broken, "schema: 1\nkind: rust-baseline\nupdated_at: 2026-01-01T00:00:00Z\nsets:\n  - benchmarks: [\n").unwrap();
        let err = format!("{:#}", load_any(&broken, None).unwrap_err());
        assert!(err.contains("rust.yaml") && err.contains("line "), "{err}");
        let text = dir.path().join("bench.txt");
        std::fs::write(&text, "BenchmarkA 1 10 ns/op\nBenchmarkB x 10 ns/op\n").unwrap();
        let err = format!("{:#}", load_any(&text, None).unwrap_err());
        assert!(err.contains("bench.txt:2"), "{err}");
    }
}
