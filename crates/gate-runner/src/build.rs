//! Building one checkout's benches so that what runs is provably that
//! checkout's code.
//!
//! Two checkouts of one workspace (the head, and a worktree of the base)
//! name their members' artifacts alike (cargo hashes a member's path
//! relative to its workspace), and cargo decides freshness from file times.
//! So a target folder that held one checkout's build can hand its
//! artifacts to the other. The rules here keep that from happening:
//!
//! - a file in the target folder names the workspace whose members' artifacts
//!   it holds; a build of another workspace cleans the bench package's
//!   members first, so it never takes another checkout's artifacts;
//! - a *foreign* checkout (a worktree built in another checkout's target
//!   folder, whose owner builds there with plain cargo too) has its members
//!   cleaned again after its build, leaving the folder as the owner knew it;
//! - every executable is copied into a store named by its SHA-256, and runs
//!   from there: a later build in the same folder cannot change it, and the
//!   report names each side's executables by their digests.
//!
//! One lock file serialises the builds of one target folder.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// A bench executable, stored by content.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The copy that runs, under `<target>/gate/exe/`.
    pub path: PathBuf,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
}

/// The gate's folder inside a target folder.
fn gate_dir(target: &Path) -> PathBuf {
    target.join("gate")
}

/// Holds the build lock of a target folder until dropped.
pub struct BuildLock {
    _file: File,
}

impl BuildLock {
    /// Waits for the lock of `target`'s builds.
    pub fn acquire(target: &Path) -> Result<BuildLock> {
        let dir = gate_dir(target);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("build.lock");
        let file =
            File::create(&path).with_context(|| format!("cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(BuildLock { _file: file })
    }
}

/// The file naming the workspace whose members' artifacts `target` holds.
fn owner_file(target: &Path) -> PathBuf {
    gate_dir(target).join("members-of")
}

/// The workspace whose members' artifacts `target` holds, as the last
/// build through the gate left it; `None` when no build said (the user's
/// own target folder, or one cleaned after a foreign build).
pub fn owner(target: &Path) -> Option<PathBuf> {
    std::fs::read_to_string(owner_file(target))
        .ok()
        .map(PathBuf::from)
}

/// Records that `target` holds the members of `workspace` (or of none).
pub fn set_owner(target: &Path, workspace: Option<&Path>) -> Result<()> {
    let file = owner_file(target);
    match workspace {
        Some(w) => std::fs::write(&file, w.to_string_lossy().as_bytes())
            .with_context(|| format!("cannot write {}", file.display())),
        None => match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", file.display()))
            }
            _ => Ok(()),
        },
    }
}

/// `cargo metadata` of the workspace at `workspace`.
fn metadata(workspace: &Path) -> Result<cargo_metadata::Metadata> {
    cargo_metadata::MetadataCommand::new()
        .current_dir(workspace)
        .exec()
        .with_context(|| format!("cargo metadata in {}", workspace.display()))
}

/// The target folder cargo builds the workspace at `workspace` in (it
/// honours `CARGO_TARGET_DIR` and cargo's configuration).
pub fn target_dir(workspace: &Path) -> Result<PathBuf> {
    Ok(metadata(workspace)?.target_directory.into_std_path_buf())
}

/// The workspace members that the bench package `package` of `workspace`
/// builds from (itself included), by name.
pub fn members_used(workspace: &Path, package: &str) -> Result<Vec<String>> {
    let meta = metadata(workspace)?;
    let members = &meta.workspace_members;
    let Some(root) = meta
        .packages
        .iter()
        .find(|p| p.name.as_str() == package && members.contains(&p.id))
    else {
        bail!(
            "package `{package}` is not a member of the workspace at {}",
            workspace.display()
        );
    };
    let resolve = meta
        .resolve
        .as_ref()
        .context("cargo metadata gave no resolve graph")?;
    let mut seen = vec![root.id.clone()];
    let mut todo = vec![root.id.clone()];
    while let Some(id) = todo.pop() {
        let Some(node) = resolve.nodes.iter().find(|n| n.id == id) else {
            continue;
        };
        for dep in &node.deps {
            if members.contains(&dep.pkg) && !seen.contains(&dep.pkg) {
                seen.push(dep.pkg.clone());
                todo.push(dep.pkg.clone());
            }
        }
    }
    Ok(meta
        .packages
        .iter()
        .filter(|p| seen.contains(&p.id))
        .map(|p| p.name.to_string())
        .collect())
}

/// Removes the bench-profile artifacts of `packages` from `target`, so the
/// next build compiles them from the sources it is given.
pub fn clean(workspace: &Path, target: &Path, packages: &[String]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["clean", "--quiet", "--profile", "bench"])
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd.output().context("cannot run cargo clean")?;
    if !out.status.success() {
        bail!(
            "`cargo clean -p {}` in {} failed: {}",
            packages.join(" -p "),
            workspace.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Hex SHA-256 of the file at `path`.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Stored executables not used for this long are removed.
const KEEP_UNUSED: Duration = Duration::from_secs(3 * 24 * 3600);

/// Copies the executable `exe` (named `name`) into `target`'s store, as
/// `<name>-<sha256 prefix>`, unless that copy exists; marks it used.
pub fn store(target: &Path, name: &str, exe: &Path) -> Result<Stored> {
    let sha256 = sha256_file(exe)?;
    let dir = gate_dir(target).join("exe");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("{name}-{}", &sha256[..16]));
    // A stored copy is written whole and renamed into place, so one that
    // exists under this digest holds these bytes.
    if path.is_file() {
        // Read-only: a running executable cannot be opened for writing.
        File::open(&path)
            .and_then(|f| f.set_modified(SystemTime::now()))
            .with_context(|| format!("cannot touch {}", path.display()))?;
    } else {
        let tmp = dir.join(format!(".{name}-{}.tmp", std::process::id()));
        std::fs::copy(exe, &tmp)
            .with_context(|| format!("cannot copy {} to {}", exe.display(), tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    }
    prune_store(&dir);
    Ok(Stored { path, sha256 })
}

/// Removes stored executables unused for [`KEEP_UNUSED`].
fn prune_store(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > KEEP_UNUSED);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_copy_is_named_by_its_content_and_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("bench");
        std::fs::write(&exe, b"one").unwrap();
        let a = store(dir.path(), "bench", &exe).unwrap();
        let again = store(dir.path(), "bench", &exe).unwrap();
        assert_eq!(a.path, again.path);
        assert_eq!(
            a.sha256,
            "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed"
        );
        std::fs::write(&exe, b"two").unwrap();
        let b = store(dir.path(), "bench", &exe).unwrap();
        assert_ne!(a.path, b.path);
        assert_eq!(std::fs::read(&a.path).unwrap(), b"one");
        assert_eq!(std::fs::read(&b.path).unwrap(), b"two");
    }
}
