//! The counters file the gate reads beside criterion's output.
//!
//! One JSON file per bench id at
//! `<criterion_home>/gate-counters/<id with '/' replaced by "__">.json`,
//! written atomically (temp file, then rename). The format is documented in
//! `docs/bench-counters.md`.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::alloc::AllocCounts;
use crate::ids::Mode;
use crate::mlock::MlockSetting;

/// Schema version of the file.
pub const SCHEMA: u32 = 1;

/// The per-operation counters of one bench, built then written.
///
/// ```ignore
/// CountersFile::new("secret/with_bytes/sequential", Mode::Sequential, ops)
///     .count("mprotect_per_op", delta.mprotect, true)
///     .allocs(allocs, true)
///     .mlock(&mlock_setting())
///     .write()?;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CountersFile {
    id: String,
    mode: Mode,
    counted_ops: u64,
    counters: Vec<(String, f64)>,
    exact: Vec<String>,
    features: Vec<String>,
    mlock: bool,
}

impl CountersFile {
    /// An empty record for `id`, whose counting pass ran `counted_ops`
    /// operations (must be positive). `mlock` starts as this process's
    /// [`crate::mlock_setting`].
    pub fn new(id: impl Into<String>, mode: Mode, counted_ops: u64) -> Self {
        assert!(
            counted_ops > 0,
            "a counting pass needs at least one operation"
        );
        let setting = crate::mlock::mlock_setting();
        CountersFile {
            id: id.into(),
            mode,
            counted_ops,
            counters: Vec::new(),
            exact: Vec::new(),
            features: setting.features(),
            mlock: setting.enabled,
        }
    }

    /// Adds a counter given per operation. `exact`: deterministic for this
    /// bench, so the gate compares it exactly.
    pub fn per_op(mut self, name: &str, value: f64, exact: bool) -> Self {
        self.counters.retain(|(n, _)| n != name);
        self.exact.retain(|n| n != name);
        self.counters.push((name.to_owned(), value));
        if exact {
            self.exact.push(name.to_owned());
        }
        self
    }

    /// Adds a counter given as a total over the counting pass; it is divided
    /// by `counted_ops`.
    pub fn count(self, name: &str, total: u64, exact: bool) -> Self {
        let per_op = total as f64 / self.counted_ops as f64;
        self.per_op(name, per_op, exact)
    }

    /// Adds `allocs_per_op` and `alloc_bytes_per_op`.
    pub fn allocs(self, counts: AllocCounts, exact: bool) -> Self {
        self.count("allocs_per_op", counts.allocs, exact).count(
            "alloc_bytes_per_op",
            counts.bytes,
            exact,
        )
    }

    /// Records the mlock setting the bench ran with (`features`, `mlock`).
    pub fn mlock(mut self, setting: &MlockSetting) -> Self {
        self.features = setting.features();
        self.mlock = setting.enabled;
        self
    }

    /// The bench id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The file's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Wire::from(self)).expect("counters serialise")
    }

    /// Writes the file under [`counters_dir`] and returns its path.
    pub fn write(&self) -> io::Result<PathBuf> {
        self.write_in(&counters_dir())
    }

    /// Writes the file in `dir` (created if missing), atomically.
    pub fn write_in(&self, dir: &Path) -> io::Result<PathBuf> {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", dir.display())))?;
        let path = dir.join(file_name(&self.id));
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            file_name(&self.id),
            std::process::id()
        ));
        std::fs::write(&tmp, self.to_json() + "\n")
            .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("renaming {} to {}: {e}", tmp.display(), path.display()),
            )
        })?;
        Ok(path)
    }
}

#[derive(Serialize)]
struct Wire<'a> {
    schema: u32,
    id: &'a str,
    mode: &'static str,
    threads: usize,
    counted_ops: u64,
    counters: Ordered<'a>,
    exact: &'a [String],
    features: &'a [String],
    mlock: bool,
}

impl<'a> From<&'a CountersFile> for Wire<'a> {
    fn from(c: &'a CountersFile) -> Self {
        Wire {
            schema: SCHEMA,
            id: &c.id,
            mode: c.mode.name(),
            threads: c.mode.threads(),
            counted_ops: c.counted_ops,
            counters: Ordered(&c.counters),
            exact: &c.exact,
            features: &c.features,
            mlock: c.mlock,
        }
    }
}

/// A JSON object that keeps insertion order.
struct Ordered<'a>(&'a [(String, f64)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn file_name(id: &str) -> String {
    format!("{}.json", id.replace('/', "__"))
}

/// Criterion's output folder: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `<target>/criterion` where `<target>`
/// is found from this executable (`<target>/<profile>/deps/<exe>`).
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(target).join("criterion");
    }
    let exe = std::env::current_exe().expect("the bench executable's path");
    target_from_exe(&exe).join("criterion")
}

/// `<target>` from `<target>/<profile>/deps/<exe>` (or `<target>/<profile>/<exe>`).
fn target_from_exe(exe: &Path) -> PathBuf {
    let mut dir = exe.parent().unwrap_or(Path::new("."));
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().unwrap_or(dir);
    }
    dir.parent().unwrap_or(dir).to_path_buf()
}

/// `<criterion_home>/gate-counters`.
pub fn counters_dir() -> PathBuf {
    criterion_home().join("gate-counters")
}

/// Where the counters file of `id` goes.
pub fn counters_path(id: &str) -> PathBuf {
    counters_dir().join(file_name(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_matches_the_contract() {
        let setting = MlockSetting {
            enabled: false,
            feature_no_mlock: true,
            env_no_mlock: false,
        };
        let file = CountersFile::new("secret/with_bytes/parallel/t2", Mode::parallel(2), 100_000)
            .count("mprotect_per_op", 3_000, false)
            .count("mlock_per_op", 0, true)
            .allocs(
                AllocCounts {
                    allocs: 0,
                    bytes: 0,
                },
                true,
            )
            .mlock(&setting);
        assert_eq!(
            file.to_json(),
            r#"{"schema":1,"id":"secret/with_bytes/parallel/t2","mode":"parallel","threads":2,"counted_ops":100000,"counters":{"mprotect_per_op":0.03,"mlock_per_op":0.0,"allocs_per_op":0.0,"alloc_bytes_per_op":0.0},"exact":["mlock_per_op","allocs_per_op","alloc_bytes_per_op"],"features":["no-mlock"],"mlock":false}"#
        );
    }

    #[test]
    fn file_name_replaces_slashes() {
        assert_eq!(
            file_name("floor/syscall/sequential"),
            "floor__syscall__sequential.json"
        );
    }

    #[test]
    fn target_dir_from_exe() {
        let exe = Path::new("/x/target/release/deps/secret-abc");
        assert_eq!(target_from_exe(exe), PathBuf::from("/x/target"));
    }

    #[test]
    fn write_is_atomic_and_readable() {
        let dir = std::env::temp_dir().join(format!("gate-counters-test-{}", std::process::id()));
        let file = CountersFile::new("secret/lifecycle/sequential", Mode::Sequential, 10).count(
            "mmap_per_op",
            10,
            true,
        );
        let path = file.write_in(&dir).unwrap();
        assert_eq!(path, dir.join("secret__lifecycle__sequential.json"));
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["counters"]["mmap_per_op"], 1.0);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temp file left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
