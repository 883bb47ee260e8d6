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
    /// Per-id changes (exact ids): shorter samples for cheap operations,
    /// more pairs for benches whose pairs of processes disagree more, pinned
    /// threads where they steady a parallel bench (the repository's
    /// `gate.yaml` says why for each).
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
            tolerance: None,
            pin_threads: false,
            adjust: default_adjust(),
            overrides: Default::default(),
        }
    }
}

impl Settings {
    /// The settings of `id`, its override applied.
    pub fn for_id(&self, id: &str) -> Settings {
        let mut s = Settings {
            overrides: Default::default(),
            ..self.clone()
        };
        if let Some(o) = self.overrides.get(id) {
            s.samples = o.samples.unwrap_or(s.samples);
            s.sample_ms = o.sample_ms.unwrap_or(s.sample_ms);
            s.warm_up_ms = o.warm_up_ms.unwrap_or(s.warm_up_ms);
            s.pin_threads = o.pin_threads.unwrap_or(s.pin_threads);
            s.adjust = o.adjust.unwrap_or(s.adjust);
        }
        s
    }

    /// Lockstep pairs of `id` in a check of `rounds` rounds when `gate.yaml`
    /// says `configured` (`rounds` is 2 with `--quick`): the id's
    /// `overrides[id].rounds` scaled by `rounds / configured`, rounded up,
    /// else `rounds`.
    pub fn pairs_for(&self, id: &str, rounds: u32, configured: u32) -> u32 {
        match self.overrides.get(id).and_then(|o| o.rounds) {
            Some(n) if configured > 0 => {
                (n as u64 * rounds as u64).div_ceil(configured as u64) as u32
            }
            Some(n) => n,
            None => rounds,
        }
    }

    /// Checks the values, naming the field.
    pub fn validate(&self) -> Result<()> {
        for (id, o) in &self.overrides {
            if o.rounds == Some(0) {
                bail!("lockstep.overrides[{id}].rounds`: 0 (at least 1 pair)");
            }
            crate::model::BenchId::parse(id).map_err(|e| anyhow!("lockstep.overrides`: {e}"))?;
            self.for_id(id)
                .validate()
                .with_context(|| format!("in lockstep.overrides[{id}]"))?;
        }
        if let Some(t) = self.tolerance
            && !(0.0..1.0).contains(&t)
        {
            bail!("lockstep.tolerance`: {t} is not a fraction in [0, 1) (0.02 means 2%)");
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
