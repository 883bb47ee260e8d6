//! `gate power`'s paired decision and `gate check --base`'s, run on the
//! same pairs, give the same verdicts, ratios and intervals.
//!
//! The check's side is built as `gate check --base` builds it: each pair's
//! base and head benchmarks carry the pair's log ratios (and adjusted
//! ratios, for a bench that counts an event) under their round, are pooled
//! by `ab::pool`, and the row is decided by `verdict::decide` with the
//! options the check passes (lockstep tolerance 1%). Power's side is what
//! `draw` does with a check's drawn pairs: `paired_row`, then `Check` and
//! `outcome`. A lone row with one test is a family of one, where Holm's
//! p-value is the raw one, as power's false-alarm rule takes it; a row with
//! an adjusted test is a family of two, and a check of `m` rows of the same
//! pairs one of `m` equal p-values, where Holm's p-values are Bonferroni's,
//! as power's detection rule takes them.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Check, outcome, paired_row};
use gate_core::model::{Benchmark, Lang, Mode, ResultSet};
use gate_core::verdict::{
    self, Options, PAIRED_LOG_RATIO, PAIRED_LOG_RATIO_ADJUSTED, PAIRED_ROUND,
    PAIRED_ROUND_ADJUSTED, PairedSettings, Pairing, Row, RowKind, RowVerdict,
};

const ALPHA: f64 = 0.05;
/// `lockstep.tolerance` of the repository's `gate.yaml`.
const TOLERANCE: f64 = 0.01;

/// A synthetic set of lockstep pairs of one bench.
struct PairSet {
    name: &'static str,
    /// Per pair, its log ratios.
    raw: Vec<Vec<f64>>,
    /// Per pair, its adjusted ratios (None: the adjustment did not apply);
    /// None when the bench counts no event.
    adjusted: Option<Vec<Option<Vec<f64>>>>,
    /// The verdict both must give.
    expected: RowVerdict,
}

/// `n` pairs of `s` samples: each pair's centre `shift` plus a uniform
/// offset of width `between`, each sample a uniform wobble of width
/// `within` about it.
fn pairs(
    rng: &mut ChaCha8Rng,
    n: usize,
    s: usize,
    shift: f64,
    between: f64,
    within: f64,
) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            let centre = shift + (rng.random::<f64>() - 0.5) * between;
            (0..s)
                .map(|_| centre + (rng.random::<f64>() - 0.5) * within)
                .collect()
        })
        .collect()
}

fn sets() -> Vec<PairSet> {
    let mut rng = ChaCha8Rng::seed_from_u64(25);
    let slower = 0.05f64.ln_1p();
    let faster = (-0.1f64).ln_1p();
    let set = |name, raw, adjusted, expected| PairSet {
        name,
        raw,
        adjusted,
        expected,
    };
    let mut out = vec![
        set(
            "unchanged",
            pairs(&mut rng, 8, 20, 0.0, 0.01, 0.03),
            None,
            RowVerdict::Unchanged,
        ),
        set(
            "5% slower",
            pairs(&mut rng, 8, 20, slower, 0.01, 0.03),
            None,
            RowVerdict::Regressed,
        ),
        set(
            "10% faster",
            pairs(&mut rng, 8, 20, faster, 0.01, 0.03),
            None,
            RowVerdict::Improved,
        ),
        set(
            "noisy, 5% slower",
            pairs(&mut rng, 8, 20, slower, 0.4, 0.3),
            None,
            RowVerdict::Unchanged,
        ),
        set(
            "one pair, 5% slower",
            pairs(&mut rng, 1, 20, slower, 0.0, 0.03),
            None,
            RowVerdict::Regressed,
        ),
        set(
            "two pairs, unchanged",
            pairs(&mut rng, 2, 20, 0.0, 0.02, 0.03),
            None,
            RowVerdict::Unchanged,
        ),
        set(
            "pairs of 5 samples",
            pairs(&mut rng, 4, 5, slower, 0.01, 0.03),
            None,
            RowVerdict::Incomparable,
        ),
        set(
            "one pair of 3 samples",
            pairs(&mut rng, 1, 3, slower, 0.0, 0.03),
            None,
            RowVerdict::Insufficient,
        ),
    ];
    // Borderline: the interval's lower bound a hair above and below
    // `ln(1 + tolerance)` (the pooled shift moves with the ratios).
    let base = pairs(&mut rng, 8, 20, slower, 0.01, 0.03);
    let lower = gate_core::stats::pooled_shift(&base, 1.0 - ALPHA)
        .expect("pairs")
        .lower;
    for (name, by, expected) in [
        ("just over the tolerance", 1e-9, RowVerdict::Regressed),
        ("just inside the tolerance", -1e-9, RowVerdict::Unchanged),
    ] {
        let x = TOLERANCE.ln_1p() - lower + by;
        let raw = base
            .iter()
            .map(|p| p.iter().map(|d| d + x).collect())
            .collect();
        out.push(set(name, raw, None, expected));
    }
    // Significant alone (exact signed-rank p = 2/64), not in a family of
    // three rows (3 x 2/64 > alpha).
    let raw = pairs(&mut rng, 1, 6, 0.2, 0.0, 0.01);
    out.push(set(
        "one pair of 6 samples, 20% slower",
        raw,
        None,
        RowVerdict::Regressed,
    ));
    // The parallel secret benches: raw ratios scattered by the event's
    // rate, adjusted ones tight; two pairs without a line to adjust by.
    let raw = pairs(&mut rng, 12, 20, slower, 0.5, 0.3);
    let adjusted: Vec<Option<Vec<f64>>> = pairs(&mut rng, 12, 20, slower, 0.01, 0.04)
        .into_iter()
        .enumerate()
        .map(|(j, a)| (j != 3 && j != 8).then_some(a))
        .collect();
    out.push(set(
        "adjusted, 5% slower",
        raw,
        Some(adjusted),
        RowVerdict::Regressed,
    ));
    let raw = pairs(&mut rng, 12, 20, 0.0, 0.3, 0.3);
    let adjusted = pairs(&mut rng, 12, 20, 0.0, 0.01, 0.04)
        .into_iter()
        .map(Some)
        .collect();
    out.push(set(
        "adjusted, unchanged",
        raw,
        Some(adjusted),
        RowVerdict::Unchanged,
    ));
    // Adjusted in 5 of 12 pairs only: no adjusted test, the raw one decides.
    let raw = pairs(&mut rng, 12, 20, slower, 0.01, 0.03);
    let adjusted = pairs(&mut rng, 12, 20, 0.0, 0.01, 0.04)
        .into_iter()
        .enumerate()
        .map(|(j, a)| (j < 5).then_some(a))
        .collect();
    out.push(set(
        "adjusted in too few pairs",
        raw,
        Some(adjusted),
        RowVerdict::Regressed,
    ));
    out
}

/// The check's base and head of `set`, as `ab` measures and pools them:
/// per pair, the base's samples and the head's (`base_i * exp(d_i)`), both
/// carrying the pair's ratios under its round.
fn check_sides(id: &str, set: &PairSet) -> (Benchmark, Benchmark) {
    let (mut base, mut head) = (None, None);
    for (round, ratios) in set.raw.iter().enumerate() {
        let base_samples: Vec<f64> = (0..ratios.len())
            .map(|i| 100.0 * (1.0 + 0.01 * (i % 7) as f64))
            .collect();
        let head_samples = base_samples.iter().zip(ratios).map(|(b, d)| b * d.exp());
        let adjusted = set
            .adjusted
            .as_ref()
            .map(|a| a[round].clone().unwrap_or_default());
        for (side, samples) in [
            (&mut base, base_samples.clone()),
            (&mut head, head_samples.collect()),
        ] {
            let mut b = Benchmark::new(id, Lang::Rust, Mode::Sequential, 1, samples);
            b.metrics.insert(PAIRED_LOG_RATIO.into(), ratios.clone());
            b.metrics
                .insert(PAIRED_ROUND.into(), vec![round as f64; ratios.len()]);
            if let Some(a) = &adjusted {
                b.metrics
                    .insert(PAIRED_LOG_RATIO_ADJUSTED.into(), a.clone());
                b.metrics
                    .insert(PAIRED_ROUND_ADJUSTED.into(), vec![round as f64; a.len()]);
            }
            let set = ResultSet {
                benchmarks: vec![b],
                ..ResultSet::default()
            };
            gate_runner::ab::pool(side, set);
        }
    }
    let take = |s: Option<ResultSet>| s.expect("pairs").benchmarks.remove(0);
    (take(base), take(head))
}

/// `gate check --base`'s rows for `copies` benches measured as `set`.
fn check_rows(set: &PairSet, copies: usize) -> Vec<Row> {
    let sides: Vec<(Benchmark, Benchmark)> = (0..copies)
        .map(|k| check_sides(&format!("secret/copy{k}/sequential"), set))
        .collect();
    let pairings: Vec<Pairing<'_>> = sides
        .iter()
        .map(|(base, head)| Pairing {
            id: head.id.clone(),
            kind: RowKind::RustVsRust,
            mode: head.mode,
            threads: head.threads,
            old: Some(base),
            new: Some(head),
            go: None,
            max_ratio: None,
            warnings: Vec::new(),
        })
        .collect();
    // As `check` passes them, with the repository's lockstep tolerance.
    let opts = Options {
        tolerance: 0.05,
        alpha: ALPHA,
        paired_tolerance: Some(TOLERANCE),
        ..Options::default()
    };
    verdict::decide(&pairings, &opts).0
}

/// A row's figures, for a failure message.
fn brief(row: &Row) -> String {
    format!(
        "{:?}, ratio {:?} {:?}, p {:?}, adjusted {:?}",
        row.verdict, row.ratio, row.ratio_ci, row.p_value, row.adjusted
    )
}

#[test]
fn power_decides_the_pairs_of_a_check_as_the_check_does() {
    for set in sets() {
        let raw: Vec<&[f64]> = set.raw.iter().map(Vec::as_slice).collect();
        let adjusted: Option<Vec<Option<&[f64]>>> = set
            .adjusted
            .as_ref()
            .map(|a| a.iter().map(Option::as_deref).collect());
        let name = set.name;
        let row = &check_rows(&set, 1)[0];
        assert_eq!(row.verdict, set.expected, "{name}: {}", brief(row));

        // Power's figures are the check's.
        let power = paired_row(&raw, adjusted.as_deref(), ALPHA);
        match &power {
            Ok(p) => {
                assert_eq!(row.ratio, Some(p.raw.ratio()), "{name}");
                assert_eq!(row.ratio_ci, Some(p.raw.ratio_ci()), "{name}");
                let strip = |a: &verdict::AdjustedTest| (a.ratio, a.ratio_ci, a.spread);
                assert_eq!(
                    row.adjusted.as_ref().map(strip),
                    p.adjusted_test().as_ref().map(strip),
                    "{name}"
                );
            }
            Err(_) => assert!(
                matches!(
                    row.verdict,
                    RowVerdict::Incomparable | RowVerdict::Insufficient
                ),
                "{name}: {}",
                brief(row)
            ),
        }
        let tests = power.as_ref().map_or(0, |p| p.tests().count());

        // Power's verdict is the check's: a lone check of these pairs flags
        // exactly when the check's row regresses, in a family of one test
        // (false alarms) and of the row's tests (detection at no slowdown).
        let check = Check::of(power);
        let (alarm, step) = outcome(std::slice::from_ref(&check), TOLERANCE, ALPHA, tests.max(1));
        let regressed = row.verdict == RowVerdict::Regressed;
        assert_eq!(step == 0, regressed, "{name}: {}", brief(row));
        if tests <= 1 {
            assert_eq!(alarm, regressed, "{name}: {}", brief(row));
        }

        // The core's decision of a lone row gives the check's verdict too,
        // every verdict, at the family of the row's tests and of three
        // rows of the same pairs.
        for copies in [1, 3] {
            let rows = check_rows(&set, copies);
            let settings = PairedSettings {
                tolerance: TOLERANCE,
                alpha: ALPHA,
                family: copies * tests.max(1),
            };
            let alone = verdict::decide_paired(&raw, adjusted.as_deref(), &settings);
            for r in &rows {
                assert_eq!(r.verdict, alone.verdict, "{name} x {copies}: {}", brief(r));
            }
            if tests == 1 {
                let (_, step) = outcome(std::slice::from_ref(&check), TOLERANCE, ALPHA, copies);
                let regressed = rows[0].verdict == RowVerdict::Regressed;
                assert_eq!(step == 0, regressed, "{name} x {copies}");
            }
        }
    }
}
