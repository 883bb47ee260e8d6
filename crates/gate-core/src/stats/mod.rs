//! Stage 3, "compare": the statistics behind the gate.
//!
//! Every function here is a pure function over samples given as `&[f64]`
//! (ns/op, one value per criterion sample or per Go `-count` run).
//!
//! # Why these methods
//!
//! Benchmark times are not normally distributed. They are bounded below by
//! the machine's floor (here the `mprotect` pair), skewed to the right, and
//! carry outliers from preemption, page faults and TLB shootdowns. A t-test
//! or a mean with a standard error would let one 40 us outlier move the
//! verdict. So the gate uses methods that need no distributional shape:
//!
//! - [`median`] as the location estimate, with a distribution-free
//!   confidence interval from order statistics ([`median_ci`]);
//! - the Mann-Whitney U test ([`mann_whitney`]) to decide whether two samples
//!   differ at all: it is rank based, so an outlier counts as one rank, and it
//!   is exact for small samples (Go's `-count 10`);
//! - a seeded bootstrap of the ratio of medians ([`bootstrap_ratio_ci`]) to
//!   say by how much, as a ratio new/old (what a regression threshold of
//!   "5% slower" is written in);
//! - Holm's step-down correction ([`holm`]) because the gate tests many
//!   benchmarks at once and a family of 200 tests at alpha 0.05 would raise
//!   about ten false alarms on every run without it;
//! - [`significance_reachable`]: with very few samples the exact test cannot
//!   reach a small p-value whatever the data, and the user must be told how
//!   many samples to take rather than see a silent pass;
//! - Hodges-Lehmann estimates ([`hodges_lehmann_ratio`]) as the shift that
//!   matches the Mann-Whitney test, for the decision layer if it wants one;
//! - for lockstep runs (`gate check --base`), whose samples come in pairs,
//!   the Wilcoxon signed-rank test and a random-effects pooled shift
//!   ([`signed_rank`], [`pooled_shift`]; see `paired.rs` for why), and for
//!   benches that count the event their time follows, the same ratios at
//!   the same rate of it ([`adjusted_log_ratios`], `covariate.rs`).
//!
//! `docs/statistics.md` explains the choices for users.

mod bootstrap;
mod covariate;
mod hodges_lehmann;
mod holm;
mod mann_whitney;
mod median;
mod paired;
mod reachability;

pub use bootstrap::{DEFAULT_RESAMPLES, RatioCi, bootstrap_ratio_ci};
pub use covariate::{adjusted_log_ratios, comparable_rounds, theil_sen};
pub use hodges_lehmann::{hodges_lehmann_ratio, hodges_lehmann_shift};
pub use holm::holm;
pub use mann_whitney::{EXACT_MAX_PAIRS, MannWhitney, Method, mann_whitney};
pub use median::{MedianCi, median, median_ci};
pub use paired::{PooledShift, SignedRank, pooled_shift, signed_rank};
pub use reachability::{Reachability, min_p_value, min_samples_needed, significance_reachable};

/// Rejects empty samples and values that are not finite numbers, naming the
/// sample so that the user can find the file it came from.
fn check_sample(name: &str, samples: &[f64]) -> anyhow::Result<()> {
    if samples.is_empty() {
        anyhow::bail!("the {name} sample is empty");
    }
    if let Some((i, v)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        anyhow::bail!(
            "the {name} sample has a value that is not a finite number at index {i}: {v}"
        );
    }
    Ok(())
}
