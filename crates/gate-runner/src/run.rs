//! Stage 1, run: build the criterion benches once, list the ids they offer,
//! select some, and run each id in its own process.
//!
//! The gate never links the code it measures: it drives `cargo bench
//! --no-run` and then the bench executables cargo built, and reads what
//! they write (criterion's `sample.json`, the benches' counters files).
//!
//! Choices, and why (also in `docs/running.md`):
//!
//! - **One process per id.** A bench that leaks threads, memory or locked
//!   pages cannot slow the next one, and a confirmation run of one id is the
//!   same operation as a full run. The executable is run directly (with
//!   `--bench`, as `cargo bench` does) so cargo's freshness check is paid
//!   once, not once per id.
//! - **Exact selection.** Each process gets `--exact <id>`: criterion then
//!   runs the one bench whose full id is equal, no regex escaping needed.
//! - **Stale results.** Before an id runs, its previous criterion folder
//!   (found through the `full_id` recorded in `new/benchmark.json`, since
//!   folder names are sanitised) and its counters file are removed, so every
//!   result of a run id is from this run and criterion never compares with
//!   an old `base`. Results of ids not run are left alone; the summary lists
//!   the folder of every id run.
//! - **Settings.** Normal: `--sample-size 50 --measurement-time 3
//!   --warm-up-time 1` (50 samples are plenty for a rank test; about 4.5 s
//!   per id instead of criterion's 8 s). Quick: `--sample-size 20
//!   --measurement-time 1 --warm-up-time 0.5`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use regex::Regex;

use crate::process::{Captured, run_captured};
use crate::progress::Progress;
pub use crate::progress::ProgressMode;
use gate_core::config::Config;

/// Cargo feature the subject benches (and the fixture) use to turn mlock off.
pub const NO_MLOCK_FEATURE: &str = "no-mlock";
/// Environment variable that turns mlock off at run time in the benches.
pub const NO_MLOCK_ENV: &str = "GATE_NO_MLOCK";
/// Folder, under the criterion home, of the benches' counters files.
pub const COUNTERS_DIR: &str = "gate-counters";
/// Lines of a failing command's output kept in the error.
const TAIL_LINES: usize = 25;

/// Criterion measurement settings, passed on the bench's command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Samples per bench (`--sample-size`; criterion's minimum is 10).
    pub sample_size: u32,
    /// Seconds of measurement (`--measurement-time`).
    pub measurement_secs: f64,
    /// Seconds of warm-up (`--warm-up-time`).
    pub warm_up_secs: f64,
}

impl Settings {
    /// The default: 50 samples give a rank test ample power, and 3 s of
    /// measurement after 1 s of warm-up keep a 27-bench run near two
    /// minutes (criterion's own 100 samples, 5 s + 3 s, would take four).
    pub const NORMAL: Settings = Settings {
        sample_size: 50,
        measurement_secs: 3.0,
        warm_up_secs: 1.0,
    };
    /// `--quick`: 20 samples in 1 s after 0.5 s of warm-up. Still enough
    /// samples for Mann-Whitney to reach significance, with wider intervals.
    pub const QUICK: Settings = Settings {
        sample_size: 20,
        measurement_secs: 1.0,
        warm_up_secs: 0.5,
    };

    /// Expected wall time of one bench process: warm-up, measurement, and
    /// about 0.8 s of process start, iteration rounding and criterion's
    /// analysis (measured with the fixture: 2.3 s quick, 4.7-5.2 s normal). Used for the ETA before the first bench
    /// has finished.
    pub fn estimated_per_bench(&self) -> Duration {
        Duration::from_secs_f64(self.warm_up_secs + self.measurement_secs + 0.8)
    }

    /// The criterion arguments for these settings.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--sample-size".into(),
            self.sample_size.to_string(),
            "--measurement-time".into(),
            self.measurement_secs.to_string(),
            "--warm-up-time".into(),
            self.warm_up_secs.to_string(),
        ]
    }
}

/// What to build and run. Build it with [`RunPlan::new`],
/// or [`RunPlan::from_config`], then adjust fields:
/// to run another checkout (a worktree of the base ref), set `workspace`,
/// `target_dir` and `criterion_home` to its own; to confirm one id, set
/// `only`.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Folder of the cargo workspace; cargo runs there.
    pub workspace: PathBuf,
    /// Package whose benches run (`cargo bench -p`).
    pub package: String,
    /// Bench targets (`--bench`); empty means all of the package's (`--benches`).
    pub benches: Vec<String>,
    /// Cargo features of the bench build (without `no-mlock`, see `no_mlock`).
    pub features: Vec<String>,
    /// Build with feature `no-mlock` and run with `GATE_NO_MLOCK=1`.
    pub no_mlock: bool,
    /// Only ids matching this (unanchored) regular expression.
    pub filter: Option<Regex>,
    /// The configured ids (`cargo.ids`); empty means every id listed.
    pub ids: Vec<String>,
    /// Run exactly these ids instead of `ids` (a confirmation run). The
    /// filter still applies.
    pub only: Option<Vec<String>>,
    /// Use [`Settings::QUICK`] instead of [`Settings::NORMAL`].
    pub quick: bool,
    /// Where criterion writes (`CRITERION_HOME`, always set for the benches).
    pub criterion_home: PathBuf,
    /// `CARGO_TARGET_DIR` for the build; `None` inherits the environment's.
    pub target_dir: Option<PathBuf>,
    /// The checkout is built in another checkout's target folder (a base
    /// worktree in the head's): its workspace members are cleaned before
    /// and after its build (see [`crate::build`]).
    pub foreign: bool,
    /// Extra environment variables for the build and the bench processes.
    pub env: Vec<(String, String)>,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// Longest a bench process (or a listing) may take before it is killed
    /// and the run fails: a hung bench must not hold a CI job for hours.
    pub timeout: Option<Duration>,
}

/// Where criterion writes when nothing else is said: `<target>/criterion`,
/// the place `cargo bench` itself uses, so `--no-run` finds results of a
/// plain `cargo bench` too. `target_dir` is `CARGO_TARGET_DIR` if set.
pub fn default_criterion_home(workspace: &Path, target_dir: Option<&Path>) -> PathBuf {
    match target_dir {
        Some(t) => t.join("criterion"),
        None => workspace.join("target").join("criterion"),
    }
}

impl RunPlan {
    /// The ids this plan asks for, and where they come from: `only`
    /// (requested), else `cargo.ids` (configured), else every id the bench
    /// targets `listed`. The filter then applies ([`RunPlan::lets_run`]).
    pub fn asked<'a>(&'a self, listed: &'a [String]) -> (&'a [String], &'static str) {
        match (&self.only, self.ids.is_empty()) {
            (Some(only), _) => (only, "requested"),
            (None, false) => (&self.ids, "configured in `cargo.ids`"),
            (None, true) => (listed, "listed"),
        }
    }

    /// Whether the filter lets `id` run.
    pub fn lets_run(&self, id: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.is_match(id))
    }

    /// A plan for every bench of `package` in `workspace`, normal settings,
    /// criterion home at the default place (see [`default_criterion_home`],
    /// honouring `CARGO_TARGET_DIR`).
    pub fn new(workspace: impl Into<PathBuf>, package: impl Into<String>) -> RunPlan {
        let workspace = workspace.into();
        let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from);
        // `CRITERION_HOME` is criterion's own setting; honouring it lets two
        // checks (or two tests) share a target folder without sharing results.
        let criterion_home = std::env::var_os("CRITERION_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| default_criterion_home(&workspace, target_dir.as_deref()));
        RunPlan {
            criterion_home,
            workspace,
            package: package.into(),
            benches: Vec::new(),
            features: Vec::new(),
            no_mlock: false,
            filter: None,
            ids: Vec::new(),
            only: None,
            quick: false,
            target_dir: None,
            foreign: false,
            env: Vec::new(),
            progress: ProgressMode::Auto,
            timeout: Some(Duration::from_secs(600)),
        }
    }

    /// The plan `gate.yaml`'s `cargo` section describes.
    pub fn from_config(config: &Config) -> RunPlan {
        let c = &config.cargo;
        let mut plan = RunPlan::new(config.resolve(&c.workspace), c.package.clone());
        plan.benches = c.benches.clone();
        plan.features = c.features.clone();
        plan.ids = c.ids.clone();
        plan
    }

    /// The features the benches are built with: the configured ones plus
    /// `no-mlock` when asked, sorted, without repeats. Results record these.
    pub fn effective_features(&self) -> Vec<String> {
        let mut f: BTreeSet<String> = self.features.iter().cloned().collect();
        if self.no_mlock {
            f.insert(NO_MLOCK_FEATURE.to_string());
        }
        f.into_iter().collect()
    }

    /// The measurement settings in force.
    pub fn settings(&self) -> Settings {
        if self.quick {
            Settings::QUICK
        } else {
            Settings::NORMAL
        }
    }

    /// Environment of the bench processes (and the build): criterion home,
    /// `GATE_NO_MLOCK`, then the extra variables.
    pub(crate) fn bench_env(&self, criterion_home: &Path) -> Vec<(OsString, OsString)> {
        let mut env = vec![(
            "CRITERION_HOME".into(),
            criterion_home.as_os_str().to_owned(),
        )];
        if self.no_mlock {
            env.push((NO_MLOCK_ENV.into(), "1".into()));
        }
        env.extend(self.env.iter().map(|(k, v)| (k.into(), v.into())));
        env
    }
}

/// Why a run failed. Returned inside `anyhow::Error` (downcast to tell the
/// kinds apart); all of them are errors of exit-code class 2.
#[derive(Debug)]
pub enum RunError {
    /// `cargo bench --no-run` failed.
    Build {
        command: String,
        status: String,
        tail: String,
    },
    /// A bench process failed, timed out, or wrote no results.
    Bench {
        id: String,
        target: String,
        command: String,
        status: String,
        tail: String,
    },
    /// Listing the ids of a bench target failed.
    List {
        target: String,
        command: String,
        status: String,
        tail: String,
    },
    /// The configured ids, the explicit ids or the filter select nothing
    /// runnable.
    Selection(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Build {
                command,
                status,
                tail,
            } => {
                write!(
                    f,
                    "building the benches failed ({status}): `{command}`\n{tail}"
                )
            }
            RunError::Bench {
                id,
                target,
                command,
                status,
                tail,
            } => write!(
                f,
                "bench `{id}` (target `{target}`) failed ({status}): `{command}`\n{tail}"
            ),
            RunError::List {
                target,
                command,
                status,
                tail,
            } => write!(
                f,
                "listing the benches of target `{target}` failed ({status}): `{command}`\n{tail}"
            ),
            RunError::Selection(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for RunError {}

/// One bench executable cargo built, and the ids it offers.
#[derive(Debug, Clone)]
pub struct BenchTarget {
    /// Target name (`--bench <name>`).
    pub name: String,
    /// The built executable.
    pub executable: PathBuf,
    /// Folder of the package's `Cargo.toml`: the bench's working folder, as
    /// under `cargo bench`.
    pub package_dir: PathBuf,
    /// Ids from `--list`, in criterion's order.
    pub ids: Vec<String>,
    /// Hex SHA-256 of the executable.
    pub sha256: String,
}

/// Benches built and listed, ids selected: ready to run, as often as needed
/// (e.g. interleaved with another checkout's, or once more to confirm).
#[derive(Debug)]
pub struct Prepared {
    plan: RunPlan,
    criterion_home: PathBuf,
    targets: Vec<BenchTarget>,
    /// Selected ids and the index of the target that offers each.
    selected: Vec<(String, usize)>,
    build_duration: Duration,
    target_dir: PathBuf,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Ids run, in order.
    pub ids: Vec<String>,
    /// Criterion result folder of each id run (holding `new/sample.json`).
    pub results: BTreeMap<String, PathBuf>,
    /// When the first bench started: results older than this are not ours.
    pub started: SystemTime,
    /// Wall time of the bench processes (build excluded).
    pub duration: Duration,
    /// Wall time of `cargo bench --no-run`.
    pub build_duration: Duration,
    /// Where criterion wrote (absolute).
    pub criterion_home: PathBuf,
    /// Features the benches were built with.
    pub features: Vec<String>,
    /// Whether the quick settings were used (reports say so).
    pub quick: bool,
    /// The settings used.
    pub settings: Settings,
}

/// Builds, lists, selects and runs: the whole stage for one checkout.
pub fn run(plan: &RunPlan) -> Result<RunSummary> {
    prepare(plan)?.run_all()
}

/// Builds the benches once and lists and selects the ids to run.
pub fn prepare(plan: &RunPlan) -> Result<Prepared> {
    let progress = Progress::new(plan.progress, 0, Duration::ZERO);
    // The bench processes run in the package folder, so relative paths
    // would point elsewhere there: make them absolute now.
    let criterion_home = std::path::absolute(&plan.criterion_home)
        .with_context(|| format!("criterion home {}", plan.criterion_home.display()))?;
    let mut plan = plan.clone();
    if let Some(t) = &plan.target_dir {
        plan.target_dir =
            Some(std::path::absolute(t).with_context(|| format!("target dir {}", t.display()))?);
    }
    let build_started = Instant::now();
    progress.phase(&format!("building the benches of `{}`", plan.package));
    let built = build(&plan, &criterion_home);
    progress.done_phase();
    let (target_dir, built) = built?;
    let build_duration = build_started.elapsed();

    let mut targets = Vec::new();
    for (name, stored, package_dir) in built {
        let executable = stored.path;
        progress.phase(&format!("listing the benches of `{name}`"));
        let ids = list(&plan, &criterion_home, &name, &executable, &package_dir);
        progress.done_phase();
        targets.push(BenchTarget {
            ids: ids?,
            name,
            executable,
            package_dir,
            sha256: stored.sha256,
        });
    }
    let selected = select(&plan, &targets)?;
    Ok(Prepared {
        plan,
        criterion_home,
        targets,
        selected,
        build_duration,
        target_dir,
    })
}

impl Prepared {
    /// The ids selected, in the order they run.
    pub fn ids(&self) -> Vec<String> {
        self.selected.iter().map(|(id, _)| id.clone()).collect()
    }

    /// The bench targets built, with every id each offers.
    pub fn targets(&self) -> &[BenchTarget] {
        &self.targets
    }

    /// The criterion home (absolute) the bench processes write to.
    pub fn criterion_home(&self) -> &Path {
        &self.criterion_home
    }

    /// The plan, with absolute paths.
    pub fn plan(&self) -> &RunPlan {
        &self.plan
    }

    /// The target folder cargo built in.
    pub fn target_dir(&self) -> &Path {
        &self.target_dir
    }

    /// How long the build took.
    pub fn build_duration(&self) -> Duration {
        self.build_duration
    }

    /// Each bench target's name and the SHA-256 of its executable.
    pub fn fingerprints(&self) -> BTreeMap<String, String> {
        self.targets
            .iter()
            .map(|t| (t.name.clone(), t.sha256.clone()))
            .collect()
    }

    /// Runs every selected id, one process each, with progress.
    pub fn run_all(&self) -> Result<RunSummary> {
        self.run_ids(&self.ids())
    }

    /// Runs these ids (each must be offered by a target; the selection is
    /// not consulted, so a confirmation run may name any listed id), with
    /// progress. Earlier results of these ids are removed first.
    pub fn run_ids(&self, ids: &[String]) -> Result<RunSummary> {
        let jobs: Vec<(&str, &BenchTarget)> = ids
            .iter()
            .map(|id| {
                self.target_of(id).map(|t| (id.as_str(), t)).ok_or_else(|| {
                    RunError::Selection(format!(
                        "bench id `{id}` is not offered by {}",
                        self.offer()
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        clear_stale(&self.criterion_home, ids)?;
        let progress = Progress::new(
            self.plan.progress,
            jobs.len() as u64,
            self.plan.settings().estimated_per_bench(),
        );
        let started = SystemTime::now();
        let t0 = Instant::now();
        let mut results = BTreeMap::new();
        for (i, (id, target)) in jobs.iter().enumerate() {
            progress.start(i, id);
            let bench_t0 = Instant::now();
            let outcome = self.run_one(id, target);
            progress.finish(i, id, bench_t0.elapsed(), outcome.is_ok());
            results.insert(id.to_string(), outcome?);
        }
        progress.clear();
        Ok(RunSummary {
            ids: ids.to_vec(),
            results,
            started,
            duration: t0.elapsed(),
            build_duration: self.build_duration,
            criterion_home: self.criterion_home.clone(),
            features: self.plan.effective_features(),
            quick: self.plan.quick,
            settings: self.plan.settings(),
        })
    }

    pub(crate) fn target_of(&self, id: &str) -> Option<&BenchTarget> {
        self.targets.iter().find(|t| t.ids.iter().any(|i| i == id))
    }

    fn offer(&self) -> String {
        describe_offer(&self.plan.package, &self.targets)
    }

    /// The command that runs bench `id` of `target` alone, in the package
    /// folder, with the bench environment (criterion settings not added).
    pub(crate) fn bench_command(&self, id: &str, target: &BenchTarget) -> Command {
        let mut cmd = Command::new(&target.executable);
        cmd.arg("--bench")
            .arg("--exact")
            .arg(id)
            .arg("--noplot")
            .args(["--color", "never"])
            .current_dir(&target.package_dir)
            .envs(self.plan.bench_env(&self.criterion_home));
        cmd
    }

    /// Runs one id in its own process and returns its result folder.
    fn run_one(&self, id: &str, target: &BenchTarget) -> Result<PathBuf> {
        let mut cmd = self.bench_command(id, target);
        cmd.args(self.plan.settings().args());
        let shown = show_command(&cmd);
        let bench_err = |status: String, tail: String| RunError::Bench {
            id: id.to_string(),
            target: target.name.clone(),
            command: shown.clone(),
            status,
            tail,
        };
        let out = run_captured(&mut cmd, self.plan.timeout)
            .with_context(|| format!("cannot start bench `{id}`: `{shown}`"))?;
        if !out.ok() {
            return Err(bench_err(out.status_text(), out.tail()).into());
        }
        match result_dirs(&self.criterion_home)?.remove(id) {
            Some(dir) if dir.join("new").join("sample.json").is_file() => Ok(dir),
            _ => Err(bench_err(
                format!(
                    "exit 0 but no new/sample.json for this id under {}",
                    self.criterion_home.display()
                ),
                out.tail(),
            )
            .into()),
        }
    }
}

/// A bench executable built and stored: (target name, stored copy,
/// package folder).
type Built = (String, crate::build::Stored, PathBuf);

/// Builds the benches under the rules of [`crate::build`]: returns the
/// target folder and each bench executable.
fn build(plan: &RunPlan, criterion_home: &Path) -> Result<(PathBuf, Vec<Built>)> {
    use crate::build as b;
    let target = match &plan.target_dir {
        Some(t) => t.clone(),
        None => b::target_dir(&plan.workspace)?,
    };
    let _lock = b::BuildLock::acquire(&target)?;
    let workspace = std::path::absolute(&plan.workspace)
        .with_context(|| format!("workspace {}", plan.workspace.display()))?;
    let members = if b::owner(&target).is_some_and(|o| o != workspace) || plan.foreign {
        let m = b::members_used(&workspace, &plan.package)?;
        b::clean(&workspace, &target, &m)?;
        Some(m)
    } else {
        None
    };
    b::set_owner(&target, Some(&workspace))?;
    let built = cargo_bench_no_run(plan, &target, criterion_home).and_then(|built| {
        built
            .into_iter()
            .map(|(name, exe, dir)| Ok((name.clone(), b::store(&target, &name, &exe)?, dir)))
            .collect::<Result<Vec<_>>>()
    });
    if let (true, Some(m)) = (plan.foreign, &members) {
        b::clean(&workspace, &target, m)?;
        b::set_owner(&target, None)?;
    }
    Ok((target, built?))
}

/// `cargo bench -p <package> --bench <b>... --no-run` in `target`: returns
/// each bench executable as (target name, path, package folder). Cargo's
/// output is captured and shown only when the build fails.
fn cargo_bench_no_run(
    plan: &RunPlan,
    target: &Path,
    criterion_home: &Path,
) -> Result<Vec<(String, PathBuf, PathBuf)>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["bench", "--no-run", "-p", &plan.package]);
    if plan.benches.is_empty() {
        cmd.arg("--benches");
    }
    for b in &plan.benches {
        cmd.args(["--bench", b]);
    }
    let features = plan.effective_features();
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    // JSON on stdout tells us where the executables are; diagnostics stay
    // rendered on stderr for a readable error.
    cmd.arg("--message-format=json-render-diagnostics")
        .current_dir(&plan.workspace)
        .envs(plan.bench_env(criterion_home))
        .env("CARGO_TARGET_DIR", target);
    let shown = show_command(&cmd);
    let out = run_captured(&mut cmd, None).with_context(|| format!("cannot start `{shown}`"))?;
    if !out.ok() {
        return Err(RunError::Build {
            command: format!("{shown} (in {})", plan.workspace.display()),
            status: out.status_text(),
            tail: tail_of(&out.stderr, TAIL_LINES),
        }
        .into());
    }
    let built = bench_executables(&String::from_utf8_lossy(&out.stdout));
    if built.is_empty() {
        return Err(RunError::Selection(format!(
            "package `{}` has no bench targets (`{shown}` built none)",
            plan.package
        ))
        .into());
    }
    Ok(built)
}

/// Bench executables in cargo's JSON messages: `compiler-artifact` records
/// of targets of kind `bench` with an executable, in build order, once each.
pub fn bench_executables(json_lines: &str) -> Vec<(String, PathBuf, PathBuf)> {
    let mut out: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    for line in json_lines.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-artifact" {
            continue;
        }
        let is_bench = v["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "bench"));
        let (Some(name), Some(exe), Some(manifest)) = (
            v["target"]["name"].as_str(),
            v["executable"].as_str(),
            v["manifest_path"].as_str(),
        ) else {
            continue;
        };
        if is_bench && !out.iter().any(|(n, _, _)| n == name) {
            let dir = Path::new(manifest)
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf();
            out.push((name.to_string(), PathBuf::from(exe), dir));
        }
    }
    out
}

/// Ids a bench target offers: its `--list` output, lines `<id>: benchmark`.
fn list(
    plan: &RunPlan,
    criterion_home: &Path,
    name: &str,
    exe: &Path,
    package_dir: &Path,
) -> Result<Vec<String>> {
    let mut cmd = Command::new(exe);
    // The bench's setup code runs while listing (e.g. creating secrets), so
    // it gets the same environment as a measuring run.
    cmd.args(["--bench", "--list"])
        .current_dir(package_dir)
        .envs(plan.bench_env(criterion_home));
    let shown = show_command(&cmd);
    let out =
        run_captured(&mut cmd, plan.timeout).with_context(|| format!("cannot start `{shown}`"))?;
    if !out.ok() {
        return Err(RunError::List {
            target: name.to_string(),
            command: shown,
            status: out.status_text(),
            tail: out.tail(),
        }
        .into());
    }
    Ok(parse_list(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses criterion's `--list` output: one `<id>: benchmark` line per id;
/// other lines (blank lines, the bench's own prints) are ignored.
pub fn parse_list(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_end().strip_suffix(": benchmark"))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect()
}

/// Chooses the ids to run, with their target, and refuses selections that
/// would silently run less than asked: an id no target offers, an id two
/// targets offer, or a filter that leaves nothing.
fn select(plan: &RunPlan, targets: &[BenchTarget]) -> Result<Vec<(String, usize)>> {
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (ti, t) in targets.iter().enumerate() {
        for id in &t.ids {
            if let Some(&other) = owner.get(id.as_str())
                && other != ti
            {
                return Err(RunError::Selection(format!(
                    "bench id `{id}` is offered by two bench targets, `{}` and `{}`; ids must be unique",
                    targets[other].name, t.name
                ))
                .into());
            }
            owner.insert(id, ti);
        }
    }
    let offer = || describe_offer(&plan.package, targets);
    let listed: Vec<String> = targets.iter().flat_map(|t| t.ids.iter().cloned()).collect();
    let (wanted, source) = plan.asked(&listed);
    if wanted.is_empty() {
        return Err(RunError::Selection(format!("no bench ids to run: {}", offer())).into());
    }
    let mut chosen = Vec::new();
    for id in wanted {
        let Some(&ti) = owner.get(id.as_str()) else {
            return Err(RunError::Selection(format!(
                "bench id `{id}` ({source}) is not offered by {}",
                offer()
            ))
            .into());
        };
        if plan.lets_run(id) && !chosen.iter().any(|(c, _)| c == id) {
            chosen.push((id.clone(), ti));
        }
    }
    if chosen.is_empty() {
        let f = plan.filter.as_ref().map(Regex::as_str).unwrap_or_default();
        return Err(RunError::Selection(format!(
            "the filter `{f}` matches none of the {source} bench ids; {}",
            offer()
        ))
        .into());
    }
    Ok(chosen)
}

fn describe_offer(package: &str, targets: &[BenchTarget]) -> String {
    let parts: Vec<String> = targets
        .iter()
        .map(|t| format!("`{}` offers [{}]", t.name, t.ids.join(", ")))
        .collect();
    format!(
        "the bench targets of package `{package}`: {}",
        parts.join("; ")
    )
}

/// Criterion result folders by full id: every `<dir>/new/benchmark.json`
/// under the home, read for its `full_id` (folder names are sanitised, so
/// the id cannot be turned into a path reliably).
// TODO(formats): use `formats::criterion` once merged; this reads only `full_id`.
fn result_dirs(home: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![home.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read folder {}", dir.display()));
            }
        };
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot read folder {}", dir.display()))?
                .path();
            if !path.is_dir()
                || path
                    .file_name()
                    .is_some_and(|n| n == COUNTERS_DIR || n == "report")
            {
                continue;
            }
            let meta = path.join("benchmark.json");
            if path.file_name().is_some_and(|n| n == "new") && meta.is_file() {
                let text = std::fs::read_to_string(&meta)
                    .with_context(|| format!("cannot read {}", meta.display()))?;
                let v: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not JSON", meta.display()))?;
                if let Some(id) = v["full_id"].as_str() {
                    found.insert(id.to_string(), dir.clone());
                }
            } else if !matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some("base" | "change")
            ) {
                stack.push(path);
            }
        }
    }
    Ok(found)
}

/// Path of the counters file a bench writes for `id`:
/// `<home>/gate-counters/<id with '/' replaced by "__">.json`.
pub fn counters_path(criterion_home: &Path, id: &str) -> PathBuf {
    criterion_home
        .join(COUNTERS_DIR)
        .join(format!("{}.json", id.replace('/', "__")))
}

/// Removes the criterion folder and the counters file of each id, so that
/// what is found after the run was written by it.
fn clear_stale(home: &Path, ids: &[String]) -> Result<()> {
    let dirs = result_dirs(home)?;
    for id in ids {
        if let Some(dir) = dirs.get(id) {
            std::fs::remove_dir_all(dir).with_context(|| {
                format!("cannot remove old results of `{id}` in {}", dir.display())
            })?;
        }
        let counters = counters_path(home, id);
        match std::fs::remove_file(&counters) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot remove {}", counters.display()));
            }
        }
    }
    Ok(())
}

/// The end of a captured output, for error messages.
pub(crate) trait Tail {
    fn tail(&self) -> String;
}

impl Tail for Captured {
    /// The end of stderr, or of stdout when stderr is empty (a panic is
    /// shown from its `panicked at` line, see [`tail_of`]).
    fn tail(&self) -> String {
        if self.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
            tail_of(&self.stderr, TAIL_LINES)
        } else {
            tail_of(&self.stdout, TAIL_LINES)
        }
    }
}

/// The last `n` lines of some output, indented for an error message; when
/// the output holds a panic, `n` lines from the last `panicked at` line, so
/// that a backtrace (`RUST_BACKTRACE=1`) cannot push the message out.
fn tail_of(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = match lines.iter().rposition(|l| l.contains("panicked at")) {
        Some(p) => p,
        None => lines.len().saturating_sub(n),
    };
    lines[start..(start + n).min(lines.len())]
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A command as a user could retype it (environment set by the gate first).
pub(crate) fn show_command(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())))
        .collect();
    parts.push(cmd.get_program().to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|a| {
        let a = a.to_string_lossy();
        if a.contains(char::is_whitespace) {
            format!("'{a}'")
        } else {
            a.into_owned()
        }
    }));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_output_is_parsed() {
        let text = "fixture/spin/sequential: benchmark\n\nsetup note\nfixture/sleepless/sequential: benchmark\n";
        assert_eq!(
            parse_list(text),
            ["fixture/spin/sequential", "fixture/sleepless/sequential"]
        );
    }

    #[test]
    fn only_bench_artifacts_are_taken() {
        let json = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"fixture_bench"},"executable":null,"manifest_path":"/w/p/Cargo.toml"}
{"reason":"compiler-artifact","target":{"kind":["bench"],"name":"fixture"},"executable":"/t/release/deps/fixture-1","manifest_path":"/w/p/Cargo.toml"}
{"reason":"build-finished","success":true}"#;
        let got = bench_executables(json);
        assert_eq!(
            got,
            [(
                "fixture".to_string(),
                PathBuf::from("/t/release/deps/fixture-1"),
                PathBuf::from("/w/p")
            )]
        );
    }

    fn target(name: &str, ids: &[&str]) -> BenchTarget {
        BenchTarget {
            name: name.into(),
            executable: PathBuf::new(),
            package_dir: PathBuf::new(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            sha256: String::new(),
        }
    }

    fn chosen(plan: &RunPlan, targets: &[BenchTarget]) -> Result<Vec<String>> {
        Ok(select(plan, targets)?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    #[test]
    fn selection_follows_ids_filter_and_only() {
        let targets = [
            target("a", &["x/a/sequential", "x/b/sequential"]),
            target("b", &["y/c/sequential"]),
        ];
        let mut plan = RunPlan::new(".", "p");
        assert_eq!(chosen(&plan, &targets).unwrap().len(), 3);
        plan.filter = Some(Regex::new("^x/").unwrap());
        assert_eq!(
            chosen(&plan, &targets).unwrap(),
            ["x/a/sequential", "x/b/sequential"]
        );
        plan.ids = vec!["y/c/sequential".into(), "x/b/sequential".into()];
        assert_eq!(chosen(&plan, &targets).unwrap(), ["x/b/sequential"]);
        plan.only = Some(vec!["x/a/sequential".into()]);
        assert_eq!(chosen(&plan, &targets).unwrap(), ["x/a/sequential"]);
    }

    #[test]
    fn selection_refuses_what_would_run_less_than_asked() {
        let targets = [
            target("a", &["x/a/sequential"]),
            target("b", &["y/c/sequential"]),
        ];
        let mut plan = RunPlan::new(".", "p");
        plan.ids = vec!["x/zzz/sequential".into()];
        let err = chosen(&plan, &targets).unwrap_err().to_string();
        assert!(
            err.contains("`x/zzz/sequential` (configured in `cargo.ids`) is not offered"),
            "{err}"
        );
        assert!(err.contains("`a` offers [x/a/sequential]"), "{err}");

        plan.ids.clear();
        plan.filter = Some(Regex::new("nothing").unwrap());
        let err = chosen(&plan, &targets).unwrap_err().to_string();
        assert!(err.contains("filter `nothing` matches none"), "{err}");

        let dup = [
            target("a", &["x/a/sequential"]),
            target("b", &["x/a/sequential"]),
        ];
        let err = chosen(&RunPlan::new(".", "p"), &dup)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("offered by two bench targets, `a` and `b`"),
            "{err}"
        );
    }

    #[test]
    fn no_mlock_adds_the_feature_once() {
        let mut plan = RunPlan::new(".", "p");
        plan.features = vec!["z".into(), NO_MLOCK_FEATURE.into()];
        plan.no_mlock = true;
        assert_eq!(plan.effective_features(), [NO_MLOCK_FEATURE, "z"]);
        let env = plan.bench_env(Path::new("/h"));
        assert!(env.contains(&(NO_MLOCK_ENV.into(), "1".into())));
        assert!(env.contains(&("CRITERION_HOME".into(), "/h".into())));
    }

    #[test]
    fn settings_become_criterion_args() {
        assert_eq!(
            Settings::QUICK.args().join(" "),
            "--sample-size 20 --measurement-time 1 --warm-up-time 0.5"
        );
        assert_eq!(
            Settings::NORMAL.args().join(" "),
            "--sample-size 50 --measurement-time 3 --warm-up-time 1"
        );
    }

    #[test]
    fn stale_results_of_run_ids_only_are_removed() {
        let home = tempfile::tempdir().unwrap();
        for (dir, id) in [
            ("g/a/sequential", "g/a/sequential"),
            ("g/b/parallel_t2", "g/b/parallel/t2"),
        ] {
            let new = home.path().join(dir).join("new");
            std::fs::create_dir_all(&new).unwrap();
            std::fs::write(
                new.join("benchmark.json"),
                format!(r#"{{"full_id":"{id}"}}"#),
            )
            .unwrap();
            std::fs::create_dir_all(home.path().join(COUNTERS_DIR)).unwrap();
            std::fs::write(counters_path(home.path(), id), "{}").unwrap();
        }
        let found = result_dirs(home.path()).unwrap();
        assert_eq!(
            found["g/b/parallel/t2"],
            home.path().join("g/b/parallel_t2")
        );
        clear_stale(home.path(), &["g/b/parallel/t2".to_string()]).unwrap();
        assert!(!home.path().join("g/b/parallel_t2").exists());
        assert!(!counters_path(home.path(), "g/b/parallel/t2").exists());
        assert!(home.path().join("g/a/sequential/new").exists());
        assert!(counters_path(home.path(), "g/a/sequential").exists());
    }

    #[test]
    fn tail_keeps_the_last_lines_or_the_panic() {
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let t = tail_of(text.as_bytes(), 3);
        assert_eq!(t, "  | line 28\n  | line 29\n  | line 30");
        let panic = format!("warming up\nthread 'main' panicked at b.rs:1:1:\nboom\n{text}");
        let t = tail_of(panic.as_bytes(), 3);
        assert_eq!(
            t,
            "  | thread 'main' panicked at b.rs:1:1:\n  | boom\n  | line 1"
        );
    }

    #[test]
    fn quick_settings_estimate_a_bench() {
        assert_eq!(
            Settings::QUICK.estimated_per_bench(),
            Duration::from_millis(2300)
        );
    }
}
