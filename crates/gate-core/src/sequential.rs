//! When a lockstep check may stop measuring a bench: a group-sequential
//! design over the bench's pairs of processes (`docs/statistics.md`,
//! "Stopping").
//!
//! The check looks at a bench's pairs at a few fixed counts ([`Design::looks`]:
//! 4, 6, 8, 12, 16, 24, ... up to `lockstep.max_pairs`). At look `k` the
//! paired interval is computed at the level `1 - alpha_k`, where the
//! `alpha_k` are the shares a spending function gives the looks, summing to
//! `alpha`. Whatever the data, the chance that the true shift lies outside
//! the interval at *some* look is at most the sum of the `alpha_k`, that is
//! `alpha` (the union bound: exact under any dependence between looks, and
//! no numerical integration). So the check may stop at any look, as soon as
//! the interval says enough ([`Stop::of`]), and every verdict keeps the
//! error rate of a single interval at level `1 - alpha`. When the check's
//! budget runs out first, the bench's look then is its last and spends all
//! that the earlier looks left ([`Design::alpha_for`]): the sum stays
//! `alpha`. With a last planned look well past what a budget affords, the
//! early looks spend little (still enough to stop a clearly decided bench)
//! and the look the budget forces gets the bulk, where the noisy benches
//! still open need it.
//!
//! The spending function is Pocock's type, `alpha(t) = alpha ln(1 + (e - 1)
//! t)` at the information fraction `t = pairs / most`: it spends evenly
//! enough that a clearly unchanged or clearly slower bench stops at an early
//! look, where O'Brien-Fleming's type would keep the first looks' intervals
//! far too wide with the few pairs a check has.

/// The looks of a bench and the level of each.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Two-sided error of the whole procedure.
    pub alpha: f64,
    /// Relative tolerance (0.01 is 1%).
    pub tolerance: f64,
    /// Pair counts at which the interval is looked at, increasing.
    pub looks: Vec<usize>,
}

/// The first look: fewer pairs give a random-effects interval with too few
/// degrees of freedom to say anything.
pub const FIRST_LOOK: usize = 4;

impl Design {
    /// Looks at 4, 6, 8, 12, 16, 24, 32, ... pairs (each about 1.5 times
    /// the last), the last at `most` (at least [`FIRST_LOOK`]).
    pub fn new(alpha: f64, tolerance: f64, most: usize) -> Design {
        let most = most.max(FIRST_LOOK);
        let mut looks = Vec::new();
        let mut n = FIRST_LOOK;
        while n < most {
            looks.push(n);
            n = if n.is_power_of_two() {
                n + n / 2
            } else {
                n / 3 * 4
            };
        }
        looks.push(most);
        Design {
            alpha,
            tolerance,
            looks,
        }
    }

    /// The most pairs a bench takes.
    pub fn most(&self) -> usize {
        *self.looks.last().expect("a design has looks")
    }

    /// Which look `pairs` is, if any.
    pub fn look_at(&self, pairs: usize) -> Option<usize> {
        self.looks.iter().position(|&n| n == pairs)
    }

    /// The error spent at look `k`: `alpha(t_k) - alpha(t_{k-1})`.
    pub fn alpha_at(&self, k: usize) -> f64 {
        let spent = |k: Option<usize>| {
            k.map_or(0.0, |k| {
                let t = self.looks[k] as f64 / self.most() as f64;
                self.alpha * (1.0 + (std::f64::consts::E - 1.0) * t).ln()
            })
        };
        spent(Some(k)) - spent(k.checked_sub(1))
    }

    /// The error spent so far when `pairs` pairs have been looked at
    /// (`alpha(t)` at the last look at most `pairs`).
    fn spent_before(&self, pairs: usize) -> f64 {
        match self.looks.iter().rposition(|&n| n < pairs) {
            Some(k) => (0..=k).map(|j| self.alpha_at(j)).sum(),
            None => 0.0,
        }
    }

    /// The error to spend on an interval of `pairs` pairs: the look's share
    /// when `pairs` is a look; when `last` (no look will follow: the bench
    /// reached its most pairs, or the check's budget is spent), all that
    /// the earlier looks left. `None`: not a look, or too few pairs.
    pub fn alpha_for(&self, pairs: usize, last: bool) -> Option<f64> {
        if pairs < FIRST_LOOK {
            return None;
        }
        if last {
            return Some(self.alpha - self.spent_before(pairs));
        }
        self.look_at(pairs).map(|k| self.alpha_at(k))
    }

    /// The tolerance band in log ratio: `(ln(1 - tolerance), ln(1 + tolerance))`.
    pub fn band(&self) -> (f64, f64) {
        ((1.0 - self.tolerance).ln(), (1.0 + self.tolerance).ln())
    }
}

/// What a look at a bench's interval says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The interval lies above the tolerance: slower.
    Regressed,
    /// The interval lies below the tolerance: faster.
    Improved,
    /// The interval lies inside the tolerance band.
    Unchanged,
    /// The interval reaches past the band's edge: measure more.
    Open,
}

impl Stop {
    /// The decision of an interval `[lo, hi]` of the log ratio.
    pub fn of(design: &Design, lo: f64, hi: f64) -> Stop {
        let (below, above) = design.band();
        if lo > above {
            Stop::Regressed
        } else if hi < below {
            Stop::Improved
        } else if lo >= below && hi <= above {
            Stop::Unchanged
        } else {
            Stop::Open
        }
    }
}

/// The smallest slowdown (relative, 0.05 is 5%) that an interval of the
/// width of `[lo, hi]` would have put above the tolerance, about 19 times
/// in 20: the tolerance plus the interval's full width (half a width to
/// clear the band, half a width, about two standard errors, of margin).
pub fn min_detectable(design: &Design, lo: f64, hi: f64) -> f64 {
    let (_, above) = design.band();
    (above + (hi - lo).max(0.0)).exp() - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_grow_by_half_and_end_at_the_most() {
        assert_eq!(Design::new(0.05, 0.01, 32).looks, [4, 6, 8, 12, 16, 24, 32]);
        assert_eq!(Design::new(0.05, 0.01, 20).looks, [4, 6, 8, 12, 16, 20]);
        assert_eq!(Design::new(0.05, 0.01, 2).looks, [4]);
    }

    #[test]
    fn the_looks_spend_exactly_alpha() {
        for most in [4, 10, 32, 100] {
            let d = Design::new(0.05, 0.01, most);
            let total: f64 = (0..d.looks.len()).map(|k| d.alpha_at(k)).sum();
            assert!((total - 0.05).abs() < 1e-12, "{most}: {total}");
            assert!((0..d.looks.len()).all(|k| d.alpha_at(k) > 0.0));
        }
    }

    #[test]
    fn a_last_look_spends_what_the_earlier_ones_left() {
        let d = Design::new(0.05, 0.01, 32);
        assert_eq!(d.alpha_for(3, true), None);
        assert_eq!(d.alpha_for(5, false), None);
        assert_eq!(d.alpha_for(6, false), Some(d.alpha_at(1)));
        // Budget spent at 10 pairs, after the looks at 4, 6 and 8.
        let rest = d.alpha_for(10, true).unwrap();
        let spent: f64 = (0..3).map(|k| d.alpha_at(k)).sum();
        assert!((rest + spent - 0.05).abs() < 1e-12);
        // The last planned look spends the rest too.
        assert!((d.alpha_for(32, true).unwrap() - d.alpha_at(6)).abs() < 1e-12);
    }

    #[test]
    fn an_interval_stops_only_when_it_says_enough() {
        let d = Design::new(0.05, 0.02, 32);
        let l = |r: f64| r.ln();
        assert_eq!(Stop::of(&d, l(1.03), l(1.08)), Stop::Regressed);
        assert_eq!(Stop::of(&d, l(0.90), l(0.97)), Stop::Improved);
        assert_eq!(Stop::of(&d, l(0.99), l(1.01)), Stop::Unchanged);
        // Reaching past either edge of the band decides nothing.
        assert_eq!(Stop::of(&d, l(0.99), l(1.03)), Stop::Open);
        assert_eq!(Stop::of(&d, l(0.97), l(1.01)), Stop::Open);
        assert_eq!(Stop::of(&d, l(0.87), l(1.71)), Stop::Open);
    }

    #[test]
    fn a_wider_interval_can_see_less() {
        let d = Design::new(0.05, 0.01, 32);
        let narrow = min_detectable(&d, -0.01, 0.01);
        let wide = min_detectable(&d, -0.05, 0.05);
        assert!((narrow - (0.01f64.ln_1p() + 0.02).exp_m1()).abs() < 1e-12);
        assert!(wide > narrow && wide > 0.10, "{wide}");
    }
}
