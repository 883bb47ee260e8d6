//! Collect: readers and writers of every result format the gate meets.
//!
//! Each reader turns one on-disk format into the one result model
//! ([`crate::model::ResultSet`]) so that later stages never care where a
//! figure came from:
//!
//! - [`gobench`]: `go test -bench` output (golang proposal 14313), read and
//!   written (so that `benchstat` can read our results);
//! - [`criterion`]: a criterion home folder (`target/criterion`) plus the
//!   per-op counters the benches write beside it;
//! - [`results`]: the results JSON that `gate check` saves;
//! - [`baseline`]: the stored Go and Rust baselines (YAML);
//! - [`load`]: [`load_any`], which recognises any of the above (and a saved
//!   report) for `gate compare OLD NEW`.
//!
//! Every error names the file it came from (and the line, where the format
//! has lines), because a CI log is read by someone who did not write the file.
//! Files the gate writes go through [`atomic::write_atomic`], so that a crash
//! never leaves a half-written baseline behind.

pub mod atomic;
pub mod baseline;
pub mod criterion;
pub mod gobench;
pub mod load;
pub mod results;
mod schema;

pub use atomic::{write_atomic, write_atomic_bytes};
pub use baseline::{Baseline, BaselineKind, read_baseline, write_baseline};
pub use criterion::read_criterion;
pub use gobench::{parse_go, read_go_file, write_go};
pub use load::{load_any, load_text};
pub use results::{read_results, write_results};

use crate::model::ResultSet;

/// What a reader produced: the figures, and what the user should know about
/// how they were read (a crashed Go run, a benchmark without time samples,
/// stale criterion folders). Warnings are sentences naming the file; the CLI
/// prints them and carries on, because the figures that were read are sound.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub set: ResultSet,
    pub warnings: Vec<String>,
}

/// Median of a sample (the statistics module's), used to reduce per-op
/// counters reported on every Go result line to one value, so that one odd
/// line does not move the counter.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    crate::stats::median(values)
}

/// Label under which the names of exact (deterministic) counters are kept,
/// comma-separated and sorted: `exact=allocs_per_op,mprotect_per_op`.
pub const EXACT_LABEL: &str = "exact";

/// The exact counters of a benchmark, from its [`EXACT_LABEL`] label. The
/// readers write the names without spaces; a label written by hand in a
/// results or baseline file may have them (`allocs_per_op, mprotect_per_op`),
/// and a name with a space would match no counter, so names are trimmed.
pub fn exact_counters(b: &crate::model::Benchmark) -> Vec<&str> {
    b.labels
        .get(EXACT_LABEL)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn exact_counters_are_read_trimmed_and_without_empty_names() {
        use crate::model::{Benchmark, Lang, Mode};
        let mut b = Benchmark::new("a/b/sequential", Lang::Rust, Mode::Sequential, 1, vec![1.0]);
        assert!(exact_counters(&b).is_empty());
        b.labels.insert(
            EXACT_LABEL.into(),
            "allocs_per_op, mprotect_per_op ,,".into(),
        );
        assert_eq!(exact_counters(&b), ["allocs_per_op", "mprotect_per_op"]);
        b.labels
            .insert(EXACT_LABEL.into(), "allocs_per_op,mprotect_per_op".into());
        assert_eq!(exact_counters(&b), ["allocs_per_op", "mprotect_per_op"]);
    }
}
