//! Whether a pair of sample sizes can ever give a significant result.

use serde::Serialize;

/// The smallest two-sided p-value the exact Mann-Whitney test can give for
/// samples of `n1` and `n2` values: `2 / C(n1 + n2, n1)`, capped at 1.
///
/// Why it matters: the exact test's most extreme outcome (every new value
/// above every old one) has probability `1 / C(n1 + n2, n1)` under the null,
/// so no data can give a smaller p-value. With 3 vs 3 it is 0.1: a gate at
/// alpha 0.05 would pass every regression, however large, and must say so.
/// 1.0 when either sample is empty.
pub fn min_p_value(n1: usize, n2: usize) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    (2.0 / binomial(n1 + n2, n1.min(n2))).min(1.0)
}

/// `C(n, k)` in floating point (exact up to 2^53, +inf on overflow, which
/// makes `min_p_value` 0, the right limit).
fn binomial(n: usize, k: usize) -> f64 {
    (1..=k).fold(1.0, |acc, i| acc * (n - k + i) as f64 / i as f64)
}

/// The smallest equal number of samples per side for which the exact
/// two-sided Mann-Whitney test can reach `p <= alpha`: 4 for alpha 0.05
/// (`2/70 = 0.029`; 3 per side gives at best 0.1), 5 for 0.01, 6 for 0.005.
///
/// When many benchmarks are tested at once, Holm's correction compares the
/// smallest p-value with `alpha / m`: pass that to learn what a family of
/// `m` benchmarks needs.
///
/// # Panics
/// If `alpha` is not a number greater than 0 (it comes from validated
/// configuration). An `alpha >= 1` gives 1.
pub fn min_samples_needed(alpha: f64) -> usize {
    assert!(alpha > 0.0, "alpha must be greater than 0, got {alpha}");
    (1..)
        .find(|&n| min_p_value(n, n) <= alpha)
        .expect("C(2n, n) grows without bound")
}

/// Whether significance at `alpha` is reachable with `n_old` and `n_new`
/// samples, and what to do if not. See [`significance_reachable`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reachability {
    /// True when `min_p_value <= alpha`.
    pub reachable: bool,
    /// The smallest p-value these sizes can ever give ([`min_p_value`]).
    pub min_p_value: f64,
    /// The significance level asked about.
    pub alpha: f64,
    /// Samples in the old (baseline) set.
    pub n_old: usize,
    /// Samples in the new set.
    pub n_new: usize,
    /// The smallest equal number of samples per side that can reach `alpha`
    /// ([`min_samples_needed`]).
    pub needed_per_side: usize,
    /// Keeping the `n_old` baseline samples as they are, the smallest number
    /// of new samples that can reach `alpha`; `None` when there is no
    /// baseline sample or more than 1,000,000 would be needed.
    pub needed_new_with_old: Option<usize>,
    /// One sentence for the user: what was found and what to do.
    pub message: String,
}

/// Says whether comparing `n_old` baseline samples with `n_new` new ones can
/// ever be significant at `alpha` with the Mann-Whitney test, and if not, how
/// many samples to take, in words a user can act on.
///
/// Why: a gate that cannot reach significance passes every regression
/// silently. The design requires that this be loud. The bound is the exact
/// test's ([`min_p_value`]); the normal approximation used with ties can
/// print smaller p-values for tiny samples, but those are artefacts of the
/// approximation, not evidence, so the exact bound is the one to trust.
///
/// # Panics
/// If `alpha` is not greater than 0, as [`min_samples_needed`].
pub fn significance_reachable(n_old: usize, n_new: usize, alpha: f64) -> Reachability {
    let min_p = min_p_value(n_old, n_new);
    let reachable = min_p <= alpha;
    let needed_per_side = min_samples_needed(alpha);
    let needed_new_with_old = if n_old == 0 {
        None
    } else {
        (1..=1_000_000).find(|&k| min_p_value(n_old, k) <= alpha)
    };
    let message = if reachable {
        format!(
            "{n_old} old and {n_new} new samples can reach significance at alpha {alpha} \
             (smallest possible p-value {min_p:.3e})"
        )
    } else if n_old == 0 || n_new == 0 {
        format!(
            "cannot test: the {} sample is empty; take at least {needed_per_side} samples \
             per side (Go: -count {needed_per_side}; criterion: sample_size)",
            if n_old == 0 { "old (baseline)" } else { "new" }
        )
    } else {
        let keep_old = match needed_new_with_old {
            Some(k) => format!(", or keep the {n_old} old samples and take at least {k} new ones"),
            None => String::new(),
        };
        format!(
            "too few samples to ever reach significance at alpha {alpha}: with {n_old} old and \
             {n_new} new samples the smallest p-value the Mann-Whitney test can give is \
             {min_p:.3}, so any regression would pass; take at least {needed_per_side} samples \
             per side (Go: -count {needed_per_side}; criterion: sample_size){keep_old}"
        )
    };
    Reachability {
        reachable,
        min_p_value: min_p,
        alpha,
        n_old,
        n_new,
        needed_per_side,
        needed_new_with_old,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::mann_whitney;

    // from scipy.special import comb; 2 / comb(n1 + n2, n1)
    //   (3,3) -> 0.1   (4,4) -> 0.02857142857142857   (10,10) -> 1.0825088224469026e-05
    //   (3,5) -> 0.03571428571428571   (1,1) -> 1.0
    #[test]
    fn min_p_value_is_the_exact_extreme() {
        assert!((min_p_value(3, 3) - 0.1).abs() < 1e-15);
        assert!((min_p_value(4, 4) - 0.02857142857142857).abs() < 1e-15);
        assert!((min_p_value(10, 10) / 1.0825088224469026e-05 - 1.0).abs() < 1e-12);
        assert!((min_p_value(3, 5) - 0.03571428571428571).abs() < 1e-15);
        assert_eq!(min_p_value(5, 3), min_p_value(3, 5));
        assert_eq!(min_p_value(1, 1), 1.0);
        assert_eq!(min_p_value(0, 10), 1.0);
        assert_eq!(min_p_value(2000, 2000), 0.0);
        // The test itself reaches the bound on completely separated samples.
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [5.0, 6.0, 7.0, 8.0, 9.0];
        let r = mann_whitney(&x, &y).unwrap();
        assert!((r.p_value - min_p_value(4, 5)).abs() < 1e-15);
    }

    #[test]
    fn min_samples_needed_per_alpha() {
        assert_eq!(min_samples_needed(0.05), 4);
        assert_eq!(min_samples_needed(0.1), 3);
        assert_eq!(min_samples_needed(0.01), 5);
        assert_eq!(min_samples_needed(0.005), 6);
        // Holm over 200 benchmarks: the first step is at 0.05 / 200.
        // 2 / C(16, 8) = 1.55e-4 <= 2.5e-4, 2 / C(14, 7) = 5.8e-4 is not.
        assert_eq!(min_samples_needed(0.05 / 200.0), 8);
        assert_eq!(min_samples_needed(1.0), 1);
    }

    #[test]
    fn too_few_samples_message_says_what_to_do() {
        let r = significance_reachable(3, 3, 0.05);
        assert!(!r.reachable);
        assert_eq!(r.needed_per_side, 4);
        // 2 / C(3 + 5, 3) = 2/56 <= 0.05, 2 / C(7, 3) = 2/35 is not.
        assert_eq!(r.needed_new_with_old, Some(5));
        assert_eq!(
            r.message,
            "too few samples to ever reach significance at alpha 0.05: with 3 old and 3 new \
             samples the smallest p-value the Mann-Whitney test can give is 0.100, so any \
             regression would pass; take at least 4 samples per side (Go: -count 4; criterion: \
             sample_size), or keep the 3 old samples and take at least 5 new ones"
        );
        let r = significance_reachable(4, 4, 0.05);
        assert!(r.reachable, "{}", r.message);
        assert!(r.message.contains("can reach significance"));
        let r = significance_reachable(0, 10, 0.05);
        assert!(!r.reachable);
        assert_eq!(r.needed_new_with_old, None);
        assert!(
            r.message.contains("old (baseline) sample is empty"),
            "{}",
            r.message
        );
        // 1 old sample: the new side must make up for it: 2 / (1 + k) <= 0.05.
        assert_eq!(
            significance_reachable(1, 5, 0.05).needed_new_with_old,
            Some(39)
        );
    }
}
