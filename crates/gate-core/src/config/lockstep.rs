//! `lockstep:` in `gate.yaml`: how a lockstep pair of `gate check --base`
//! samples (`docs/lockstep.md`).

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

/// How a lockstep pair samples (`lockstep:` in `gate.yaml`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Timed samples per process (turns after the warm-up turn).
    #[serde(default = "default_samples")]
    pub samples: u32,
    /// Target duration of one sample, in milliseconds: short enough that
    /// the machine does not change between the two sides' samples, long
    /// enough that the timer and the hand-over (about 20 us) do not matter.
    #[serde(default = "default_sample_ms")]
    pub sample_ms: f64,
    /// Warm-up in each process's first turn, in milliseconds.
    #[serde(default = "default_warm_up_ms")]
    pub warm_up_ms: f64,
    /// The most pairs of processes a bench takes in one check: the
    /// horizon of the sequential design (`docs/statistics.md`, "Stopping").
    #[serde(default = "default_max_pairs")]
    pub max_pairs: u32,
    /// Tolerance of the paired rows of `gate check --base` (default: the
    /// top-level `tolerance`). `gate power` says which one this machine can
    /// afford.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// Pin the threads of parallel benches, thread `i` of both sides to the
    /// same CPU (`GATE_BENCH_PIN=1`, honoured by the subject's bench pool).
    #[serde(default)]
    pub pin_threads: bool,
    /// Also decide the ratios at the same rate of the event a bench counts
    /// per sample (the parallel secret benches count `mprotect`), and flag a
    /// row when either test flags (`docs/lockstep.md`, "Adjusted for a
    /// covariate"). Default true; false decides the raw ratios only.
    #[serde(default = "default_adjust")]
    pub adjust: bool,
    /// Changes for some ids, by id or by pattern (`keycache/*/sequential`:
    /// a `*` stands for any characters but `/`): shorter samples for cheap
    /// operations, more pairs for benches whose pairs of processes disagree
    /// more, pinned threads where they steady a parallel bench. A rule that
    /// names an id exactly wins over the patterns that match it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub overrides: std::collections::BTreeMap<String, PerId>,
}

/// Settings of one id that differ from the `lockstep:` ones.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerId {
    pub pin_threads: Option<bool>,
    pub samples: Option<u32>,
    pub sample_ms: Option<f64>,
    pub warm_up_ms: Option<f64>,
    /// Lockstep pairs of this id in a check, instead of the top-level
    /// `rounds`: for benches whose pairs of processes disagree more than the
    /// others' (the spread between pairs, not the samples of one, limits
    /// what a check can see; `gate power` shows it), more pairs are the only
    /// way to a tighter interval. Scaled with `--quick` (see
    /// [`Settings::pairs_for`]).
    pub rounds: Option<u32>,
    /// Whether this id's rows are also decided at the same rate of the
    /// event its bench counts (see [`Settings::adjust`]).
    pub adjust: Option<bool>,
}

impl PerId {
    /// Whether both rules set at least one field in common.
    fn shares_a_field(&self, other: &PerId) -> bool {
        (self.pin_threads.is_some() && other.pin_threads.is_some())
            || (self.samples.is_some() && other.samples.is_some())
            || (self.sample_ms.is_some() && other.sample_ms.is_some())
            || (self.warm_up_ms.is_some() && other.warm_up_ms.is_some())
            || (self.rounds.is_some() && other.rounds.is_some())
            || (self.adjust.is_some() && other.adjust.is_some())
    }
}

/// Whether the pattern `p` (`*` for any characters but `/`) matches `id`.
fn pattern_matches(p: &str, id: &str) -> bool {
    let (ps, is): (Vec<&str>, Vec<&str>) = (p.split('/').collect(), id.split('/').collect());
    ps.len() == is.len() && ps.iter().zip(&is).all(|(p, i)| segment_matches(p, i))
}

/// One segment: literal pieces between `*`s, in order.
fn segment_matches(p: &str, s: &str) -> bool {
    let pieces: Vec<&str> = p.split('*').collect();
    if pieces.len() == 1 {
        return p == s;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// Whether two patterns can match one id, segment by segment.
fn patterns_overlap(a: &str, b: &str) -> bool {
    let (xs, ys): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    xs.len() == ys.len() && xs.iter().zip(&ys).all(|(x, y)| segments_overlap(x, y))
}

/// Whether two segments can match one string: a literal against the other
/// pattern; two patterns when their literal heads and tails agree (one a
/// prefix of the other, one a suffix of the other), which every string
/// both match needs, and which errs towards an overlap.
fn segments_overlap(x: &str, y: &str) -> bool {
    match (x.contains('*'), y.contains('*')) {
        (false, _) => segment_matches(y, x),
        (_, false) => segment_matches(x, y),
        (true, true) => {
            let head = |p: &str| p.split('*').next().unwrap_or("").to_string();
            let tail = |p: &str| p.rsplit('*').next().unwrap_or("").to_string();
            let (hx, hy, tx, ty) = (head(x), head(y), tail(x), tail(y));
            (hx.starts_with(&hy) || hy.starts_with(&hx)) && (tx.ends_with(&ty) || ty.ends_with(&tx))
        }
    }
}

fn default_max_pairs() -> u32 {
    64
}
fn default_adjust() -> bool {
    true
}
fn default_samples() -> u32 {
    30
}
fn default_sample_ms() -> f64 {
    10.0
}
fn default_warm_up_ms() -> f64 {
    100.0
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            samples: default_samples(),
            sample_ms: default_sample_ms(),
            warm_up_ms: default_warm_up_ms(),
            max_pairs: default_max_pairs(),
            tolerance: None,
            pin_threads: false,
            adjust: default_adjust(),
            overrides: Default::default(),
        }
    }
}

impl Settings {
    /// The override rules that apply to `id`: the patterns that match it
    /// (a `*` stands for any characters but `/`), then the rule naming `id`
    /// exactly, which wins.
    fn rules_for(&self, id: &str) -> impl Iterator<Item = (&String, &PerId)> {
        let patterns = self
            .overrides
            .iter()
            .filter(move |(p, _)| p.contains('*') && pattern_matches(p, id));
        patterns.chain(self.overrides.get_key_value(id))
    }

    /// The settings of `id`, its override rules applied.
    pub fn for_id(&self, id: &str) -> Settings {
        let mut s = Settings {
            overrides: Default::default(),
            ..self.clone()
        };
        for (_, o) in self.rules_for(id) {
            s.samples = o.samples.unwrap_or(s.samples);
            s.sample_ms = o.sample_ms.unwrap_or(s.sample_ms);
            s.warm_up_ms = o.warm_up_ms.unwrap_or(s.warm_up_ms);
            s.pin_threads = o.pin_threads.unwrap_or(s.pin_threads);
            s.adjust = o.adjust.unwrap_or(s.adjust);
        }
        s
    }

    /// Lockstep pairs of `id` in a check of `rounds` rounds when `gate.yaml`
    /// says `configured` (`rounds` is 2 with `--quick`): the `rounds` of the
    /// id's override rules scaled by `rounds / configured`, rounded up, else
    /// `rounds`.
    pub fn pairs_for(&self, id: &str, rounds: u32, configured: u32) -> u32 {
        match self.rules_for(id).filter_map(|(_, o)| o.rounds).last() {
            Some(n) if configured > 0 => {
                (n as u64 * rounds as u64).div_ceil(configured as u64) as u32
            }
            Some(n) => n,
            None => rounds,
        }
    }

    /// Two patterns that set the same field of one id would make the
    /// result depend on their order: refused, naming both.
    fn check_overlaps(&self) -> Result<()> {
        let patterns: Vec<(&String, &PerId)> = self
            .overrides
            .iter()
            .filter(|(p, _)| p.contains('*'))
            .collect();
        for (i, (a, ra)) in patterns.iter().enumerate() {
            for (b, rb) in &patterns[i + 1..] {
                if patterns_overlap(a, b) && ra.shares_a_field(rb) {
                    bail!(
                        "lockstep.overrides`: `{a}` and `{b}` both match some id and set the same \
                         field; make them disjoint, or name the id exactly"
                    );
                }
            }
        }
        Ok(())
    }

    /// Checks the values, naming the field.
    pub fn validate(&self) -> Result<()> {
        for (id, o) in &self.overrides {
            if o.rounds == Some(0) {
                bail!("lockstep.overrides[{id}].rounds`: 0 (at least 1 pair)");
            }
            if !id.contains('*') {
                crate::model::BenchId::parse(id)
                    .map_err(|e| anyhow!("lockstep.overrides`: {e}"))?;
            }
            self.for_id(id)
                .validate()
                .with_context(|| format!("in lockstep.overrides[{id}]"))?;
        }
        self.check_overlaps()?;
        if let Some(t) = self.tolerance
            && !(0.0..1.0).contains(&t)
        {
            bail!("lockstep.tolerance`: {t} is not a fraction in [0, 1) (0.02 means 2%)");
        }
        if (self.max_pairs as usize) < crate::sequential::FIRST_LOOK {
            bail!(
                "lockstep.max_pairs`: {} (at least {}: the first look)",
                self.max_pairs,
                crate::sequential::FIRST_LOOK
            );
        }
        if self.samples < 6 {
            bail!(
                "lockstep.samples`: {} (at least 6: a pair needs an interval of its median)",
                self.samples
            );
        }
        if !(self.sample_ms > 0.0 && self.sample_ms.is_finite()) {
            bail!(
                "lockstep.sample_ms`: {} (a positive number)",
                self.sample_ms
            );
        }
        if !(self.warm_up_ms >= 0.0 && self.warm_up_ms.is_finite()) {
            bail!("lockstep.warm_up_ms`: {} (zero or more)", self.warm_up_ms);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> Result<Settings> {
        let s: Settings = serde_yaml::from_str(yaml)?;
        s.validate()?;
        Ok(s)
    }

    #[test]
    fn patterns_match_within_a_segment() {
        assert!(pattern_matches(
            "keycache/*/sequential",
            "keycache/read/sequential"
        ));
        assert!(!pattern_matches(
            "keycache/*/sequential",
            "keycache/read/parallel/t2"
        ));
        assert!(pattern_matches(
            "secret/reader_*/parallel/t2",
            "secret/reader_read/parallel/t2"
        ));
        assert!(!pattern_matches(
            "secret/reader_*/parallel/t2",
            "secret/with_bytes/parallel/t2"
        ));
        assert!(pattern_matches(
            "*/*/sequential",
            "floor/syscall/sequential"
        ));
    }

    #[test]
    fn an_exact_id_wins_over_its_pattern() {
        let s = settings(
            "overrides:\n  keycache/*/parallel/t2: { sample_ms: 5, rounds: 20, pin_threads: true }\n  \
             keycache/write_unique_keys/parallel/t2: { rounds: 32 }\n",
        )
        .unwrap();
        let id = "keycache/write_unique_keys/parallel/t2";
        assert_eq!(s.pairs_for(id, 8, 8), 32);
        assert_eq!(s.pairs_for("keycache/read/parallel/t2", 8, 8), 20);
        assert_eq!(s.pairs_for("keycache/read/parallel/t2", 2, 8), 5);
        assert_eq!(s.pairs_for("keycache/read/sequential", 8, 8), 8);
        let own = s.for_id(id);
        assert!(own.pin_threads && own.sample_ms == 5.0);
    }

    #[test]
    fn overlapping_patterns_that_set_one_field_are_refused() {
        let e = settings(
            "overrides:\n  '*/*/sequential': { rounds: 6 }\n  secret/*/sequential: { rounds: 8 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("*/*/sequential") && e.contains("secret/*/sequential"),
            "{e}"
        );
        settings("overrides:\n  '*/*/sequential': { rounds: 6 }\n  secret/*/sequential: { sample_ms: 5 }\n")
            .unwrap();
        // Two wildcards in one segment: `x/ab/sequential` matches both.
        let e = settings(
            "overrides:\n  x/a*/sequential: { samples: 8 }\n  x/*b/sequential: { samples: 10 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("x/a*/sequential") && e.contains("x/*b/sequential"),
            "{e}"
        );
        settings(
            "overrides:\n  x/a*/sequential: { samples: 8 }\n  x/b*/sequential: { samples: 10 }\n",
        )
        .unwrap();
    }
}
