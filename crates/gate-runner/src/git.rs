//! The git operations the gate needs, through one helper: where a
//! repository is, what a reference names, the state of a checkout,
//! throw-away worktrees of a commit, and the files of a data branch
//! (`data_branch`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs `git ARGS` in `dir`; returns its trimmed stdout, or an error with
/// git's own message.
pub fn run(dir: &Path, args: &[&str]) -> Result<String> {
    let out = run_with(dir, args, &[], None)?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// Runs `git ARGS` in `dir` with extra environment variables and, when
/// given, `input` on its standard input; returns its raw stdout, or an
/// error with git's own message.
pub fn run_with(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: Option<&[u8]>,
) -> Result<Vec<u8>> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new("git")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run git in {}", dir.display()))?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        // A writer thread: git may fill its stdout before reading all input.
        let bytes = bytes.to_vec();
        std::thread::spawn(move || stdin.write_all(&bytes));
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("cannot run git in {}", dir.display()))?;
    if !out.status.success() {
        bail!(
            "`git {}` in {} failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// The full id, committer time (strict ISO 8601) and subject of `reference`.
pub fn commit_info(repo: &Path, reference: &str) -> Result<(String, String, String)> {
    let out = run(
        repo,
        &["log", "-1", "--format=%H%x00%cI%x00%s", reference, "--"],
    )?;
    let mut parts = out.splitn(3, '\0');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(id), Some(time), Some(subject)) => {
            Ok((id.to_string(), time.to_string(), subject.to_string()))
        }
        _ => bail!(
            "`git log` gave no commit for `{reference}` in {}",
            repo.display()
        ),
    }
}

/// The last `n` commits of the first-parent line of `reference`, oldest first.
pub fn last_commits(repo: &Path, reference: &str, n: usize) -> Result<Vec<String>> {
    let out = run(
        repo,
        &[
            "rev-list",
            "--first-parent",
            "-n",
            &n.to_string(),
            reference,
        ],
    )?;
    let mut commits: Vec<String> = out.lines().map(str::to_string).collect();
    commits.reverse();
    Ok(commits)
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

/// The files of `branch` on `remote` (a remote's name, URL or path), as
/// (path, contents); empty when the remote has no such branch.
pub fn read_branch(repo: &Path, remote: &str, branch: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let Some(commit) = fetch_branch(repo, remote, branch)? else {
        return Ok(Vec::new());
    };
    let names = run_with(
        repo,
        &["ls-tree", "-r", "-z", "--name-only", &commit],
        &[],
        None,
    )?;
    let names: Vec<String> = names
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let input: String = names.iter().map(|n| format!("{commit}:{n}\n")).collect();
    let out = run_with(repo, &["cat-file", "--batch"], &[], Some(input.as_bytes()))?;
    let mut files = Vec::with_capacity(names.len());
    let mut rest = &out[..];
    for name in names {
        let eol = rest
            .iter()
            .position(|&b| b == b'\n')
            .context("`git cat-file --batch` ended early")?;
        let header = String::from_utf8_lossy(&rest[..eol]).into_owned();
        let size: usize = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("`git cat-file --batch`: bad header `{header}` for {name}"))?;
        let body = rest
            .get(eol + 1..eol + 1 + size)
            .context("`git cat-file --batch` ended early")?;
        files.push((name, body.to_vec()));
        rest = rest.get(eol + 2 + size..).unwrap_or(&[]);
    }
    Ok(files)
}

/// Adds (or replaces) the file `name` with `bytes` on `branch` of `remote`
/// in one commit, creating the branch as an orphan when it does not exist.
/// The checkout and its index are not touched (a private index file is
/// used). When the push is refused because another run pushed first, the
/// branch is fetched again and the file added on top, up to `attempts`
/// times. Returns the number of attempts used.
pub fn append_to_branch(
    repo: &Path,
    remote: &str,
    branch: &str,
    name: &str,
    bytes: &[u8],
    message: &str,
    attempts: u32,
) -> Result<u32> {
    let identity = identity(repo);
    let env: Vec<(&str, &str)> = identity.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let blob = run_with(repo, &["hash-object", "-w", "--stdin"], &[], Some(bytes))?;
    let blob = String::from_utf8_lossy(&blob).trim().to_string();
    for attempt in 1..=attempts.max(1) {
        let parent = fetch_branch(repo, remote, branch)?;
        let commit = commit_with_file(repo, parent.as_deref(), &blob, name, message, &env)?;
        let pushed = run(
            repo,
            &[
                "push",
                "--quiet",
                remote,
                &format!("{commit}:refs/heads/{branch}"),
            ],
        );
        match pushed {
            Ok(_) => return Ok(attempt),
            Err(e) if attempt < attempts && lost_a_race(&e.to_string()) => {
                let jitter = u64::from(std::process::id() % 97) + 50 * u64::from(attempt);
                std::thread::sleep(std::time::Duration::from_millis(jitter));
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot push {name} to `{branch}` of {remote} (attempt {attempt})")
                });
            }
        }
    }
    bail!("cannot push {name} to `{branch}` of {remote}: {attempts} attempts lost a race")
}

/// Whether a failed push lost a race with another run's push.
fn lost_a_race(message: &str) -> bool {
    [
        "non-fast-forward",
        "fetch first",
        "rejected",
        "cannot lock ref",
        "failed to update ref",
        "incorrect old value",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// A commit of `parent`'s tree (or an empty one) with `blob` at `name`.
fn commit_with_file(
    repo: &Path,
    parent: Option<&str>,
    blob: &str,
    name: &str,
    message: &str,
    identity: &[(&str, &str)],
) -> Result<String> {
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let index = dir.path().join("index");
    let index = index.to_string_lossy();
    let mut env = vec![("GIT_INDEX_FILE", index.as_ref())];
    env.extend_from_slice(identity);
    if let Some(p) = parent {
        run_with(repo, &["read-tree", p], &env, None)?;
    }
    let info = format!("100644,{blob},{name}");
    run_with(
        repo,
        &["update-index", "--add", "--cacheinfo", &info],
        &env,
        None,
    )?;
    let tree = String::from_utf8_lossy(&run_with(repo, &["write-tree"], &env, None)?)
        .trim()
        .to_string();
    let mut args = vec!["commit-tree", tree.as_str(), "-m", message];
    if let Some(p) = parent {
        args.extend(["-p", p]);
    }
    Ok(String::from_utf8_lossy(&run_with(repo, &args, &env, None)?)
        .trim()
        .to_string())
}

/// The remote's `branch` fetched; its commit, or `None` when the remote
/// has no such branch. The fetched commit is held by a private reference
/// only while it is read, so the user's references are not touched.
fn fetch_branch(repo: &Path, remote: &str, branch: &str) -> Result<Option<String>> {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let head = format!("refs/heads/{branch}");
    if run(repo, &["ls-remote", "--heads", remote, &head])?.is_empty() {
        return Ok(None);
    }
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let local = format!("refs/gate/fetched/{}-{seq}", std::process::id());
    run(
        repo,
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            remote,
            &format!("+{head}:{local}"),
        ],
    )?;
    let commit = run(repo, &["rev-parse", &local]);
    let _ = run(repo, &["update-ref", "-d", &local]);
    commit.map(Some)
}

/// The author and committer for data-branch commits when the repository
/// has none configured (a CI checkout): `gate`.
fn identity(repo: &Path) -> Vec<(&'static str, String)> {
    if run(repo, &["config", "user.email"]).is_ok_and(|e| !e.is_empty()) {
        return Vec::new();
    }
    vec![
        ("GIT_AUTHOR_NAME", "gate".into()),
        ("GIT_AUTHOR_EMAIL", "gate@localhost".into()),
        ("GIT_COMMITTER_NAME", "gate".into()),
        ("GIT_COMMITTER_EMAIL", "gate@localhost".into()),
    ]
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
