//! The A/A pairs `gate power` measures of one id, as the lockstep analysis
//! and the sequential simulation both read them.

use serde::Serialize;

/// The A/A pairs of one id.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct IdPairs {
    pub id: String,
    /// Per pair: the per-sample log ratios.
    pub pairs: Vec<Vec<f64>>,
    /// Per pair: the base side's median (ns/op), for the report.
    pub medians_ns: Vec<f64>,
    /// Per pair: the log ratios at the same rate of the bench's counted
    /// event (`Pair::adjusted_log_ratios`), or the raw ones for a pair the
    /// adjustment did not apply to (`adjusted_applied` tells them apart);
    /// empty when the bench counts none. A check decides both and flags
    /// when either flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjusted: Vec<Vec<f64>>,
    /// Per pair: whether the adjustment applied to it (its `adjusted` are
    /// adjusted ratios); the adjusted test leaves the others out
    /// (`stats::comparable_rounds`). Empty when the bench counts none, and
    /// in reports from before it was added (see [`IdPairs::adjusted_rounds`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjusted_applied: Vec<bool>,
    /// Per pair: its wall time in seconds (both processes, start to exit),
    /// so that a budget can be planned per id; empty in files from before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seconds: Vec<f64>,
}

impl IdPairs {
    /// Per pair, its adjusted ratios, or None for a pair the adjustment did
    /// not apply to; None when the bench counts no event. Reports from
    /// without `adjusted_applied` stored such a pair's raw
    /// ratios as its adjusted ones, so there a pair whose adjusted ratios
    /// equal its raw ones counts as not adjusted.
    pub fn adjusted_rounds(&self) -> Option<Vec<Option<&Vec<f64>>>> {
        if self.adjusted.len() != self.pairs.len() || self.adjusted.is_empty() {
            return None;
        }
        let applied: Vec<bool> = if self.adjusted_applied.len() == self.adjusted.len() {
            self.adjusted_applied.clone()
        } else {
            self.adjusted
                .iter()
                .zip(&self.pairs)
                .map(|(a, r)| a != r)
                .collect()
        };
        Some(
            self.adjusted
                .iter()
                .zip(applied)
                .map(|(a, ok)| ok.then_some(a))
                .collect(),
        )
    }
}
