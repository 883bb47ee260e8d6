//! The median and its distribution-free confidence interval.

use serde::Serialize;
use statrs::distribution::{Binomial, DiscreteCDF};

/// The median of `samples`: the middle value, or the mean of the two middle
/// values when the count is even. `None` for an empty slice.
///
/// Why the median and not the mean: benchmark times are skewed to the right
/// with rare large outliers (preemption, page faults); one outlier moves the
/// mean of 100 samples by 1% of its size, and cannot move the median by more
/// than one rank.
///
/// Uses selection (`select_nth_unstable_by`, linear time) on a copy, not a
/// full sort. NaN sorts above every number (`f64::total_cmp`); callers that
/// must reject NaN check first.
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut buf = samples.to_vec();
    Some(median_in_place(&mut buf))
}

/// Median of a non-empty buffer, reordering it. Shared with the bootstrap.
pub(crate) fn median_in_place(buf: &mut [f64]) -> f64 {
    let n = buf.len();
    let mid = n / 2;
    let (left, upper, _) = buf.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        // After selection every element left of `mid` is <= the one at `mid`,
        // so the other middle value is the largest of the left part.
        let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// A confidence interval of the median made of two order statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MedianCi {
    /// The sample median.
    pub median: f64,
    /// The `lower_rank`-th smallest sample.
    pub lower: f64,
    /// The `upper_rank`-th smallest sample.
    pub upper: f64,
    /// 1-based rank of `lower` in the sorted sample.
    pub lower_rank: usize,
    /// 1-based rank of `upper` in the sorted sample (`n + 1 - lower_rank`).
    pub upper_rank: usize,
    /// The confidence that was asked for, e.g. 0.95.
    pub requested: f64,
    /// The exact coverage of `[lower, upper]` for any continuous
    /// distribution: `1 - 2 P(B <= lower_rank - 1)`, `B ~ Binomial(n, 1/2)`.
    /// At least `requested` when `reached` is true.
    pub coverage: f64,
    /// False when `n` is too small for any pair of order statistics to give
    /// the requested confidence. The interval is then `[min, max]`, the
    /// widest there is, and `coverage` says what it actually gives.
    pub reached: bool,
}

/// A distribution-free confidence interval of the median from order
/// statistics: `[X(l), X(n+1-l)]` with the largest `l` whose exact coverage is
/// still at least `confidence`. `None` for an empty sample.
///
/// Why this method: the number of samples below the true median is
/// Binomial(n, 1/2) whatever the distribution of the times, so the coverage
/// is exact, not asymptotic, and needs no assumption about skew or outliers
/// (unlike `median +- z * se`). Coverage is discrete, so it is the smallest
/// achievable coverage that is `>= confidence`, not `confidence` itself.
///
/// When `n` is too small (`2 * 0.5^n > 1 - confidence`, e.g. n <= 5 at 95%),
/// returns `[min, max]` with `reached = false` and the coverage it has.
/// `confidence` is clamped to `[0, 1]`.
pub fn median_ci(samples: &[f64], confidence: f64) -> Option<MedianCi> {
    let n = samples.len();
    if n == 0 {
        return None;
    }
    let confidence = confidence.clamp(0.0, 1.0);
    let mut sorted = samples.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let med = median_in_place(&mut sorted.clone());
    let (l, coverage) = median_ci_rank(n, confidence);
    let u = n + 1 - l;
    Some(MedianCi {
        median: med,
        lower: sorted[l - 1],
        upper: sorted[u - 1],
        lower_rank: l,
        upper_rank: u,
        requested: confidence,
        coverage,
        reached: coverage >= confidence,
    })
}

/// The largest 1-based rank `l` (at most `(n + 1) / 2`) such that
/// `[X(l), X(n+1-l)]` covers the median with probability `>= confidence`,
/// and that probability. Falls back to `l = 1` (the full range) when no rank
/// reaches it. `n >= 1`.
pub(crate) fn median_ci_rank(n: usize, confidence: f64) -> (usize, f64) {
    let binom = Binomial::new(0.5, n as u64).expect("p = 0.5 and n >= 0 are valid");
    let coverage = |l: usize| 1.0 - 2.0 * binom.cdf(l as u64 - 1);
    // Coverage falls as l grows; binary search the last l that reaches it.
    let (mut lo, mut hi) = (1usize, n.div_ceil(2));
    if coverage(lo) < confidence {
        return (1, coverage(1).max(0.0));
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if coverage(mid) >= confidence {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    (lo, coverage(lo).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        // An outlier moves the median by at most one rank.
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0, 1e9]), Some(3.0));
        // Even count where the two middle values sit in arbitrary order.
        assert_eq!(median(&[10.0, 1.0, 9.0, 2.0, 8.0, 3.0]), Some(5.5));
    }

    // Reference ranks from scipy (1.x):
    //   from scipy.stats import binom
    //   def rank(n, conf):
    //       a = (1 - conf) / 2
    //       l = max(k + 1 for k in range(n) if binom.cdf(k, n, .5) <= a)
    //       return l, 1 - 2 * binom.cdf(l - 1, n, .5)
    //   rank(10,.95) -> (2, 0.978515625)     rank(20,.95) -> (6, 0.9586105346679688)
    //   rank(100,.95) -> (40, 0.9647997997822951)
    //   rank(100,.99) -> (37, 0.9933628794840739)
    #[test]
    fn median_ci_ranks_match_scipy_binom() {
        let cases = [
            (10, 0.95, 2, 0.978515625),
            (20, 0.95, 6, 0.9586105346679688),
            (100, 0.95, 40, 0.9647997997822951),
            (100, 0.99, 37, 0.9933628794840739),
        ];
        for (n, conf, l, cov) in cases {
            let (got_l, got_cov) = median_ci_rank(n, conf);
            assert_eq!(got_l, l, "n={n} conf={conf}");
            assert!((got_cov - cov).abs() < 1e-9, "n={n}: {got_cov} vs {cov}");
        }
    }

    #[test]
    fn median_ci_picks_order_statistics() {
        // 1..=10 shuffled: the 95% interval is [X(2), X(9)] = [2, 9].
        let x = [5.0, 3.0, 9.0, 1.0, 10.0, 2.0, 8.0, 4.0, 7.0, 6.0];
        let ci = median_ci(&x, 0.95).unwrap();
        assert_eq!((ci.lower, ci.upper), (2.0, 9.0));
        assert_eq!((ci.lower_rank, ci.upper_rank), (2, 9));
        assert_eq!(ci.median, 5.5);
        assert!(ci.reached);
        assert!(ci.coverage >= 0.95);
    }

    #[test]
    fn median_ci_too_few_samples_is_flagged() {
        // n = 5: [min, max] covers with 1 - 2/32 = 0.9375 < 0.95.
        let ci = median_ci(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95).unwrap();
        assert!(!ci.reached);
        assert_eq!((ci.lower, ci.upper), (1.0, 5.0));
        assert!((ci.coverage - 0.9375).abs() < 1e-12);
        // n = 6 reaches it: 1 - 2/64 = 0.96875.
        let ci = median_ci(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.95).unwrap();
        assert!(ci.reached);
        assert!((ci.coverage - 0.96875).abs() < 1e-12);
        // n = 1 gives no interval at all (coverage 0, up to rounding in
        // the regularised incomplete beta function behind the binomial).
        let ci = median_ci(&[1.0], 0.95).unwrap();
        assert!(!ci.reached);
        assert_eq!((ci.lower, ci.upper, ci.median), (1.0, 1.0, 1.0));
        assert!(ci.coverage.abs() < 1e-12);
        assert!(median_ci(&[], 0.95).is_none());
    }
}
