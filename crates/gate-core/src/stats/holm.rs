//! Holm-Bonferroni step-down correction for a family of tests.

/// Holm-adjusted p-values, in the order of `p_values`.
///
/// Why: the gate tests every benchmark of a run at once. At alpha 0.05 a
/// family of 200 unchanged benchmarks would flag about ten of them on every
/// run. Holm's procedure controls the family-wise error rate (the chance of
/// any false alarm) at alpha under any dependence between the tests, like
/// Bonferroni, but is uniformly more powerful. Benchmarks of one run share a
/// machine and are dependent, so a method that assumes independence would
/// not do; and the gate's cost of a false alarm (a red CI check) is one
/// alarm, which is what the family-wise rate bounds (rather than the false
/// discovery rate, which tolerates a proportion of them).
///
/// With the p-values sorted ascending `p(1) <= ... <= p(m)`, the adjusted
/// value of `p(i)` is `max over j <= i of min(1, (m - j + 1) p(j))`: the
/// running maximum keeps the adjusted values in the same order as the raw
/// ones (monotone), and they are capped at 1. A benchmark is significant
/// when its adjusted p-value is `<= alpha`.
///
/// Ties in the input get the same adjusted value. NaN p-values sort last
/// and stay NaN; they do not change the others' adjustment beyond counting
/// towards `m`.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running_max = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let scaled = ((m - rank) as f64 * p_values[i]).min(1.0);
        running_max = running_max.max(scaled);
        adjusted[i] = if p_values[i].is_nan() {
            f64::NAN
        } else {
            running_max
        };
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_all_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
        }
    }

    // from statsmodels.stats.multitest import multipletests
    // multipletests([0.01, 0.04, 0.03, 0.005], method='holm')[1]
    //   -> [0.03, 0.06, 0.06, 0.02]
    // multipletests([0.5, 0.001, 0.02, 0.02, 0.9, 0.04], method='holm')[1]
    //   -> [1.0, 0.006, 0.1, 0.1, 1.0, 0.12]
    #[test]
    fn matches_statsmodels() {
        assert_all_close(&holm(&[0.01, 0.04, 0.03, 0.005]), &[0.03, 0.06, 0.06, 0.02]);
        assert_all_close(
            &holm(&[0.5, 0.001, 0.02, 0.02, 0.9, 0.04]),
            &[1.0, 0.006, 0.1, 0.1, 1.0, 0.12],
        );
    }

    #[test]
    fn monotone_capped_order_preserving() {
        // Hand computed: sorted 0.001, 0.01, 0.011, 0.3 with m = 4:
        // 0.004, 0.03, max(0.03, 0.022) = 0.03 (the running max), min(1, 0.3).
        let p = [0.3, 0.011, 0.001, 0.01];
        let a = holm(&p);
        assert_all_close(&a, &[0.3, 0.03, 0.004, 0.03]);
        for i in 0..p.len() {
            assert!(a[i] >= p[i] && a[i] <= 1.0);
            for j in 0..p.len() {
                if p[i] < p[j] {
                    assert!(a[i] <= a[j]);
                }
            }
        }
        assert_eq!(holm(&[0.6, 0.7]), vec![1.0, 1.0]);
        assert_eq!(holm(&[0.02]), vec![0.02]);
        assert!(holm(&[]).is_empty());
    }
}
