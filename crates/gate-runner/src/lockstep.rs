//! Lockstep runs (`gate check --base`): the base and the head bench of one
//! id run at the same time and take turns, one timed sample each
//! (`docs/lockstep.md`; the bench side is the `gate-lockstep` crate).
//!
//! Why: on a shared 2-vCPU runner, two runs of the same code a minute apart
//! differ by 5-15% (the host, the vCPU a process lands on, a neighbour's
//! load), far more than the regressions a gate must catch. Sample `i` of the
//! base and sample `i` of the head, taken a few milliseconds apart on the
//! same CPU, see the same machine; the per-sample log ratio
//! `ln(head_i / base_i)` cancels the drift. Measured here: the medians of
//! such ratios for two copies of the same sequential bench differ by about
//! 1% between pairs of processes, against 5-13% between runs taken apart.
//!
//! The gate makes two pipes, starts both processes with
//! `GATE_LOCKSTEP=<id>` and their ends of the pipes, gives the token to the
//! one that goes first, and closes its own ends: if one process dies, the
//! other reads end-of-file instead of waiting forever. Sequential ids pin
//! both processes to the same CPU (the last one this process may use): a
//! process on the other vCPU of a VM sees another host core.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::process::spawn_captured;
use crate::run::{Prepared, RunError, Tail, show_command};
pub use gate_core::config::lockstep::Settings;
use gate_core::model::{BenchId, Benchmark, Lang, Mode};

/// The variable naming the id a bench process runs in lockstep.
pub const ID_ENV: &str = "GATE_LOCKSTEP";

/// Folder under a criterion home where lockstep samples are written.
pub const DIR: &str = "gate-lockstep";

/// What a lockstep process writes (the `gate-lockstep` crate's format).
#[derive(Deserialize)]
struct Output {
    schema: u32,
    id: String,
    samples_ns: Vec<f64>,
    /// Events per op of each sample, for benches that count one
    /// (`Lockstep::run_counted`).
    #[serde(default)]
    covariate: Option<Covariate>,
}

/// A counted event per op, sample by sample.
#[derive(Deserialize)]
struct Covariate {
    name: String,
    per_op: Vec<f64>,
}

/// The event both sides of a pair counted, per op and sample.
pub struct PairCovariate {
    pub name: String,
    pub base: Vec<f64>,
    pub head: Vec<f64>,
}

/// The two sides of one lockstep pair.
pub struct Pair {
    pub base: Benchmark,
    pub head: Benchmark,
    /// The name of the event both sides counted per sample, and their
    /// counts per op (base, head), when the bench counts one.
    pub covariate: Option<PairCovariate>,
}

impl Pair {
    /// Per-sample `ln(head_i / base_i)`: samples of the same index were
    /// taken back to back.
    pub fn log_ratios(&self) -> Vec<f64> {
        self.base
            .samples
            .iter()
            .zip(&self.head.samples)
            .map(|(b, h)| (h / b).ln())
            .collect()
    }

    /// The log ratios at the same rate of the counted event
    /// ([`stats::adjusted_log_ratios`]), or why there are none.
    pub fn adjusted_log_ratios(&self) -> Adjustment {
        let Some(c) = self.covariate.as_ref() else {
            return Adjustment::Uncounted;
        };
        gate_core::stats::adjusted_log_ratios(
            &self.base.samples,
            &c.base,
            &self.head.samples,
            &c.head,
        )
        .map_or(Adjustment::NotApplied, Adjustment::Applied)
    }
}

/// What the adjustment for the counted event made of one pair. A pair it
/// did not apply to is said so explicitly, rather than recognised later by
/// its adjusted ratios equalling its raw ones (a flat line, `c = 0`, gives
/// exactly that too, and such a pair was adjusted).
#[derive(Debug, Clone, PartialEq)]
pub enum Adjustment {
    /// The bench counts no event: there is no adjusted test.
    Uncounted,
    /// The bench counts one, but the base gave no usable line or the head
    /// ran outside the base's rates: the raw test alone decides this pair
    /// (`stats::comparable_rounds`).
    NotApplied,
    /// The pair's ratios at the same rate, sample by sample.
    Applied(Vec<f64>),
}

/// The CPU sequential lockstep pairs are pinned to: the last one this
/// process may run on (CPU 0 takes most interrupts).
#[cfg(target_os = "linux")]
fn pin_cpu() -> Option<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the call fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        (0..libc::CPU_SETSIZE as usize)
            .rev()
            .find(|&c| libc::CPU_ISSET(c, &set))
    }
}

/// Elsewhere the processes run where the scheduler puts them.
#[cfg(not(target_os = "linux"))]
fn pin_cpu() -> Option<usize> {
    None
}

/// Pins the calling process to `cpu` (in the child, before exec).
#[cfg(target_os = "linux")]
fn pin_to(cpu: usize) -> std::io::Result<()> {
    // SAFETY: sched_setaffinity is async-signal-safe; the set is local.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn pin_to(_cpu: usize) -> std::io::Result<()> {
    Ok(())
}

/// A pipe whose ends close on exec (the child's own ends are made
/// inheritable in the child only).
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) = std::io::pipe().context("cannot create a lockstep pipe")?;
    Ok((r.into(), w.into()))
}

/// The lockstep command of `id` in `side`: its bench executable, with the
/// lockstep environment, its pipe ends inheritable and, when `cpu` is
/// given, pinned to that CPU.
fn command(
    side: &Prepared,
    id: &str,
    settings: &Settings,
    read: &OwnedFd,
    write: &OwnedFd,
    out: &Path,
    cpu: Option<usize>,
) -> Result<(Command, String)> {
    let target = side
        .target_of(id)
        .ok_or_else(|| anyhow!("bench `{id}` is not offered by {}", side.plan().package))?;
    let (r, w) = (read.as_raw_fd(), write.as_raw_fd());
    let mut cmd = side.bench_command(id, target);
    cmd.env(ID_ENV, id)
        .env("GATE_LOCKSTEP_FDS", format!("{r},{w}"))
        .env("GATE_LOCKSTEP_OUT", out)
        .env("GATE_LOCKSTEP_SAMPLES", settings.samples.to_string())
        .env("GATE_LOCKSTEP_SAMPLE_MS", settings.sample_ms.to_string())
        .env("GATE_LOCKSTEP_WARMUP_MS", settings.warm_up_ms.to_string());
    if cpu.is_none() && settings.pin_threads {
        cmd.env("GATE_BENCH_PIN", "1");
    }
    // SAFETY: between fork and exec this calls only async-signal-safe
    // functions (fcntl, sched_setaffinity) on descriptors and memory the
    // child owns.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            for fd in [r, w] {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            match cpu {
                Some(c) => pin_to(c),
                None => Ok(()),
            }
        });
    }
    Ok((cmd, target.name.clone()))
}

/// Where one side writes its samples; the side's name is in the file name
/// so that an A/A pair of one checkout (`gate power`) keeps both.
fn out_path(side: &Prepared, id: &str, name: &str) -> PathBuf {
    side.criterion_home()
        .join(DIR)
        .join(format!("{}.{name}.json", id.replace('/', "__")))
}

/// Reads one side's samples and counters, and its covariate.
fn read_side(side: &Prepared, id: &str, out: &Path) -> Result<(Benchmark, Option<Covariate>)> {
    let text = std::fs::read_to_string(out)
        .with_context(|| format!("{}: lockstep samples of `{id}` not written", out.display()))?;
    let o: Output = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a lockstep samples file", out.display()))?;
    if o.schema != 1 {
        bail!(
            "{}: lockstep schema {} (this gate reads 1)",
            out.display(),
            o.schema
        );
    }
    if o.id != id {
        bail!("{}: samples of `{}`, expected `{id}`", out.display(), o.id);
    }
    if let Some(bad) = o.samples_ns.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        bail!("{}: sample {bad} is not a positive time", out.display());
    }
    let covariate = match o.covariate {
        Some(c) if c.per_op.len() != o.samples_ns.len() => bail!(
            "{}: covariate `{}` has {} values for {} samples",
            out.display(),
            c.name,
            c.per_op.len(),
            o.samples_ns.len()
        ),
        Some(c) => {
            if let Some(bad) = c.per_op.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                bail!(
                    "{}: covariate `{}`: {bad} is not a count per op",
                    out.display(),
                    c.name
                );
            }
            Some(c)
        }
        None => None,
    };
    let parsed = BenchId::parse(id).map_err(|e| anyhow!("{}: {e}", out.display()))?;
    let mut b = Benchmark::new(id, Lang::Rust, parsed.mode, parsed.threads, o.samples_ns);
    b.source = Some(out.display().to_string());
    gate_core::formats::criterion::attach_counters_of(side.criterion_home(), &mut b)?;
    Ok((b, covariate))
}

/// Runs one lockstep pair of `id`: `base` and `head` at the same time,
/// taking turns; `base_first` says who takes the first turn (alternate it
/// between pairs so that neither side always goes first).
///
/// `setup`: whether the benches run their setup, the counting pass that
/// writes their counters file (`GATE_LOCKSTEP_SETUP`). Its counts are the
/// same in every pair, so callers ask for it in the first pair of an id
/// only; later pairs read the file that pair wrote and spend their time on
/// samples instead (a counting pass of `secret/create_random` takes longer
/// than the pair's samples). With `setup`, the old counters files are
/// removed first, so what is read was written by this pair.
pub fn run_pair(
    base: &Prepared,
    head: &Prepared,
    id: &str,
    base_first: bool,
    setup: bool,
    settings: &Settings,
) -> Result<Pair> {
    let settings = &settings.for_id(id);
    let cpu = match BenchId::parse(id).map(|b| b.mode) {
        Ok(Mode::Sequential) => pin_cpu(),
        _ => None,
    };
    let (to_base_r, to_base_w) = pipe()?;
    let (to_head_r, to_head_w) = pipe()?;
    let outs = [out_path(base, id, "base"), out_path(head, id, "head")];
    for o in &outs {
        if let Some(dir) = o.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let _ = std::fs::remove_file(o);
    }
    if setup {
        for side in [base, head] {
            let counters = crate::run::counters_path(side.criterion_home(), id);
            match std::fs::remove_file(&counters) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", counters.display()));
                }
                _ => {}
            }
        }
    }
    let (mut base_cmd, base_target) =
        command(base, id, settings, &to_base_r, &to_head_w, &outs[0], cpu)?;
    let (mut head_cmd, head_target) =
        command(head, id, settings, &to_head_r, &to_base_w, &outs[1], cpu)?;
    for cmd in [&mut base_cmd, &mut head_cmd] {
        cmd.env("GATE_LOCKSTEP_SETUP", if setup { "1" } else { "0" });
    }
    let shown = [show_command(&base_cmd), show_command(&head_cmd)];
    let base_run = spawn_captured(&mut base_cmd)
        .with_context(|| format!("cannot start the base bench `{id}`: `{}`", shown[0]))?;
    let head_run = spawn_captured(&mut head_cmd)
        .with_context(|| format!("cannot start the head bench `{id}`: `{}`", shown[1]))?;
    {
        let first = if base_first { &to_base_w } else { &to_head_w };
        let mut f = std::fs::File::from(first.try_clone().context("lockstep pipe")?);
        std::io::Write::write_all(&mut f, &[1]).context("cannot start the lockstep pair")?;
    }
    // Our copies closed: a process that dies leaves its peer end-of-file.
    drop((to_base_r, to_base_w, to_head_r, to_head_w));
    let timeout = head.plan().timeout;
    let results = [
        (base_run.wait(timeout)?, &base_target, &shown[0], "base"),
        (head_run.wait(timeout)?, &head_target, &shown[1], "head"),
    ];
    for (out, target, command, side) in &results {
        if !out.ok() {
            return Err(anyhow::Error::new(RunError::Bench {
                id: id.to_string(),
                target: (*target).clone(),
                command: (*command).clone(),
                status: out.status_text(),
                tail: out.tail(),
            })
            .context(format!("lockstep run of `{id}` ({side})")));
        }
    }
    let (base_b, base_c) =
        read_side(base, id, &outs[0]).context("the base side of a lockstep pair")?;
    let (head_b, head_c) =
        read_side(head, id, &outs[1]).context("the head side of a lockstep pair")?;
    // Adjusted only when both sides counted the same event (a base from
    // before the bench counted it is compared raw).
    let covariate = match (base_c, head_c) {
        (Some(b), Some(h)) if b.name == h.name => Some(PairCovariate {
            name: b.name,
            base: b.per_op,
            head: h.per_op,
        }),
        _ => None,
    };
    let pair = Pair {
        base: base_b,
        head: head_b,
        covariate,
    };
    if pair.base.samples.len() != pair.head.samples.len() {
        bail!(
            "lockstep run of `{id}`: {} base and {} head samples (both sides take the same turns)",
            pair.base.samples.len(),
            pair.head.samples.len()
        );
    }
    Ok(pair)
}
