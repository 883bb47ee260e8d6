//! Writer of the Go benchmark format, so that `benchstat` (and our own
//! reader) can read any result set, Rust ones included.
//!
//! Layout: the environment as config lines (`goos`, `goarch`, `cpu`, `pkg`),
//! `Unit` metadata lines, then per benchmark the config lines that change
//! (its labels; `key:` with no value removes a key the previous benchmark
//! had), then one result line per sample: `ns/op`, every metric, and every
//! counter as an extra unit. Rust ids are encoded as described in
//! [`super::names`]; counters that are not Go's `B/op`/`allocs/op` are
//! marked `Unit <name> gate=counter`, exact ones also `assume=exact` (which
//! `benchstat` understands as "deterministic"). The iteration count is not
//! kept by the model and is written as 1.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::names::{
    LANG_KEY, MODE_KEY, configuration, encode_rust_id, implied_mode, is_benchmark_name,
    is_config_key, needs_explicit_procs,
};
use super::read::COUNTER_META;
use crate::formats::exact_counters;
use crate::model::{Benchmark, Lang, ResultSet};
use crate::units::{EXACT_META, GO_COUNTER_UNITS, TIME_UNIT, parse_unit_label};

/// Writes a result set as Go benchmark text. Fails on what cannot be
/// written faithfully: a Go id that is not a benchmark name, a thread count
/// of 0, a unit containing whitespace.
pub fn write_go(set: &ResultSet) -> Result<String> {
    let mut out = String::new();
    let env = &set.environment;
    let mut header: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in [
        ("goos", env.os.as_ref()),
        ("goarch", env.arch.as_ref()),
        ("cpu", env.cpu_model.as_ref()),
        ("pkg", env.extra.get("pkg")),
    ] {
        if let Some(v) = value.filter(|v| is_config_value(v)) {
            header.insert(key.to_string(), v.clone());
            writeln!(out, "{key}: {v}")?;
        }
    }

    let mut units: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((unit, key), value) in unit_metadata(set)? {
        units
            .entry(unit)
            .or_default()
            .push(format!("{key}={value}"));
    }
    for (unit, pairs) in units {
        writeln!(out, "Unit {unit} {}", pairs.join(" "))?;
    }

    let mut in_force = header.clone();
    for b in &set.benchmarks {
        let name = go_name(b)?;
        let mut wanted = header.clone();
        wanted.extend(config_labels(b));
        if b.lang == Lang::Rust {
            wanted.insert(LANG_KEY.to_string(), "rust".to_string());
        }
        if b.mode != implied_mode(b.lang, &b.id) {
            wanted.insert(MODE_KEY.to_string(), b.mode.to_string());
        }
        for key in in_force.keys() {
            if !wanted.contains_key(key) {
                writeln!(out, "{key}:")?;
            }
        }
        for (key, value) in &wanted {
            if in_force.get(key) != Some(value) {
                writeln!(out, "{key}: {value}")?;
            }
        }
        in_force = wanted;
        write_lines(&mut out, &name, b)?;
    }
    Ok(out)
}

/// The Go name of a benchmark, with the `-N` suffix when GOMAXPROCS/threads
/// is above 1 or when the name itself ends like a suffix (`-1` then).
fn go_name(b: &Benchmark) -> Result<String> {
    if b.threads == 0 {
        bail!("{}: a thread count of 0 cannot be written", b.id);
    }
    let base = match b.lang {
        Lang::Rust => encode_rust_id(&b.id),
        Lang::Go => {
            if !is_benchmark_name(&b.id) || b.id.contains(char::is_whitespace) {
                bail!(
                    "Go benchmark id `{}` is not a Go benchmark name (`BenchmarkXxx`, no spaces)",
                    b.id
                );
            }
            b.id.clone()
        }
    };
    Ok(if b.threads > 1 || needs_explicit_procs(&base) {
        format!("{base}-{}", b.threads)
    } else {
        base
    })
}

/// Labels that are written as config lines: the benchmark's
/// configuration ([`configuration`]), where the format can hold its keys
/// and values.
fn config_labels(b: &Benchmark) -> BTreeMap<String, String> {
    configuration(b)
        .into_iter()
        .filter(|(k, v)| is_config_key(k) && is_config_value(v))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn is_config_value(v: &str) -> bool {
    !v.is_empty() && !v.contains(['\n', '\r']) && v.trim() == v
}

/// All `Unit` metadata of the set: counter marks, exactness, and the
/// `unit:<unit>:<key>` labels read from Go files. The first value wins when
/// two benchmarks disagree (the format allows one value per unit and key).
fn unit_metadata(set: &ResultSet) -> Result<BTreeMap<(String, String), String>> {
    let mut meta = BTreeMap::new();
    let mut add = |unit: &str, key: &str, value: &str| -> Result<()> {
        if unit.is_empty() || unit.contains(char::is_whitespace) {
            bail!("unit `{unit}` cannot be written: units hold no whitespace");
        }
        if key.contains(char::is_whitespace) || value.contains(char::is_whitespace) {
            return Ok(()); // cannot be expressed as `key=value`; not data we need back
        }
        meta.entry((unit.to_string(), key.to_string()))
            .or_insert_with(|| value.to_string());
        Ok(())
    };
    for b in &set.benchmarks {
        for name in b.counters.keys() {
            if !GO_COUNTER_UNITS.contains(&name.as_str()) {
                add(name, COUNTER_META.0, COUNTER_META.1)?;
            }
        }
        for name in exact_counters(b) {
            if b.counters.contains_key(name) {
                add(name, EXACT_META.0, EXACT_META.1)?;
            }
        }
        for (label, value) in &b.labels {
            if let Some((unit, key)) = parse_unit_label(label) {
                add(unit, key, value)?;
            }
        }
    }
    Ok(meta)
}

/// One result line per sample. Metrics are written per sample (index i);
/// counters not kept per sample repeat their single value on every line.
fn write_lines(out: &mut String, name: &str, b: &Benchmark) -> Result<()> {
    let per_sample_len = b.metrics.values().map(Vec::len).max().unwrap_or(0);
    let mut lines = b.samples.len().max(per_sample_len);
    if lines == 0 && !b.counters.is_empty() {
        lines = 1;
    }
    for unit in b.metrics.keys().chain(b.counters.keys()) {
        if unit.is_empty() || unit.contains(char::is_whitespace) {
            bail!(
                "{}: unit `{unit}` cannot be written: units hold no whitespace",
                b.id
            );
        }
    }
    for i in 0..lines {
        let mut line = format!("{name}\t1");
        if let Some(v) = b.samples.get(i) {
            write!(line, "\t{v} {TIME_UNIT}")?;
        }
        for (unit, values) in &b.metrics {
            if let Some(v) = values.get(i) {
                write!(line, "\t{v} {unit}")?;
            }
        }
        for (unit, v) in &b.counters {
            if !b.metrics.contains_key(unit) {
                write!(line, "\t{v} {unit}")?;
            }
        }
        if line.contains(' ') {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
