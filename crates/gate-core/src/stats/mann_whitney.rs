//! The Mann-Whitney U test (Wilcoxon rank-sum), two-sided.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use super::check_sample;

/// The exact null distribution is used when there are no ties and
/// `n1 * n2 <= EXACT_MAX_PAIRS` (e.g. 50 vs 50, 10 vs 250, 3 vs 833).
///
/// Why this bound: the exact counts are computed in `i128`; the largest count
/// total under this bound is `C(100, 50) ~ 1.0e29`, far inside `i128`, and the
/// work is `O(min(n1, n2) * n1 * n2)`, at most 125,000 additions. Above it the
/// normal approximation is within a few 1e-4 of the exact p-value (and the
/// gate's decisions are made at alpha 0.05 / family size, not at the 4th
/// decimal).
pub const EXACT_MAX_PAIRS: usize = 2500;

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The exact permutation distribution of U (no ties, small samples).
    Exact,
    /// Normal approximation with tie correction and continuity correction.
    Asymptotic,
}

/// The result of [`mann_whitney`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MannWhitney {
    /// U of the first sample `x`: the number of pairs `(x_i, y_j)` with
    /// `x_i > y_j`, ties counting one half (scipy's `U1`). In `[0, n1*n2]`.
    pub u: f64,
    /// Two-sided p-value, in `(0, 1]`.
    pub p_value: f64,
    /// Exact or asymptotic.
    pub method: Method,
    /// Probability of superiority `P(X > Y) + P(X = Y) / 2 = u / (n1 n2)`:
    /// 0.5 when the samples are alike, 1.0 when every `x` exceeds every `y`.
    pub prob_x_greater: f64,
    /// Cliff's delta `P(X > Y) - P(X < Y) = 2 * prob_x_greater - 1`, in
    /// `[-1, 1]`.
    pub cliffs_delta: f64,
}

/// Two-sided Mann-Whitney U test of `x` against `y`.
///
/// Why this test: it asks whether a value drawn from one sample tends to be
/// larger than one drawn from the other, using only ranks. It needs no
/// normality (benchmark times are skewed with outliers), an outlier counts
/// as one rank however large it is, and for small samples its exact null
/// distribution is known, so Go's `-count 10` runs get an honest p-value.
///
/// Method (the same numbers as `scipy.stats.mannwhitneyu(x, y,
/// alternative='two-sided', use_continuity=True)` with `method='exact'` or
/// `'asymptotic'` respectively):
/// - exact when there are no ties and `n1 * n2 <= EXACT_MAX_PAIRS`: the
///   distribution of U over all `C(n1+n2, n1)` arrangements, counted by
///   dynamic programming; `p = 2 P(U >= max(U1, U2))`, capped at 1;
/// - otherwise the normal approximation: mean `n1 n2 / 2`, variance
///   `n1 n2 / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1)))` where `t` runs over
///   the sizes of groups of tied values (ties shrink the variance), and a
///   continuity correction of 0.5 towards the mean (U moves in steps of 0.5
///   or 1, the normal is continuous; without it small samples get p-values
///   that are too small). Benchmark times with coarse resolution (Go prints
///   whole ns/op) tie often, which is why ties route here.
///
/// When all values are equal the variance is 0 and the p-value is 1.
///
/// Errors: an empty sample or a value that is not finite.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> anyhow::Result<MannWhitney> {
    check_sample("first", x)?;
    check_sample("second", y)?;
    let (n1, n2) = (x.len(), y.len());
    let n = n1 + n2;

    // Pool, sort, and give tied values their mean rank.
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0; // sum over tie groups of t^3 - t
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        // Positions i..j (0-based) share ranks i+1..=j; their mean:
        let mid_rank = (i + 1 + j) as f64 / 2.0;
        let in_x = pooled[i..j].iter().filter(|p| p.1).count();
        rank_sum_x += mid_rank * in_x as f64;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }

    let pairs = (n1 * n2) as f64;
    let u1 = rank_sum_x - (n1 * (n1 + 1)) as f64 / 2.0;
    let u_big = u1.max(pairs - u1);
    let ties = tie_term > 0.0;

    let (p_value, method) = if !ties && n1 * n2 <= EXACT_MAX_PAIRS {
        // No ties: U is an integer.
        (exact_p_value(u_big.round() as usize, n1, n2), Method::Exact)
    } else {
        let nf = n as f64;
        let var = pairs / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
        let p = if var <= 0.0 {
            1.0
        } else {
            let z = (u_big - pairs / 2.0 - 0.5) / var.sqrt();
            let std_normal = Normal::standard();
            2.0 * std_normal.sf(z)
        };
        (p.min(1.0), Method::Asymptotic)
    };

    let prob_x_greater = u1 / pairs;
    Ok(MannWhitney {
        u: u1,
        p_value,
        method,
        prob_x_greater,
        cliffs_delta: 2.0 * prob_x_greater - 1.0,
    })
}

/// `counts[u]`: how many of the `C(n1 + n2, n1)` ways to interleave two
/// samples of sizes `n1` and `n2` give `U = u`, for `u` in `0..=n1*n2`.
///
/// These are the coefficients of the Gaussian binomial `[n1+n2 choose m]_q`
/// (with `m = min(n1, n2)`), built as the product over `i = 1..=m` of
/// `(1 - q^(n+i)) / (1 - q^i)`, `n = max(n1, n2)`: one multiplication and one
/// exact division per step, `O(m * n1 * n2)` integer additions, no
/// floating-point rounding. Every intermediate quotient is itself a Gaussian
/// binomial, so its coefficients are counts no larger than the final total.
pub(crate) fn exact_counts(n1: usize, n2: usize) -> Vec<i128> {
    let (m, n) = if n1 <= n2 { (n1, n2) } else { (n2, n1) };
    let max_u = m * n;
    // Room for the degree-(i*n + i) product before each division.
    let mut c = vec![0i128; max_u + m + 1];
    c[0] = 1;
    let mut deg = 0; // degree of the current polynomial, (i - 1) * n
    for i in 1..=m {
        let s = n + i;
        let top = deg + s;
        // Multiply by (1 - q^s): descending so c[k - s] is still the old one.
        for k in (s..=top).rev() {
            c[k] -= c[k - s];
        }
        // Divide by (1 - q^i): Q[k] = P[k] + Q[k - i], ascending.
        for k in i..=top {
            c[k] += c[k - i];
        }
        deg = i * n;
    }
    c.truncate(max_u + 1);
    c
}

/// Exact two-sided p-value `2 P(U >= u_big)` for `u_big >= n1 n2 / 2`,
/// capped at 1.
fn exact_p_value(u_big: usize, n1: usize, n2: usize) -> f64 {
    let counts = exact_counts(n1, n2);
    let total: i128 = counts.iter().sum();
    let tail: i128 = counts[u_big.min(counts.len() - 1)..].iter().sum();
    (2.0 * tail as f64 / total as f64).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn exact_counts_are_the_known_distribution() {
        // n1 = n2 = 3: the 20 arrangements give U = 0..9 with counts
        // 1,1,2,3,3,3,3,2,1,1 (Mann & Whitney 1947, table I).
        assert_eq!(exact_counts(3, 3), vec![1, 1, 2, 3, 3, 3, 3, 2, 1, 1]);
        // Totals are C(n1 + n2, n1); symmetric in the two sizes.
        let total: i128 = exact_counts(50, 50).iter().sum();
        assert_eq!(total, 100_891_344_545_564_193_334_812_497_256);
        assert_eq!(exact_counts(4, 7), exact_counts(7, 4));
        let c = exact_counts(4, 7);
        assert_eq!(c.iter().sum::<i128>(), 330);
        assert!(c.iter().all(|&v| v > 0));
        let rev: Vec<i128> = c.iter().rev().copied().collect();
        assert_eq!(c, rev, "the null distribution of U is symmetric");
        assert_eq!(exact_counts(1, 5), vec![1; 6]);
        assert_eq!(exact_counts(0, 5), vec![1]);
    }

    // Reference values from scipy 1.17.1:
    //   from scipy.stats import mannwhitneyu
    //   mannwhitneyu(x, y, alternative='two-sided', method='exact')
    // The 12 vs 40 case was drawn once and written out as literals:
    //   rng = np.random.default_rng(7)
    //   x12 = np.round(rng.lognormal(5, 0.1, 12), 3)
    //   y40 = np.round(rng.lognormal(5.05, 0.1, 40), 3)
    #[test]
    fn exact_p_values_match_scipy() {
        let cases: &[(&[f64], &[f64], f64, f64)] = &[
            // n=3 vs 3, complete separation: U=0, p = 2/20 = 0.1, the floor.
            (&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 0.0, 0.1),
            // n=4 vs 4, complete separation: p = 2/70.
            (
                &[5.0, 6.0, 7.0, 8.0],
                &[1.0, 2.0, 3.0, 4.0],
                16.0,
                0.02857142857142857,
            ),
            // n=5 vs 7, interleaved.
            (
                &[1.1, 2.3, 3.9, 4.2, 7.7],
                &[2.0, 3.0, 5.0, 6.1, 8.0, 9.5, 10.2],
                9.0,
                0.20202020202020204,
            ),
            // n=10 vs 10, Go -count 10 style.
            (
                &[
                    3210.5, 3198.2, 3250.1, 3301.7, 3189.9, 3222.4, 3240.0, 3199.3, 3275.8, 3215.6,
                ],
                &[
                    3290.4, 3310.2, 3265.3, 3241.9, 3320.7, 3288.8, 3305.1, 3279.6, 3298.2, 3230.1,
                ],
                13.0,
                0.003886206672584382,
            ),
            // n=12 vs 40, lopsided.
            (
                &[
                    148.431, 152.914, 144.4, 135.767, 141.816, 134.402, 149.308, 169.698, 141.285,
                    139.484, 155.864, 153.805,
                ],
                &[
                    157.676, 142.16, 155.567, 167.257, 136.398, 149.044, 129.008, 137.146, 129.778,
                    152.397, 137.449, 160.313, 158.487, 153.133, 121.307, 147.84, 155.268, 157.8,
                    133.886, 148.744, 141.479, 143.9, 173.485, 143.918, 155.516, 170.449, 147.178,
                    154.289, 157.756, 157.021, 138.033, 157.215, 178.731, 133.658, 170.024,
                    157.896, 146.328, 190.574, 168.38, 138.389,
                ],
                192.0,
                0.3065498823332286,
            ),
        ];
        for (x, y, u, p) in cases {
            let r = mann_whitney(x, y).unwrap();
            assert_eq!(r.method, Method::Exact, "n={}x{}", x.len(), y.len());
            assert_eq!(r.u, *u, "n={}x{}", x.len(), y.len());
            assert!(
                close(r.p_value, *p, 1e-9),
                "n={}x{}: {} vs {p}",
                x.len(),
                y.len(),
                r.p_value
            );
        }
    }

    #[test]
    fn exact_at_the_threshold_matches_scipy() {
        // import numpy as np
        // x = np.arange(50) + 0.25; y = np.arange(50) + 8.5
        // mannwhitneyu(x, y, alternative='two-sided', method='exact')
        //   -> (861.0, 0.007021899371388251)     (asymptotic: 0.007400817295091046)
        // y = np.arange(50) + 30.5 -> (190.0, 3.307553170649977e-16)
        let x: Vec<f64> = (0..50).map(|i| i as f64 + 0.25).collect();
        let y: Vec<f64> = (0..50).map(|i| i as f64 + 8.5).collect();
        let r = mann_whitney(&x, &y).unwrap();
        assert_eq!(r.method, Method::Exact);
        assert_eq!(r.u, 861.0);
        assert!(
            close(r.p_value, 0.007021899371388251, 1e-9),
            "{}",
            r.p_value
        );
        let y: Vec<f64> = (0..50).map(|i| i as f64 + 30.5).collect();
        let r = mann_whitney(&x, &y).unwrap();
        assert_eq!(r.u, 190.0);
        assert!(
            close(r.p_value, 3.307553170649977e-16, 1e-9),
            "{}",
            r.p_value
        );
    }

    #[test]
    fn n3_vs_3_can_never_go_below_0_1() {
        // Every arrangement of 3 vs 3 distinct values: the smallest p is 0.1.
        let mut min_p = f64::INFINITY;
        for mask in 0u32..64 {
            if mask.count_ones() != 3 {
                continue;
            }
            let (x, y): (Vec<f64>, Vec<f64>) = {
                let (a, b): (Vec<u32>, Vec<u32>) = (0..6).partition(|i| mask & (1 << i) != 0);
                (
                    a.iter().map(|&v| v as f64).collect(),
                    b.iter().map(|&v| v as f64).collect(),
                )
            };
            let r = mann_whitney(&x, &y).unwrap();
            assert_eq!(r.method, Method::Exact);
            min_p = min_p.min(r.p_value);
        }
        assert!(close(min_p, 0.1, 1e-12), "{min_p}");
    }

    // Reference values from scipy 1.17.1:
    //   mannwhitneyu(x, y, alternative='two-sided', method='asymptotic',
    //                use_continuity=True)
    #[test]
    fn ties_use_the_corrected_normal_approximation() {
        // Go -count 10 style whole ns/op with ties (3210 x3, 3198 x2, 3250 x2)
        //   -> (12.5, 0.005058770636928006)
        let x = [
            3210.0, 3198.0, 3250.0, 3210.0, 3189.0, 3222.0, 3240.0, 3198.0, 3275.0, 3215.0,
        ];
        let y = [
            3290.0, 3310.0, 3250.0, 3241.0, 3320.0, 3288.0, 3210.0, 3279.0, 3298.0, 3230.0,
        ];
        let r = mann_whitney(&x, &y).unwrap();
        assert_eq!(r.method, Method::Asymptotic);
        assert_eq!(r.u, 12.5);
        assert!(
            close(r.p_value, 0.005058770636928006, 1e-9),
            "{}",
            r.p_value
        );
        // Tiny samples with ties: [1,2,2] vs [2,3,3,4] -> (1.0, 0.0954832320975473)
        let r = mann_whitney(&[1.0, 2.0, 2.0], &[2.0, 3.0, 3.0, 4.0]).unwrap();
        assert_eq!(r.method, Method::Asymptotic);
        assert_eq!(r.u, 1.0);
        assert!(close(r.p_value, 0.0954832320975473, 1e-9), "{}", r.p_value);
    }

    #[test]
    fn large_samples_match_scipy() {
        // rng = np.random.default_rng(42)
        // x = np.round(rng.lognormal(7.6, 0.05, 100), 1)
        // y = np.round(rng.lognormal(7.62, 0.05, 100), 1)   (2 tied values)
        //   -> asymptotic (3834.5, 0.004419576193882524)
        let x = XL;
        let y = YL;
        let r = mann_whitney(&x, &y).unwrap();
        assert_eq!(r.method, Method::Asymptotic);
        assert_eq!(r.u, 3834.5);
        assert!(
            close(r.p_value, 0.004419576193882524, 1e-9),
            "{}",
            r.p_value
        );
        assert!(close(r.prob_x_greater, 0.38345, 1e-12));
        assert!(close(r.cliffs_delta, -0.2331, 1e-9));
        // No ties but above EXACT_MAX_PAIRS (60 x 60): asymptotic.
        //   x = np.arange(60) + 0.25; y = np.arange(60) + 5.5
        //   -> (1485.0, 0.09880047992003485); exact would be 0.098918812206193
        let x: Vec<f64> = (0..60).map(|i| i as f64 + 0.25).collect();
        let y: Vec<f64> = (0..60).map(|i| i as f64 + 5.5).collect();
        let r = mann_whitney(&x, &y).unwrap();
        assert_eq!(r.method, Method::Asymptotic);
        assert_eq!(r.u, 1485.0);
        assert!(close(r.p_value, 0.09880047992003485, 1e-9), "{}", r.p_value);
    }

    #[test]
    fn identical_samples_give_p_one() {
        // mannwhitneyu([1,2,3,4,5], [1,2,3,4,5]) -> (12.5, 1.0)
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let r = mann_whitney(&x, &x).unwrap();
        assert_eq!(r.u, 12.5);
        assert_eq!(r.p_value, 1.0);
        assert_eq!(r.cliffs_delta, 0.0);
        // All values equal: zero variance -> p = 1 (scipy: (6.0, 1.0)).
        let r = mann_whitney(&[7.0; 3], &[7.0; 4]).unwrap();
        assert_eq!(r.u, 6.0);
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn effect_size_and_orientation() {
        // Every x above every y: U = n1 n2, P(X > Y) = 1, delta = 1.
        let r = mann_whitney(&[10.0, 11.0, 12.0, 13.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(r.u, 12.0);
        assert_eq!(r.prob_x_greater, 1.0);
        assert_eq!(r.cliffs_delta, 1.0);
        // Swapping the samples mirrors U and keeps p.
        let s = mann_whitney(&[1.0, 2.0, 3.0], &[10.0, 11.0, 12.0, 13.0]).unwrap();
        assert_eq!(s.u, 0.0);
        assert_eq!(s.cliffs_delta, -1.0);
        assert_eq!(s.p_value, r.p_value);
    }

    #[test]
    fn rejects_empty_and_non_finite() {
        let e = mann_whitney(&[], &[1.0]).unwrap_err().to_string();
        assert!(e.contains("first sample is empty"), "{e}");
        let e = mann_whitney(&[1.0], &[2.0, f64::NAN])
            .unwrap_err()
            .to_string();
        assert!(e.contains("second sample") && e.contains("index 1"), "{e}");
    }

    const XL: [f64; 100] = [
        2028.9, 1896.9, 2074.6, 2094.4, 1812.5, 1872.2, 2011.0, 1966.8, 1996.5, 1914.8, 2088.0,
        2077.4, 2004.8, 2114.1, 2045.5, 1914.2, 2035.4, 1904.7, 2087.9, 1993.2, 1979.8, 1931.3,
        2124.2, 1982.8, 1955.9, 1963.3, 2052.1, 2035.0, 2039.9, 2041.7, 2224.0, 1958.0, 1947.7,
        1918.5, 2060.7, 2114.2, 1986.8, 1916.0, 1917.5, 2064.3, 2073.9, 2053.2, 1932.8, 2021.5,
        2009.9, 2020.2, 2087.2, 2020.7, 2067.2, 2005.0, 2027.3, 2062.3, 1857.8, 1966.5, 1951.7,
        1935.4, 1970.9, 2153.3, 1913.5, 2097.3, 1836.9, 1965.0, 2014.5, 2057.6, 2070.5, 2079.1,
        1963.7, 1952.5, 2085.8, 1979.2, 1874.7, 1888.1, 1908.4, 2048.5, 2012.5, 2068.4, 1956.0,
        2014.1, 2061.7, 1967.5, 2044.4, 1933.1, 1962.3, 1960.4, 1882.2, 2047.4, 1951.8, 1999.4,
        2046.8, 2043.3, 2065.8, 1988.4, 1956.3, 1990.2, 1836.5, 1858.7, 1870.3, 1901.0, 2038.5,
        1909.7,
    ];
    const YL: [f64; 100] = [
        2000.4, 2175.4, 2002.6, 2115.1, 1945.6, 2017.7, 1944.0, 2004.3, 2126.0, 1869.9, 2083.3,
        2062.9, 1978.9, 1896.4, 2045.9, 1985.3, 2062.4, 2040.8, 2208.5, 2014.3, 1936.9, 2056.9,
        2061.1, 2181.9, 2125.5, 2075.3, 2193.3, 1920.9, 1974.4, 1946.3, 1999.2, 1903.0, 2104.3,
        2016.0, 1894.0, 1937.6, 2070.8, 2125.8, 2252.6, 2358.3, 2081.2, 1940.2, 1832.4, 2066.0,
        1957.4, 1996.7, 1977.1, 2024.3, 2150.2, 2054.6, 2022.5, 1935.7, 1874.8, 1989.6, 2033.1,
        2227.0, 2051.9, 2141.2, 1988.3, 1921.3, 1942.5, 1966.0, 2267.5, 1956.5, 2125.8, 1948.6,
        2135.8, 2078.2, 2022.7, 2034.4, 1972.9, 2084.5, 1992.7, 1917.4, 1912.4, 2056.2, 2206.0,
        2054.9, 2026.5, 2067.9, 2176.1, 2061.0, 1997.1, 2154.5, 2082.7, 2201.3, 2057.3, 1917.5,
        1903.8, 2214.0, 2222.0, 2020.3, 1999.9, 2193.1, 1928.8, 1949.4, 2105.2, 1998.7, 2038.0,
        2022.0,
    ];
}
