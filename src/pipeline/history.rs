//! The history: where records are stored (a folder, or a data branch of
//! the repository), appending a check's report, reading the change points
//! and the page back, and backfilling past commits.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use gate_core::config::{Config, FloorConfig};
use gate_core::history::{self, Change, Record, Series, Settings, Trend, record};
use gate_core::pairing::{self, Sources};
use gate_core::verdict::Report;
use gate_runner::git::{self, Worktree};

use super::collect::collect;
use super::plan::{Selection, compile_filter, plan_for};

/// Where the history is kept.
#[derive(Debug, Clone)]
pub enum Store {
    /// A folder of `<commit>.json` records (`--history DIR`).
    Dir(PathBuf),
    /// A branch of a remote, one file per commit (`--branch NAME`).
    Branch {
        /// The local repository that fetches and pushes.
        repo: PathBuf,
        /// A remote's name, URL or path.
        remote: String,
        branch: String,
    },
}

/// How often an append is tried when other runs push at the same time.
const PUSH_ATTEMPTS: u32 = 10;

impl Store {
    /// Every record, in history order.
    pub fn load(&self) -> Result<Vec<Record>> {
        match self {
            Store::Dir(dir) => record::read_dir(dir),
            Store::Branch {
                repo,
                remote,
                branch,
            } => {
                let files = git::read_branch(repo, remote, branch).with_context(|| {
                    format!("reading the history branch `{branch}` of {remote}")
                })?;
                let mut records = Vec::new();
                for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with(".json")) {
                    let text = String::from_utf8_lossy(bytes);
                    records.push(Record::parse(&text, &format!("{branch}:{name}"))?);
                }
                Ok(record::order(records))
            }
        }
    }

    /// Stores `record` (replacing an earlier one of the same commit);
    /// returns where it went.
    pub fn append(&self, record: &Record) -> Result<String> {
        match self {
            Store::Dir(dir) => Ok(record::write_into(dir, record)?.display().to_string()),
            Store::Branch {
                repo,
                remote,
                branch,
            } => {
                let name = Record::file_name(&record.commit);
                let message = format!(
                    "history: {} {}",
                    &record.commit[..record.commit.len().min(12)],
                    record.subject.as_deref().unwrap_or("")
                );
                let attempts = git::append_to_branch(
                    repo,
                    remote,
                    branch,
                    &name,
                    record.to_json()?.as_bytes(),
                    message.trim_end(),
                    PUSH_ATTEMPTS,
                )?;
                Ok(format!("{remote} {branch}:{name} (attempt {attempts})"))
            }
        }
    }
}

/// The record of `report`, measured at `reference` (default: the report's
/// head build, else `HEAD`) of the repository at `repo`.
pub fn record_of(
    report: Report,
    repo: &Path,
    reference: Option<&str>,
    quick: bool,
) -> Result<Record> {
    let from_report = report.builds.get("head").and_then(|b| b.commit.clone());
    let reference = reference
        .map(str::to_string)
        .or(from_report)
        .unwrap_or("HEAD".into());
    let (commit, time, subject) = git::commit_info(repo, &reference)
        .with_context(|| format!("which commit the report measured (`{reference}`)"))?;
    let quick = quick || report.notes.iter().any(|n| n.starts_with("quick mode"));
    Ok(Record {
        schema: record::RECORD_SCHEMA,
        commit,
        time,
        recorded_at: chrono::Utc::now().to_rfc3339(),
        subject: Some(subject),
        environment: report.environment.clone(),
        quick,
        report,
    })
}

/// The history read back: its records, series and change points.
pub struct Analysed {
    pub records: Vec<Record>,
    pub series: Vec<Series>,
    pub changes: Vec<Change>,
}

/// Reads the store and finds the change points of every series; changes
/// smaller than `min_change` (relative) are left out.
pub fn analyse(
    store: &Store,
    config: &Config,
    settings: &Settings,
    min_change: f64,
) -> Result<Analysed> {
    let records = store.load()?;
    let is_floor = |id: &str| config.floor.is_floor(id);
    let series = history::series(&records, &is_floor);
    let mut changes = history::changes(&records, &series, settings);
    changes.retain(|c| (c.ratio - 1.0).abs() >= min_change);
    Ok(Analysed {
        records,
        series,
        changes,
    })
}

/// The trend a pull request comment shows for `report`: the last `runs`
/// runs of the store up to the report's base commit (when the store holds
/// it), each bench's medians and the change points among them.
pub fn trend(store: &Store, floor: &FloorConfig, runs: usize, report: &Report) -> Result<Trend> {
    let records = store.load()?;
    let base = report.builds.get("base").and_then(|b| b.commit.as_deref());
    let is_floor = |id: &str| floor.is_floor(id);
    Ok(history::trend(
        &records,
        &is_floor,
        &Settings::default(),
        runs,
        base,
    ))
}

/// Writes the page of `analysed` to `out/index.html`; returns its path.
pub fn write_page(analysed: &Analysed, out: &Path) -> Result<PathBuf> {
    let html = history::page::render(&analysed.records, &analysed.series, &analysed.changes);
    let path = out.join("index.html");
    gate_core::formats::write_atomic_bytes(&path, html.as_bytes())?;
    Ok(path)
}

/// What a backfill did.
pub struct Backfilled {
    pub stored: Vec<String>,
    pub skipped: Vec<String>,
    pub failed: Vec<(String, String)>,
}

/// Builds each of the last `commits` commits of `HEAD` (first parent) in a
/// worktree, measures it with the quick settings and stores its report;
/// commits already stored are skipped, commits that fail to build or run
/// are reported and skipped.
pub fn backfill(
    config: &Config,
    store: &Store,
    commits: usize,
    selection: &Selection,
) -> Result<Backfilled> {
    if commits == 0 {
        bail!("--commits must be at least 1");
    }
    let repo = git::toplevel(&config.root).context("backfill needs a git repository")?;
    let stored: Vec<String> = store.load()?.into_iter().map(|r| r.commit).collect();
    let mut done = Backfilled {
        stored: Vec::new(),
        skipped: Vec::new(),
        failed: Vec::new(),
    };
    for commit in git::last_commits(&repo, "HEAD", commits)? {
        if stored.contains(&commit) {
            done.skipped.push(commit);
            continue;
        }
        gate_runner::progress::say(format!(
            "backfill: measuring {} (quick settings)",
            &commit[..12]
        ));
        match measure_commit(config, &repo, &commit, selection) {
            Ok(report) => {
                let record = record_of(report, &repo, Some(&commit), true)?;
                store.append(&record)?;
                done.stored.push(commit);
            }
            Err(e) => {
                gate_runner::progress::warn(format!("backfill: {}: {e:#}", &commit[..12]));
                done.failed.push((commit, format!("{e:#}")));
            }
        }
    }
    Ok(done)
}

/// One commit built in a worktree (in the checkout's target folder, so the
/// dependencies build once) and measured with the quick settings.
fn measure_commit(
    config: &Config,
    repo: &Path,
    commit: &str,
    selection: &Selection,
) -> Result<Report> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => std::path::absolute(PathBuf::from(t))?,
        None => std::path::absolute(config.root.join("target"))?,
    };
    let tree = Worktree::add(repo, commit, &target.join("gate").join("history-worktrees"))?;
    let root = std::path::absolute(&config.root)?;
    let rel = root
        .strip_prefix(repo)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let quick = Selection {
        quick: true,
        ..selection.clone()
    };
    let mut plan = plan_for(config, &quick)?;
    plan.workspace = tree.path().join(&rel);
    plan.target_dir = Some(target.clone());
    plan.foreign = true;
    plan.criterion_home = target.join("gate").join("history-criterion");
    let _ = std::fs::remove_dir_all(&plan.criterion_home);
    let filter = compile_filter(selection.filter.as_deref())?;
    let (set, prepared) = collect(&plan, false, filter.as_ref())?;
    let sources = Sources::default();
    let mut report = pairing::build_report(config, &set, filter.as_ref(), sources)?;
    if let Some(p) = &prepared {
        report.builds.insert(
            "head".into(),
            gate_runner::ab::build_of(p, Some(commit), None),
        );
    }
    report.notes.insert(
        0,
        "gate history backfill: measured later in a worktree with quick settings (fewer, shorter samples)".into(),
    );
    Ok(report)
}
