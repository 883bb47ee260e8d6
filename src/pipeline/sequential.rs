//! A lockstep check that decides, per bench, how many pairs it needs: the
//! open benches are measured one pair each per sweep (interleaved, so that a
//! slow minute of the machine hits them all), each is looked at when its
//! pair count reaches a look of the design, and it stops as soon as its
//! interval decides; the budget goes to the benches still open
//! (`docs/statistics.md`, "Stopping").

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;

use gate_core::config::Config;
use gate_core::model::{Benchmark, ResultSet};
use gate_core::sequential::{Design, FIRST_LOOK, Stop};
use gate_core::verdict::{adjusted_rounds, paired_rounds, stopping};
use gate_runner::ab::{LockstepPairs, Pooled};
use gate_runner::progress::Progress;

/// How a bench's measurement ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Pairs measured.
    pub pairs: usize,
    /// The last look's decision (`Open`: the budget or the most pairs ran
    /// out first).
    pub stop: Stop,
    /// Seconds its pairs took.
    pub seconds: f64,
}

/// The pairs of a sequential check and how each bench ended.
pub struct Measured {
    pub base: ResultSet,
    pub head: ResultSet,
    pub outcomes: BTreeMap<String, Outcome>,
    /// Seconds of measurement in all.
    pub seconds: f64,
    /// The design the benches were looked at with.
    pub design: Design,
}

/// Looks at a bench's two pooled sides with a design (`last`: no look
/// follows); `None` when their pair count is not a look.
pub type Judge<'a> = dyn Fn(&Design, &Benchmark, &Benchmark, bool) -> Option<Stop> + 'a;

/// Measures `ids` until each decides, reaches the design's most pairs, or
/// the budget is spent. Every bench gets at least the first look's pairs,
/// whatever the budget.
pub fn measure(
    pairs: &LockstepPairs,
    ids: &[String],
    design: &Design,
    budget: Duration,
    judge: &Judge<'_>,
) -> Result<Measured> {
    let estimate = pairs.pair_estimate().as_secs_f64();
    let mut done: BTreeMap<&str, (usize, f64)> =
        ids.iter().map(|id| (id.as_str(), (0, 0.0))).collect();
    let mut open: Vec<&str> = ids.iter().map(String::as_str).collect();
    let len = expected_pairs(
        0,
        &open,
        &done,
        budget.as_secs_f64(),
        sweep_seconds(&open, &done, estimate),
    );
    let progress = Progress::new(pairs.head.plan().progress, len, pairs.pair_estimate());
    let t0 = Instant::now();
    let mut pooled = Pooled::default();
    let mut outcomes = BTreeMap::new();
    let mut k = 0usize;
    while !open.is_empty() {
        let sweep = sweep_seconds(&open, &done, estimate);
        let left = budget.as_secs_f64() - t0.elapsed().as_secs_f64();
        let out_of_budget = sweep > left && open.iter().all(|id| done[id].0 >= FIRST_LOOK);
        progress.set_len(expected_pairs(k, &open, &done, left, sweep));
        for id in &open {
            if out_of_budget {
                break;
            }
            progress.start(k, id);
            let started = Instant::now();
            let n = done[id].0;
            let pair = pairs.measure_pair(id, n as u32, k.is_multiple_of(2));
            progress.finish(k, id, started.elapsed(), pair.is_ok());
            pooled.add(pair?);
            let entry = done.get_mut(id).expect("every id is counted");
            *entry = (n + 1, entry.1 + started.elapsed().as_secs_f64());
            k += 1;
        }
        open.retain(|id| {
            let (n, seconds) = done[id];
            let last = out_of_budget || n >= design.most();
            let Some((base, head)) = pooled.get(id) else {
                return true;
            };
            match judge(design, base, head, last) {
                Some(stop) if stop != Stop::Open || last => {
                    let outcome = Outcome {
                        pairs: n,
                        stop,
                        seconds,
                    };
                    outcomes.insert(id.to_string(), outcome);
                    false
                }
                _ => true,
            }
        });
    }
    progress.clear();
    let (base, head) = pairs.sets(pooled);
    Ok(Measured {
        base,
        head,
        outcomes,
        seconds: t0.elapsed().as_secs_f64(),
        design: design.clone(),
    })
}

/// Pairs a check expects in all when `k` are done and `open` benches
/// stay open: a sweep of each for what is `left` of the budget, and at
/// least the first look's pairs of each.
fn expected_pairs(
    k: usize,
    open: &[&str],
    done: &BTreeMap<&str, (usize, f64)>,
    left: f64,
    sweep: f64,
) -> u64 {
    let sweeps = if sweep > 0.0 {
        (left.max(0.0) / sweep).ceil() as usize
    } else {
        0
    };
    let first_look: usize = open
        .iter()
        .map(|id| FIRST_LOOK.saturating_sub(done[id].0))
        .max()
        .unwrap_or(0);
    (k + open.len() * sweeps.max(first_look)) as u64
}

/// Seconds one more pair of each open bench should take: each bench's
/// mean pair so far, else the estimate.
fn sweep_seconds(open: &[&str], done: &BTreeMap<&str, (usize, f64)>, estimate: f64) -> f64 {
    open.iter()
        .map(|id| match done[id] {
            (0, _) => estimate,
            (n, s) => s / n as f64,
        })
        .sum()
}

/// The judge of a check: the core's look at the pooled pairs
/// (`verdict::stopping::look`), or, for pairs that cannot be compared, an
/// open look at the last one.
pub fn judge(design: &Design, base: &Benchmark, head: &Benchmark, last: bool) -> Option<Stop> {
    {
        let rounds = paired_rounds(base, head)?;
        let adjusted = adjusted_rounds(base, head);
        let adjusted: Option<Vec<Option<&[f64]>>> = adjusted
            .as_ref()
            .map(|a| a.iter().map(Option::as_deref).collect());
        match stopping::look(design, &rounds, adjusted.as_deref(), last)? {
            Ok(look) => Some(look.stop),
            Err(_) if last => Some(Stop::Open),
            Err(_) => None,
        }
    }
}

/// Measures `ids` of a check sequentially within `config`'s budget (a
/// quarter with `quick`), with `design` (a confirmation keeps the first
/// measurement's) or the config's.
pub fn measure_check(
    config: &Config,
    pairs: &LockstepPairs,
    ids: &[String],
    quick: bool,
    design: Option<&Design>,
) -> Result<Measured> {
    let budget = Duration::from_secs_f64(config.budget_secs(quick));
    let design = design.cloned().unwrap_or_else(|| config.design());
    measure(pairs, ids, &design, budget, &judge)
}

impl Measured {
    /// "4-32 pairs per bench (212 in all), 96 s of a 120 s budget".
    pub fn describe(&self, budget: f64) -> String {
        let counts: Vec<usize> = self.outcomes.values().map(|o| o.pairs).collect();
        let (lo, hi) = (
            counts.iter().min().copied().unwrap_or(0),
            counts.iter().max().copied().unwrap_or(0),
        );
        let range = if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo}-{hi}")
        };
        format!(
            "{range} pair(s) per bench ({} in all), {:.0} s of a {budget:.0} s budget",
            counts.iter().sum::<usize>(),
            self.seconds
        )
    }
}
