//! The estimation of `gate power` on synthetic runs with a known answer.
//!
//! Runs are log-normal samples (the shape of benchmark times: skewed right,
//! bounded below) around a centre; a run's centre may be offset from the
//! others to model between-run variation.

use gate::power::{Analysis, BenchRuns, analyse, decide_pair};
use gate_core::verdict::RowVerdict;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ID: &str = "synthetic/op/sequential";

/// `n` log-normal samples with median `center` and log-sd `sigma`.
fn lognormal(rng: &mut ChaCha8Rng, n: usize, center: f64, sigma: f64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            // Box-Muller.
            let u1: f64 = rng.random_range(f64::EPSILON..1.0);
            let u2: f64 = rng.random_range(0.0..1.0);
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            center * (sigma * z).exp()
        })
        .collect()
}

/// `r` runs of `n` samples; run `i`'s centre is `1000 * (1 + offsets[i])`.
fn runs(seed: u64, n: usize, sigma: f64, offsets: &[f64]) -> BenchRuns {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    BenchRuns {
        id: ID.into(),
        runs: offsets
            .iter()
            .map(|o| lognormal(&mut rng, n, 1000.0 * (1.0 + o), sigma))
            .collect(),
    }
}

fn analysis(tolerance: f64, confirm: u32, replicates: usize) -> Analysis {
    Analysis {
        replicates,
        ..Analysis::single(tolerance, 0.05, confirm, 2)
    }
}

#[test]
fn identically_distributed_runs_rarely_false_alarm() {
    // Five runs of the same code, 2% within-run noise, no between-run offset.
    let b = runs(1, 20, 0.02, &[0.0; 5]);
    let p = analyse(&b, &analysis(0.05, 1, 200)).unwrap();
    let e = &p.estimates[0];
    // 5 * 4 * 3 ordered (old, new, confirmation): fewer than the 200
    // replicates asked for, so every one is decided once.
    assert_eq!(e.run_tuples, 60);
    assert_eq!((p.runs, p.samples, e.figures.replicates), (5, 20, 60));
    assert_eq!(e.figures.false_alarms, 0, "{e:?}");
    assert!(e.figures.false_alarm_upper < 0.05, "{e:?}");
    assert!(p.between_run_spread < 0.02, "{}", p.between_run_spread);
}

#[test]
fn between_run_offsets_are_what_false_alarms_come_from() {
    // Same within-run noise, but runs land 4% apart: with no tolerance the
    // gate cries wolf often, with 10% it does not. Two halves of one run
    // would never show this.
    let b = runs(2, 20, 0.02, &[0.0, 0.04, -0.04, 0.02, -0.02]);
    let strict = analyse(&b, &analysis(0.0, 1, 150)).unwrap();
    let loose = analyse(&b, &analysis(0.10, 1, 150)).unwrap();
    assert!(
        strict.estimates[0].figures.false_alarm_rate > 0.10,
        "{:?}",
        strict.estimates[0]
    );
    assert_eq!(
        loose.estimates[0].figures.false_alarms, 0,
        "{:?}",
        loose.estimates[0]
    );
    assert!(
        strict.between_run_spread > 0.025,
        "{}",
        strict.between_run_spread
    );
}

#[test]
fn a_confirmation_run_cuts_false_alarms() {
    let b = runs(3, 20, 0.02, &[0.0, 0.03, -0.03, 0.015, -0.015, 0.0]);
    let a = Analysis {
        tolerances: vec![0.01],
        confirms: vec![0, 1],
        ..analysis(0.01, 1, 200)
    };
    let p = analyse(&b, &a).unwrap();
    let (none, one) = (p.at(0.01, 0).unwrap(), p.at(0.01, 1).unwrap());
    assert!(
        one.figures.false_alarm_rate < none.figures.false_alarm_rate,
        "{none:?} {one:?}"
    );
}

#[test]
fn a_20_percent_slowdown_is_detected() {
    let b = runs(4, 20, 0.02, &[0.0, 0.005, -0.005, 0.0]);
    let p = analyse(&b, &analysis(0.05, 1, 100)).unwrap();
    let e = &p.estimates[0];
    let md = e.figures.min_detectable.expect("detected within 50%");
    assert!(md <= 0.20, "{e:?}");
    // The interval must clear 1.05, so nothing below the tolerance is "detected".
    assert!(md > 0.05, "{e:?}");
    assert!(e.figures.detected >= 0.95, "{e:?}");
    // And the gate's own decision flags one run scaled by 1.2 against another.
    let slow: Vec<f64> = b.runs[1].iter().map(|v| v * 1.2).collect();
    let (v, _, _) = decide_pair(ID, &b.runs[0], &[], &slow, 0.05, 0.05);
    assert_eq!(v, RowVerdict::Regressed);
}

#[test]
fn min_detectable_grows_with_noise() {
    let quiet = runs(5, 20, 0.01, &[0.0; 4]);
    let noisy = runs(5, 20, 0.08, &[0.0; 4]);
    let a = analysis(0.02, 1, 100);
    let q = analyse(&quiet, &a).unwrap().estimates[0]
        .figures
        .min_detectable;
    let n = analyse(&noisy, &a).unwrap().estimates[0]
        .figures
        .min_detectable;
    let (q, n) = (q.expect("quiet bench detected"), n.unwrap_or(f64::INFINITY));
    assert!(q < n, "quiet {q} noisy {n}");
    assert!(n - q >= 0.03, "quiet {q} noisy {n}");
}

#[test]
fn too_few_runs_for_the_confirmation_is_an_error() {
    let b = runs(6, 20, 0.02, &[0.0; 2]);
    let err = analyse(&b, &analysis(0.05, 1, 10)).unwrap_err();
    assert!(err.to_string().contains("need 3 distinct runs"), "{err}");
}

#[test]
fn the_same_runs_give_the_same_figures() {
    let b = runs(7, 20, 0.03, &[0.0, 0.01, -0.01, 0.0]);
    let a = analysis(0.02, 1, 100);
    assert_eq!(analyse(&b, &a).unwrap(), analyse(&b, &a).unwrap());
}

#[test]
fn a_baseline_of_several_runs_cuts_false_alarms_from_between_run_offsets() {
    // Runs land up to 4% apart. A baseline pooled from three runs keeps
    // their medians, and the decision widens its interval by their spread
    // (as `gate check` does): fewer false alarms than a one-run baseline.
    let b = runs(8, 20, 0.02, &[0.0, 0.04, -0.04, 0.02, -0.02, 0.03]);
    let a = Analysis {
        baseline_runs: vec![1, 3],
        ..analysis(0.02, 1, 150)
    };
    let p = analyse(&b, &a).unwrap();
    let (single, pooled) = (
        p.at_runs(0.02, 1, 1).unwrap(),
        p.at_runs(0.02, 1, 3).unwrap(),
    );
    assert!(
        single.figures.false_alarm_rate > 0.05,
        "the offsets do false-alarm against one run: {single:?}"
    );
    assert!(
        pooled.figures.false_alarm_rate < single.figures.false_alarm_rate,
        "{single:?} {pooled:?}"
    );
    // C(6, 3) sets x 3 x 2 ordered (new, confirmation) = 120 <= 150: all.
    assert_eq!(pooled.run_tuples, 120);
    assert_eq!(pooled.figures.replicates, 120);
    // `at` answers with the largest baseline tried.
    assert_eq!(p.at(0.02, 1).unwrap().baseline_runs, 3);
    // A baseline of five runs needs 5 + 1 + 1 runs: skipped.
    let a5 = Analysis {
        baseline_runs: vec![1, 5],
        ..analysis(0.02, 1, 20)
    };
    assert!(analyse(&b, &a5).unwrap().at_runs(0.02, 1, 5).is_none());
}
