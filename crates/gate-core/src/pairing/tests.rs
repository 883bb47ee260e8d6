//! Tests of the pairing rules: floor normalisation, the floor drift note,
//! the widened filter, live Go.

mod floor_tests {
    use super::super::floor::widen_filter;
    use super::super::*;
    use crate::config::FloorConfig;
    use crate::model::{Environment, Mode};
    use crate::verdict::RowVerdict;

    const FLOOR_ID: &str = "floor/mprotect_pair/sequential";

    fn floor_config() -> FloorConfig {
        FloorConfig {
            scales: vec!["secret/".into()],
            ..FloorConfig::default()
        }
    }

    fn filter_with_floor(
        filter: &Regex,
        bl: &Baseline,
        here: &Environment,
    ) -> Option<(Regex, String)> {
        widen_filter(&floor_config(), filter, bl, here)
    }

    fn bench(id: &str, center: f64) -> Benchmark {
        let samples = (0..30)
            .map(|i| center * (1.0 + 0.001 * f64::from(i % 7)))
            .collect();
        Benchmark::new(id, Lang::Rust, Mode::Sequential, 1, samples)
    }

    fn set(cpu: &str, floor: f64, secret: f64) -> ResultSet {
        ResultSet {
            environment: Environment {
                cpu_model: Some(cpu.into()),
                ..Default::default()
            },
            benchmarks: vec![
                bench(FLOOR_ID, floor),
                with_counters(bench("secret/with_bytes/sequential", secret), 2.0, 0.0),
                // Maps and locks a page per op, 8x the floor: not floor-bound.
                with_counters(bench("secret/lifecycle/sequential", 8.0 * secret), 5.0, 1.0),
            ],
            provenance: None,
        }
    }

    fn with_counters(mut b: Benchmark, mprotect: f64, mmap: f64) -> Benchmark {
        b.counters.insert("mprotect_per_op".into(), mprotect);
        b.counters.insert("mmap_per_op".into(), mmap);
        b.counters.insert("mlock_per_op".into(), mmap);
        b
    }

    fn report(old: ResultSet, new: &ResultSet) -> Report {
        report_of_sets(vec![old], new)
    }

    fn report_of_sets(sets: Vec<ResultSet>, new: &ResultSet) -> Report {
        let dir = tempfile::tempdir().unwrap();
        let mut bl = Baseline::new(formats::BaselineKind::Rust);
        bl.sets = sets;
        formats::write_baseline(&dir.path().join("rust.yaml"), &bl).unwrap();
        let cfg = Config::parse(
            "baselines:\n  rust: rust.yaml\n  go: go.yaml\nfloor:\n  scales: [\"secret/\"]\n",
            &dir.path().join("gate.yaml"),
        )
        .unwrap();
        build_report(&cfg, new, None, Sources::default()).unwrap()
    }

    fn verdict_of(r: &Report, id: &str) -> RowVerdict {
        r.rows.iter().find(|x| x.id == id).unwrap().verdict
    }

    /// Whether a note of `r` holds every fragment.
    fn has_note(r: &Report, fragments: &[&str]) -> bool {
        r.notes
            .iter()
            .any(|n| fragments.iter().all(|f| n.contains(f)))
    }

    #[test]
    fn another_machine_kind_is_normalised_by_the_floor() {
        // A machine twice as fast at mprotect: the secret bench halves too.
        let r = report(
            set("slow cpu", 2000.0, 2200.0),
            &set("fast cpu", 1000.0, 1100.0),
        );
        assert_eq!(
            verdict_of(&r, "secret/with_bytes/sequential"),
            RowVerdict::Unchanged
        );
        assert!(
            has_note(&r, &["normalised by the mprotect floor"]),
            "{:?}",
            r.notes
        );
        // The floor itself is compared directly: it did change.
        assert_eq!(verdict_of(&r, FLOOR_ID), RowVerdict::Improved);
        // A bench that maps memory per op is not scaled by the mprotect
        // floor: compared directly, and a note names it.
        assert_eq!(
            verdict_of(&r, "secret/lifecycle/sequential"),
            RowVerdict::Improved
        );
        assert!(
            has_note(&r, &["not normalised", "secret/lifecycle/sequential"]),
            "{:?}",
            r.notes
        );
    }

    /// A filtered `gate baseline update` leaves the floor in the second set
    /// (kept from the previous baseline) and only other benches in the
    /// first: the secret bench is still normalised, by its own set's floor.
    #[test]
    fn the_floor_of_a_benchs_own_set_normalises_it() {
        let mut parallel = bench("secret/with_bytes/parallel/t2", 100.0);
        parallel.mode = Mode::Parallel;
        parallel.threads = 2;
        let fresh = ResultSet {
            environment: Environment {
                cpu_model: Some("slow cpu".into()),
                ..Default::default()
            },
            benchmarks: vec![parallel],
            provenance: Some("gate baseline update --filter parallel".into()),
        };
        let r = report_of_sets(
            vec![fresh, set("slow cpu", 2000.0, 2200.0)],
            &set("fast cpu", 1000.0, 1100.0),
        );
        assert_eq!(
            verdict_of(&r, "secret/with_bytes/sequential"),
            RowVerdict::Unchanged,
            "{:?}",
            r.notes
        );
        assert!(has_note(&r, &["factor 0.500"]), "{:?}", r.notes);
    }

    /// `--filter secret` against a baseline of another machine kind runs
    /// the floor too; nothing changes when it is not needed.
    #[test]
    fn a_filter_without_the_floor_is_widened_only_when_normalisation_needs_it() {
        let mut bl = Baseline::new(formats::BaselineKind::Rust);
        bl.sets.push(set("slow cpu", 2000.0, 2200.0));
        let elsewhere = Environment {
            cpu_model: Some("fast cpu".into()),
            ..Default::default()
        };
        let f = |re: &str| Regex::new(re).unwrap();
        let (widened, note) = filter_with_floor(&f("secret"), &bl, &elsewhere).unwrap();
        assert!(widened.is_match(FLOOR_ID) && widened.is_match("secret/with_bytes/sequential"));
        assert!(!widened.is_match("keycache/read_existing_key/sequential"));
        assert!(note.contains("outside --filter"), "{note}");
        // Only benches the floor does not model, or none selected, or the
        // floor already in: no change.
        assert!(filter_with_floor(&f("lifecycle"), &bl, &elsewhere).is_none());
        assert!(filter_with_floor(&f("keycache"), &bl, &elsewhere).is_none());
        assert!(filter_with_floor(&f("secret|floor"), &bl, &elsewhere).is_none());
        // The same machine kind: compared directly, no floor needed.
        let same = Environment {
            cpu_model: Some("slow cpu".into()),
            ..Default::default()
        };
        assert!(filter_with_floor(&f("secret"), &bl, &same).is_none());
    }

    #[test]
    fn the_same_machine_kind_is_compared_directly() {
        let r = report(set("cpu", 2000.0, 2200.0), &set("cpu", 1000.0, 1100.0));
        assert_eq!(
            verdict_of(&r, "secret/with_bytes/sequential"),
            RowVerdict::Improved
        );
        assert!(!has_note(&r, &["normalised"]), "{:?}", r.notes);
    }

    /// Same fingerprint, but the mprotect floor doubled: the report says the
    /// host changed (the floor is the machine, not the code); an unchanged
    /// floor says nothing.
    #[test]
    fn a_floor_that_moved_on_the_same_machine_kind_is_reported() {
        let r = report(set("cpu", 1000.0, 1100.0), &set("cpu", 2000.0, 2200.0));
        assert!(
            has_note(&r, &["floor benches moved", "+100%"]),
            "{:?}",
            r.notes
        );
        let r = report(set("cpu", 1000.0, 1100.0), &set("cpu", 1001.0, 1100.0));
        assert!(!has_note(&r, &["floor benches moved"]), "{:?}", r.notes);
    }
}

mod live_go_tests {
    use super::super::*;
    use crate::model::Mode;

    fn go(samples: Vec<f64>) -> Benchmark {
        Benchmark::new(
            "BenchmarkSecret_WithBytes",
            Lang::Go,
            Mode::Sequential,
            1,
            samples,
        )
    }

    #[test]
    fn live_go_wins_over_the_stored_figure_for_pairs_that_ask_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut bl = Baseline::new(formats::BaselineKind::Go);
        bl.sets.push(ResultSet {
            benchmarks: vec![go(vec![3000.0; 5])],
            ..Default::default()
        });
        formats::write_baseline(&dir.path().join("go.yaml"), &bl).unwrap();
        let cfg = Config::parse(
            "require_baseline: false\nbaselines:\n  go: go.yaml\npairs:\n  - rust: secret/with_bytes/sequential\n    go: BenchmarkSecret_WithBytes\n    mode: sequential\n    threads: 1\n    go_package: go/securememory\n",
            &dir.path().join("gate.yaml"),
        )
        .unwrap();
        let mut rust = go((0..20).map(|i| 1500.0 + f64::from(i)).collect());
        rust.id = "secret/with_bytes/sequential".into();
        rust.lang = Lang::Rust;
        let new = ResultSet {
            benchmarks: vec![rust],
            ..Default::default()
        };
        let live = ResultSet {
            benchmarks: vec![go(vec![2000.0; 10])],
            provenance: Some("measured live".into()),
            ..Default::default()
        };
        let row = |r: &Report| {
            r.rows
                .iter()
                .find(|x| x.kind == RowKind::RustVsGo)
                .unwrap()
                .old
                .clone()
                .unwrap()
        };
        let stored = build_report(&cfg, &new, None, Sources::default()).unwrap();
        assert_eq!(row(&stored).n, 5);
        let with_live = build_report(
            &cfg,
            &new,
            None,
            Sources {
                base: None,
                live_go: Some(&live),
                design: None,
            },
        )
        .unwrap();
        assert_eq!(row(&with_live).n, 10);
        assert_eq!(row(&with_live).median_ns, 2000.0);
    }

    /// A Go figure whose mode nothing declared (read without `--mode`, as
    /// live Go is) takes the pair's mode; one declared otherwise is refused.
    #[test]
    fn the_pair_declares_the_mode_of_an_undeclared_go_figure() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::parse(
            "require_baseline: false\nbaselines:\n  go: go.yaml\npairs:\n  - rust: secret/with_bytes/parallel/t2\n    go: BenchmarkSecret_WithBytes\n    mode: parallel\n    threads: 2\n",
            &dir.path().join("gate.yaml"),
        )
        .unwrap();
        let rust = Benchmark::new(
            "secret/with_bytes/parallel/t2",
            Lang::Rust,
            Mode::Parallel,
            2,
            (0..20).map(|i| 900.0 + f64::from(i)).collect(),
        );
        let new = ResultSet {
            benchmarks: vec![rust],
            ..Default::default()
        };
        let report_with = |mode: Mode| {
            let mut g = go(vec![1000.0; 5]);
            g.threads = 2;
            g.mode = mode;
            let mut bl = Baseline::new(formats::BaselineKind::Go);
            bl.sets.push(ResultSet {
                benchmarks: vec![g],
                ..Default::default()
            });
            formats::write_baseline(&dir.path().join("go.yaml"), &bl).unwrap();
            build_report(&cfg, &new, None, Sources::default())
        };
        let r = report_with(Mode::Undeclared).unwrap();
        let row = r.rows.iter().find(|x| x.kind == RowKind::RustVsGo).unwrap();
        assert_eq!((row.mode, row.threads), (Mode::Parallel, 2));
        assert!(row.old.is_some(), "{row:?}");
        let err = format!("{:#}", report_with(Mode::Sequential).unwrap_err());
        assert!(err.contains("mode mismatch"), "{err}");
    }
}
