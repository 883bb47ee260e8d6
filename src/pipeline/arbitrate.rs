//! Re-judging a regression against the stored baseline on this runner.
//!
//! A stored baseline was measured at another time, maybe on another host
//! under the same VM kind: measured here, the sequential secret benches
//! moved by 30% within an hour of unchanged code while the floor benches did
//! not move with them, and a confirmation in a fresh process cannot tell
//! that apart from a regression (it meets the same host). What can is the
//! baseline's *code* measured now, on this runner, in lockstep with the head
//! (`docs/lockstep.md`): the machine's state then hits both sides alike.
//!
//! So a regression confirmed against `baselines/` is measured once more:
//! the commit that last wrote the Rust baseline file (whose code is the
//! state the baseline accepted) is built in a worktree, exactly as
//! `gate check --base` does, and each flagged bench runs `rounds` lockstep
//! pairs of that commit and the head, with a lockstep confirmation. The row
//! then shows the lockstep comparison, keeps the stored measurements in
//! `earlier`, and fails only if the lockstep comparison regressed too, with
//! the stored check's `tolerance` (the question is the same: slower by more
//! than the tolerance than the baseline's code).
//!
//! When the floor benches, measured first, moved against the baseline, the
//! whole check is this comparison from the start ([`host_moved`]).
//!
//! Nothing turns a failure into a pass without that evidence: when the
//! baseline has no commit (not in git, uncommitted changes), or the commit
//! cannot be built or run, the stored verdict stands and a note says why.

use std::path::Path;

use anyhow::{Context, Result, bail};

use gate_core::formats::Baseline;
use gate_core::model::{Lang, ResultSet};
use gate_core::pairing::{self, Sources, floor};

use super::collect::collect;
use super::confirm::{Fixed, confirm};
use super::sequential;
use gate_core::config::Config;
use gate_core::verdict::{Report, Row, RowKind, RowVerdict, Verdict, WarningKind};
use gate_runner::ab::LockstepPairs;
use gate_runner::run::RunPlan;

/// The commit whose code the Rust baseline at `path` measured: the last
/// commit that wrote the file. `gate baseline update` and the code it
/// measured are committed together (or the update ran on a clean tree, so
/// the code is that of the commit before). Errors say why there is none.
pub fn baseline_commit(path: &Path) -> Result<String> {
    // git reads a relative path against its working folder: make it absolute.
    let path =
        &std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let file = path.to_string_lossy();
    let git = |args: &[&str], with_path: bool| -> Result<String> {
        let mut args = args.to_vec();
        if with_path {
            args.extend(["--", &file]);
        }
        gate_runner::git::run(dir, &args)
            .with_context(|| format!("{} is not in a git repository", path.display()))
    };
    // A shallow clone's oldest commit appears to add every file: `git log`
    // would name it (often the head itself) and the re-judging would
    // compare the head with itself.
    if git(&["rev-parse", "--is-shallow-repository"], false)? == "true" {
        bail!(
            "{} is in a shallow clone, so the commit that wrote it may be missing (check out with \
             `fetch-depth: 0`, or `git fetch --unshallow`)",
            path.display()
        );
    }
    if !git(&["status", "--porcelain"], true)?.is_empty() {
        bail!(
            "{} has uncommitted changes, so the code it measured has no commit",
            path.display()
        );
    }
    let commit = git(&["log", "-1", "--format=%H"], true)?;
    if commit.is_empty() {
        bail!("{} was never committed", path.display());
    }
    Ok(commit)
}

/// The ids of the Rust rows that regressed against the stored baseline.
fn flagged(report: &Report) -> Vec<String> {
    let mut ids: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.kind == RowKind::RustVsRust && r.verdict == RowVerdict::Regressed)
        .filter(|r| r.new.is_some() && r.old.is_some())
        .map(|r| r.id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn pct(ratio: Option<f64>) -> String {
    ratio.map_or_else(
        || "no ratio".into(),
        |r| format!("{:+.1}%", (r - 1.0) * 100.0),
    )
}

/// Re-judges the Rust rows of `report` that regressed against the stored
/// baseline (after confirmation) on this runner, in lockstep against the
/// baseline's commit, and recomputes the verdict. `quick` uses 2 rounds,
/// as `gate check --base --quick` does.
pub fn rejudge(config: &Config, plan: &RunPlan, report: &mut Report, quick: bool) -> Result<()> {
    if !config.arbitrate || report.verdict != Verdict::Regression {
        return Ok(());
    }
    let ids = flagged(report);
    if ids.is_empty() {
        return Ok(());
    }
    let path = config.resolve(&config.baselines.rust);
    let commit = match baseline_commit(&path) {
        Ok(c) => c,
        Err(e) => {
            stands(report, format!("{e:#}"));
            return Ok(());
        }
    };
    gate_runner::progress::say(format!(
        "{} bench(es) regressed against {}; re-judging on this runner in lockstep against {}, \
         the commit that last wrote it: {}",
        ids.len(),
        path.display(),
        &commit[..12],
        ids.join(", ")
    ));
    let mut head_plan = plan.clone();
    head_plan.only = Some(ids.clone());
    let judge_config = stored_question(config);
    let ab = match gate_runner::ab::prepare(&head_plan, &commit, config.lockstep.clone()) {
        Ok(ab) => ab,
        Err(e) => {
            let why = format!(
                "the baseline's commit {} could not be measured: {e:#}",
                &commit[..12]
            );
            stands(report, why);
            return Ok(());
        }
    };
    let [_, base_build] = ab.builds.clone();
    report
        .builds
        .insert("baseline-commit".to_string(), base_build);
    let judged = judge(&judge_config, &ids, &ab.pairs, quick)?;
    let (code, runner) = replace_rows(report, &ids, &commit, &judged);
    report.notes.push(format!(
        "re-judged on this runner: {} bench(es) that regressed against the stored baseline were measured \
         in lockstep against {}, the commit that last wrote {} ({}, tolerance {}): \
         {code} regression(s) of the code, {runner} of the runner (not failures)",
        ids.len(),
        &commit[..12],
        path.display(),
        judged.pairs_text,
        config.tolerance
    ));
    report.refresh_verdict();
    Ok(())
}

/// What the floor benches, measured first, say about this host.
pub enum Host {
    /// The floor was not measured first: no `arbitrate`, baseline, floor
    /// bench in it, or commit that wrote it.
    Unmeasured,
    /// Not the host that measured the Rust baseline.
    Moved(MovedHost),
    /// The host that measured it, as far as the floor tells; the stored
    /// check keeps this measurement rather than running the floor again.
    Same(Box<FloorRun>),
}

/// A host that is not the one that measured the Rust baseline, told by the
/// floor benches measured first.
pub struct MovedHost {
    /// The commit that last wrote the Rust baseline.
    pub commit: String,
    /// What moved, for the report: "`floor/syscall/sequential` +31%, ...".
    pub moved: String,
}

/// The floor benches measured first, on a host that did not move.
pub struct FloorRun {
    /// Their results.
    pub set: ResultSet,
    /// Every id the bench targets list (what a check without `cargo.ids`
    /// selects from).
    pub listed: Vec<String>,
}

/// The floor benches, measured first (seconds), against the Rust
/// baseline `bl`: when they moved by more than `tolerance`
/// (`floor::moved`), this is not the machine that measured the baseline,
/// and every stored comparison and any fresh-process confirmation would
/// meet the machine's difference; the check then measures the head in
/// lockstep against the baseline's commit straight away (the question the
/// re-judging answers), instead of measuring everything against
/// `baselines/` first. [`Host::Unmeasured`] without `arbitrate`, a
/// baseline, its floor, or its commit (cheapest test first).
pub fn host_moved(config: &Config, plan: &RunPlan, bl: Option<&Baseline>) -> Result<Host> {
    if !config.arbitrate {
        return Ok(Host::Unmeasured);
    }
    let Some(bl) = bl else {
        return Ok(Host::Unmeasured);
    };
    let floors: Vec<String> = config
        .floor
        .benches()
        .filter(|id| bl.find(Lang::Rust, id, 1).is_some())
        .map(String::from)
        .collect();
    if floors.is_empty() {
        return Ok(Host::Unmeasured);
    }
    let Ok(commit) = baseline_commit(&config.resolve(&config.baselines.rust)) else {
        return Ok(Host::Unmeasured);
    };
    gate_runner::progress::say(format!(
        "measuring the floor first ({}): has the machine moved since the Rust baseline?",
        floors.join(", ")
    ));
    let mut floor_plan = plan.clone();
    floor_plan.filter = None;
    floor_plan.only = Some(floors.clone());
    let (set, prepared) = collect(&floor_plan, false, Some(&pairing::ids_regex(&floors)))?;
    let moved = floor::moved(&config.floor, bl, &set, config.tolerance);
    if moved.is_empty() {
        let listed = prepared
            .iter()
            .flat_map(|p| p.targets())
            .flat_map(|t| t.ids.iter().cloned())
            .collect();
        return Ok(Host::Same(Box::new(FloorRun { set, listed })));
    }
    let moved = moved
        .iter()
        .map(|m| format!("`{}` {:+.0}%", m.id, (m.ratio - 1.0) * 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Host::Moved(MovedHost { commit, moved }))
}

/// The config of a lockstep comparison with the baseline's commit: the
/// stored check's question (slower than the baseline's code by more than
/// `tolerance`?), so its tolerance rather than the paired one.
pub fn stored_question(config: &Config) -> Config {
    let mut judge = config.clone();
    judge.lockstep.tolerance = None;
    judge
}

/// Says in the report that the stored verdict stands, and why.
fn stands(report: &mut Report, why: String) {
    report.notes.push(format!(
        "the regression(s) against the stored baseline were not re-judged on this runner ({why}): \
         the stored verdict stands"
    ));
}

/// The lockstep comparison against the baseline's commit, confirmed.
struct Judged {
    report: Report,
    pairs_text: String,
    /// Pairs per check of each id.
    pairs: std::collections::BTreeMap<String, u32>,
}

/// Measures `ids` against the baseline's commit, each until it decides,
/// with `config` (the stored check's tolerance), then confirms flagged rows
/// with fresh pairs.
fn judge(config: &Config, ids: &[String], pairs: &LockstepPairs, quick: bool) -> Result<Judged> {
    let only = pairing::ids_regex(ids);
    let measured = sequential::measure_check(config, pairs, ids, quick, None)?;
    let design = measured.design.clone();
    let pairs_text = measured.describe(config.budget_secs(quick));
    let counts = measured
        .outcomes
        .iter()
        .map(|(id, o)| (id.clone(), o.pairs as u32))
        .collect();
    let (mut head, mut base) = (measured.head, measured.base);
    let mut judged = pairing::build_report(
        config,
        &head,
        Some(&only),
        Sources {
            base: Some(&base),
            live_go: None,
            design: Some(&design),
        },
    )?;
    confirm(
        config,
        &mut head,
        Some(&mut base),
        Fixed {
            live_go: None,
            design: Some(&design),
        },
        &mut judged,
        Some(&only),
        &mut |ids| {
            let again = sequential::measure_check(config, pairs, ids, quick, Some(&design))?;
            Ok((again.head, Some(again.base)))
        },
    )?;
    Ok(Judged {
        report: judged,
        pairs_text,
        pairs: counts,
    })
}

/// Replaces each re-judged row by its lockstep comparison, keeping the
/// stored measurements in `earlier`; returns (regressions of the code,
/// regressions of the runner).
fn replace_rows(report: &mut Report, ids: &[String], commit: &str, judged: &Judged) -> (u32, u32) {
    let (mut code, mut runner) = (0, 0);
    for row in report.rows.iter_mut() {
        if row.kind != RowKind::RustVsRust
            || row.verdict != RowVerdict::Regressed
            || !ids.contains(&row.id)
        {
            continue;
        }
        let Some(latest) = judged.report.rows.iter().find(|r| r.same_pair(row)) else {
            row.warn(
                WarningKind::NotRejudged,
                format!(
                    "not measured against the baseline's commit {} (no such bench there): the stored verdict stands",
                    &commit[..12]
                ),
            );
            continue;
        };
        let stored = pct(row.ratio);
        let mut earlier = std::mem::take(&mut row.earlier);
        earlier.push(row.attempt());
        earlier.extend(latest.earlier.iter().cloned());
        let lockstep = format!(
            "against the baseline's commit {} measured now on this runner, in lockstep ({} pair(s)): {}",
            &commit[..12],
            judged.pairs.get(&row.id).copied().unwrap_or_default(),
            pct(latest.ratio)
        );
        // The lockstep row's figures; the stored row's warnings, then the
        // judgement, then the lockstep row's.
        let mut rejudged = Row {
            earlier,
            warnings: Vec::new(),
            warning_kinds: Vec::new(),
            ..latest.clone()
        };
        rejudged.extend_warnings(row);
        if latest.verdict == RowVerdict::Regressed {
            code += 1;
            rejudged.warn(
                WarningKind::RejudgedCode,
                format!(
                    "regressed against the stored baseline ({stored}) and {lockstep}: a regression of the code"
                ),
            );
        } else {
            runner += 1;
            rejudged.warn(
                WarningKind::RejudgedRunner,
                format!(
                    "regressed against the stored baseline ({stored}) but not {lockstep}: this runner is not in \
                     the state that measured baselines/ (another host, or its load), so not a failure; \
                     run `gate baseline update` if it persists"
                ),
            );
        }
        rejudged.extend_warnings(latest);
        *row = rejudged;
    }
    (code, runner)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A repository whose second commit writes `baselines/rust.yaml` and
    /// whose third touches something else.
    fn repo(dir: &Path) -> (PathBuf, String) {
        let repo = dir.join("repo");
        std::fs::create_dir_all(repo.join("baselines")).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("code.rs"), "1").unwrap();
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "code"]);
        std::fs::write(repo.join("baselines/rust.yaml"), "schema: 1").unwrap();
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "baseline"]);
        let wrote = git(&repo, &["rev-parse", "HEAD"]);
        std::fs::write(repo.join("code.rs"), "2").unwrap();
        git(&repo, &["commit", "-q", "-am", "later code"]);
        (repo, wrote)
    }

    #[test]
    fn the_commit_that_last_wrote_the_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, wrote) = repo(dir.path());
        let path = repo.join("baselines/rust.yaml");
        assert_eq!(baseline_commit(&path).unwrap(), wrote);
        // A relative path is read against the current folder, not git's.
        let rel = relative_to_cwd(&path);
        assert_eq!(baseline_commit(&rel).unwrap(), wrote);
    }

    /// `p` (absolute) as a path relative to the current folder.
    fn relative_to_cwd(p: &Path) -> PathBuf {
        let cwd = std::env::current_dir().unwrap();
        let mut up = PathBuf::new();
        for _ in cwd.components().skip(1) {
            up.push("..");
        }
        up.join(p.strip_prefix("/").unwrap())
    }

    #[test]
    fn no_commit_is_named_for_a_dirty_shallow_or_untracked_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _) = repo(dir.path());
        let path = repo.join("baselines/rust.yaml");
        std::fs::write(&path, "schema: 1\n# edited").unwrap();
        let e = baseline_commit(&path).unwrap_err().to_string();
        assert!(e.contains("uncommitted changes"), "{e}");

        let shallow = dir.path().join("shallow");
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                "--depth",
                "1",
                &format!("file://{}", repo.display()),
                shallow.to_str().unwrap(),
            ],
        );
        let e = baseline_commit(&shallow.join("baselines/rust.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("shallow clone"), "{e}");

        let outside = dir.path().join("loose/rust.yaml");
        std::fs::create_dir_all(outside.parent().unwrap()).unwrap();
        std::fs::write(&outside, "schema: 1").unwrap();
        let e = baseline_commit(&outside).unwrap_err().to_string();
        assert!(e.contains("not in a git repository"), "{e}");
    }

    /// A row that regressed against the stored baseline but not in
    /// lockstep: the lockstep figures, the stored row's warnings, then the
    /// judgement, then the lockstep row's, each with its kind.
    #[test]
    fn a_rejudged_row_keeps_every_warning_with_its_kind() {
        let row = |verdict: &str, warning: (&str, &str)| -> Row {
            serde_json::from_value(serde_json::json!({
                "id": "secret/lifecycle/sequential", "kind": "rust-vs-rust",
                "mode": "sequential", "threads": 1, "old": null, "new": null,
                "ratio": 1.4, "ratio_ci": [1.3, 1.5], "p_value": 0.001,
                "verdict": verdict, "warnings": [warning.1], "warning_kinds": [warning.0]
            }))
            .unwrap()
        };
        let stored = row("regressed", ("interval-widened", "interval widened by 5%"));
        let mut latest = row("unchanged", ("paired", "paired: 4 lockstep pair(s)"));
        latest.ratio = Some(1.001);
        let mut report = Report::error(&Default::default(), String::new());
        report.rows = vec![stored];
        let judged = Judged {
            report: Report {
                rows: vec![latest],
                ..report.clone()
            },
            pairs_text: String::new(),
            pairs: [("secret/lifecycle/sequential".to_string(), 4)].into(),
        };
        let ids = ["secret/lifecycle/sequential".to_string()];
        let (code, runner) = replace_rows(&mut report, &ids, &"a".repeat(40), &judged);
        assert_eq!((code, runner), (0, 1));
        let row = &report.rows[0];
        assert_eq!(
            (row.verdict, row.ratio),
            (RowVerdict::Unchanged, Some(1.001))
        );
        assert_eq!(row.earlier.len(), 1);
        let kinds: Vec<WarningKind> = row.kinded_warnings().map(|(k, _)| k).collect();
        assert_eq!(
            kinds,
            [
                WarningKind::IntervalWidened,
                WarningKind::RejudgedRunner,
                WarningKind::Paired
            ]
        );
        assert!(row.warnings[1].contains("+0.1%"), "{:?}", row.warnings);
    }
}
