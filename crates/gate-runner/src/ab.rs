//! Same-runner A/B: `gate check --base REF`.
//!
//! Stored baselines were measured on another machine, or on this one at
//! another time; hosted runners differ by 10-20% between machines, so the
//! most trustworthy comparison is base and head built and measured on the
//! same machine, in the same job. Rounds are interleaved (A B A B ...) so
//! that a slow minute of the runner hits both sides alike instead of one.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::git::{self, Worktree};

use crate::lockstep::{self, Adjustment};
use crate::run::{self, RunPlan};
use gate_core::model::{Benchmark, Build, ResultSet};
use gate_core::verdict;

/// Records a run's median in the benchmark's run medians, so that the
/// decision can see how much whole runs differ (see
/// [`gate_core::verdict::RUN_MEDIANS`]).
fn note_run_median(b: &mut gate_core::model::Benchmark, samples: &[f64]) {
    if let Some(m) = gate_core::stats::median(samples) {
        b.metrics
            .entry(gate_core::verdict::RUN_MEDIANS.to_string())
            .or_default()
            .push(m);
    }
}

/// Appends every sample (and per-sample metric) of `from` to the matching
/// benchmark of `into` (or adds the benchmark): rounds pool into one sample
/// per bench, and each round's median is kept in the run medians.
pub fn pool(into: &mut Option<ResultSet>, mut from: ResultSet) {
    for b in &mut from.benchmarks {
        if !b.metrics.contains_key(gate_core::verdict::RUN_MEDIANS) {
            let samples = b.samples.clone();
            note_run_median(b, &samples);
        }
    }
    match into {
        None => *into = Some(from),
        Some(acc) => {
            for b in from.benchmarks {
                match acc
                    .benchmarks
                    .iter_mut()
                    .find(|a| a.lang == b.lang && a.id == b.id && a.threads == b.threads)
                {
                    Some(a) => {
                        note_run_median(a, &b.samples);
                        a.samples.extend(b.samples);
                        // Per-sample metrics (lockstep's paired ratios) follow
                        // their samples; run medians were noted above.
                        for (name, values) in b.metrics {
                            if name != gate_core::verdict::RUN_MEDIANS {
                                a.metrics.entry(name).or_default().extend(values);
                            }
                        }
                        // Counters are deterministic; the latest is as good as any.
                        a.counters = b.counters;
                    }
                    None => acc.benchmarks.push(b),
                }
            }
        }
    }
}

/// The two checkouts' benches, built and listed, and how to pair them.
pub struct LockstepPairs {
    pub base: run::Prepared,
    pub head: run::Prepared,
    pub settings: lockstep::Settings,
    /// The base's checkout: its bench processes run in it, so it lives as
    /// long as the pairs, and is removed with them.
    pub worktree: Worktree,
}

impl LockstepPairs {
    /// A rough duration of one pair, for progress estimates before any ran.
    pub fn pair_estimate(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(
            2.0 * (self.settings.warm_up_ms
                + self.settings.samples as f64 * self.settings.sample_ms)
                / 1e3
                + 0.3,
        )
    }

    /// One lockstep pair of `id`, the `index`-th of the id (pair 0 runs the
    /// counting pass), base first or head first: both sides' benchmarks,
    /// each carrying the pair's paired log ratios (and the adjusted ones
    /// when the bench counts an event and the adjustment applies).
    pub fn measure_pair(
        &self,
        id: &str,
        index: u32,
        base_first: bool,
    ) -> Result<(Benchmark, Benchmark)> {
        let pair = lockstep::run_pair(
            &self.base,
            &self.head,
            id,
            base_first,
            index == 0,
            &self.settings,
        )?;
        let ratios = pair.log_ratios();
        // Adjusted ratios only for a pair the adjustment applied to, with
        // their own round index (empty for the others, so the row still
        // knows the bench counts one).
        let adjusted = match pair.adjusted_log_ratios() {
            Adjustment::Uncounted => None,
            _ if !self.settings.for_id(id).adjust => None,
            Adjustment::NotApplied => Some(Vec::new()),
            Adjustment::Applied(a) => Some(a),
        };
        let rounds = vec![index as f64; ratios.len()];
        let mark = |mut b: Benchmark| {
            b.metrics
                .insert(verdict::PAIRED_LOG_RATIO.to_string(), ratios.clone());
            if let Some(a) = &adjusted {
                b.metrics
                    .insert(verdict::PAIRED_LOG_RATIO_ADJUSTED.to_string(), a.clone());
                b.metrics.insert(
                    verdict::PAIRED_ROUND_ADJUSTED.to_string(),
                    vec![index as f64; a.len()],
                );
            }
            b.metrics
                .insert(verdict::PAIRED_ROUND.to_string(), rounds.clone());
            b
        };
        Ok((mark(pair.base), mark(pair.head)))
    }

    /// The pooled pairs as (base, head) result sets with this machine's
    /// environment.
    pub fn sets(&self, pooled: Pooled) -> (ResultSet, ResultSet) {
        let set = |pooled: Option<ResultSet>, plan: &RunPlan| {
            let mut set = pooled.unwrap_or_default();
            set.environment = crate::env::detect();
            set.environment.features = plan.effective_features();
            set
        };
        (
            set(pooled.base, self.base.plan()),
            set(pooled.head, self.head.plan()),
        )
    }
}

/// Lockstep pairs pooled per id and side: every pair's samples, each pair's
/// median in the run medians, and the paired ratios in order.
#[derive(Debug, Default)]
pub struct Pooled {
    base: Option<ResultSet>,
    head: Option<ResultSet>,
}

impl Pooled {
    /// Adds one pair (base, head) of [`LockstepPairs::measure_pair`].
    pub fn add(&mut self, (base, head): (Benchmark, Benchmark)) {
        for (side, b) in [(&mut self.base, base), (&mut self.head, head)] {
            pool(
                side,
                ResultSet {
                    benchmarks: vec![b],
                    ..ResultSet::default()
                },
            );
        }
    }

    /// Both sides of `id` pooled so far.
    pub fn get(&self, id: &str) -> Option<(&Benchmark, &Benchmark)> {
        fn find<'a>(s: &'a Option<ResultSet>, id: &str) -> Option<&'a Benchmark> {
            s.as_ref()?.benchmarks.iter().find(|b| b.id == id)
        }
        Some((find(&self.base, id)?, find(&self.head, id)?))
    }
}

/// How many of an id's `pairs` run in round `round` of `rounds`: spread
/// evenly, the first ones from round 0, `pairs` in all.
pub fn in_round(pairs: u32, round: u32, rounds: u32) -> u32 {
    let upto = |r: u32| (pairs as u64 * r as u64).div_ceil(rounds.max(1) as u64) as u32;
    upto(round + 1) - upto(round)
}

/// What `prepared` ran: the commit of `workspace` (or `commit` when given)
/// and the digest of each bench executable.
pub fn build_of(prepared: &run::Prepared, commit: Option<&str>, reference: Option<&str>) -> Build {
    let (commit, dirty) = match commit {
        Some(c) => (Some(c.to_string()), false),
        None => match git::head_state(&prepared.plan().workspace) {
            Some((c, dirty)) => (Some(c), dirty),
            None => (None, false),
        },
    };
    Build {
        reference: reference.map(str::to_string),
        commit,
        dirty,
        executables: prepared.fingerprints(),
    }
}

/// Base and head of `--base REF`, built and listed, ready to be measured
/// in lockstep pairs.
pub struct Ab {
    pub pairs: LockstepPairs,
    /// The base's full commit id.
    pub commit: String,
    /// The ids both sides offer.
    pub ids: Vec<String>,
    /// What each side runs: `head` and `base`.
    pub builds: [Build; 2],
}

/// Checks REF out in a fresh git worktree and builds and lists both sides.
pub fn prepare(head_plan: &RunPlan, reference: &str, settings: lockstep::Settings) -> Result<Ab> {
    let head_ws = std::path::absolute(&head_plan.workspace)
        .with_context(|| format!("workspace {}", head_plan.workspace.display()))?;
    let repo = git::toplevel(&head_ws).context("--base needs a git repository")?;
    let Some(commit) = git::resolve(&repo, reference)? else {
        bail!(
            "--base `{reference}`: no such commit in {} (fetch it first, e.g. `git fetch origin {reference}`; \
             in GitHub Actions check out with `fetch-depth: 0`)",
            repo.display()
        );
    };
    let rel = head_ws
        .strip_prefix(&repo)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let head = run::prepare(head_plan)?;
    let target = head.target_dir().to_path_buf();
    let tree = Worktree::add(&repo, &commit, &target.join("gate").join("base"))?;
    eprintln!(
        "gate: base `{reference}` ({}) checked out in {}",
        &commit[..12],
        tree.path().display()
    );

    // The head's target folder, so the dependencies are compiled once; the
    // base's own crates are rebuilt from its sources (`crate::build`).
    let mut base_plan = head_plan.clone();
    base_plan.workspace = tree.path().join(&rel);
    base_plan.target_dir = Some(target.clone());
    base_plan.foreign = true;
    base_plan.criterion_home = target.join("gate").join("base-criterion");
    let base =
        run::prepare(&base_plan).with_context(|| format!("building the base `{reference}`"))?;
    eprintln!(
        "gate: built the head in {:.1} s and the base in {:.1} s",
        head.build_duration().as_secs_f64(),
        base.build_duration().as_secs_f64()
    );
    let builds = [
        build_of(&head, None, None),
        build_of(&base, Some(&commit), Some(reference)),
    ];
    let ids: Vec<String> = head
        .ids()
        .into_iter()
        .filter(|id| base.ids().contains(id))
        .collect();
    if ids.is_empty() {
        bail!("base `{reference}` and head share no bench id: nothing to compare");
    }
    let pairs = LockstepPairs {
        base,
        head,
        settings,
        worktree: tree,
    };
    Ok(Ab {
        pairs,
        commit,
        ids,
        builds,
    })
}

#[cfg(test)]
mod tests {
    use super::in_round;

    /// An id's pairs are spread over the rounds, none lost or added, the
    /// first in round 0 even when it has fewer pairs than rounds.
    #[test]
    fn pairs_are_spread_evenly_over_the_rounds() {
        for (pairs, rounds) in [(8, 8), (24, 8), (12, 8), (3, 8), (1, 8), (5, 2), (7, 1)] {
            let per: Vec<u32> = (0..rounds).map(|r| in_round(pairs, r, rounds)).collect();
            assert_eq!(
                per.iter().sum::<u32>(),
                pairs,
                "{pairs} over {rounds}: {per:?}"
            );
            let (lo, hi) = (per.iter().min().unwrap(), per.iter().max().unwrap());
            assert!(hi - lo <= 1, "{pairs} over {rounds}: {per:?}");
            assert!(per[0] >= 1, "{pairs} over {rounds}: {per:?}");
        }
        assert_eq!(
            (0..8).map(|r| in_round(24, r, 8)).collect::<Vec<_>>(),
            [3; 8]
        );
    }
}
