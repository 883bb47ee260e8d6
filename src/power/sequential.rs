//! `gate power` of the lockstep check as it runs: whole simulated checks
//! of the suite, drawn from the measured A/A pairs, each run by the same
//! procedure as `gate check --base` (`crate::pipeline::sequential`):
//! sweeps of one pair per open bench, a look at the design's looks
//! (`verdict::stopping::look`, the check's own decision), a bench stopped
//! once it decides, the budget going to the benches still open, and a
//! confirmation of every bench that stopped regressed. Each pair keeps the
//! wall time it took when measured, so a simulated check also says how long
//! the real one would take.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use gate_core::config::Config;
use gate_core::sequential::{Design, FIRST_LOOK, Stop};
use gate_core::verdict::stopping;

use super::pairs::IdPairs;
use super::upper_bound;

/// Simulated A/A checks (the false-alarm rate's trials).
pub const AA_CHECKS: usize = 400;
/// Simulated checks per slowdown tried.
pub const SHIFTED_CHECKS: usize = 200;
/// Slowdowns tried (relative), every bench slowed at once.
pub const SLOWDOWNS: [f64; 9] = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15];
/// Detection probability a slowdown needs to count as caught.
pub const DETECTION: f64 = 0.95;

/// One bench's figures under the sequential check.
#[derive(Debug, Clone, Serialize)]
pub struct SeqRow {
    pub id: String,
    /// A/A checks that failed this bench (regressed, confirmed).
    pub false_alarm_rate: f64,
    /// 95% upper bound of that rate (Clopper-Pearson).
    pub false_alarm_upper: f64,
    /// A/A checks that ended this bench undecided.
    pub undecided_rate: f64,
    /// The smallest slowdown tried that failed the bench in at least 95%
    /// of the checks; `None` when none of them did.
    pub min_detectable: Option<f64>,
    /// Pairs an A/A check measured of this bench: median and 95th percentile.
    pub pairs_median: f64,
    pub pairs_p95: f64,
    /// Seconds of its pairs in an A/A check: median and 95th percentile.
    pub seconds_median: f64,
    pub seconds_p95: f64,
}

/// The suite's figures under the sequential check.
#[derive(Debug, Clone, Serialize)]
pub struct SeqSuite {
    pub budget_secs: f64,
    pub aa_checks: usize,
    pub shifted_checks: usize,
    /// Seconds of measurement of a whole A/A check (confirmations
    /// included): median and 95th percentile.
    pub seconds_median: f64,
    pub seconds_p95: f64,
    pub rows: Vec<SeqRow>,
}

/// How one bench ended in one simulated check.
#[derive(Debug, Clone, Copy)]
struct Ended {
    regressed: bool,
    undecided: bool,
    pairs: usize,
    seconds: f64,
}

/// A bench's pairs being drawn in one simulated check.
struct Drawing<'a> {
    source: &'a IdPairs,
    raw: Vec<Vec<f64>>,
    adjusted: Vec<Option<Vec<f64>>>,
    seconds: f64,
    stop: Option<Stop>,
}

impl<'a> Drawing<'a> {
    fn new(source: &'a IdPairs) -> Drawing<'a> {
        Drawing {
            source,
            raw: Vec::new(),
            adjusted: Vec::new(),
            seconds: 0.0,
            stop: None,
        }
    }

    /// Seconds a pair of this bench takes: the mean of those drawn so far,
    /// else of those measured (what the check estimates a sweep from).
    fn mean_drawn_secs(&self) -> f64 {
        if self.raw.is_empty() {
            self.pair_secs()
        } else {
            self.seconds / self.raw.len() as f64
        }
    }

    /// Seconds a pair of this bench takes: the mean of those measured.
    fn pair_secs(&self) -> f64 {
        let s = &self.source.seconds;
        if s.is_empty() {
            1.0
        } else {
            s.iter().sum::<f64>() / s.len() as f64
        }
    }

    /// Draws one measured pair, its sides swapped half the time (A/A pairs
    /// are exchangeable), every ratio moved by `shift` (log units).
    fn draw(&mut self, rng: &mut ChaCha8Rng, shift: f64) {
        let j = rng.random_range(0..self.source.pairs.len());
        let sign = if rng.random_bool(0.5) { -1.0 } else { 1.0 };
        let moved = |v: &Vec<f64>| v.iter().map(|d| sign * d + shift).collect::<Vec<f64>>();
        self.raw.push(moved(&self.source.pairs[j]));
        let adjusted = self.source.adjusted_rounds().and_then(|a| a[j].map(moved));
        self.adjusted.push(adjusted);
        self.seconds += self
            .source
            .seconds
            .get(j)
            .copied()
            .unwrap_or(self.pair_secs());
    }

    /// The check's look at the pairs drawn so far.
    fn look(&self, design: &Design, last: bool) -> Option<Stop> {
        let counts = self.source.adjusted_rounds().is_some();
        let adjusted: Vec<Option<&[f64]>> = self.adjusted.iter().map(Option::as_deref).collect();
        let adjusted = counts.then_some(adjusted.as_slice());
        match stopping::look(design, &self.raw, adjusted, last)? {
            Ok(look) => Some(look.stop),
            Err(_) => last.then_some(Stop::Open),
        }
    }
}

/// One sequential measurement of `benches` (indices into `pairs`) within
/// `budget` seconds, as `pipeline::sequential::measure` runs it, with
/// `design`. Returns each bench's stop, pairs and seconds, and the seconds
/// in all.
fn run_once(
    design: &Design,
    budget: f64,
    pairs: &[IdPairs],
    benches: &[usize],
    shift: f64,
    rng: &mut ChaCha8Rng,
) -> (Vec<(Stop, usize, f64)>, f64) {
    let mut d: Vec<Drawing> = benches.iter().map(|&i| Drawing::new(&pairs[i])).collect();
    let mut t = 0.0;
    while d.iter().any(|b| b.stop.is_none()) {
        let open: Vec<usize> = (0..d.len()).filter(|&i| d[i].stop.is_none()).collect();
        let sweep: f64 = open.iter().map(|&i| d[i].mean_drawn_secs()).sum();
        let out = t + sweep > budget && open.iter().all(|&i| d[i].raw.len() >= FIRST_LOOK);
        if !out {
            for &i in &open {
                let before = d[i].seconds;
                d[i].draw(rng, shift);
                t += d[i].seconds - before;
            }
        }
        for &i in &open {
            let last = out || d[i].raw.len() >= design.most();
            if let Some(stop) = d[i].look(design, last)
                && (stop != Stop::Open || last)
            {
                d[i].stop = Some(stop);
            }
        }
    }
    let ends = d
        .iter()
        .map(|b| (b.stop.unwrap_or(Stop::Open), b.raw.len(), b.seconds))
        .collect();
    (ends, t)
}

/// One simulated check of every bench: the sequential measurement, then
/// the confirmation of the benches that stopped regressed, with the same
/// design.
fn check(
    config: &Config,
    budget: f64,
    pairs: &[IdPairs],
    shift: f64,
    rng: &mut ChaCha8Rng,
) -> (Vec<Ended>, f64) {
    let all: Vec<usize> = (0..pairs.len()).collect();
    let design = config.design();
    let (first, mut t) = run_once(&design, budget, pairs, &all, shift, rng);
    let flagged: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| first[i].0 == Stop::Regressed)
        .collect();
    let mut confirmed = vec![false; pairs.len()];
    if !flagged.is_empty() {
        let (again, t2) = run_once(&design, budget, pairs, &flagged, shift, rng);
        t += t2;
        for (k, &i) in flagged.iter().enumerate() {
            confirmed[i] = again[k].0 == Stop::Regressed;
        }
    }
    let ends = first
        .iter()
        .enumerate()
        .map(|(i, &(stop, n, s))| Ended {
            regressed: confirmed[i],
            undecided: stop == Stop::Open,
            pairs: n,
            seconds: s,
        })
        .collect();
    (ends, t)
}

/// `checks` simulated checks at `shift`, on `threads` threads, seeded.
fn checks(
    config: &Config,
    budget: f64,
    pairs: &[IdPairs],
    shift: f64,
    checks: usize,
    seed: u64,
    threads: usize,
) -> Vec<(Vec<Ended>, f64)> {
    let threads = threads.clamp(1, checks.max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                scope.spawn(move || {
                    (w..checks)
                        .step_by(threads)
                        .map(|c| {
                            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (c as u64) << 20);
                            check(config, budget, pairs, shift.ln_1p(), &mut rng)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a simulation thread panicked"))
            .collect()
    })
}

/// The `q` quantile (0..1) of `values`.
fn quantile(mut values: Vec<f64>, q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let at = ((values.len() - 1) as f64 * q).round() as usize;
    values[at]
}

/// The sequential check's figures on the measured pairs of every bench
/// (those with at least two pairs), `budget` seconds a check.
pub fn simulate(config: &Config, pairs: &[IdPairs], budget: f64, threads: usize) -> SeqSuite {
    let pairs: Vec<IdPairs> = pairs
        .iter()
        .filter(|p| p.pairs.len() >= 2)
        .cloned()
        .collect();
    let seed = 0x5eed_0f5e_u64;
    let aa = checks(config, budget, &pairs, 0.0, AA_CHECKS, seed, threads);
    let shifted: Vec<Vec<(Vec<Ended>, f64)>> = SLOWDOWNS
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            checks(
                config,
                budget,
                &pairs,
                s,
                SHIFTED_CHECKS,
                seed + 1 + k as u64,
                threads,
            )
        })
        .collect();
    let rows = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| row(&p.id, i, &aa, &shifted))
        .collect();
    SeqSuite {
        budget_secs: budget,
        aa_checks: AA_CHECKS,
        shifted_checks: SHIFTED_CHECKS,
        seconds_median: quantile(aa.iter().map(|c| c.1).collect(), 0.5),
        seconds_p95: quantile(aa.iter().map(|c| c.1).collect(), 0.95),
        rows,
    }
}

/// Bench `i`'s figures over the simulated checks.
fn row(id: &str, i: usize, aa: &[(Vec<Ended>, f64)], shifted: &[Vec<(Vec<Ended>, f64)>]) -> SeqRow {
    let ends: Vec<Ended> = aa.iter().map(|c| c.0[i]).collect();
    let alarms = ends.iter().filter(|e| e.regressed).count();
    let undecided = ends.iter().filter(|e| e.undecided).count();
    let min_detectable = SLOWDOWNS.iter().zip(shifted).find_map(|(&s, checks)| {
        let caught = checks.iter().filter(|c| c.0[i].regressed).count();
        (caught as f64 >= DETECTION * checks.len() as f64).then_some(s)
    });
    SeqRow {
        id: id.to_string(),
        false_alarm_rate: alarms as f64 / ends.len() as f64,
        false_alarm_upper: upper_bound(alarms, ends.len(), 0.95),
        undecided_rate: undecided as f64 / ends.len() as f64,
        min_detectable,
        pairs_median: quantile(ends.iter().map(|e| e.pairs as f64).collect(), 0.5),
        pairs_p95: quantile(ends.iter().map(|e| e.pairs as f64).collect(), 0.95),
        seconds_median: quantile(ends.iter().map(|e| e.seconds).collect(), 0.5),
        seconds_p95: quantile(ends.iter().map(|e| e.seconds).collect(), 0.95),
    }
}

/// The table of [`SeqSuite`].
pub fn render(s: &SeqSuite) -> String {
    let mut out = format!(
        "lockstep check (gate check --base) as it runs (sequential, budget {:.0} s; {} A/A checks, {} per slowdown): \
         a whole check measures {:.0} s (median), {:.0} s (95th percentile)\n",
        s.budget_secs, s.aa_checks, s.shifted_checks, s.seconds_median, s.seconds_p95
    );
    out.push_str(&format!(
        "{:<44} {:>14} {:>10} {:>9} {:>9} {:>12}\n",
        "bench", "false alarms", "undecided", "5% seen", "min det.", "pairs (p95)"
    ));
    for r in &s.rows {
        out.push_str(&format!(
            "{:<44} {:>6.1}% [{:>4.1}%] {:>9.1}% {:>9} {:>9} {:>6.0} ({:>3.0})\n",
            r.id,
            r.false_alarm_rate * 100.0,
            r.false_alarm_upper * 100.0,
            r.undecided_rate * 100.0,
            if r.min_detectable.is_some_and(|m| m <= 0.05 + 1e-9) {
                "yes"
            } else {
                "no"
            },
            r.min_detectable
                .map(|m| format!("{:.0}%", m * 100.0))
                .unwrap_or_else(|| "> 15%".into()),
            r.pairs_median,
            r.pairs_p95
        ));
    }
    out
}
