//! The git operations the gate needs, through one helper: where a
//! repository is, what a reference names, the state of a checkout, and
//! throw-away worktrees of a commit.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs `git ARGS` in `dir`; returns its trimmed stdout, or an error with
/// git's own message.
pub fn run(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot run git in {}", dir.display()))?;
    if !out.status.success() {
        bail!(
            "`git {}` in {} failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The top folder of the repository holding `dir`.
pub fn toplevel(dir: &Path) -> Result<PathBuf> {
    run(dir, &["rev-parse", "--show-toplevel"])
        .map(PathBuf::from)
        .with_context(|| format!("{} is not inside a git repository", dir.display()))
}

/// The full commit id `reference` names in the repository at `repo`;
/// `None` when there is no such commit.
pub fn resolve(repo: &Path, reference: &str) -> Result<Option<String>> {
    let out = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{reference}^{{commit}}"))
        .current_dir(repo)
        .output()
        .context("cannot run git rev-parse")?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

/// The commit checked out at `dir`, and whether tracked files differ from
/// it; `None` outside a repository or before the first commit.
pub fn head_state(dir: &Path) -> Option<(String, bool)> {
    let commit = run(dir, &["rev-parse", "--verify", "--quiet", "HEAD"]).ok()?;
    let dirty = run(dir, &["status", "--porcelain", "--untracked-files=no"])
        .map(|s| !s.is_empty())
        .unwrap_or(true);
    Some((commit, dirty))
}

/// A detached worktree of one commit, checked out fresh and removed when
/// dropped: files written now are newer than any build artifact, so cargo
/// never takes another commit's artifacts for this one's.
#[derive(Debug)]
pub struct Worktree {
    repo: PathBuf,
    path: PathBuf,
}

impl Worktree {
    /// Checks `commit` out at a new folder `<parent>/<commit12>-<pid>`,
    /// after removing the worktrees earlier runs left under `parent`.
    pub fn add(repo: &Path, commit: &str, parent: &Path) -> Result<Worktree> {
        remove_all_under(repo, parent);
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let short = commit.get(..12).unwrap_or(commit);
        let path = parent.join(format!("{short}-{}", std::process::id()));
        let target = path.to_string_lossy();
        run(
            repo,
            &["worktree", "add", "--detach", "--force", &target, commit],
        )?;
        Ok(Worktree {
            repo: repo.to_path_buf(),
            path,
        })
    }

    /// The checkout's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        remove(&self.repo, &self.path);
    }
}

/// Removes the worktree at `path` (registration and files).
fn remove(repo: &Path, path: &Path) {
    let _ = run(
        repo,
        &["worktree", "remove", "--force", &path.to_string_lossy()],
    );
    let _ = std::fs::remove_dir_all(path);
    let _ = run(repo, &["worktree", "prune"]);
}

/// Removes the worktree folders under `parent` that no running process
/// owns: left by a run that was killed, or by versions of the gate that
/// kept them. A folder named `<commit12>-<pid>` of a live process is
/// another check's, in use.
fn remove_all_under(repo: &Path, parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !owned_by_live_process(&path) {
            remove(repo, &path);
        }
    }
}

/// Whether the folder's name ends in `-<pid>` of a running process.
fn owned_by_live_process(path: &Path) -> bool {
    let pid = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rsplit_once('-'))
        .and_then(|(_, pid)| pid.parse::<libc::pid_t>().ok());
    match pid {
        // SAFETY: kill with signal 0 sends nothing; it only checks the pid.
        Some(pid) if pid > 0 => unsafe { libc::kill(pid, 0) == 0 },
        _ => false,
    }
}
