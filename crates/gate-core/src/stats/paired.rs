//! Paired samples: the statistics of lockstep runs (`gate check --base`).
//!
//! A lockstep pair gives, per sample index, `d_i = ln(head_i / base_i)`:
//! two samples taken back to back, so the machine's drift cancels in `d_i`.
//! A check has `R` such pairs of processes ("rounds"), each with `S`
//! samples. Two questions, two methods:
//!
//! - *whether* head and base differ: the Wilcoxon signed-rank test on the
//!   `d_i` of the rounds the pool keeps ([`signed_rank`] on
//!   [`PooledShift::kept_differences`]): the paired analogue of
//!   Mann-Whitney, rank based (an outlier sample counts as one rank),
//!   exact for small samples without ties, normal approximation with tie
//!   correction otherwise;
//! - *by how much*: each round's median of `d_i` with the variance of that
//!   median (from its distribution-free order-statistic interval), pooled
//!   across rounds with the DerSimonian-Laird random-effects model
//!   ([`pooled_shift`]). Why: a round is one pair of processes, and two
//!   processes can differ by more than their samples show (page placement,
//!   the host core); the random-effects model estimates that extra
//!   between-round variance `tau^2` from the rounds themselves and widens
//!   the interval by it, and gives a noisy round (a burst of the
//!   neighbour's load) less weight instead of letting it move the centre.
//!   `tau^2` rests on a few rounds only, so the interval uses Student's t
//!   with Welch-Satterthwaite degrees of freedom: near normal when the
//!   rounds agree, near `R - 1` degrees of freedom when `tau^2` dominates.
//!   A lone outlier round (at most one in four on each side) is left out
//!   of the pool first (`lone_outliers`).

use anyhow::{Result, bail};
use statrs::distribution::{ContinuousCDF, Normal};

use super::{check_sample, median_ci};

/// The result of a Wilcoxon signed-rank test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignedRank {
    /// Sum of the ranks of the positive differences.
    pub w_plus: f64,
    /// Non-zero differences ranked.
    pub n: usize,
    /// Two-sided p-value.
    pub p_value: f64,
    /// True when the exact null distribution was used.
    pub exact: bool,
}

/// Largest `n` for which the exact null distribution is enumerated.
const EXACT_MAX: usize = 50;

/// Wilcoxon signed-rank test of `d` against a centre of 0 (two-sided).
/// Zeros are dropped (Wilcoxon's convention); tied magnitudes get average
/// ranks and the normal approximation with tie and continuity correction.
pub fn signed_rank(d: &[f64]) -> Result<SignedRank> {
    check_sample("paired difference", d)?;
    let mut nz: Vec<f64> = d.iter().copied().filter(|x| *x != 0.0).collect();
    let n = nz.len();
    if n == 0 {
        return Ok(SignedRank {
            w_plus: 0.0,
            n: 0,
            p_value: 1.0,
            exact: true,
        });
    }
    nz.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    let mut ranks = vec![0.0; n];
    let mut ties = false;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && nz[j + 1].abs() == nz[i].abs() {
            j += 1;
        }
        let avg = (i + j + 2) as f64 / 2.0;
        for r in ranks.iter_mut().take(j + 1).skip(i) {
            *r = avg;
        }
        let t = (j - i + 1) as f64;
        if t > 1.0 {
            ties = true;
            tie_term += t * t * t - t;
        }
        i = j + 1;
    }
    let w_plus: f64 = nz
        .iter()
        .zip(&ranks)
        .filter(|(x, _)| **x > 0.0)
        .map(|(_, r)| r)
        .sum();
    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    if !ties && n <= EXACT_MAX {
        // counts[s] = number of subsets of {1..n} with rank sum s.
        let max = n * (n + 1) / 2;
        let mut counts = vec![0f64; max + 1];
        counts[0] = 1.0;
        for k in 1..=n {
            for s in (k..=max).rev() {
                counts[s] += counts[s - k];
            }
        }
        let total = 2f64.powi(n as i32);
        let w = w_plus.round() as usize;
        let lower: f64 = counts[..=w.min(max)].iter().sum::<f64>() / total;
        let upper: f64 = counts[w.min(max)..].iter().sum::<f64>() / total;
        return Ok(SignedRank {
            w_plus,
            n,
            p_value: (2.0 * lower.min(upper)).min(1.0),
            exact: true,
        });
    }
    let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term / 48.0;
    let p_value = if var <= 0.0 {
        1.0
    } else {
        let dev = (w_plus - mean).abs() - 0.5;
        let z = dev.max(0.0) / var.sqrt();
        (2.0 * (1.0 - Normal::standard().cdf(z))).min(1.0)
    };
    Ok(SignedRank {
        w_plus,
        n,
        p_value,
        exact: false,
    })
}

/// A round is set aside as a lone outlier when its median lies more than
/// this many robust standard deviations from the median of the rounds.
const OUTLIER_SDS: f64 = 5.0;
/// At most one round in this many is set aside on each side of the median.
/// One in four, not one in eight: `gate power` on one host found such pairs at about one in ten (2 of 18 pairs
/// of `keycache/write_same_key/sequential`, one process 13% and 34% slow),
/// so a 16-pair check holds three or more of them one time in five, which
/// one in eight (two) could not set aside: 2.9% false alarms there; with one
/// in four, none in 1,000 checks, and no bench lost power.
///
/// Per side, not in all: the slow process is the base
/// one as often as the head one, so such pairs fall on both sides; a
/// 10-pair check holding three of them (7% of checks when one pair in ten
/// is one) had none set aside under a cap of two in all, and its interval
/// took the pairs' spread both ways and missed a 5% slowdown: 18-20% min
/// detectable on two quiet key-cache ids in `gate power`. A
/// change that slows some processes and not others puts its far pairs on
/// one side, so counting per side keeps that the pattern it was.
const OUTLIER_SHARE: usize = 4;

/// The rounds that [`pooled_shift`] sets aside: *lone* outliers, whose
/// median `m_j` lies more than 5 robust standard deviations from the median
/// of all `m`, when at most one round in four is that far on its side (above
/// or below the median, counted apart: see `OUTLIER_SHARE`). A round's
/// standard deviation here is `sqrt(s^2 + v_j)`: the spread between rounds
/// `s = 1.4826 MAD(m)` (at least the typical within-round standard error
/// `sqrt(median(v))`, so that rounds that agree closely do not make ordinary
/// noise look like an outlier) plus the round's own variance `v_j` (a round
/// with noisy samples is far only if it is far beyond its own noise).
///
/// Why: measured with `gate power`, about one lockstep pair in 16 has a
/// process that runs 10-25% slower (once 12x) than its peer for its whole
/// life, sample after sample, while the other pairs agree within 1-2%; the
/// same happens in A/A pairs of one executable, so it is the process's
/// placement on the machine, not the code. The random-effects model takes
/// such a pair as evidence of a large between-pair variance and widens the
/// interval of every check that contains one, so a 5% slowdown went unseen.
/// Setting it aside keeps the pool's efficiency for the others. Only lone
/// ones are: when more rounds are that far than may be set aside (a change
/// that slows down some processes and not others), none is, and the
/// random-effects interval widens for all of them.
fn lone_outliers(m: &[f64], v: &[f64]) -> Vec<bool> {
    let k = m.len();
    let mut out = vec![false; k];
    let cap = k / OUTLIER_SHARE;
    if cap == 0 {
        return out;
    }
    let centre = super::median(m).expect("non-empty");
    let deviations: Vec<f64> = m.iter().map(|x| (x - centre).abs()).collect();
    let mad = super::median(&deviations).expect("non-empty");
    let within = super::median(v).expect("non-empty").sqrt();
    let spread = (1.4826 * mad).max(within);
    let far: Vec<usize> = (0..k)
        .filter(|&j| deviations[j] > OUTLIER_SDS * (spread * spread + v[j]).sqrt())
        .collect();
    // More far rounds on one side than may be set aside: a pattern, not
    // lone outliers, and that side's are kept.
    for above in [true, false] {
        let side: Vec<usize> = far
            .iter()
            .copied()
            .filter(|&j| (m[j] > centre) == above)
            .collect();
        if side.len() <= cap {
            for j in side {
                out[j] = true;
            }
        }
    }
    out
}

/// The pooled log shift of several rounds of paired differences.
#[derive(Debug, Clone, PartialEq)]
pub struct PooledShift {
    /// Random-effects estimate of the log ratio head/base.
    pub centre: f64,
    /// Its confidence interval (log units).
    pub lower: f64,
    pub upper: f64,
    /// Between-round standard deviation (log units, DerSimonian-Laird).
    pub tau: f64,
    /// Each round's median.
    pub round_medians: Vec<f64>,
    /// Rounds left out of the pool as lone outliers (see `lone_outliers`).
    pub set_aside: usize,
    /// Per round, whether it was left out (`set_aside` of them are).
    pub aside: Vec<bool>,
}

impl PooledShift {
    /// The differences of the rounds kept in the pool, all in one sample:
    /// what the signed-rank test of a check ranks.
    ///
    /// Why not every round's: a lone outlier round is a whole process off
    /// by 10-50% (`lone_outliers`), so its `S` differences take the `S`
    /// largest ranks and outweigh the rest of the check: `gate power`
    /// measured that one such pair among 10, on the base
    /// side, kept a 5% slowdown of a quiet key-cache id from significance
    /// in nearly every check holding it (20% min detectable against 3%).
    /// The interval already leaves such a round out; the test leaves out
    /// the same one, so that both judge the same pairs.
    pub fn kept_differences<R: AsRef<[f64]>>(&self, rounds: &[R]) -> Vec<f64> {
        rounds
            .iter()
            .zip(&self.aside)
            .filter(|(_, a)| !**a)
            .flat_map(|(r, _)| r.as_ref().iter().copied())
            .collect()
    }
}

/// Pools the rounds' medians of paired log differences with the
/// DerSimonian-Laird random-effects model and a normal interval at
/// `confidence`. Each round's variance comes from its order-statistic
/// interval of the median (`(upper - lower) / (2 z)` at that interval's
/// exact coverage), so it needs no assumption about the shape of the
/// differences. With one round, `tau` cannot be estimated and is 0.
/// Lone outlier rounds are left out first (`lone_outliers`; counted in
/// `set_aside`, while `round_medians` keeps every round).
pub fn pooled_shift<R: AsRef<[f64]>>(rounds: &[R], confidence: f64) -> Result<PooledShift> {
    if rounds.is_empty() {
        bail!("no paired rounds");
    }
    let normal = Normal::standard();
    let mut m = Vec::with_capacity(rounds.len());
    let mut v = Vec::with_capacity(rounds.len());
    for (j, r) in rounds.iter().enumerate() {
        let r = r.as_ref();
        check_sample(&format!("round {} paired difference", j + 1), r)?;
        if r.len() < 6 {
            bail!(
                "round {} has {} paired samples; at least 6 are needed for an interval of its median",
                j + 1,
                r.len()
            );
        }
        let ci = median_ci(r, 0.95).expect("non-empty");
        let z = normal.inverse_cdf(0.5 + ci.coverage / 2.0);
        let se = ((ci.upper - ci.lower) / (2.0 * z)).max(1e-9);
        m.push(ci.median);
        v.push(se * se);
    }
    let round_medians = m.clone();
    let aside = lone_outliers(&m, &v);
    let set_aside = aside.iter().filter(|a| **a).count();
    let (m, v): (Vec<f64>, Vec<f64>) = m
        .iter()
        .zip(&v)
        .zip(&aside)
        .filter(|(_, a)| !**a)
        .map(|((m, v), _)| (*m, *v))
        .unzip();
    let w: Vec<f64> = v.iter().map(|x| 1.0 / x).collect();
    let sw: f64 = w.iter().sum();
    let fixed = w.iter().zip(&m).map(|(w, m)| w * m).sum::<f64>() / sw;
    let k = m.len() as f64;
    let tau2 = if m.len() > 1 {
        let q: f64 = w.iter().zip(&m).map(|(w, m)| w * (m - fixed).powi(2)).sum();
        let c = sw - w.iter().map(|w| w * w).sum::<f64>() / sw;
        ((q - (k - 1.0)) / c).max(0.0)
    } else {
        0.0
    };
    let ws: Vec<f64> = v.iter().map(|x| 1.0 / (x + tau2)).collect();
    let sws: f64 = ws.iter().sum();
    let centre = ws.iter().zip(&m).map(|(w, m)| w * m).sum::<f64>() / sws;
    let level = 0.5 + confidence.clamp(0.0, 0.999_999) / 2.0;
    let se = (1.0 / sws).sqrt();
    // Student's t with Welch-Satterthwaite degrees of freedom: the variance
    // of the centre is (within + tau^2) / k, where the within part rests on
    // each pair's samples (n - 1 degrees of freedom) and tau^2 on only k
    // pairs (k - 1). When the pairs agree (tau^2 near 0) this is close to a
    // normal interval; when they disagree it tends to t with k - 1 degrees
    // of freedom, because tau^2 from four pairs is itself uncertain: a
    // normal interval there is too narrow (`gate power` measured 2-4% false
    // alarms on the parallel secret benches with it, against a 1% target).
    let within = v.iter().sum::<f64>() / k;
    let df_within = rounds
        .iter()
        .map(|r| r.as_ref().len())
        .min()
        .unwrap_or(2)
        .saturating_sub(1)
        .max(1) as f64;
    let df = if m.len() > 1 {
        (within + tau2).powi(2) / (tau2 * tau2 / (k - 1.0) + within * within / df_within)
    } else {
        df_within
    };
    let crit = statrs::distribution::StudentsT::new(0.0, 1.0, df.max(1.0))
        .map_err(|e| anyhow::anyhow!("t distribution with {df} degrees of freedom: {e}"))?
        .inverse_cdf(level);
    Ok(PooledShift {
        centre,
        lower: centre - crit * se,
        upper: centre + crit * se,
        tau: tau2.sqrt(),
        round_medians,
        set_aside,
        aside,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A round of `n` differences spread evenly (pseudo-randomly ordered)
    /// over `centre ± width / 2`.
    fn spread_round(centre: f64, seed: u64, n: u64, width: f64) -> Vec<f64> {
        (0..n)
            .map(|i| centre + width * (((i * 2654435761 + seed) % 1000) as f64 / 1000.0 - 0.5))
            .collect()
    }

    #[test]
    fn signed_rank_matches_scipy() {
        // R's `wilcox.test(x, y, paired = TRUE)` example (Hollander & Wolfe's
        // depression scores: V = 40, p-value = 0.03906), with 3.14 written
        // 3.15 (the ranks are unchanged); enumerating all 2^9 sign patterns
        // gives the same exact p = 0.0390625.
        let x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
        let y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.15, 1.29];
        let d: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
        let t = signed_rank(&d).unwrap();
        assert!(t.exact);
        assert_eq!(t.w_plus, 40.0);
        assert!((t.p_value - 0.0390625).abs() < 1e-12, "{}", t.p_value);
    }

    #[test]
    fn signed_rank_of_a_symmetric_sample_is_not_significant() {
        let d: Vec<f64> = (1..=40)
            .map(|i| if i % 2 == 0 { i as f64 } else { -(i as f64) })
            .collect();
        assert!(signed_rank(&d).unwrap().p_value > 0.5);
        let shifted: Vec<f64> = d.iter().map(|x| x + 30.0).collect();
        assert!(signed_rank(&shifted).unwrap().p_value < 1e-6);
    }

    #[test]
    fn pooled_shift_finds_the_shift_and_widens_for_rounds_that_disagree() {
        let round = |c: f64, seed: u64| spread_round(c, seed, 30, 0.01);
        let agree: Vec<Vec<f64>> = (0..4).map(|j| round(0.05, j)).collect();
        let a = pooled_shift(&agree, 0.95).unwrap();
        assert!((a.centre - 0.05).abs() < 0.002, "{a:?}");
        assert!(a.lower > 0.04 && a.upper < 0.06, "{a:?}");
        let disagree: Vec<Vec<f64>> = [0.0, 0.1, 0.02, 0.08]
            .iter()
            .enumerate()
            .map(|(j, c)| round(*c, j as u64))
            .collect();
        let b = pooled_shift(&disagree, 0.95).unwrap();
        assert!(b.tau > 0.02, "{b:?}");
        assert!(b.upper - b.lower > 5.0 * (a.upper - a.lower), "{a:?} {b:?}");
    }

    /// One pair of eight far off (a process 25% slow for its whole run) is
    /// left out, and the interval is that of the other seven; two of eight
    /// are too (at most one in four); a shift that three of eight share is
    /// not left out.
    #[test]
    fn a_lone_outlier_pair_is_left_out_and_a_shared_shift_is_not() {
        // One pair per centre, 20 samples each.
        let rounds_of = |centres: &[f64]| -> Vec<Vec<f64>> {
            centres
                .iter()
                .enumerate()
                .map(|(j, c)| spread_round(*c, j as u64, 20, 0.02))
                .collect()
        };
        let centres = [0.001, -0.004, 0.003, 0.0, -0.002, 0.004, -0.001, 0.25];
        let rounds = rounds_of(&centres);
        let with = pooled_shift(&rounds, 0.95).unwrap();
        assert_eq!(with.set_aside, 1, "{with:?}");
        let clean = pooled_shift(&rounds[..7], 0.95).unwrap();
        assert_eq!(clean.set_aside, 0);
        assert!(
            (with.lower - clean.lower).abs() < 1e-12,
            "{with:?} {clean:?}"
        );
        assert!(with.upper - with.lower < 0.02, "{with:?}");
        assert_eq!(with.round_medians.len(), 8);

        // Two of eight far off, one each way: both left out.
        let mut two = centres;
        two[3] = -0.3;
        let both = pooled_shift(&rounds_of(&two), 0.95).unwrap();
        assert_eq!(both.set_aside, 2, "{both:?}");
        assert!(both.upper - both.lower < 0.02, "{both:?}");

        // Three of eight pairs 25% slow: not lone, all kept, the interval wide.
        let mut shared = centres;
        shared[5] = 0.25;
        shared[6] = 0.25;
        let s = pooled_shift(&rounds_of(&shared), 0.95).unwrap();
        assert_eq!(s.set_aside, 0, "{s:?}");
        assert!(s.upper - s.lower > 0.1, "{s:?}");

        // Three of eight far off, two one way and one the other: each side
        // holds at most its cap (two), so all three are lone and left out.
        // Under a cap of two in all none was.
        let mut mixed = centres;
        mixed[5] = 0.3;
        mixed[3] = -0.25;
        let m = pooled_shift(&rounds_of(&mixed), 0.95).unwrap();
        assert_eq!(m.set_aside, 3, "{m:?}");
        assert_eq!(
            m.aside,
            vec![false, false, false, true, false, true, false, true]
        );
        assert!(m.upper - m.lower < 0.02, "{m:?}");
        // Of 16 pairs, five slow ones above (more than the cap of four) and
        // one below: the five stay (a pattern), the lone one below is left
        // out.
        let mut pattern: Vec<f64> = centres[..7].iter().chain(&centres[..5]).copied().collect();
        pattern[3] = -0.3;
        pattern.extend([0.25; 4]);
        pattern[8] = 0.25;
        let p = pooled_shift(&rounds_of(&pattern), 0.95).unwrap();
        assert_eq!(p.set_aside, 1, "{p:?}");
        assert!(p.aside[3], "{p:?}");
        assert!(p.upper - p.lower > 0.1, "{p:?}");
    }

    #[test]
    fn too_short_rounds_are_refused() {
        assert!(pooled_shift(&[vec![0.1, 0.2, 0.3]], 0.95).is_err());
        assert!(pooled_shift::<Vec<f64>>(&[], 0.95).is_err());
    }
}
