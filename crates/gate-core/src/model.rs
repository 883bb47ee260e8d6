//! One result model for both languages.
//!
//! Every reader (criterion directory, Go benchmark text, gate JSON, baseline
//! YAML) produces a [`ResultSet`]; every later stage (compare, decide,
//! report, publish) consumes it. Keeping mode and thread count on every
//! [`Benchmark`] is what makes "compare like with like" enforceable: a Rust
//! sequential figure and a Go `RunParallel` figure at GOMAXPROCS=16 can never
//! be paired by accident.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Version of the on-disk formats written by the gate (JSON results,
/// baselines). Bumped on any incompatible change; readers refuse newer ones.
pub const SCHEMA_VERSION: u32 = 1;

/// How a benchmark drives the code: one thread doing one operation after
/// another, or N threads sharing the work (Go's `b.RunParallel` meaning:
/// ns/op is wall time divided by all operations, i.e. inverse throughput).
///
/// A Rust bench id declares its mode; a Go result line does not (its `-N`
/// suffix is GOMAXPROCS, which says nothing about `b.RunParallel`), so a Go
/// figure is [`Mode::Undeclared`] until something declares it: a pair in
/// `gate.yaml`, `--mode`, or a `gate-mode:` line the gate wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Sequential,
    Parallel,
    /// Nothing declared the mode (a Go result read without `--mode`).
    Undeclared,
}

impl Mode {
    /// Whether a declaration (id, pair, flag) set this mode.
    pub fn is_declared(self) -> bool {
        self != Mode::Undeclared
    }

    /// Whether figures of the two modes may be compared: the same mode, or
    /// one side undeclared (it takes the declared side's mode, as a Go
    /// figure takes its pair's).
    pub fn agrees(self, other: Mode) -> bool {
        self == other || !self.is_declared() || !other.is_declared()
    }

    /// The mode of a comparison of `self` with `other` that
    /// [agree](Mode::agrees): the declared one, `self` when both are.
    pub fn declared_or(self, other: Mode) -> Mode {
        if self.is_declared() { self } else { other }
    }

    /// The mode's name, as reports and `gate-mode:` lines write it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Parallel => "parallel",
            Mode::Undeclared => "undeclared",
        }
    }

    /// A mode as a file the gate wrote records it: a declared mode, or
    /// `undeclared`, which [`FromStr`] (a user's declaration) refuses.
    pub fn from_stored(s: &str) -> Result<Mode, String> {
        if s == Mode::Undeclared.name() {
            Ok(Mode::Undeclared)
        } else {
            s.parse()
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mode as a user declares it (`--mode`, `gate.yaml`, a bench id):
/// `sequential` or `parallel`; `undeclared` is no declaration.
impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match [Mode::Sequential, Mode::Parallel]
            .into_iter()
            .find(|m| m.name() == s)
        {
            Some(m) => Ok(m),
            None => Err(format!(
                "unknown mode `{s}` (expected `sequential` or `parallel`)"
            )),
        }
    }
}

/// Which implementation produced a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Go,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "rust",
            Lang::Go => "go",
        })
    }
}

/// The parts of a Rust bench id `<group>/<operation>/<mode>[/t<threads>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchId {
    pub group: String,
    pub operation: String,
    pub mode: Mode,
    pub threads: u32,
}

impl BenchId {
    /// Parses the id scheme of DESIGN.md. A sequential id has one thread; a
    /// parallel id must name its thread count (`parallel/t2`), because a
    /// parallel figure without its thread count cannot be compared honestly.
    pub fn parse(id: &str) -> Result<BenchId, String> {
        let parts: Vec<&str> = id.split('/').collect();
        let bad = |why: &str| {
            Err(format!(
                "bench id `{id}` does not follow `<group>/<operation>/<mode>[/t<threads>]`: {why}"
            ))
        };
        if parts.len() < 3 || parts.iter().any(|p| p.is_empty()) {
            return bad("expected at least three non-empty parts separated by `/`");
        }
        let mode: Mode = match parts[2].parse() {
            Ok(m) => m,
            Err(e) => return bad(&e),
        };
        let threads = match (mode, parts.get(3)) {
            (Mode::Sequential, None) => 1,
            (Mode::Sequential, Some(_)) => return bad("a sequential id has no thread part"),
            (Mode::Parallel, None) => return bad("a parallel id needs `/t<threads>`"),
            (Mode::Parallel, Some(t)) => match t.strip_prefix('t').and_then(|n| n.parse().ok()) {
                Some(n) if n >= 1 => n,
                _ => return bad("the thread part must look like `t2`"),
            },
            // `FromStr` accepts declared modes only.
            (Mode::Undeclared, _) => return bad("the mode must be sequential or parallel"),
        };
        if parts.len() > 4 {
            return bad("too many parts");
        }
        Ok(BenchId {
            group: parts[0].to_string(),
            operation: parts[1].to_string(),
            mode,
            threads,
        })
    }
}

/// Where a result set was measured. Ratios across machines are only
/// meaningful when this is known, so every result carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// CPU model string (`/proc/cpuinfo` "model name", or Go's `cpu:` line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    /// Logical cores available to the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    /// `goos`/`std::env::consts::OS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// `goarch`/`std::env::consts::ARCH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Kernel release (`uname -r`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Running under a hypervisor (cpuinfo `hypervisor` flag), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualized: Option<bool>,
    /// Soft `RLIMIT_MEMLOCK` in bytes; `None` when unknown, `u64::MAX` for unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rlimit_memlock: Option<u64>,
    /// `rustc --version` of the toolchain that built the benches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rustc: Option<String>,
    /// `go version`, for Go results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<String>,
    /// Cargo features the benches were built with (e.g. `no-mlock`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Build or run flags that change what is measured (e.g. Go `-race`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// Anything else worth keeping (Go config lines such as `pkg`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Environment {
    /// A short string that is equal for two measurements taken on the same
    /// kind of machine: CPU model, cores, OS, arch, virtualisation. Used to
    /// decide whether figures can be compared directly or must be
    /// normalised by the floor benches.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.cpu_model.as_deref().unwrap_or("?"),
            self.cores
                .map(|c| c.to_string())
                .unwrap_or_else(|| "?".into()),
            self.os.as_deref().unwrap_or("?"),
            self.arch.as_deref().map(normalize_arch).unwrap_or("?"),
            match self.virtualized {
                Some(true) => "vm",
                Some(false) => "metal",
                None => "?",
            }
        )
    }
}

/// Go and Rust name the same architectures differently (`amd64` vs `x86_64`).
pub fn normalize_arch(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "386" => "x86",
        other => other,
    }
}

impl Environment {
    /// Whether two environments are the same kind of machine, judged on the
    /// facts both record (a Go output records CPU, OS and arch, but not the
    /// core count). `None` when they share no fact at all; the second value
    /// lists the facts that differ.
    pub fn same_machine_kind(&self, other: &Environment) -> (Option<bool>, Vec<String>) {
        let mut compared = 0;
        let mut differ = Vec::new();
        let mut check = |name: &str, a: Option<String>, b: Option<String>| {
            if let (Some(a), Some(b)) = (a, b) {
                compared += 1;
                if a != b {
                    differ.push(format!("{name}: {a} vs {b}"));
                }
            }
        };
        check("cpu", self.cpu_model.clone(), other.cpu_model.clone());
        check(
            "cores",
            self.cores.map(|c| c.to_string()),
            other.cores.map(|c| c.to_string()),
        );
        check("os", self.os.clone(), other.os.clone());
        check(
            "arch",
            self.arch.as_deref().map(|a| normalize_arch(a).to_string()),
            other.arch.as_deref().map(|a| normalize_arch(a).to_string()),
        );
        check(
            "virtualised",
            self.virtualized.map(|v| v.to_string()),
            other.virtualized.map(|v| v.to_string()),
        );
        if compared == 0 {
            (None, differ)
        } else {
            (Some(differ.is_empty()), differ)
        }
    }
}

/// One benchmark of one implementation on one machine, with every sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Benchmark {
    /// Rust: the bench id (`secret/with_bytes/parallel/t2`). Go: the
    /// benchmark name without the `-N` GOMAXPROCS suffix
    /// (`BenchmarkMemguardSecret_WithBytes`, sub-benchmarks keep `/key=value`).
    pub id: String,
    pub lang: Lang,
    pub mode: Mode,
    /// Thread count (Rust) or GOMAXPROCS (Go).
    pub threads: u32,
    /// Unit of `samples`; always `ns/op` for time.
    pub unit: String,
    /// Per-sample ns/op: one value per criterion sample or per Go result line.
    pub samples: Vec<f64>,
    /// Deterministic per-op counters (`mprotect_per_op`, `allocs_per_op`,
    /// `loader_calls_per_op`, ...) and, for Go, per-op units other than time
    /// (`B/op`, `allocs/op`), reduced to one value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, f64>,
    /// Other per-sample metrics kept verbatim (Go `MB/s`, custom units), so
    /// that nothing read is lost when the set is written again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, Vec<f64>>,
    /// Labels that qualify the figure: Go config lines in force for it
    /// (`pkg`, `goos`, `goarch`, `cpu`) and `/key=value` sub-benchmark parts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// A figure kept for reference only (e.g. a point estimate copied from a
    /// document, measured on an unknown machine): shown, never used to fail.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reference_only: bool,
    /// Where the figures came from (file name, document, command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Benchmark {
    /// A benchmark timed in ns/op, with no counters, metrics or labels yet.
    pub fn new(
        id: impl Into<String>,
        lang: Lang,
        mode: Mode,
        threads: u32,
        samples: Vec<f64>,
    ) -> Benchmark {
        Benchmark {
            id: id.into(),
            lang,
            mode,
            threads,
            unit: "ns/op".into(),
            samples,
            counters: BTreeMap::new(),
            metrics: BTreeMap::new(),
            labels: BTreeMap::new(),
            reference_only: false,
            source: None,
        }
    }

    /// Key under which pairs and baselines look a benchmark up.
    pub fn key(&self) -> (Lang, &str, u32) {
        (self.lang, &self.id, self.threads)
    }
}

/// A set of benchmarks measured together (one run, one file, one baseline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultSet {
    #[serde(default)]
    pub environment: Environment,
    pub benchmarks: Vec<Benchmark>,
    /// Where the set came from, for messages ("baselines/go.yaml").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
}

impl ResultSet {
    /// Finds a benchmark by language, id and thread count.
    pub fn find(&self, lang: Lang, id: &str, threads: u32) -> Option<&Benchmark> {
        self.benchmarks
            .iter()
            .find(|b| b.lang == lang && b.id == id && b.threads == threads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sequential_and_parallel_ids() {
        let s = BenchId::parse("secret/with_bytes/sequential").unwrap();
        assert_eq!((s.mode, s.threads), (Mode::Sequential, 1));
        let p = BenchId::parse("keycache/read_existing_key/parallel/t2").unwrap();
        assert_eq!(
            (p.group.as_str(), p.mode, p.threads),
            ("keycache", Mode::Parallel, 2)
        );
    }

    /// An undeclared mode agrees with any mode and gives way to the
    /// declared one; two declared modes agree only when equal.
    #[test]
    fn an_undeclared_mode_agrees_with_any() {
        use Mode::*;
        for (a, b, agree) in [
            (Sequential, Sequential, true),
            (Sequential, Parallel, false),
            (Undeclared, Parallel, true),
            (Sequential, Undeclared, true),
            (Undeclared, Undeclared, true),
        ] {
            assert_eq!((a.agrees(b), b.agrees(a)), (agree, agree), "{a} {b}");
        }
        assert_eq!(Undeclared.declared_or(Parallel), Parallel);
        assert_eq!(Sequential.declared_or(Undeclared), Sequential);
    }

    /// A stored `undeclared` reads back; a user's declaration cannot be it.
    #[test]
    fn stored_modes_read_back_and_declarations_are_declared() {
        for m in [Mode::Sequential, Mode::Parallel, Mode::Undeclared] {
            assert_eq!(Mode::from_stored(&m.to_string()), Ok(m));
        }
        assert!("undeclared".parse::<Mode>().is_err());
        assert_eq!("parallel".parse::<Mode>(), Ok(Mode::Parallel));
        assert!(Mode::from_stored("fast").is_err());
    }

    #[test]
    fn refuses_ids_that_hide_their_threads() {
        for bad in [
            "secret/with_bytes",
            "secret/with_bytes/parallel",
            "secret/with_bytes/sequential/t2",
            "secret/with_bytes/parallel/two",
            "secret/with_bytes/fast",
            "secret//sequential",
        ] {
            assert!(BenchId::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}

/// What one side of a comparison ran: the commit it was built from and a
/// fingerprint of each bench executable, so a reader can tell two sides
/// apart (or see that they ran the same code).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Build {
    /// The reference asked for (`--base REF`), when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The commit built; `None` outside a git repository.
    pub commit: Option<String>,
    /// Tracked files differed from `commit` (a head's working tree).
    #[serde(default)]
    pub dirty: bool,
    /// Hex SHA-256 of each bench executable measured, by bench target name.
    pub executables: BTreeMap<String, String>,
}
