//! Which old benchmark a new one is compared with, and how their
//! configurations differ.
//!
//! `benchstat` groups results into tables by every file-level configuration
//! key (`goos`, `goarch`, `pkg`, `cpu`, `note`, custom keys), so results of
//! different configurations are never compared unless `-ignore` drops the
//! key. `gate compare` pairs results by name and GOMAXPROCS as before, but
//! never silently: within a name, a result of the same configuration is
//! preferred (the same `pkg` first: a name in two packages is two
//! benchmarks, as `go test ./...` prints them), and when the chosen pair's
//! configurations still differ, every row of it says which key and both
//! values, and the report's notes say it once per key.

use std::collections::BTreeMap;

use crate::formats::gobench::names::configuration;
use crate::model::{Benchmark, ResultSet};

/// The configuration key that selects which benchmark a name is.
const PACKAGE_KEY: &str = "pkg";

/// One configuration key whose value differs between two benchmarks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    pub key: String,
    pub old: String,
    pub new: String,
}

impl Difference {
    /// `note: old "x" vs new "y"`.
    pub fn describe(&self) -> String {
        format!("{}: old {:?} vs new {:?}", self.key, self.old, self.new)
    }
}

/// The keys both benchmarks set, with different values. A key set on one
/// side only is unknown on the other (a saved report keeps no
/// configuration), not a difference.
pub fn differences(old: &Benchmark, new: &Benchmark) -> Vec<Difference> {
    let (o, n) = (configuration(old), configuration(new));
    o.iter()
        .filter_map(|(key, ov)| {
            let nv = n.get(key)?;
            (nv != ov).then(|| Difference {
                key: key.to_string(),
                old: ov.to_string(),
                new: nv.to_string(),
            })
        })
        .collect()
}

/// The old and new benchmarks to compare, in the order of the new set, then
/// the old ones no new benchmark took. Each old benchmark is taken once.
pub fn match_sets<'a>(
    old: &'a ResultSet,
    new: &'a ResultSet,
) -> Vec<(Option<&'a Benchmark>, Option<&'a Benchmark>)> {
    let mut taken = vec![false; old.benchmarks.len()];
    let mut matched = Vec::new();
    for n in &new.benchmarks {
        let pick = old
            .benchmarks
            .iter()
            .enumerate()
            .filter(|(i, o)| !taken[*i] && o.key() == n.key())
            .min_by_key(|(_, o)| distance(o, n))
            .map(|(i, _)| i);
        if let Some(i) = pick {
            taken[i] = true;
        }
        matched.push((pick.map(|i| &old.benchmarks[i]), Some(n)));
    }
    for (i, o) in old.benchmarks.iter().enumerate() {
        if !taken[i] {
            matched.push((Some(o), None));
        }
    }
    matched
}

/// How far apart two configurations are: another package first, then the
/// number of other keys that differ.
fn distance(old: &Benchmark, new: &Benchmark) -> (bool, usize) {
    let diffs = differences(old, new);
    (diffs.iter().any(|d| d.key == PACKAGE_KEY), diffs.len())
}

/// The report's note for each differing key: both values and how many
/// benchmarks it concerns.
pub fn notes(found: &[Difference]) -> Vec<String> {
    let mut by_key: BTreeMap<&str, BTreeMap<(&str, &str), usize>> = BTreeMap::new();
    for d in found {
        *by_key
            .entry(&d.key)
            .or_default()
            .entry((&d.old, &d.new))
            .or_default() += 1;
    }
    by_key
        .into_iter()
        .map(|(key, values)| {
            let shown: Vec<String> = values
                .iter()
                .map(|((o, n), count)| format!("old {o:?} vs new {n:?} ({count} benchmark(s))"))
                .collect();
            format!(
                "configuration `{key}` differs between the two sides: {}; benchstat would not \
                 compare these (it puts each configuration in a table of its own); they are \
                 compared here and each of their rows says so",
                shown.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lang, Mode};

    fn go(config: &[(&str, &str)]) -> Benchmark {
        let mut b = Benchmark::new(
            "BenchmarkX/size=8",
            Lang::Go,
            Mode::Undeclared,
            8,
            vec![1.0],
        );
        b.labels.insert("size".into(), "8".into());
        b.labels.insert("exact".into(), "B/op".into());
        b.labels.insert("unit:MB/s:better".into(), "higher".into());
        for (k, v) in config {
            b.labels.insert(k.to_string(), v.to_string());
        }
        b
    }

    #[test]
    fn only_keys_set_on_both_sides_with_other_values_differ() {
        let old = go(&[("note", "before"), ("goos", "linux"), ("cpu", "a")]);
        let new = go(&[("note", "after"), ("goos", "linux")]);
        let d = differences(&old, &new);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].describe(), r#"note: old "before" vs new "after""#);
        assert!(differences(&old, &old).is_empty());
    }

    #[test]
    fn a_name_is_matched_within_its_package_first() {
        let set = |bs: Vec<Benchmark>| ResultSet {
            benchmarks: bs,
            ..ResultSet::default()
        };
        let old = set(vec![
            go(&[("pkg", "a"), ("note", "x")]),
            go(&[("pkg", "b"), ("note", "x")]),
        ]);
        let new = set(vec![go(&[("pkg", "b"), ("note", "y")])]);
        let m = match_sets(&old, &new);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].0.unwrap().labels["pkg"], "b");
        assert_eq!(m[1].0.unwrap().labels["pkg"], "a");
        assert!(m[1].1.is_none(), "the other package is not compared");
    }

    #[test]
    fn notes_name_each_key_once_with_its_values() {
        let d = |o: &str, n: &str| Difference {
            key: "note".into(),
            old: o.into(),
            new: n.into(),
        };
        let n = notes(&[d("x", "y"), d("x", "y")]);
        assert_eq!(n.len(), 1);
        assert!(
            n[0].contains("configuration `note` differs")
                && n[0].contains(r#"old "x" vs new "y" (2 benchmark(s))"#),
            "{n:?}"
        );
    }
}
