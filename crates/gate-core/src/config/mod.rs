//! `gate.yaml`: which benches run, which pairs are compared, which thresholds apply.
//!
//! Unknown fields are refused (a typo such as `tolerence` must not silently
//! fall back to a default), and every error names the file and the field or
//! line, so a user can fix it without reading our code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::model::{BenchId, Mode};

pub mod lockstep;

/// The parsed configuration, with paths resolved against the config's folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version of this file; only 1 exists.
    #[serde(default = "one")]
    pub schema: u32,
    /// How to run the Rust benches.
    #[serde(default)]
    pub cargo: CargoConfig,
    /// Where the stored baselines live.
    #[serde(default)]
    pub baselines: BaselinePaths,
    /// Relative change inside which a significant difference is not a regression.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Significance level of the family of tests of one check (Holm-corrected).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// How many times a flagged benchmark is measured again, in a fresh
    /// process, before the check fails.
    #[serde(default = "one")]
    pub confirm: u32,
    /// A regression against the stored baseline that survived its
    /// confirmation is re-judged on this runner, in lockstep against the
    /// commit that last wrote the baseline (`src/pipeline/arbitrate.rs`); only a
    /// regression there too fails. `false` keeps the stored verdict.
    #[serde(default = "yes")]
    pub arbitrate: bool,
    /// Interleaved rounds of base and head for `gate check --base` (2 with `--quick`).
    #[serde(default = "default_rounds")]
    pub rounds: u32,
    /// Seconds of measurement a `gate check --base` may spend on its pairs,
    /// shared by the benches whose decision is still open (`--quick`: a
    /// quarter of it); docs/statistics.md, "Stopping".
    #[serde(default = "default_budget")]
    pub budget: f64,
    /// What a lockstep row that could not decide within the budget does to
    /// the check: `warn` (the default: it passes, and the report says what
    /// the row could detect) or `fail`.
    #[serde(default)]
    pub undecided: Undecided,
    /// How a lockstep pair of `gate check --base` samples (`docs/lockstep.md`).
    #[serde(default)]
    pub lockstep: lockstep::Settings,
    /// A missing Rust baseline is an error (exit 2) unless this is false.
    #[serde(default = "yes")]
    pub require_baseline: bool,
    /// PR comment settings.
    #[serde(default)]
    pub comment: CommentConfig,
    /// What the comment shows of the default branch's history.
    #[serde(default)]
    pub history: HistoryConfig,
    /// Increases of exact counters that are allowed, by bench id then counter name
    /// (the new allowed value, e.g. `mprotect_per_op: 3`).
    #[serde(default)]
    pub allow_counters: BTreeMap<String, BTreeMap<String, f64>>,
    /// Rust/Go pairs compared like with like.
    #[serde(default)]
    pub pairs: Vec<Pair>,
    /// The machine's floor benches and what they model.
    #[serde(default)]
    pub floor: FloorConfig,
    /// The folder paths in this file are relative to (set when loaded).
    #[serde(skip)]
    pub root: PathBuf,
    /// The file this was read from (set when loaded), for messages.
    #[serde(skip)]
    pub path: PathBuf,
}

impl Config {
    /// The sequential design of this config's lockstep checks: `alpha`,
    /// the paired tolerance (`lockstep.tolerance`, else `tolerance`) and
    /// `lockstep.max_pairs`.
    pub fn design(&self) -> crate::sequential::Design {
        crate::sequential::Design::new(
            self.alpha,
            self.lockstep.tolerance.unwrap_or(self.tolerance),
            self.lockstep.max_pairs as usize,
        )
    }

    /// Seconds of lockstep measurement a check may spend (`budget`; a
    /// quarter of it with `--quick`).
    pub fn budget_secs(&self, quick: bool) -> f64 {
        if quick {
            self.budget / 4.0
        } else {
            self.budget
        }
    }

    /// Lockstep pairs per check of `id` at the configured `rounds`: the
    /// id's `lockstep.overrides[id].rounds`, else `rounds`.
    pub fn pairs_per_check(&self, id: &str) -> u32 {
        self.lockstep.pairs_for(id, self.rounds, self.rounds)
    }
}

/// The machine's floor benches (`floor:` in `gate.yaml`): they measure the
/// machine, not the code, so the report reads them as the machine's line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorConfig {
    /// The raw `mprotect(READ)` + `mprotect(NONE)` pair: it scales a
    /// baseline measured on another machine kind (see `scales`).
    #[serde(default = "default_mprotect_pair")]
    pub mprotect_pair: Option<String>,
    /// A plain syscall.
    #[serde(default = "default_syscall")]
    pub syscall: Option<String>,
    /// Id prefixes of the sequential benches the `mprotect_pair` floor
    /// models (those that count `mprotect` calls and map nothing per op):
    /// their baseline samples are scaled by the floor ratio between two
    /// machine kinds. Empty: nothing is scaled.
    #[serde(default)]
    pub scales: Vec<String>,
}

fn default_mprotect_pair() -> Option<String> {
    Some("floor/mprotect_pair/sequential".into())
}

fn default_syscall() -> Option<String> {
    Some("floor/syscall/sequential".into())
}

impl Default for FloorConfig {
    fn default() -> Self {
        FloorConfig {
            mprotect_pair: default_mprotect_pair(),
            syscall: default_syscall(),
            scales: Vec::new(),
        }
    }
}

impl FloorConfig {
    /// The floor benches configured.
    pub fn benches(&self) -> impl Iterator<Item = &str> {
        [&self.mprotect_pair, &self.syscall]
            .into_iter()
            .filter_map(|b| b.as_deref())
    }

    /// Whether `id` is a floor bench (the machine's, not the code's).
    pub fn is_floor(&self, id: &str) -> bool {
        self.benches().any(|b| b == id)
    }

    /// Whether the `mprotect_pair` floor models the bench `id`.
    pub fn scales_id(&self, id: &str) -> bool {
        self.scales.iter().any(|p| id.starts_with(p.as_str()))
    }
}

/// What an undecided row does to the check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Undecided {
    /// The check passes; the report names the row and what it could detect.
    #[default]
    Warn,
    /// The check fails (exit 1), as for a regression.
    Fail,
}

fn default_budget() -> f64 {
    120.0
}

fn one() -> u32 {
    1
}
fn default_rounds() -> u32 {
    3
}
fn yes() -> bool {
    true
}
fn default_tolerance() -> f64 {
    0.05
}
fn default_alpha() -> f64 {
    0.05
}

/// Which cargo package and bench targets hold the Rust benches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CargoConfig {
    /// Folder of the cargo workspace (relative to the config file).
    #[serde(default = "dot")]
    pub workspace: PathBuf,
    /// The package whose benches run (`cargo bench -p`).
    #[serde(default = "default_package")]
    pub package: String,
    /// Bench targets (`--bench`), in the order they run.
    #[serde(default)]
    pub benches: Vec<String>,
    /// Extra cargo features for the bench build.
    #[serde(default)]
    pub features: Vec<String>,
    /// Bench ids to run; empty means every id the bench targets list.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Environment variables for the bench processes, e.g. `GATE_BENCH_THREADS: "2"`
    /// to pin the parallel thread count to the Go baseline's GOMAXPROCS.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}
fn default_package() -> String {
    "subject-benches".into()
}

impl Default for CargoConfig {
    fn default() -> Self {
        CargoConfig {
            workspace: dot(),
            package: default_package(),
            benches: Vec::new(),
            features: Vec::new(),
            ids: Vec::new(),
            env: BTreeMap::new(),
        }
    }
}

/// Paths of the stored baselines.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselinePaths {
    #[serde(default = "default_rust_baseline")]
    pub rust: PathBuf,
    #[serde(default = "default_go_baseline")]
    pub go: PathBuf,
}

fn default_rust_baseline() -> PathBuf {
    PathBuf::from("baselines/rust.yaml")
}
fn default_go_baseline() -> PathBuf {
    PathBuf::from("baselines/go.yaml")
}

impl Default for BaselinePaths {
    fn default() -> Self {
        BaselinePaths {
            rust: default_rust_baseline(),
            go: default_go_baseline(),
        }
    }
}

/// When a PR comment is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CommentMode {
    /// Create or update the comment on every run.
    #[default]
    Always,
    /// Create the comment only once something regressed; update it from then on.
    OnRegression,
    /// Never comment (summary, annotations and outputs are still written).
    Never,
}

/// PR comment settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentConfig {
    #[serde(default)]
    pub mode: CommentMode,
    /// Sets this gate's comment apart from others (matrix jobs use one each).
    #[serde(default = "default_marker")]
    pub marker: String,
    /// A minijinja template overriding the built-in `crates/gate-core/templates/comment.md.j2`.
    #[serde(default)]
    pub template: Option<PathBuf>,
    /// The login the gate's comments are written by (a GitHub App's
    /// `<slug>[bot]`); unset: `GET /user` for the token, else
    /// `github-actions[bot]`. Only a comment by this author is edited.
    #[serde(default)]
    pub author: Option<String>,
}

fn default_marker() -> String {
    "gate".into()
}

impl CommentConfig {
    /// The comment template's path, a relative `template` resolved
    /// against the config's folder `root`; `None`: the built-in template.
    pub fn template_path(&self, root: &Path) -> Option<PathBuf> {
        self.template.as_deref().map(|t| root.join(t))
    }
}

impl Default for CommentConfig {
    fn default() -> Self {
        CommentConfig {
            mode: CommentMode::default(),
            marker: default_marker(),
            template: None,
            author: None,
        }
    }
}

/// What the PR comment shows of the history (`history:` in `gate.yaml`);
/// where the history is stored is given on the command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// The published history page (`gate history html`), linked from the comment.
    #[serde(default)]
    pub url: Option<String>,
    /// Runs of the base branch the comment's trend and change points cover.
    #[serde(default = "default_trend_runs")]
    pub runs: usize,
}

fn default_trend_runs() -> usize {
    20
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            url: None,
            runs: default_trend_runs(),
        }
    }
}

/// A Rust bench and the Go benchmark it is compared with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    /// Rust bench id, e.g. `secret/with_bytes/sequential`.
    pub rust: String,
    /// Go benchmark name without the `-N` suffix, e.g. `BenchmarkMemguardSecret_WithBytes`.
    pub go: String,
    /// Mode both sides must have.
    pub mode: Mode,
    /// Thread count (Rust) and GOMAXPROCS (Go) both sides must have.
    pub threads: u32,
    /// The Rust/Go ratio allowed; above it (significantly) the check fails.
    #[serde(default)]
    pub max_ratio: Option<f64>,
    /// Folder of a Go package whose benchmarks the gate may run itself
    /// (same runner, interleaved), when `go` is on PATH.
    #[serde(default)]
    pub go_package: Option<PathBuf>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Reads `path` when the file exists; `None` when it does not, for the
    /// commands that work from a saved report without a gate.yaml.
    pub fn load_if_exists(path: &Path) -> Result<Option<Config>> {
        if path.exists() {
            Self::load(path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Every setting at its default, paths relative to `path`'s folder:
    /// what a missing gate.yaml means.
    pub fn defaults(path: &Path) -> Config {
        Self::parse("{}", path).expect("the default settings are valid")
    }

    /// Parses config text; `path` is used for messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        if text.trim().is_empty() {
            bail!("{}: the config file is empty", path.display());
        }
        let mut config: Config = serde_yaml::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{}{at}: {e}", path.display())
        })?;
        config.path = path.to_path_buf();
        config.root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        config.validate()?;
        Ok(config)
    }

    /// Resolves a path from the config against the config's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }

    fn validate(&self) -> Result<()> {
        let file = self.path.display();
        if self.schema != 1 {
            bail!(
                "{file}: field `schema`: version {} is not supported (this gate reads version 1)",
                self.schema
            );
        }
        if !(0.0..1.0).contains(&self.tolerance) {
            bail!(
                "{file}: field `tolerance`: {} is not a fraction in [0, 1) (0.05 means 5%)",
                self.tolerance
            );
        }
        if !(self.budget > 0.0 && self.budget.is_finite()) {
            bail!(
                "{file}: field `budget`: {} must be a positive number of seconds",
                self.budget
            );
        }
        if !(self.alpha > 0.0 && self.alpha < 0.5) {
            bail!("{file}: field `alpha`: {} must be in (0, 0.5)", self.alpha);
        }
        self.lockstep
            .validate()
            .map_err(|e| anyhow::anyhow!("{file}: field `{e}"))?;
        for (i, id) in self.cargo.ids.iter().enumerate() {
            BenchId::parse(id)
                .map_err(|e| anyhow::anyhow!("{file}: field `cargo.ids[{i}]`: {e}"))?;
        }
        for (i, pair) in self.pairs.iter().enumerate() {
            let at = format!(
                "{file}: field `pairs[{i}]` (rust `{}`, go `{}`)",
                pair.rust, pair.go
            );
            let id = BenchId::parse(&pair.rust).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
            if !self.cargo.ids.is_empty() && !self.cargo.ids.contains(&pair.rust) {
                bail!(
                    "{at}: unknown bench id `{}`: it is not among `cargo.ids`",
                    pair.rust
                );
            }
            if id.mode != pair.mode {
                bail!(
                    "{at}: mode mismatch: the pair says `{}` but the Rust bench id is `{}`. \
                     A sequential figure and a parallel (RunParallel) figure measure different \
                     things (latency vs inverse throughput); pair benches of the same mode",
                    pair.mode,
                    id.mode
                );
            }
            if id.threads != pair.threads {
                bail!(
                    "{at}: thread mismatch: the pair says {} thread(s) but the Rust bench id runs {}. \
                     Go's -N suffix is GOMAXPROCS; compare only equal thread counts",
                    pair.threads,
                    id.threads
                );
            }
            if let Some(m) = pair.max_ratio
                && !(m > 0.0 && m.is_finite())
            {
                bail!("{at}: field `max_ratio`: {m} must be a positive number");
            }
        }
        for id in self.allow_counters.keys() {
            BenchId::parse(id)
                .map_err(|e| anyhow::anyhow!("{file}: field `allow_counters.{id}`: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("gate.yaml"))
    }

    #[test]
    fn defaults_apply() {
        let c = parse("cargo:\n  benches: [secret]\n").unwrap();
        assert_eq!(c.tolerance, 0.05);
        assert_eq!(c.alpha, 0.05);
        assert_eq!(c.confirm, 1);
        assert_eq!(c.baselines.go, PathBuf::from("baselines/go.yaml"));
        assert_eq!(c.comment.mode, CommentMode::Always);
    }

    /// A missing gate.yaml is the defaults, a relative comment template
    /// is found beside the config.
    #[test]
    fn missing_file_is_the_defaults_and_the_template_is_beside_it() {
        let at = Path::new("ci/absent-gate.yaml");
        assert!(Config::load_if_exists(at).unwrap().is_none());
        let mut c = Config::defaults(at);
        assert_eq!(c.comment.template_path(&c.root), None);
        c.comment.template = Some("comment.md.j2".into());
        assert_eq!(
            c.comment.template_path(&c.root),
            Some(PathBuf::from("ci/comment.md.j2"))
        );
    }

    #[test]
    fn typo_is_refused_with_its_line() {
        let err = parse("tolerance: 0.05\ntolerence: 0.1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("gate.yaml:2"), "{err}");
        assert!(err.contains("tolerence"), "{err}");
    }

    #[test]
    fn broken_yaml_names_the_file_and_line() {
        let err = parse("pairs:\n  - rust: [\n").unwrap_err().to_string();
        assert!(err.starts_with("gate.yaml:"), "{err}");
    }

    #[test]
    fn mode_mismatch_says_which_and_why() {
        let err = parse(
            "pairs:\n  - rust: secret/with_bytes/sequential\n    go: BenchmarkX\n    mode: parallel\n    threads: 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("pairs[0]"), "{err}");
        assert!(err.contains("mode mismatch"), "{err}");
        assert!(err.contains("RunParallel"), "{err}");
    }

    #[test]
    fn thread_mismatch_is_refused() {
        let err = parse(
            "pairs:\n  - rust: secret/with_bytes/parallel/t2\n    go: BenchmarkX\n    mode: parallel\n    threads: 16\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("thread mismatch"), "{err}");
    }

    #[test]
    fn unknown_id_is_refused() {
        let err = parse(
            "cargo:\n  ids: [secret/with_bytes/sequential]\npairs:\n  - rust: secret/nope/sequential\n    go: BenchmarkX\n    mode: sequential\n    threads: 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown bench id"), "{err}");
    }

    /// A per-id `rounds` gives that id its own pairs per check, scaled with
    /// `--quick`'s 2 rounds; 0 pairs is refused, naming the id.
    #[test]
    fn per_id_rounds_scale_and_zero_is_refused() {
        let c = parse(
            "rounds: 8\nlockstep:\n  overrides:\n    secret/with_bytes/parallel/t2: { rounds: 24 }\n",
        )
        .unwrap();
        let ls = &c.lockstep;
        assert_eq!(ls.pairs_for("secret/with_bytes/parallel/t2", 8, 8), 24);
        assert_eq!(ls.pairs_for("secret/with_bytes/parallel/t2", 2, 8), 6);
        assert_eq!(ls.pairs_for("secret/with_bytes/sequential", 8, 8), 8);
        assert_eq!(ls.pairs_for("secret/with_bytes/sequential", 2, 8), 2);
        let err =
            parse("lockstep:\n  overrides:\n    secret/with_bytes/parallel/t2: { rounds: 0 }\n")
                .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("secret/with_bytes/parallel/t2"), "{text}");
        assert!(text.contains("rounds"), "{text}");
    }
}
