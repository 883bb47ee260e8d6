//! Progress on stderr: an indicatif bar on a terminal, plain lines in CI,
//! and the runner's and pipeline's status lines ([`say`]).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A status line for the user, on stderr (stdout is for reports):
/// `gate: <message>`.
pub fn say(message: impl std::fmt::Display) {
    eprintln!("gate: {message}");
}

/// A status line of one part of the gate: `gate <part>: <message>`.
pub fn say_in(part: &str, message: impl std::fmt::Display) {
    eprintln!("gate {part}: {message}");
}

/// A warning for the user, on stderr: `warning: <message>`.
pub fn warn(message: impl std::fmt::Display) {
    eprintln!("warning: {message}");
}

/// How progress is shown while benches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stdout and stderr are terminals, else [`ProgressMode::Lines`].
    #[default]
    Auto,
    /// An indicatif bar on stderr: bench id, `3/27`, elapsed, ETA.
    Bar,
    /// One plain line per bench on stderr (CI logs; keeps stdout for reports).
    Lines,
    /// Nothing (tests, callers with their own progress).
    Quiet,
}

/// Progress of a run: an indicatif bar on a terminal, plain lines in CI.
/// Public so that a caller interleaving two checkouts can show one.
pub struct Progress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    /// Benches expected in all; a run that decides as it goes revises it.
    len: AtomicU64,
    per_bench: Duration,
    t0: Instant,
    /// Time since `t0` when the last bench finished (shared with the bar's
    /// ETA key, which indicatif calls from its ticker thread).
    last_done: Arc<Mutex<Duration>>,
}

/// Time left at `now` when `done` of `len` benches finished by
/// `last_done`: the benches left times the average so far (the estimate
/// `per_bench` before any finished), less the time the running one has had.
fn eta(len: u64, done: u64, last_done: Duration, now: Duration, per_bench: Duration) -> Duration {
    let avg = if done == 0 {
        per_bench
    } else {
        last_done.div_f64(done as f64)
    };
    let left = avg.mul_f64(len.saturating_sub(done) as f64);
    left.saturating_sub(now.saturating_sub(last_done))
}

impl Progress {
    /// Progress of `len` benches (0 for the build and listing phases),
    /// each expected to take about `per_bench` (see
    /// [`Settings::estimated_per_bench`]).
    pub fn new(mode: ProgressMode, len: u64, per_bench: Duration) -> Progress {
        let t0 = Instant::now();
        let last_done = Arc::new(Mutex::new(Duration::ZERO));
        let mode = match mode {
            ProgressMode::Auto
                if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() =>
            {
                ProgressMode::Bar
            }
            ProgressMode::Auto => ProgressMode::Lines,
            m => m,
        };
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            let style = if len == 0 {
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            } else {
                // indicatif's own `{eta}` knows nothing before the first
                // bench ends; ours starts from the settings' estimate.
                ProgressStyle::with_template(
                    "{spinner} [{pos}/{len}] {wide_msg} [{elapsed} elapsed, ETA {gate_eta}]",
                )
                .map(|s| {
                    let last_done = last_done.clone();
                    s.with_key(
                        "gate_eta",
                        move |st: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let last = *last_done.lock().unwrap_or_else(|e| e.into_inner());
                            let left = eta(
                                st.len().unwrap_or(0),
                                st.pos(),
                                last,
                                t0.elapsed(),
                                per_bench,
                            );
                            let _ = w.write_str(&clock(left));
                        },
                    )
                })
            };
            bar.set_style(style.expect("progress template is valid"));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            mode,
            bar,
            len: AtomicU64::new(len),
            per_bench,
            t0,
            last_done,
        }
    }

    pub(crate) fn phase(&self, what: &str) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.set_message(what.to_string()),
            (None, ProgressMode::Lines) => eprintln!("gate: {what}"),
            _ => {}
        }
    }

    pub(crate) fn done_phase(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message("");
        }
    }

    /// Revises the number of benches expected in all (a sequential check
    /// learns it as benches decide and the budget runs down).
    pub fn set_len(&self, len: u64) {
        self.len.store(len, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(len);
        }
    }

    /// Bench `i` (from 0) starts.
    pub fn start(&self, i: usize, id: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(i as u64);
            bar.set_message(id.to_string());
        }
    }

    /// Bench `i` ended after `took`.
    pub fn finish(&self, i: usize, id: &str, took: Duration, ok: bool) {
        let done = i as u64 + 1;
        let elapsed = self.t0.elapsed();
        *self.last_done.lock().unwrap_or_else(|e| e.into_inner()) = elapsed;
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.set_position(done),
            (None, ProgressMode::Lines) => {
                let len = self.len.load(Ordering::Relaxed);
                let eta = eta(len, done, elapsed, elapsed, self.per_bench);
                eprintln!(
                    "gate: [{done}/{len}] {id} {} in {:.1}s (elapsed {}, ETA {})",
                    if ok { "done" } else { "FAILED" },
                    took.as_secs_f64(),
                    clock(elapsed),
                    clock(eta)
                );
            }
            _ => {}
        }
    }

    /// Removes the bar.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_starts_from_the_estimate_then_follows_the_average() {
        let s = Duration::from_secs;
        // Before any bench finished: 4 x 5 s estimated, 1 s spent.
        assert_eq!(eta(4, 0, s(0), s(1), s(5)), s(19));
        // One took 10 s: 3 x 10 s left, 4 s into the second.
        assert_eq!(eta(4, 1, s(10), s(14), s(5)), s(26));
        assert_eq!(eta(4, 4, s(40), s(40), s(5)), s(0));
        // A bench slower than the average does not make the ETA negative.
        assert_eq!(eta(2, 1, s(10), s(25), s(5)), s(0));
    }
}
