//! Reader of a criterion home folder (`target/criterion`) and of the per-op
//! counters the subject's benches write beside it.
//!
//! Criterion 0.8 layout: for every benchmark, `<dir>/new/benchmark.json`
//! (its id: `group_id`, `function_id`, `value_str`, `full_id`,
//! `directory_name`, `title`) and `<dir>/new/sample.json` (`sampling_mode`,
//! `iters`, `times`: sample i ran `iters[i]` iterations in `times[i]` ns).
//! `<dir>` is a sanitised form of the id (`secret/with_bytes/parallel_t2`),
//! so the id is taken from `full_id`, never from the path. `base/` and named
//! baselines beside `new/` are criterion's own history and are ignored.
//!
//! Counters: `<home>/gate-counters/*.json`, one per bench,
//! `{"schema":1,"id":..,"mode":..,"threads":..,"counted_ops":..,
//! "counters":{..},"exact":[..],"features":[..],"mlock":..}`. The counters
//! go to the benchmark's `counters`; the exact ones are listed in the
//! [`EXACT_LABEL`] label, and `counted_ops`, `features`, `mlock` become
//! labels too (features are also collected into the environment).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use regex::Regex;
use serde::Deserialize;

use super::{EXACT_LABEL, Parsed};
use crate::model::{BenchId, Benchmark, Lang, Mode, ResultSet, SCHEMA_VERSION};

/// Folder under the criterion home where the benches write their counters.
pub const COUNTERS_DIR: &str = "gate-counters";

/// A result older than the newest one by more than this is probably left
/// over from an earlier run (criterion never deletes old folders).
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// `new/benchmark.json`, the fields we use.
#[derive(Debug, Deserialize)]
struct CriterionId {
    full_id: String,
}

/// `new/sample.json`.
#[derive(Debug, Deserialize)]
struct CriterionSample {
    iters: Vec<f64>,
    times: Vec<f64>,
}

/// `gate-counters/*.json`.
#[derive(Debug, Deserialize)]
struct CounterFile {
    schema: u32,
    id: String,
    mode: Mode,
    threads: u32,
    #[serde(default)]
    counted_ops: Option<u64>,
    counters: BTreeMap<String, f64>,
    #[serde(default)]
    exact: Vec<String>,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    mlock: Option<bool>,
}

/// Reads every benchmark under `home` whose id matches `filter` (all when
/// `None`), with its counters. Ids must follow the bench id scheme
/// (`<group>/<operation>/<mode>[/t<threads>]`), which gives mode and threads.
pub fn read_criterion(home: &Path, filter: Option<&Regex>) -> Result<Parsed> {
    let shown = home.display();
    if !home.is_dir() {
        bail!("{shown}: no criterion results here (not a folder); run the benches first");
    }
    let mut files = Vec::new();
    find_benchmark_files(home, &mut files)
        .with_context(|| format!("{shown}: cannot list criterion results"))?;
    files.sort();

    let mut warnings = Vec::new();
    let mut benchmarks: Vec<Benchmark> = Vec::new();
    let mut written: Vec<(String, SystemTime)> = Vec::new();
    let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
    for bench_file in &files {
        let id: CriterionId = read_json(bench_file)?;
        if filter.is_some_and(|f| !f.is_match(&id.full_id)) {
            continue;
        }
        let parsed =
            BenchId::parse(&id.full_id).map_err(|e| anyhow!("{}: {e}", bench_file.display()))?;
        if let Some(other) = origin.insert(id.full_id.clone(), bench_file.clone()) {
            bail!(
                "{}: bench id `{}` also in {}",
                bench_file.display(),
                id.full_id,
                other.display()
            );
        }
        let sample_file = bench_file.with_file_name("sample.json");
        let sample: CriterionSample = read_json(&sample_file)?;
        let samples = per_op(&sample).map_err(|e| anyhow!("{}: {e}", sample_file.display()))?;
        if let Ok(t) = fs::metadata(&sample_file).and_then(|m| m.modified()) {
            written.push((id.full_id.clone(), t));
        }
        benchmarks.push(Benchmark {
            source: Some(sample_file.display().to_string()),
            ..Benchmark::new(id.full_id, Lang::Rust, parsed.mode, parsed.threads, samples)
        });
    }
    if benchmarks.is_empty() {
        match filter {
            Some(f) => bail!("{shown}: no criterion result matches `{f}`"),
            None => bail!(
                "{shown}: no criterion result (`*/new/benchmark.json`); run the benches first"
            ),
        }
    }
    benchmarks.sort_by(|a, b| a.id.cmp(&b.id));

    let mut features = BTreeSet::new();
    attach_counters(home, filter, &mut benchmarks, &mut features, &mut warnings)?;
    if let Some(w) = stale_warning(home, &written) {
        warnings.push(w);
    }

    let mut set = ResultSet {
        benchmarks,
        provenance: Some(shown.to_string()),
        ..ResultSet::default()
    };
    set.environment.features = features.into_iter().collect();
    Ok(Parsed { set, warnings })
}

/// Per-sample ns/op: `times[i] / iters[i]`.
fn per_op(sample: &CriterionSample) -> Result<Vec<f64>> {
    if sample.iters.len() != sample.times.len() {
        bail!(
            "`iters` has {} entries but `times` has {}",
            sample.iters.len(),
            sample.times.len()
        );
    }
    if sample.iters.is_empty() {
        bail!("no samples");
    }
    sample
        .iters
        .iter()
        .zip(&sample.times)
        .enumerate()
        .map(|(i, (&n, &t))| {
            // A tiny iteration count can still overflow the quotient.
            if n > 0.0 && n.is_finite() && t.is_finite() && t >= 0.0 && (t / n).is_finite() {
                Ok(t / n)
            } else {
                Err(anyhow!(
                    "sample {i}: {t:?} ns for {n:?} iterations is not a measurement"
                ))
            }
        })
        .collect()
}

/// Collects `**/new/benchmark.json` below `dir`, not following symlinks and
/// skipping the counters folder and criterion's HTML reports.
fn find_benchmark_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name();
        if name == COUNTERS_DIR || name == "report" {
            continue;
        }
        let path = entry.path();
        let candidate = path.join("benchmark.json");
        if name == "new" && candidate.is_file() {
            out.push(candidate);
        } else {
            find_benchmark_files(&path, out)?;
        }
    }
    Ok(())
}

/// Attaches the counters file of `b`'s id under `home` (if there is one) to
/// `b`: for samples that did not come from criterion (lockstep runs).
pub fn attach_counters_of(home: &Path, b: &mut Benchmark) -> Result<()> {
    let exact = Regex::new(&format!("^{}$", regex::escape(&b.id))).expect("an escaped id is valid");
    let mut features = BTreeSet::new();
    let mut warnings = Vec::new();
    attach_counters(
        home,
        Some(&exact),
        std::slice::from_mut(b),
        &mut features,
        &mut warnings,
    )
}

fn attach_counters(
    home: &Path,
    filter: Option<&Regex>,
    benchmarks: &mut [Benchmark],
    features: &mut BTreeSet<String>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let dir = home.join(COUNTERS_DIR);
    if !dir.is_dir() {
        return Ok(());
    }
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("{}: cannot list counters", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in files {
        let shown = path.display().to_string();
        let c: CounterFile = read_json(&path)?;
        if c.schema > SCHEMA_VERSION {
            bail!(
                "{shown}: written with schema {}, but this gate reads schema {SCHEMA_VERSION} \
                 at most; upgrade gate",
                c.schema
            );
        }
        if filter.is_some_and(|f| !f.is_match(&c.id)) {
            continue;
        }
        if let Some(other) = origin.insert(c.id.clone(), path.clone()) {
            bail!(
                "{shown}: counters for `{}` also in {}",
                c.id,
                other.display()
            );
        }
        let id = BenchId::parse(&c.id).map_err(|e| anyhow!("{shown}: {e}"))?;
        if (id.mode, id.threads) != (c.mode, c.threads) {
            bail!(
                "{shown}: `mode: {}, threads: {}` contradicts the id `{}`",
                c.mode,
                c.threads,
                c.id
            );
        }
        if let Some(missing) = c.exact.iter().find(|e| !c.counters.contains_key(*e)) {
            bail!("{shown}: `exact` names `{missing}`, which is not in `counters`");
        }
        if let Some((name, v)) = c.counters.iter().find(|(_, v)| !v.is_finite()) {
            bail!("{shown}: counter `{name}` is {v}");
        }
        let Some(b) = benchmarks.iter_mut().find(|b| b.id == c.id) else {
            warnings.push(format!(
                "{shown}: counters for `{}`, which has no criterion result; ignored",
                c.id
            ));
            continue;
        };
        b.counters.extend(c.counters);
        let exact: BTreeSet<&str> = c.exact.iter().map(String::as_str).collect();
        if !exact.is_empty() {
            let list: Vec<&str> = exact.into_iter().collect();
            b.labels.insert(EXACT_LABEL.to_string(), list.join(","));
        }
        if let Some(n) = c.counted_ops {
            b.labels.insert("counted_ops".to_string(), n.to_string());
        }
        if !c.features.is_empty() {
            b.labels
                .insert("features".to_string(), c.features.join(","));
        }
        if let Some(m) = c.mlock {
            b.labels.insert("mlock".to_string(), m.to_string());
        }
        features.extend(c.features);
    }
    Ok(())
}

/// One warning listing results much older than the newest one.
fn stale_warning(home: &Path, written: &[(String, SystemTime)]) -> Option<String> {
    let newest = written.iter().map(|(_, t)| *t).max()?;
    let stale: Vec<&str> = written
        .iter()
        .filter(|(_, t)| newest.duration_since(*t).is_ok_and(|d| d > STALE_AFTER))
        .map(|(id, _)| id.as_str())
        .collect();
    if stale.is_empty() {
        return None;
    }
    Some(format!(
        "{}: {} result(s) were written more than an hour before the newest and may be left \
         over from an earlier run: {}; delete the folder or filter the ids to be sure",
        home.display(),
        stale.len(),
        stale.join(", ")
    ))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/formats/criterion")
    }

    fn copy_tree(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for e in fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_tree(&e.path(), &target);
            } else {
                fs::copy(e.path(), &target).unwrap();
            }
        }
    }

    /// A writable copy of the fixture tree.
    fn scratch() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&fixture(), dir.path());
        dir
    }

    fn err(home: &Path, filter: Option<&Regex>) -> String {
        format!("{:#}", read_criterion(home, filter).unwrap_err())
    }

    #[test]
    fn reads_ids_samples_and_counters_of_the_fixture_tree() {
        let p = read_criterion(&fixture(), None).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let ids: Vec<&str> = p.set.benchmarks.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "floor/mprotect_pair/sequential",
                "keycache/read_existing_key/parallel/t2",
                "secret/with_bytes/parallel/t2",
                "secret/with_bytes/sequential",
            ]
        );
        let par = &p.set.benchmarks[2];
        assert_eq!(
            (par.lang, par.mode, par.threads),
            (Lang::Rust, Mode::Parallel, 2)
        );
        assert_eq!(par.samples, vec![101.0, 99.0, 100.5, 98.0]);
        assert_eq!(par.counters["mprotect_per_op"], 0.03);
        assert_eq!(par.counters["allocs_per_op"], 0.0);
        assert_eq!(par.labels[EXACT_LABEL], "allocs_per_op");
        assert_eq!(par.labels["counted_ops"], "100000");
        assert_eq!(par.labels["features"], "no-mlock");
        assert_eq!(par.labels["mlock"], "false");
        let seq = &p.set.benchmarks[3];
        assert_eq!((seq.mode, seq.threads), (Mode::Sequential, 1));
        assert_eq!(
            seq.samples,
            vec![2100.0, 2110.0, 2120.0],
            "base/ is ignored"
        );
        assert_eq!(seq.labels[EXACT_LABEL], "allocs_per_op,mprotect_per_op");
        assert!(
            seq.source
                .as_deref()
                .unwrap()
                .ends_with("sequential/new/sample.json")
        );
        let kc = &p.set.benchmarks[1];
        assert_eq!(kc.samples, vec![300.0, 310.0]);
        assert!(kc.counters.is_empty() && kc.labels.is_empty());
        assert_eq!(p.set.environment.features, vec!["no-mlock".to_string()]);
    }

    #[test]
    fn a_filter_selects_ids_and_an_empty_selection_is_an_error() {
        let re = Regex::new("^secret/").unwrap();
        let p = read_criterion(&fixture(), Some(&re)).unwrap();
        assert_eq!(p.set.benchmarks.len(), 2);
        assert!(
            p.warnings.is_empty(),
            "counters of filtered ids are skipped silently"
        );
        let none = Regex::new("^nothing/").unwrap();
        assert!(err(&fixture(), Some(&none)).contains("no criterion result matches"));
    }

    #[test]
    fn missing_or_empty_homes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(err(&dir.path().join("absent"), None).contains("not a folder"));
        assert!(err(dir.path(), None).contains("no criterion result"));
    }

    #[test]
    fn an_id_outside_the_scheme_is_an_error_naming_the_file() {
        let dir = scratch();
        let file = dir
            .path()
            .join("floor/mprotect_pair/sequential/new/benchmark.json");
        let text = fs::read_to_string(&file).unwrap();
        fs::write(
            &file,
            text.replace(
                "\"full_id\": \"floor/mprotect_pair/sequential\"",
                "\"full_id\": \"floor/mprotect_pair\"",
            ),
        )
        .unwrap();
        let e = err(dir.path(), None);
        assert!(
            e.contains(&file.display().to_string()) && e.contains("floor/mprotect_pair"),
            "{e}"
        );
    }

    #[test]
    fn broken_samples_are_errors_naming_the_file() {
        let dir = scratch();
        let file = dir
            .path()
            .join("floor/mprotect_pair/sequential/new/sample.json");
        fs::write(
            &file,
            r#"{"sampling_mode":"Linear","iters":[1.0,2.0],"times":[5.0]}"#,
        )
        .unwrap();
        let e = err(dir.path(), None);
        assert!(
            e.contains(&file.display().to_string()) && e.contains("`times` has 1"),
            "{e}"
        );
        fs::write(
            &file,
            r#"{"sampling_mode":"Linear","iters":[0.0],"times":[5.0]}"#,
        )
        .unwrap();
        assert!(err(dir.path(), None).contains("0 iterations"));
        fs::write(
            &file,
            r#"{"sampling_mode":"Linear","iters":[1e-300],"times":[1e300]}"#,
        )
        .unwrap();
        let e = err(dir.path(), None);
        assert!(e.contains("sample 0") && e.contains("1e-300"), "{e}");
        fs::write(&file, "{\"iters\":\n[1.0],").unwrap();
        let e = err(dir.path(), None);
        assert!(
            e.contains(&file.display().to_string()) && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn counter_files_are_checked_against_their_id() {
        let dir = scratch();
        let file = dir
            .path()
            .join(COUNTERS_DIR)
            .join("secret_with_bytes_parallel_t2.json");
        let good = fs::read_to_string(&file).unwrap();
        fs::write(&file, good.replace("\"threads\": 2", "\"threads\": 4")).unwrap();
        let e = err(dir.path(), None);
        assert!(
            e.contains(&file.display().to_string()) && e.contains("contradicts"),
            "{e}"
        );
        fs::write(&file, good.replace("\"schema\": 1", "\"schema\": 2")).unwrap();
        assert!(err(dir.path(), None).contains("upgrade"));
        fs::write(
            &file,
            good.replace("[\n  \"allocs_per_op\"\n ]", "[\"syscalls_per_op\"]"),
        )
        .unwrap();
        assert!(err(dir.path(), None).contains("`syscalls_per_op`"));
        fs::write(
            &file,
            good.replace("secret/with_bytes/parallel/t2", "secret/other/parallel/t2"),
        )
        .unwrap();
        let p = read_criterion(dir.path(), None).unwrap();
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].contains("secret/other/parallel/t2"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn old_results_beside_new_ones_are_flagged_as_possibly_stale() {
        let dir = scratch();
        let old = SystemTime::now() - Duration::from_secs(3 * 3600);
        let file = dir
            .path()
            .join("keycache/read_existing_key/parallel_t2/new/sample.json");
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let p = read_criterion(dir.path(), None).unwrap();
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("keycache/read_existing_key/parallel/t2"));
        assert!(!p.warnings[0].contains("secret/"));
    }
}
