//! Which measurements are compared with which: the new Rust results with
//! the stored (or same-runner) Rust baseline, and with Go per configured
//! pair, like with like; then the one decision ([`crate::verdict::decide`]).

pub mod floor;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};
use regex::Regex;

use crate::config::{Config, Pair};
use crate::formats::{self, Baseline};
use crate::model::{Benchmark, Lang, ResultSet, SCHEMA_VERSION};
use crate::verdict::{self, Options, Pairing, Report, RowKind, WarningKind};

/// Where the old side of the rows comes from, beyond the stored baselines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// `--base`: the base measured on this runner replaces the stored Rust baseline.
    pub base: Option<&'a ResultSet>,
    /// Live Go: Go measured on this runner replaces the stored Go figure of
    /// the pairs that name a `go_package`.
    pub live_go: Option<&'a ResultSet>,
    /// The sequential design the lockstep pairs were measured with (else
    /// the config's, for a `base`).
    pub design: Option<&'a crate::sequential::Design>,
}

/// A regular expression matching exactly these bench ids.
pub fn ids_regex(ids: &[String]) -> Regex {
    Regex::new(&format!(
        "^(?:{})$",
        ids.iter()
            .map(|f| regex::escape(f))
            .collect::<Vec<_>>()
            .join("|")
    ))
    .expect("escaped ids form a valid expression")
}

/// Reads a stored baseline; a missing one is an error when `required`.
pub fn load_baseline(
    config: &Config,
    path: &Path,
    what: &str,
    required: bool,
) -> Result<Option<Baseline>> {
    let path = config.resolve(path);
    if !path.exists() {
        if required {
            let (create, opt_out) = if what == "Rust" {
                ("update", ", or set `require_baseline: false` in gate.yaml")
            } else {
                ("import-go FILE...", "")
            };
            bail!(
                "{}: no {what} baseline (a missing baseline is an error, never a silent pass). \
                 Create it with `gate baseline {create}`{opt_out}",
                path.display(),
            );
        }
        return Ok(None);
    }
    formats::read_baseline(&path).map(Some)
}

fn selected(config: &Config, filter: Option<&Regex>, id: &str) -> bool {
    filter.is_none_or(|f| f.is_match(id))
        && (config.cargo.ids.is_empty() || config.cargo.ids.iter().any(|i| i == id))
}

/// Pairs the new Rust results with the baselines and decides.
///
/// Like with like: a Rust/Go pair is compared only when the Go figure was
/// recorded at the GOMAXPROCS the pair names and, if its mode was declared,
/// with the pair's mode; anything else is a configuration error (exit 2),
/// never a silently wrong ratio.
pub fn build_report(
    config: &Config,
    new: &ResultSet,
    filter: Option<&Regex>,
    sources: Sources<'_>,
) -> Result<Report> {
    // With `--base`, the base measured on this runner replaces the stored
    // Rust baseline (which is then not required).
    let rust_bl = match sources.base {
        Some(set) => {
            let mut bl = Baseline::new(formats::BaselineKind::Rust);
            bl.sets.push(set.clone());
            Some(bl)
        }
        None => load_baseline(
            config,
            &config.baselines.rust,
            "Rust",
            config.require_baseline,
        )?,
    };
    let go_bl = load_baseline(config, &config.baselines.go, "Go", !config.pairs.is_empty())?;
    let mut notes = Vec::new();
    let normalised = rust_bl
        .as_ref()
        .map(|bl| floor::normalise(&config.floor, bl, new, &mut notes))
        .unwrap_or_default();
    if sources.base.is_none()
        && let Some(note) = rust_bl
            .as_ref()
            .and_then(|bl| floor::drift_note(&config.floor, bl, new, config.tolerance))
    {
        notes.push(note);
    }
    let mut pairings = rust_pairings(config, new, rust_bl.as_ref(), &normalised);
    if let Some(bl) = &rust_bl {
        pairings.extend(unmeasured_pairings(config, new, bl, filter));
    }
    for (i, pair) in config.pairs.iter().enumerate() {
        if selected(config, filter, &pair.rust) {
            pairings.push(go_pairing(
                config,
                i,
                pair,
                new,
                go_bl.as_ref(),
                sources.live_go,
            )?);
        }
    }
    let opts = Options {
        tolerance: config.tolerance,
        alpha: config.alpha,
        allow_counters: config.allow_counters.clone(),
        paired_tolerance: config.lockstep.tolerance,
        sequential: sources
            .design
            .cloned()
            .or_else(|| sources.base.map(|_| config.design())),
        ..Options::default()
    };
    let (rows, verdict) = verdict::decide(&pairings, &opts);
    let baseline_environments = environments(
        new,
        rust_bl.as_ref(),
        go_bl.as_ref(),
        sources.live_go,
        &mut notes,
    );
    Ok(Report {
        schema: SCHEMA_VERSION,
        verdict,
        environment: new.environment.clone(),
        baseline_environments,
        rows,
        notes,
        builds: Default::default(),
    })
}

/// One Rust-vs-Rust pairing per new Rust result, against its baseline figure
/// (scaled by the floor when `normalised` holds it).
fn rust_pairings<'a>(
    config: &Config,
    new: &'a ResultSet,
    rust_bl: Option<&'a Baseline>,
    normalised: &'a [Benchmark],
) -> Vec<Pairing<'a>> {
    let mut pairings = Vec::new();
    for b in new.benchmarks.iter().filter(|b| b.lang == Lang::Rust) {
        let mut warnings = Vec::new();
        let stored = rust_bl
            .and_then(|bl| bl.find(Lang::Rust, &b.id, b.threads))
            .map(|f| f.benchmark);
        let old = match normalised
            .iter()
            .find(|n| n.id == b.id && n.threads == b.threads)
        {
            Some(n) => {
                warnings.push((
                    WarningKind::FloorScaled,
                    format!(
                        "baseline measured on another machine kind: its samples were scaled by the floor ratio ({})",
                        n.labels.get(floor::NORMALISED_LABEL).map(String::as_str).unwrap_or("?")
                    ),
                ));
                Some(n)
            }
            None => stored,
        };
        if old.is_none() && rust_bl.is_some() {
            warnings.push((
                WarningKind::NotInBaseline,
                format!(
                    "not in the Rust baseline {}: run `gate baseline update` to record it",
                    config.resolve(&config.baselines.rust).display()
                ),
            ));
        }
        pairings.push(Pairing {
            id: b.id.clone(),
            kind: RowKind::RustVsRust,
            mode: b.mode,
            threads: b.threads,
            old,
            new: Some(b),
            go: None,
            max_ratio: None,
            warnings,
        });
    }
    pairings
}

/// Rows of the selected baseline benches this run did not measure.
fn unmeasured_pairings<'a>(
    config: &Config,
    new: &ResultSet,
    bl: &'a Baseline,
    filter: Option<&Regex>,
) -> Vec<Pairing<'a>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut pairings = Vec::new();
    for b in bl.benchmarks().filter(|b| !b.reference_only) {
        if new.find(Lang::Rust, &b.id, b.threads).is_some()
            || !selected(config, filter, &b.id)
            || !seen.insert((b.id.clone(), b.threads))
        {
            continue;
        }
        pairings.push(Pairing {
            id: b.id.clone(),
            kind: RowKind::RustVsRust,
            mode: b.mode,
            threads: b.threads,
            old: Some(b),
            new: None,
            go: None,
            max_ratio: None,
            warnings: vec![(
                WarningKind::NotMeasured,
                "in the Rust baseline but not measured in this run".into(),
            )],
        });
    }
    pairings
}

/// The Rust-vs-Go pairing of `pairs[i]`: Go measured on this runner wins
/// over the stored figure; a mode or `-race` mismatch is an error.
fn go_pairing<'a>(
    config: &Config,
    i: usize,
    pair: &Pair,
    new: &'a ResultSet,
    go_bl: Option<&'a Baseline>,
    live_go: Option<&'a ResultSet>,
) -> Result<Pairing<'a>> {
    let at = format!(
        "{}: pairs[{i}] (rust `{}`, go `{}`)",
        config.path.display(),
        pair.rust,
        pair.go
    );
    let Some(rust) = new.find(Lang::Rust, &pair.rust, pair.threads) else {
        // A typo in `rust:` must not turn into a quiet `missing` row.
        let measured: Vec<&str> = new.benchmarks.iter().map(|b| b.id.as_str()).collect();
        bail!(
            "{at}: unknown bench id `{}`: this check has no result for it (measured: {}); \
             fix the pair's `rust` field, or list the bench in `cargo.ids`",
            pair.rust,
            measured.join(", ")
        );
    };
    let live = live_go
        .filter(|_| pair.go_package.is_some())
        .and_then(|set| {
            set.find(Lang::Go, &pair.go, pair.threads)
                .map(|benchmark| formats::baseline::Found { set, benchmark })
        });
    let go = live.or_else(|| go_bl.and_then(|bl| bl.find(Lang::Go, &pair.go, pair.threads)));
    let mut warnings = Vec::new();
    match &go {
        Some(found) => check_go_figure(&at, pair, found)?,
        None => warnings.push((
            WarningKind::NoGoFigure,
            format!(
                "no Go figure `{}` at GOMAXPROCS {} in {}: import one with `gate baseline import-go`",
                pair.go,
                pair.threads,
                config.resolve(&config.baselines.go).display()
            ),
        )),
    }
    Ok(Pairing {
        id: pair.rust.clone(),
        kind: RowKind::RustVsGo,
        mode: pair.mode,
        threads: pair.threads,
        old: go.map(|f| f.benchmark),
        new: Some(rust),
        go: Some(if pair.threads > 1 {
            format!("{}-{}", pair.go, pair.threads)
        } else {
            pair.go.clone()
        }),
        max_ratio: pair.max_ratio,
        warnings,
    })
}

/// Refuses a Go figure declared with another mode than the pair's, or
/// measured with `-race`. A figure whose mode nothing declared (a Go file
/// imported or measured live without `--mode`) takes the pair's: the pair
/// is the declaration.
fn check_go_figure(at: &str, pair: &Pair, found: &formats::baseline::Found<'_>) -> Result<()> {
    let g = found.benchmark;
    if !g.mode.agrees(pair.mode) {
        bail!(
            "{at}: mode mismatch: the Go baseline records `{}` at GOMAXPROCS {} as {} ({}), \
             the pair says {}. Go's RunParallel figure is inverse throughput, a sequential \
             figure is latency: re-import it with `gate baseline import-go --mode {}` if \
             that is what the Go benchmark does, or pair it with a {} Rust bench",
            pair.go,
            g.threads,
            g.mode,
            g.source.as_deref().unwrap_or("unknown source"),
            pair.mode,
            pair.mode,
            g.mode
        );
    }
    if found.set.environment.flags.iter().any(|f| f == "-race") {
        bail!(
            "{at}: the Go baseline `{}` was measured with -race, which slows Go by 2-20x: \
             re-import a run without -race",
            pair.go
        );
    }
    Ok(())
}

/// Where each baseline was measured, with a note per baseline saying how it
/// compares with this run's machine.
fn environments(
    new: &ResultSet,
    rust_bl: Option<&Baseline>,
    go_bl: Option<&Baseline>,
    live_go: Option<&ResultSet>,
    notes: &mut Vec<String>,
) -> BTreeMap<String, crate::model::Environment> {
    let mut envs = BTreeMap::new();
    if let Some(set) = rust_bl.and_then(|bl| bl.sets.first()) {
        envs.insert("rust".to_string(), set.environment.clone());
        notes.push(floor::machine_note(
            "Rust baseline",
            &set.environment,
            &new.environment,
        ));
    }
    if let Some(set) = live_go {
        envs.insert("go-live".to_string(), set.environment.clone());
        notes.push(format!(
            "Go figures of the pairs with a `go_package` were {}: Rust/Go from the same machine",
            set.provenance
                .as_deref()
                .unwrap_or("measured live on this runner")
        ));
    }
    if let Some(set) = go_bl.and_then(|bl| {
        bl.sets
            .iter()
            .find(|s| s.benchmarks.iter().any(|b| !b.reference_only))
    }) {
        envs.insert("go".to_string(), set.environment.clone());
        notes.push(format!(
            "Go figures are the stored baseline ({}), not measured in this run; {}",
            set.provenance.as_deref().unwrap_or("unknown provenance"),
            floor::machine_note("it", &set.environment, &new.environment)
        ));
    }
    envs
}
