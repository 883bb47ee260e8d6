//! A series as a one-line Unicode sparkline (`▁▂▃▅▇`), for a table cell.

/// The eight heights, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The smallest span a sparkline's height stands for, relative to the
/// series' median: run-to-run noise of 1-3% moves a bar by a step or two,
/// and a step of 10% or more spans the whole height. Without it, min-max
/// scaling would draw the noise of a flat series as a drift.
pub const MIN_SPAN: f64 = 0.10;

/// `values` (oldest first) as one bar each; values that are not finite are
/// left out. Empty for an empty series.
pub fn sparkline(values: &[f64]) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let Some(median) = crate::stats::median(&finite) else {
        return String::new();
    };
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = (hi - lo).max(MIN_SPAN * median.abs());
    let bottom = if span > hi - lo {
        (lo + hi - span) / 2.0
    } else {
        lo
    };
    let top = (BARS.len() - 1) as f64;
    finite
        .iter()
        .map(|v| {
            let at = if span > 0.0 {
                ((v - bottom) / span * top).round()
            } else {
                top / 2.0
            };
            BARS[at.clamp(0.0, top) as usize]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_spans_the_height_and_noise_stays_low() {
        assert_eq!(sparkline(&[100.0, 100.0, 120.0, 120.0]), "▁▁██");
        let noisy = sparkline(&[100.0, 101.0, 99.0, 100.5, 100.0]);
        assert!(noisy.chars().all(|c| "▃▄▅".contains(c)), "{noisy}");
        assert_eq!(sparkline(&[5.0, 5.0]), "▅▅");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[f64::NAN, 1.0]).chars().count(), 1);
    }
}
