//! The rows of a Go benchmark's units other than time: every unit both
//! sides report on each result line (`B/op`, `allocs/op`, `MB/s`, custom
//! metrics) becomes a benchmark of its own, whose samples are that unit's
//! values, so it is compared like time, in its own direction
//! ([`crate::units`]).

use crate::model::{Benchmark, Lang};
use crate::units;

/// (old, new) per unit both Go benchmarks report on every line
/// ([`units::has_unit_row`]); units reported by one side only are named in
/// `one_sided`.
pub fn unit_sides(
    old: &Benchmark,
    new: &Benchmark,
    one_sided: &mut Vec<String>,
) -> Vec<(Benchmark, Benchmark)> {
    if old.lang != Lang::Go || new.lang != Lang::Go {
        return Vec::new();
    }
    let mut sides = Vec::new();
    for unit in old.metrics.keys() {
        if units::has_unit_row(old, new, unit) {
            sides.push((as_unit(old, unit), as_unit(new, unit)));
        } else {
            one_sided.push(format!("{unit} (old only)"));
        }
    }
    for unit in new.metrics.keys() {
        if !old.metrics.contains_key(unit) {
            one_sided.push(format!("{unit} (new only)"));
        }
    }
    sides
}

/// `b` with the values of `unit` as its samples; its counters stay with
/// the time row.
fn as_unit(b: &Benchmark, unit: &str) -> Benchmark {
    Benchmark {
        unit: unit.to_string(),
        samples: b.metrics[unit].clone(),
        counters: Default::default(),
        metrics: Default::default(),
        ..b.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mode;

    #[test]
    fn each_unit_both_go_sides_report_is_a_benchmark() {
        let mut old = Benchmark::new("BenchmarkX", Lang::Go, Mode::Undeclared, 8, vec![10.0; 3]);
        old.metrics.insert("B/op".into(), vec![96.0; 3]);
        old.metrics.insert("MB/s".into(), vec![5.0, 6.0, 7.0]);
        let mut new = old.clone();
        new.metrics.remove("MB/s");
        new.metrics.insert("allocs/op".into(), vec![3.0; 3]);
        let mut one = Vec::new();
        let sides = unit_sides(&old, &new, &mut one);
        assert_eq!(sides.len(), 1);
        assert_eq!(
            (sides[0].0.unit.as_str(), &sides[0].1.samples),
            ("B/op", &vec![96.0; 3])
        );
        assert_eq!((sides[0].1.threads, sides[0].1.mode), (8, Mode::Undeclared));
        assert_eq!(one, ["MB/s (old only)", "allocs/op (new only)"]);
        // Rust benches keep internal metrics (run medians): never unit rows.
        old.lang = Lang::Rust;
        assert!(unit_sides(&old, &new, &mut one).is_empty());
    }
}
