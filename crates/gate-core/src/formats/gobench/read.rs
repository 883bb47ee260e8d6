//! Reader of `go test -bench` output (golang proposal 14313).
//!
//! What the format says, and what we do with it:
//!
//! - config lines `key: value` apply to every result after them until the
//!   key is set again; an empty value removes the key (as `benchfmt` does).
//!   All keys in force become the result's labels; `goos`, `goarch`, `cpu`
//!   and `pkg` also fill the [`Environment`].
//! - result lines `BenchmarkName N value unit [value unit...]`; lines with
//!   the same name (and config) are repeated runs from `-count` and become
//!   samples of one benchmark. `ns/op` values are the samples; `B/op` and
//!   `allocs/op` become counters (their median) and are also kept per sample
//!   in metrics; any other unit (`MB/s`, custom metrics) goes to metrics.
//! - the `-N` suffix is GOMAXPROCS: stripped from the id, kept as threads;
//!   it says nothing about the mode (see below).
//! - `/key=value` parts of a sub-benchmark name become labels; the id keeps
//!   the full name.
//! - `Unit <unit> <key>=<value>...` lines are kept as labels
//!   `unit:<unit>:<key>` on the benchmarks that report that unit.
//! - every other line (`PASS`, `ok pkg 1.2s`, `--- FAIL`, log output) is
//!   ignored, except a `panic:`/`fatal error:` line: a crashed run keeps the
//!   results read before it and says so in a warning naming the line.
//!
//! Mode: what declares it, in this order: the caller's override (`--mode`),
//! a `gate-mode:` config line (written by the gate), a Rust bench id;
//! otherwise [`Mode::Undeclared`] (see [`implied_mode`]), never a guess
//! from GOMAXPROCS.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use super::names::{
    LANG_KEY, MODE_KEY, decode_rust_id, implied_mode, is_benchmark_name, split_procs, subname_parts,
};
use crate::formats::{EXACT_LABEL, Parsed, median};
use crate::model::{Benchmark, Environment, Lang, Mode, ResultSet};
use crate::units::{EXACT_META, TIME_UNIT, unit_label};

/// Kept here for `gate-runner`, which reads Go output through this module;
/// the constant is [`crate::units::GO_COUNTER_UNITS`].
pub use crate::units::GO_COUNTER_UNITS;
/// Unit metadata the writer puts on a unit that carries a counter (one
/// value per benchmark, repeated on each line), so the reader puts it back
/// into `counters` rather than `metrics`.
pub const COUNTER_META: (&str, &str) = ("gate", "counter");

/// Reads a `go test -bench` output file. `mode` declares the mode of every
/// benchmark (default: undeclared, see the module doc).
pub fn read_go_file(path: &Path, mode: Option<Mode>) -> Result<Parsed> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    parse_go(&text, path, mode)
}

/// Parses Go benchmark text; `path` names it in messages and its file name
/// becomes each benchmark's `source`.
pub fn parse_go(text: &str, path: &Path, mode: Option<Mode>) -> Result<Parsed> {
    let file = path.display().to_string();
    if text.trim().is_empty() {
        bail!("{file}: the file is empty; expected `go test -bench` output");
    }
    let mut reader = Reader::new(file);
    for (i, raw) in text.lines().enumerate() {
        reader.line(i + 1, raw.trim_end())?;
    }
    let source = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| reader.file.clone());
    reader.finish(&source, mode)
}

/// A crash (`panic:`) seen in the output.
struct Crash {
    line: usize,
    message: String,
    running: Option<String>,
    results_before: usize,
}

/// The result lines of one benchmark under one configuration.
struct Group {
    printed_name: String,
    lang: Lang,
    id: String,
    threads: u32,
    config: BTreeMap<String, String>,
    first_line: usize,
    samples: Vec<f64>,
    metrics: BTreeMap<String, Vec<f64>>,
}

type GroupKey = (Lang, String, u32, BTreeMap<String, String>);

struct Reader {
    file: String,
    config: BTreeMap<String, String>,
    /// `Unit` metadata: (unit, key) -> value. File-wide, as in `benchfmt`.
    units: BTreeMap<(String, String), String>,
    groups: Vec<Group>,
    index: HashMap<GroupKey, usize>,
    crashes: Vec<Crash>,
}

impl Reader {
    fn new(file: String) -> Reader {
        Reader {
            file,
            config: BTreeMap::new(),
            units: BTreeMap::new(),
            groups: Vec::new(),
            index: HashMap::new(),
            crashes: Vec::new(),
        }
    }

    fn line(&mut self, lineno: usize, line: &str) -> Result<()> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let first = line.split(char::is_whitespace).next().unwrap_or("");
        if let Some((running, message)) = crash_message(line, first) {
            self.crashes.push(Crash {
                line: lineno,
                message: message.to_string(),
                running: running.map(|r| split_procs(r).0.to_string()),
                results_before: self.groups.len(),
            });
            return Ok(());
        }
        if first == "Unit" {
            return self.unit_line(lineno, line);
        }
        if is_benchmark_name(first) {
            return self.result_line(lineno, line);
        }
        if let Some((key, value)) = parse_config_line(line) {
            if value.is_empty() {
                self.config.remove(key);
            } else {
                self.config.insert(key.to_string(), value.to_string());
            }
        }
        // Anything else (PASS, ok/FAIL summaries, --- FAIL, logs) is not data.
        Ok(())
    }

    fn unit_line(&mut self, lineno: usize, line: &str) -> Result<()> {
        let at = format!("{}:{lineno}", self.file);
        let mut fields = line.split_whitespace().skip(1);
        let unit = fields
            .next()
            .ok_or_else(|| anyhow!("{at}: `Unit` line without a unit"))?;
        for kv in fields {
            let Some((key, value)) = kv.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                bail!("{at}: `Unit {unit}`: expected `key=value`, found `{kv}`");
            };
            let slot = (unit.to_string(), key.to_string());
            match self.units.get(&slot) {
                Some(have) if have != value => bail!(
                    "{at}: `Unit {unit}`: `{key}` is already `{have}`, cannot also be `{value}`"
                ),
                _ => {
                    self.units.insert(slot, value.to_string());
                }
            }
        }
        Ok(())
    }

    fn result_line(&mut self, lineno: usize, line: &str) -> Result<()> {
        let at = format!("{}:{lineno}", self.file);
        let fields: Vec<&str> = line.split_whitespace().collect();
        let name = fields[0];
        if fields.len() == 1 {
            // `go test -v` prints the bare name before running the benchmark.
            return Ok(());
        }
        fields[1].parse::<u64>().map_err(|_| {
            anyhow!(
                "{at}: `{name}`: the iteration count `{}` is not a whole number \
                 (expected `{name} N value unit ...`)",
                fields[1]
            )
        })?;
        let pairs = &fields[2..];
        if pairs.is_empty() {
            bail!("{at}: `{name}` has an iteration count but no `value unit` pair");
        }
        if !pairs.len().is_multiple_of(2) {
            bail!(
                "{at}: `{name}`: values and units come in pairs, but the last value `{}` has no unit",
                pairs[pairs.len() - 1]
            );
        }
        let mut values = Vec::with_capacity(pairs.len() / 2);
        for pair in pairs.chunks(2) {
            let (value, unit) = (pair[0], pair[1]);
            let v: f64 = value.parse().map_err(|_| {
                anyhow!("{at}: `{name}`: the value `{value}` (unit `{unit}`) is not a number")
            })?;
            if !v.is_finite() {
                bail!("{at}: `{name}`: the value `{value}` (unit `{unit}`) is not a finite number");
            }
            values.push((v, unit));
        }

        let (base, threads) = split_procs(name);
        let (lang, id) = match self.config.get(LANG_KEY).map(String::as_str) {
            Some("rust") => match decode_rust_id(base) {
                Some(decoded) => (Lang::Rust, decoded.map_err(|e| anyhow!("{at}: {e:#}"))?),
                None => (Lang::Go, base.to_string()),
            },
            _ => (Lang::Go, base.to_string()),
        };
        let key = (lang, id, threads, self.config.clone());
        let slot = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.groups.push(Group {
                    printed_name: name.to_string(),
                    lang,
                    id: key.1.clone(),
                    threads,
                    config: self.config.clone(),
                    first_line: lineno,
                    samples: Vec::new(),
                    metrics: BTreeMap::new(),
                });
                self.index.insert(key, self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[slot];
        for (v, unit) in values {
            if unit == TIME_UNIT {
                group.samples.push(v);
            } else {
                group.metrics.entry(unit.to_string()).or_default().push(v);
            }
        }
        Ok(())
    }

    fn finish(self, source: &str, mode_override: Option<Mode>) -> Result<Parsed> {
        let file = &self.file;
        if self.groups.is_empty() {
            if let Some(c) = self.crashes.first() {
                bail!(
                    "{file}: no benchmark result before the crash at line {} (`{}`)",
                    c.line,
                    shorten(&c.message)
                );
            }
            bail!(
                "{file}: no benchmark result line found (expected lines such as \
                 `BenchmarkName-2  1000  1234 ns/op`); is this `go test -bench` output?"
            );
        }
        let mut warnings = Vec::new();
        for c in &self.crashes {
            let running = c.running.as_deref().unwrap_or("a benchmark");
            warnings.push(format!(
                "{file}:{}: the Go run crashed while running {running} (`{}`); \
                 the {} benchmark(s) read before the crash are kept, {running} has no result",
                c.line,
                shorten(&c.message),
                c.results_before
            ));
        }

        let units = UnitKinds::of(&self.units);
        let mut benchmarks = Vec::with_capacity(self.groups.len());
        let mut seen: HashMap<(Lang, String, u32), usize> = HashMap::new();
        for g in &self.groups {
            let at = format!("{file}:{}", g.first_line);
            if g.samples.is_empty() {
                warnings.push(format!(
                    "{at}: {} has no `{TIME_UNIT}` value; its other units are kept in metrics, \
                     but it has no time samples to compare",
                    g.printed_name
                ));
            }
            if let Some(&first) = seen.get(&(g.lang, g.id.clone(), g.threads)) {
                warnings.push(format!(
                    "{at}: {} appears again under a different configuration than at line {first}; \
                     both are kept, but a lookup by name finds the first",
                    g.printed_name
                ));
            } else {
                seen.insert((g.lang, g.id.clone(), g.threads), g.first_line);
            }
            benchmarks.push(self.benchmark(g, &at, &units, source, mode_override)?);
        }

        let environment = environment_of(&self.groups, file, &mut warnings);
        Ok(Parsed {
            set: ResultSet {
                environment,
                benchmarks,
                provenance: Some(file.clone()),
            },
            warnings,
        })
    }

    /// One group's benchmark: its mode (the override, the `gate-mode:`
    /// config line, the Rust id, or undeclared), counters, metrics and labels.
    fn benchmark(
        &self,
        g: &Group,
        at: &str,
        units: &UnitKinds<'_>,
        source: &str,
        mode_override: Option<Mode>,
    ) -> Result<Benchmark> {
        let mode = match (mode_override, g.config.get(MODE_KEY)) {
            (Some(m), _) => m,
            (None, Some(m)) => {
                Mode::from_stored(m).map_err(|e| anyhow!("{at}: `{MODE_KEY}: {m}`: {e}"))?
            }
            (None, None) => implied_mode(g.lang, &g.id),
        };

        let mut metrics = g.metrics.clone();
        let mut counters = BTreeMap::new();
        for (unit, values) in &g.metrics {
            let Some(m) = median(values) else { continue };
            if GO_COUNTER_UNITS.contains(&unit.as_str()) {
                counters.insert(unit.clone(), m);
            } else if units.counter.contains(unit.as_str()) {
                counters.insert(unit.clone(), m);
                metrics.remove(unit);
            }
        }

        let mut labels: BTreeMap<String, String> = g
            .config
            .iter()
            .filter(|(k, _)| k.as_str() != LANG_KEY && k.as_str() != MODE_KEY)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if g.lang == Lang::Go {
            for (k, v) in subname_parts(&g.id) {
                labels.insert(k.to_string(), v.to_string());
            }
        }
        let exact: Vec<&str> = counters
            .keys()
            .map(String::as_str)
            .filter(|u| units.exact.contains(u))
            .collect();
        if !exact.is_empty() {
            labels.insert(EXACT_LABEL.to_string(), exact.join(","));
        }
        let reports = |unit: &str| {
            (unit == TIME_UNIT && !g.samples.is_empty())
                || metrics.contains_key(unit)
                || counters.contains_key(unit)
        };
        for ((unit, key), value) in &self.units {
            let consumed = (key.as_str(), value.as_str()) == COUNTER_META
                || ((key.as_str(), value.as_str()) == EXACT_META && counters.contains_key(unit));
            if reports(unit) && !consumed {
                labels.insert(unit_label(unit, key), value.clone());
            }
        }

        Ok(Benchmark {
            id: g.id.clone(),
            lang: g.lang,
            mode,
            threads: g.threads,
            unit: TIME_UNIT.to_string(),
            samples: g.samples.clone(),
            counters,
            metrics,
            labels,
            reference_only: false,
            source: Some(source.to_string()),
        })
    }
}

/// Which units the `Unit` metadata lines mark as counters, and as exact.
struct UnitKinds<'a> {
    counter: BTreeSet<&'a str>,
    exact: BTreeSet<&'a str>,
}

impl<'a> UnitKinds<'a> {
    fn of(units: &'a BTreeMap<(String, String), String>) -> UnitKinds<'a> {
        let marked = |meta: (&str, &str)| {
            units
                .iter()
                .filter(move |((_, k), v)| (k.as_str(), v.as_str()) == meta)
                .map(|((u, _), _)| u.as_str())
                .collect()
        };
        UnitKinds {
            counter: marked(COUNTER_META),
            exact: marked(EXACT_META),
        }
    }
}

/// The environment the config lines describe. A file normally holds one
/// machine; when `goos`, `goarch` or `cpu` change inside it the first value
/// is kept and a warning says so. Several packages are all listed in `pkg`.
fn environment_of(groups: &[Group], file: &str, warnings: &mut Vec<String>) -> Environment {
    let distinct = |key: &str| {
        let mut values: Vec<&str> = Vec::new();
        for g in groups {
            if let Some(v) = g.config.get(key)
                && !values.contains(&v.as_str())
            {
                values.push(v);
            }
        }
        values
    };
    let mut first = |key: &str| {
        let values = distinct(key);
        if values.len() > 1 {
            warnings.push(format!(
                "{file}: several `{key}` values ({}); the environment records the first",
                values.join(", ")
            ));
        }
        values.first().map(|v| v.to_string())
    };
    let mut env = Environment {
        os: first("goos"),
        arch: first("goarch"),
        cpu_model: first("cpu"),
        ..Environment::default()
    };
    let pkgs = distinct("pkg");
    if !pkgs.is_empty() {
        env.extra.insert("pkg".to_string(), pkgs.join(", "));
    }
    env
}

/// A line that reports a crash of the Go process: `panic: ...`,
/// `fatal error: ...`, either alone or printed right after the name of the
/// benchmark that was running. Returns (running benchmark, message).
fn crash_message<'a>(line: &'a str, first: &'a str) -> Option<(Option<&'a str>, &'a str)> {
    let is_crash = |s: &str| s.starts_with("panic:") || s.starts_with("fatal error:");
    if is_crash(line) {
        return Some((None, line));
    }
    if is_benchmark_name(first) {
        let rest = line[first.len()..].trim_start();
        if is_crash(rest) {
            return Some((Some(first), rest));
        }
    }
    None
}

/// Parses a config line `key: value` as the format defines it: the key
/// starts with a lower case character and holds no space or upper case
/// character; one or more spaces or tabs follow the colon unless the value
/// is empty.
fn parse_config_line(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let key = &line[..colon];
    if !key.chars().next().is_some_and(char::is_lowercase)
        || key.chars().any(|c| c.is_whitespace() || c.is_uppercase())
    {
        return None;
    }
    let rest = &line[colon + 1..];
    if rest.is_empty() {
        return Some((key, ""));
    }
    let value = rest.trim_start_matches([' ', '\t']);
    if value.len() == rest.len() {
        return None; // `key:value` without a space is not a config line
    }
    Some((key, value))
}

fn shorten(s: &str) -> String {
    const MAX: usize = 160;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    }
}
