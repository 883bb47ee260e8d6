//! The machine's floor benches (`floor:` in `gate.yaml`): figures of the
//! machine, not of the code. They scale a baseline measured on another
//! machine kind, and tell when the machine moved under a stored baseline.

use regex::Regex;

use crate::config::FloorConfig;
use crate::formats::Baseline;
use crate::model::{Benchmark, Environment, Lang, Mode, ResultSet};

/// Label on a normalised baseline benchmark saying how it was scaled.
pub const NORMALISED_LABEL: &str = "normalised";

/// Secret benches are dominated by the `mprotect` floor, so when the Rust
/// baseline was measured on another kind of machine, its secret samples are
/// scaled by (floor here / floor there), both floors measured in their own
/// run. Nothing is widened: the scaled samples go through the same test.
///
/// Only benches the floor models are scaled: those whose counters say they
/// make `mprotect` calls and map nothing per op ([`floor_bound`]). A bench
/// that maps and locks pages per op (`create_random`, `lifecycle`: 16-18
/// µs against a 1.4 µs floor) is bound by other kernel paths, and scaling
/// it by the `mprotect` ratio flagged both +104-107% on unchanged code when
/// the host changed (measured here); such benches are compared directly,
/// and a note names them.
///
/// Per set: a filtered `gate baseline update` keeps the benches it did not
/// measure in a set of their own, so a bench's floor is the one of *its*
/// set (the run that measured it), never another run's. Returns the scaled
/// copies of the figures the check uses (empty when the machines match, or
/// when a set lacks the floor, which a note then says).
pub fn normalise(
    cfg: &FloorConfig,
    bl: &Baseline,
    new: &ResultSet,
    notes: &mut Vec<String>,
) -> Vec<Benchmark> {
    let Some(floor_id) = cfg.mprotect_pair.as_deref() else {
        return Vec::new();
    };
    let floor = |s: &ResultSet| {
        s.find(Lang::Rust, floor_id, 1)
            .and_then(|b| crate::stats::median(&b.samples))
    };
    let mut out = Vec::new();
    for set in &bl.sets {
        if set.environment.same_machine_kind(&new.environment).0 != Some(false) {
            continue;
        }
        // The sequential secret figures of this set that the check uses.
        let (used, direct): (Vec<&Benchmark>, Vec<_>) = set
            .benchmarks
            .iter()
            .filter(|b| cfg.scales_id(&b.id) && b.mode == Mode::Sequential)
            .filter(|b| {
                bl.find(Lang::Rust, &b.id, b.threads)
                    .is_some_and(|f| std::ptr::eq(f.benchmark, *b))
            })
            .partition(|b| floor_bound(b));
        // Name only those this run measured (a filter may leave them out).
        let direct: Vec<_> = direct
            .into_iter()
            .filter(|b| new.find(Lang::Rust, &b.id, b.threads).is_some())
            .collect();
        if !direct.is_empty() {
            notes.push(format!(
                "not normalised by the mprotect floor, since they map or lock memory per op (or record no \
                 counters): {}; compared directly",
                direct
                    .iter()
                    .map(|b| format!("`{}`", b.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if used.is_empty() {
            continue;
        }
        let (Some(there), Some(here)) = (floor(set), floor(new)) else {
            notes.push(format!(
                "the Rust baseline comes from another machine kind but `{floor_id}` is not in both runs \
                 (this run and the baseline run `{}`): its secret benches are compared without normalisation",
                set.provenance.as_deref().unwrap_or("unknown provenance")
            ));
            continue;
        };
        let factor = here / there;
        notes.push(format!(
            "the Rust baseline comes from another machine kind: sequential secret benches were normalised by the \
             mprotect floor ({} here, {} there, factor {factor:.3}); other benches are compared directly",
            crate::figures::fmt_ns(here),
            crate::figures::fmt_ns(there)
        ));
        out.extend(used.into_iter().map(|b| {
            let mut n = b.clone();
            n.samples.iter_mut().for_each(|x| *x *= factor);
            n.labels.insert(
                NORMALISED_LABEL.into(),
                format!(
                    "factor {factor:.3} = floor {} here / {} there",
                    crate::figures::fmt_ns(here),
                    crate::figures::fmt_ns(there)
                ),
            );
            n
        }));
    }
    out
}

/// A filter that leaves the floor out would leave normalisation without
/// its floor (`--filter secret` against a baseline of another machine
/// kind). Returns the plan's filter widened to also run the floor when the
/// Rust baseline has a set of another machine kind holding floor-bound
/// benches the filter selects, with a note saying so; `None` otherwise.
pub fn widen_filter(
    cfg: &FloorConfig,
    filter: &Regex,
    baseline: &Baseline,
    here: &Environment,
) -> Option<(Regex, String)> {
    let floor_id = cfg.mprotect_pair.as_deref()?;
    if filter.is_match(floor_id) {
        return None;
    }
    let needed = baseline.sets.iter().any(|set| {
        set.environment.same_machine_kind(here).0 == Some(false)
            && set.benchmarks.iter().any(|b| {
                cfg.scales_id(&b.id)
                    && b.mode == Mode::Sequential
                    && floor_bound(b)
                    && filter.is_match(&b.id)
            })
    });
    if !needed {
        return None;
    }
    let widened = Regex::new(&format!(
        "(?:{})|^{}$",
        filter.as_str(),
        regex::escape(floor_id)
    ))
    .expect("a valid filter and an escaped id form a valid expression");
    Some((
        widened,
        format!(
            "`{floor_id}` was measured too, outside --filter: the Rust baseline comes from another machine \
             kind, and the selected secret benches are normalised by it"
        ),
    ))
}

/// Whether the `mprotect` floor models a bench: its counters show
/// `mprotect` calls and no `mmap` or `mlock` per op.
fn floor_bound(b: &Benchmark) -> bool {
    let per_op = |name: &str| b.counters.get(name).copied();
    per_op("mprotect_per_op").is_some_and(|m| m > 0.0)
        && per_op("mmap_per_op") == Some(0.0)
        && per_op("mlock_per_op").unwrap_or(0.0) == 0.0
}

/// The floor benches measure the machine, not our code: a raw `mprotect`
/// pair and a plain syscall cannot get slower by a code change. When they
/// moved by more than the tolerance against a stored baseline of the *same*
/// machine kind, the machine is not in the state that measured the baseline
/// (another host under the VM, since cloud machines share a generic CPU
/// model string, or the host's load: measured here, the mprotect floor
/// moved 27% within ten minutes), and rows
/// against it may show the machine rather than the code. Says so, with the
/// figures and what to do; verdicts are not changed. Each floor is taken
/// from the baseline set that holds it (see [`normalise`]).
pub fn drift_note(
    cfg: &FloorConfig,
    bl: &Baseline,
    new: &ResultSet,
    tolerance: f64,
) -> Option<String> {
    let moved: Vec<String> = moved(cfg, bl, new, tolerance)
        .into_iter()
        .filter(|m| m.same_kind == Some(true))
        .map(|m| format!("`{}` {:+.0}%", m.id, (m.ratio - 1.0) * 100.0))
        .collect();
    if moved.is_empty() {
        return None;
    }
    Some(format!(
        "this runner's floor benches moved against the Rust baseline ({}) although the machine kind is the \
         same: the machine is not in the state that measured the baseline (another host under the VM, or \
         its load), so differences against baselines/ may be the machine's, not the code's; a regression \
         against it is re-judged on this runner against the baseline's commit (`arbitrate` in gate.yaml), \
         or refresh the baseline with `gate baseline update`",
        moved.join(", ")
    ))
}

/// A floor bench that moved against the Rust baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved<'a> {
    pub id: &'a str,
    /// Median here / median in the baseline set that holds it.
    pub ratio: f64,
    /// Whether that set was measured on this machine kind (`None`: unknown).
    pub same_kind: Option<bool>,
}

/// The floor benches whose median here differs from the baseline's by more
/// than `tolerance` (each against the baseline set that holds it), on any
/// machine kind. A moved floor says the stored comparison meets another
/// machine than the baseline's: a fresh process of the head meets the same
/// one, and only a lockstep comparison with the baseline's code can tell
/// the code from the machine.
pub fn moved<'a>(
    cfg: &'a FloorConfig,
    bl: &Baseline,
    new: &ResultSet,
    tolerance: f64,
) -> Vec<Moved<'a>> {
    cfg.benches()
        .filter_map(|id| {
            let found = bl.find(Lang::Rust, id, 1)?;
            let there = crate::stats::median(&found.benchmark.samples)?;
            let here = crate::stats::median(&new.find(Lang::Rust, id, 1)?.samples)?;
            let ratio = here / there;
            ((ratio - 1.0).abs() > tolerance).then(|| Moved {
                id,
                ratio,
                same_kind: found.set.environment.same_machine_kind(&new.environment).0,
            })
        })
        .collect()
}

/// Says whether a baseline was measured on the same kind of machine as this
/// run; ratios across machine kinds are not comparable without normalisation.
pub fn machine_note(what: &str, base: &Environment, now: &Environment) -> String {
    match base.same_machine_kind(now) {
        (Some(true), _) => format!(
            "{what} was measured on the same machine kind ({}): compared directly",
            now.fingerprint()
        ),
        (Some(false), differ) => format!(
            "{what} was measured on another machine kind ({}): compared directly, so part of \
             any difference may be the machine",
            differ.join(", ")
        ),
        (None, _) => format!(
            "{what} records no machine facts: the machines cannot be compared; treat ratios with care"
        ),
    }
}
