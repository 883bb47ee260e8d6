//! Measuring a change-point method: matching found points to known ones
//! within a margin, the simple threshold rule it is compared with, and
//! synthetic bench histories with known steps.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How many of `truth` are matched by `found` within `margin` indices, one
/// to one (each found point matches at most one known point, the nearest
/// first).
pub fn matched(truth: &[usize], found: &[usize], margin: usize) -> usize {
    let mut pairs: Vec<(usize, usize, usize)> = Vec::new();
    for (i, &t) in truth.iter().enumerate() {
        for (j, &f) in found.iter().enumerate() {
            let d = t.abs_diff(f);
            if d <= margin {
                pairs.push((d, i, j));
            }
        }
    }
    pairs.sort_unstable();
    let mut used_t = vec![false; truth.len()];
    let mut used_f = vec![false; found.len()];
    let mut n = 0;
    for (_, i, j) in pairs {
        if !used_t[i] && !used_f[j] {
            used_t[i] = true;
            used_f[j] = true;
            n += 1;
        }
    }
    n
}

/// The baseline: a change wherever one value differs from the previous by
/// more than `k` noise deviations, the noise estimated robustly from the
/// first differences (1.4826 MAD / sqrt 2): what a per-run alert threshold
/// does, with the threshold set from the series' own noise.
pub fn threshold_changes(x: &[f64], k: f64) -> Vec<usize> {
    if x.len() < 3 {
        return Vec::new();
    }
    let diffs: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let med = crate::stats::median(&diffs).unwrap_or(0.0);
    let dev: Vec<f64> = diffs.iter().map(|d| (d - med).abs()).collect();
    let sigma = 1.4826 * crate::stats::median(&dev).unwrap_or(0.0) / 2f64.sqrt();
    if sigma <= 0.0 {
        return (1..x.len()).filter(|&i| x[i] != x[i - 1]).collect();
    }
    (1..x.len())
        .filter(|&i| (x[i] - x[i - 1]).abs() > k * sigma)
        .collect()
}

/// Precision and recall summed over many series.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Points found, and those of them matching a known point.
    pub found: usize,
    pub found_matched: usize,
    /// Known points, and those of them found.
    pub truth: usize,
    pub truth_matched: usize,
}

impl Tally {
    /// Adds one series: `found` against the union of the annotations for
    /// precision, and against each annotation for recall.
    pub fn add(&mut self, annotations: &[Vec<usize>], found: &[usize], margin: usize) {
        let mut union: Vec<usize> = annotations.iter().flatten().copied().collect();
        union.sort_unstable();
        union.dedup();
        self.found += found.len();
        self.found_matched += matched(&union, found, margin);
        for a in annotations {
            self.truth += a.len();
            self.truth_matched += matched(a, found, margin);
        }
    }

    pub fn precision(&self) -> f64 {
        ratio(self.found_matched, self.found)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.truth_matched, self.truth)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// A synthetic history of run medians: `n` runs at level 100 ns, times
/// `1 + step` from index `at` on, each with Gaussian noise of relative
/// deviation `sd`, and one run in 50 slowed by 4 `sd` (a noisy neighbour).
pub fn synthetic(n: usize, at: usize, step: f64, sd: f64, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let level = if i >= at { 1.0 + step } else { 1.0 };
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let outlier = if rng.random::<f64>() < 0.02 {
                4.0 * sd
            } else {
                0.0
            };
            100.0 * level * (1.0 + sd * z + outlier)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_one_to_one_within_the_margin() {
        assert_eq!(matched(&[10, 20], &[11, 12, 30], 2), 1);
        assert_eq!(matched(&[10, 12], &[11], 5), 1);
        assert_eq!(matched(&[10, 20], &[9, 21], 1), 2);
        assert_eq!(matched(&[], &[3], 5), 0);
    }

    #[test]
    fn threshold_finds_a_big_jump() {
        let x = synthetic(40, 20, 0.5, 0.01, 1);
        assert!(threshold_changes(&x, 3.0).contains(&20));
    }
}
