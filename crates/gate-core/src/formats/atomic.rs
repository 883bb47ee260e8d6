//! Atomic file writes: write a temporary file in the target's folder, fsync
//! it, rename it over the target, fsync the folder. A crash or a failing
//! serialiser at any point leaves either the old file or the new one, never
//! a half-written baseline (DESIGN.md: updates are atomic).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `path` atomically with whatever `write` produces. If `write`
/// fails, the temporary file is removed and `path` is untouched.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> Result<()>,
{
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file path", path.display()))?
        .to_string_lossy()
        .into_owned();
    fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;

    {
        let mut out = BufWriter::new(tmp.as_file());
        write(&mut out).with_context(|| format!("{}: not written", path.display()))?;
        out.flush()
            .with_context(|| format!("{}: cannot write", tmp.path().display()))?;
    }
    keep_permissions(path, tmp.as_file())?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("{}: cannot sync", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot replace", path.display()))?;
    // The rename is durable only once the folder entry is on disk.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes bytes atomically (see [`write_atomic`]).
pub fn write_atomic_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| Ok(w.write_all(bytes)?))
}

/// The temporary file is created private (0600); give the result the
/// permissions of the file it replaces, or the usual 0644 for a new file,
/// so that a baseline in a repository stays readable.
fn keep_permissions(path: &Path, tmp: &File) -> Result<()> {
    let perms = match fs::metadata(path) {
        Ok(m) => m.permissions(),
        Err(_) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::Permissions::from_mode(0o644)
            }
            #[cfg(not(unix))]
            {
                return Ok(());
            }
        }
    };
    tmp.set_permissions(perms)
        .with_context(|| format!("{}: cannot set permissions", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.yaml");
        fs::write(&path, "old").unwrap();
        write_atomic_bytes(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
    }

    #[test]
    fn a_failing_writer_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.yaml");
        fs::write(&path, "old contents").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half of the new")?;
            anyhow::bail!("serialiser failed")
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("serialiser failed"));
        assert_eq!(fs::read_to_string(&path).unwrap(), "old contents");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporary removed"
        );
    }
}
