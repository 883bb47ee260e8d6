//! Workloads of the fixture bench that the gate's end-to-end tests run for real.
//!
//! The fixture stands in for the subject benches: same id scheme, same
//! counters file, but its speed and its syscall count are knobs the tests
//! turn through environment variables, so a test can make a known
//! regression happen and check that the gate catches it:
//!
//! - `GATE_FIXTURE_SLOWDOWN` (a factor, default 1.0) multiplies the work of
//!   `fixture/spin/sequential`;
//! - `GATE_FIXTURE_EXTRA_SYSCALLS` (default 0) adds that many real
//!   `getppid` calls to every operation of both benches, which the counters
//!   file then reports as `syscalls_per_op`;
//! - `GATE_FIXTURE_SLOWDOWN_ONCE` (a file path): the slowdown applies only
//!   to the first process that runs the spin bench; that process creates the
//!   file, later ones (a confirmation run) see it and run at full speed: a
//!   one-off slow run, the false alarm confirmation runs exist to absorb;
//! - `GATE_FIXTURE_PANIC` (`1` for every bench, or one bench id) makes the
//!   bench panic when it runs (listing still works), to test bench failures.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Id of the bench whose work `GATE_FIXTURE_SLOWDOWN` scales.
pub const SPIN_ID: &str = "fixture/spin/sequential";
/// Id of the cheaper bench that the slowdown factor leaves alone.
pub const SLEEPLESS_ID: &str = "fixture/sleepless/sequential";

/// Steps of the spin loop at factor 1.0: about 20 us on an AMD EPYC vCPU
/// (measured: 8,000 steps took 10.4 us; one dependent multiply-xorshift
/// step is a few cycles).
pub const SPIN_STEPS: u64 = 16_000;
/// Steps of the cheaper bench: a tenth of the spin bench.
pub const SLEEPLESS_STEPS: u64 = SPIN_STEPS / 10;

/// Operations of the counted pass that measures `syscalls_per_op`; the same
/// figure the real benches write, so the counters file looks alike.
pub const COUNTED_OPS: u64 = 1000;

/// Syscalls the fixture made itself, like the subject library's `mprotect`
/// counter: the counters file reports a measured figure, not the knob.
static SYSCALLS: AtomicU64 = AtomicU64::new(0);

/// The knobs, read once per bench process.
#[derive(Debug, Clone, PartialEq)]
pub struct Knobs {
    /// Factor applied to the spin bench's work.
    pub slowdown: f64,
    /// Extra `getppid` calls per operation.
    pub extra_syscalls: u32,
    /// Panic when running: `None`, `Some(None)` for every bench, `Some(Some(id))` for one.
    pub panic: Option<Option<String>>,
    /// Marker file of `GATE_FIXTURE_SLOWDOWN_ONCE`, created by the first slow run.
    pub once_marker: Option<PathBuf>,
}

impl Knobs {
    /// Reads the knobs from the environment. A malformed value panics with
    /// the variable's name: a test that sets a knob wrongly must not measure
    /// the default silently.
    pub fn from_env() -> Knobs {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the knobs through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Knobs {
        let slowdown = match get("GATE_FIXTURE_SLOWDOWN") {
            None => 1.0,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(f) if f.is_finite() && f > 0.0 => f,
                _ => panic!("GATE_FIXTURE_SLOWDOWN=`{v}` is not a positive factor"),
            },
        };
        let extra_syscalls = match get("GATE_FIXTURE_EXTRA_SYSCALLS") {
            None => 0,
            Some(v) => v
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("GATE_FIXTURE_EXTRA_SYSCALLS=`{v}` is not a count")),
        };
        let panic = match get("GATE_FIXTURE_PANIC").as_deref().map(str::trim) {
            None | Some("") | Some("0") => None,
            Some("1") => Some(None),
            Some(id) => Some(Some(id.to_string())),
        };
        let once_marker = get("GATE_FIXTURE_SLOWDOWN_ONCE").map(PathBuf::from);
        // A later process finds the marker: the one-off slowdown is over.
        let slowdown = match &once_marker {
            Some(m) if m.exists() => 1.0,
            _ => slowdown,
        };
        Knobs {
            slowdown,
            extra_syscalls,
            panic,
            once_marker,
        }
    }

    /// Records that the (possibly slowed) spin bench ran, for `GATE_FIXTURE_SLOWDOWN_ONCE`.
    pub fn mark_ran(&self) {
        if let Some(m) = &self.once_marker {
            std::fs::write(m, b"ran\n")
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", m.display()));
        }
    }

    /// Whether the bench `id` must panic.
    pub fn panics(&self, id: &str) -> bool {
        match &self.panic {
            None => false,
            Some(None) => true,
            Some(Some(which)) => which == id,
        }
    }
}

/// A fixed amount of dependent arithmetic: the optimiser can neither skip
/// it nor run steps in parallel, so time scales linearly with `steps`.
pub fn spin(steps: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
    for _ in 0..steps {
        x = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        x ^= x >> 29;
    }
    black_box(x)
}

/// Makes `n` real, trivial syscalls and counts them.
pub fn syscalls(n: u32) {
    for _ in 0..n {
        // SAFETY: getppid has no preconditions and cannot fail.
        black_box(unsafe { libc::getppid() });
    }
    SYSCALLS.fetch_add(u64::from(n), Ordering::Relaxed);
}

/// Syscalls made so far by [`syscalls`].
pub fn syscall_count() -> u64 {
    SYSCALLS.load(Ordering::Relaxed)
}

/// One operation of a bench: its work plus the extra syscalls.
pub fn op(steps: u64, extra_syscalls: u32) -> u64 {
    syscalls(extra_syscalls);
    spin(steps)
}

/// Steps of one operation of `id` under `knobs`.
pub fn steps_for(id: &str, knobs: &Knobs) -> u64 {
    if id == SPIN_ID {
        ((SPIN_STEPS as f64) * knobs.slowdown).round().max(1.0) as u64
    } else {
        SLEEPLESS_STEPS
    }
}

/// Runs [`COUNTED_OPS`] operations and returns the syscalls per operation
/// they made, measured through the counter.
pub fn measure_syscalls_per_op(steps: u64, extra_syscalls: u32) -> f64 {
    let before = syscall_count();
    for _ in 0..COUNTED_OPS {
        op(steps, extra_syscalls);
    }
    (syscall_count() - before) as f64 / COUNTED_OPS as f64
}

/// Path of the counters file of `id` under a criterion home:
/// `<home>/gate-counters/<id with '/' replaced by "__">.json`.
pub fn counters_path(criterion_home: &Path, id: &str) -> PathBuf {
    criterion_home
        .join("gate-counters")
        .join(format!("{}.json", id.replace('/', "__")))
}

/// The counters file's JSON, in the gate's counters schema 1. Written by
/// hand to keep the fixture's dependencies to criterion and libc; ids are
/// plain ASCII without quotes, which the assertion guards.
pub fn counters_json(id: &str, syscalls_per_op: f64) -> String {
    assert!(
        !id.contains(['"', '\\']),
        "bench id `{id}` needs JSON escaping"
    );
    let features = if cfg!(feature = "no-mlock") {
        r#"["no-mlock"]"#
    } else {
        "[]"
    };
    format!(
        r#"{{"schema":1,"id":"{id}","mode":"sequential","threads":1,"counted_ops":{COUNTED_OPS},"counters":{{"syscalls_per_op":{syscalls_per_op}}},"exact":["syscalls_per_op"],"features":{features},"mlock":false}}"#
    )
}

/// Writes the counters file of `id` into `$CRITERION_HOME` (which the gate
/// always sets). Without it there is nowhere agreed to write, so the file is
/// skipped with a note rather than guessed.
pub fn write_counters(id: &str, syscalls_per_op: f64) {
    let Some(home) = std::env::var_os("CRITERION_HOME") else {
        eprintln!("fixture-bench: CRITERION_HOME is not set; no counters file for {id}");
        return;
    };
    let path = counters_path(Path::new(&home), id);
    let dir = path.parent().expect("counters path has a folder");
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    // Write then rename, so a reader never sees half a file.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, counters_json(id, syscalls_per_op))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, &path)
        .unwrap_or_else(|e| panic!("cannot rename {} to {}: {e}", tmp.display(), path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn knobs(pairs: &[(&str, &str)]) -> Knobs {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Knobs::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn knobs_default_and_parse() {
        let d = knobs(&[]);
        assert_eq!((d.slowdown, d.extra_syscalls, d.panic), (1.0, 0, None));
        let k = knobs(&[
            ("GATE_FIXTURE_SLOWDOWN", "1.5"),
            ("GATE_FIXTURE_EXTRA_SYSCALLS", "2"),
            ("GATE_FIXTURE_PANIC", SPIN_ID),
        ]);
        assert_eq!((k.slowdown, k.extra_syscalls), (1.5, 2));
        assert!(k.panics(SPIN_ID) && !k.panics(SLEEPLESS_ID));
        assert!(knobs(&[("GATE_FIXTURE_PANIC", "1")]).panics(SLEEPLESS_ID));
    }

    #[test]
    #[should_panic(expected = "GATE_FIXTURE_SLOWDOWN")]
    fn bad_slowdown_is_refused() {
        knobs(&[("GATE_FIXTURE_SLOWDOWN", "fast")]);
    }

    #[test]
    fn slowdown_scales_only_spin() {
        let k = knobs(&[("GATE_FIXTURE_SLOWDOWN", "2")]);
        assert_eq!(steps_for(SPIN_ID, &k), 2 * SPIN_STEPS);
        assert_eq!(steps_for(SLEEPLESS_ID, &k), SLEEPLESS_STEPS);
    }

    #[test]
    fn counted_syscalls_follow_the_knob() {
        assert_eq!(measure_syscalls_per_op(1, 0), 0.0);
        assert_eq!(measure_syscalls_per_op(1, 3), 3.0);
    }

    #[test]
    fn counters_file_shape() {
        let json = counters_json(SPIN_ID, 2.0);
        assert!(json.contains(r#""id":"fixture/spin/sequential""#), "{json}");
        assert!(
            json.contains(r#""counters":{"syscalls_per_op":2}"#),
            "{json}"
        );
        assert_eq!(
            counters_path(Path::new("/h"), SPIN_ID),
            PathBuf::from("/h/gate-counters/fixture__spin__sequential.json")
        );
    }
}
