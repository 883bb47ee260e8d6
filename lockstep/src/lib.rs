//! The bench side of gate's lockstep protocol (`docs/lockstep.md`).
//!
//! Why: on a shared runner the speed of the machine drifts by several
//! percent within seconds (a neighbour's load, the host core a vCPU lands
//! on). Two bench processes run one after the other see different machines;
//! criterion's samples of one run all share that run's luck, so comparing
//! two runs compares two machines. Under lockstep, the base and the head
//! bench of one id run *at the same time* and take turns, one timed sample
//! each, passing a token through two pipes: sample `i` of the base and
//! sample `i` of the head are measured a few milliseconds apart, on the same
//! CPU, and their ratio cancels whatever the machine did meanwhile. Only the
//! process holding the token runs anything: the other one blocks in `read`.
//!
//! The gate starts both processes with `GATE_LOCKSTEP=<id>`; a bench whose
//! id that is calls [`Lockstep::for_id`] and, when it returns a session,
//! hands it its timed routine (what it would give criterion's
//! `iter_custom`) instead of registering the bench with criterion. Every
//! other bench of the executable registers as usual (criterion's `--exact`
//! filter skips them).
//!
//! The environment of a session:
//!
//! | variable | meaning |
//! |---|---|
//! | `GATE_LOCKSTEP` | the bench id to run in lockstep |
//! | `GATE_LOCKSTEP_FDS` | `<read fd>,<write fd>`: wait for the token on the first, pass it on the second |
//! | `GATE_LOCKSTEP_OUT` | file to write the samples to (JSON, below) |
//! | `GATE_LOCKSTEP_SAMPLES` | timed samples (turns after the first) |
//! | `GATE_LOCKSTEP_SAMPLE_MS` | target duration of one sample |
//! | `GATE_LOCKSTEP_WARMUP_MS` | warm-up in the first turn |
//! | `GATE_LOCKSTEP_SETUP` | `0`: skip the bench's setup (the gate has its output from an earlier pair); unset or `1`: run it |
//! | `GATE_BENCH_PIN` | `1`: bench thread pools pin thread `i` to CPU `i` ([`pin_thread`]) |
//!
//! The first turn runs the bench's setup (unless `GATE_LOCKSTEP_SETUP=0`:
//! the subject benches' setup is a counting pass, whose counts are the same
//! in every pair, so the gate asks for it in the first pair of an id only),
//! then warms up (doubling the
//! iteration count until the warm-up time is spent) and fixes the iteration
//! count of every sample from the warm-up's speed. Each later turn times one
//! sample. A last turn only waits for the other process to finish its
//! last sample, so that neither exits (or writes its output) while the other
//! is timing. Both processes thus take exactly `2 + samples` turns, whatever
//! their speed, so the alternation never falls out of step. The output:
//!
//! ```json
//! {"schema": 1, "id": "secret/with_bytes/sequential", "iters": 4310,
//!  "samples_ns": [2301.5, 2299.8]}
//! ```
//!
//! `samples_ns[i]` is the time of sample `i` divided by `iters` (ns per
//! operation, the unit criterion's samples have after division).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::time::Duration;

/// The variable naming the id to run in lockstep.
pub const ID_ENV: &str = "GATE_LOCKSTEP";

/// The variable asking bench thread pools to pin their threads.
pub const PIN_ENV: &str = "GATE_BENCH_PIN";

/// Pins the calling thread to the `index`-th CPU this process may use
/// (modulo their number) when `GATE_BENCH_PIN=1`: the gate asks for it in
/// lockstep runs of parallel benches (`lockstep.pin_threads`), so that
/// thread `i` of the base and thread `i` of the head run on the same CPU
/// instead of wherever the scheduler puts them. A bench's thread pool calls
/// it from each of its threads. Linux only; elsewhere a no-op.
///
/// The CPUs are those the process could use at the first call, not the
/// calling thread's current set: a pool pins its calling thread before it
/// spawns the others, which inherit that one-CPU set, so reading the set
/// per call put every thread on the first CPU (until 2026-12-03: the
/// "parallel" benches with `pin_threads` then ran both threads on one CPU).
pub fn pin_thread(index: usize) {
    if std::env::var(PIN_ENV).as_deref() != Ok("1") {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        static CPUS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
        let cpus = CPUS.get_or_init(allowed_cpus);
        if let Some(&cpu) = cpus.get(index % cpus.len().max(1)) {
            // SAFETY: a zeroed cpu_set_t is a valid empty set; the call
            // only reads this local set.
            unsafe {
                let mut one: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut one);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = index;
}

/// The CPUs the calling thread may run on, in order; empty when unknown.
#[cfg(target_os = "linux")]
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the call fills it.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &allowed))
            .collect()
    }
}

/// One lockstep session of one bench id, ready to run.
pub struct Lockstep {
    id: String,
    read: File,
    write: File,
    out: PathBuf,
    samples: usize,
    sample: Duration,
    warm_up: Duration,
    /// Whether to run the bench's setup in the first turn.
    setup: bool,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("lockstep: {name} is not set ({ID_ENV} is)"))
}

fn number<T: std::str::FromStr>(name: &str) -> T {
    let v = var(name);
    v.parse()
        .unwrap_or_else(|_| panic!("lockstep: {name}=`{v}` is not a number"))
}

impl Lockstep {
    /// The session for bench `id`, when the gate asked for one (`GATE_LOCKSTEP`
    /// is `id`). Panics with the variable's name when the rest of the
    /// environment is missing or malformed: the gate then reports the bench
    /// as failed, with this message.
    pub fn for_id(id: &str) -> Option<Lockstep> {
        if std::env::var(ID_ENV).ok()?.as_str() != id {
            return None;
        }
        let fds = var("GATE_LOCKSTEP_FDS");
        let (r, w) = fds
            .split_once(',')
            .and_then(|(r, w)| Some((r.parse::<i32>().ok()?, w.parse::<i32>().ok()?)))
            .unwrap_or_else(|| {
                panic!("lockstep: GATE_LOCKSTEP_FDS=`{fds}` is not `<read>,<write>`")
            });
        let samples: usize = number("GATE_LOCKSTEP_SAMPLES");
        assert!(
            samples > 0,
            "lockstep: GATE_LOCKSTEP_SAMPLES must be at least 1"
        );
        let sample_ms: f64 = number("GATE_LOCKSTEP_SAMPLE_MS");
        let warm_up_ms: f64 = number("GATE_LOCKSTEP_WARMUP_MS");
        assert!(
            sample_ms > 0.0 && warm_up_ms >= 0.0,
            "lockstep: sample and warm-up times must be positive"
        );
        let setup = match std::env::var("GATE_LOCKSTEP_SETUP").as_deref() {
            Err(_) | Ok("1") => true,
            Ok("0") => false,
            Ok(other) => panic!("lockstep: GATE_LOCKSTEP_SETUP=`{other}` is not 0 or 1"),
        };
        // SAFETY: the gate passes two open pipe ends under these numbers and
        // nothing else in the process owns them.
        let (read, write) = unsafe { (File::from_raw_fd(r), File::from_raw_fd(w)) };
        Some(Lockstep {
            id: id.to_string(),
            read,
            write,
            out: PathBuf::from(var("GATE_LOCKSTEP_OUT")),
            samples,
            sample: Duration::from_secs_f64(sample_ms / 1e3),
            warm_up: Duration::from_secs_f64(warm_up_ms / 1e3),
            setup,
        })
    }

    /// Blocks until the other process passes the token.
    fn wait_turn(&mut self) {
        let mut byte = [0u8; 1];
        if let Err(e) = self.read.read_exact(&mut byte) {
            panic!(
                "lockstep {}: the other bench process exited before passing its turn ({e})",
                self.id
            );
        }
    }

    /// Passes the token. The other process may have finished its last turn
    /// already (it exits after it), so a closed pipe is not an error.
    fn pass_turn(&mut self) {
        let _ = self.write.write_all(&[1]);
    }

    /// The turn after the last sample: waits until the other process has
    /// timed its last sample too, then lets it go. Without it, the process
    /// that finishes first would write its output and exit (unmapping its
    /// memory, on the same CPU for sequential ids) while the other one times
    /// its last sample: measured here, that sample of the second side came
    /// out 30-70% slow in every pair of `keycache/need_reload_key/sequential`.
    /// End-of-file is not an error here: a process of an older protocol
    /// (a base built before this turn existed) exits after its last sample.
    fn last_turn(&mut self) {
        let mut byte = [0u8; 1];
        let _ = self.read.read_exact(&mut byte);
        self.pass_turn();
    }

    /// The warm-up: doubles the iterations from 1 until `warm_up` is spent
    /// **and** the last call took at least 1.5 times the one before, or until
    /// ten warm-ups and 100 ms are spent; returns the last call's iterations
    /// and time, from which the samples' iteration count is set.
    ///
    /// Why the second condition: a parallel bench's first calls can cost
    /// a fixed few milliseconds whatever their size (the pool's threads
    /// waking up when the scheduler has packed them on one vCPU). Stopping
    /// on time alone then took 3 calls of 1, 2 and 4 operations for the
    /// whole warm-up, set samples of a few operations, and every sample
    /// measured that fixed cost: base medians of 22 us and 954 us per op
    /// against 50 ns in `gate power` pairs of `with_bytes_func/parallel/t2`.
    /// A time that doubles with the iterations shows that the operations,
    /// not the call, set it.
    fn warm_up(&self, mut call: impl FnMut(u64) -> Duration) -> (u64, Duration) {
        let cap = (self.warm_up * 10).max(Duration::from_millis(100));
        let (mut iters, mut spent) = (1u64, Duration::ZERO);
        let mut previous: Option<Duration> = None;
        loop {
            let t = call(iters);
            spent += t;
            let scales = previous.is_some_and(|p| t.as_secs_f64() >= 1.5 * p.as_secs_f64());
            if (spent >= self.warm_up && scales) || spent >= cap || iters == u64::MAX {
                return (iters, t.max(Duration::from_nanos(1)));
            }
            previous = Some(t);
            iters = iters.saturating_mul(2);
        }
    }

    /// Runs the session: `setup` (when asked for) and the warm-up in the first turn, then one
    /// timed sample per turn; writes the samples and returns them (ns/op).
    /// `routine(iters)` runs `iters` operations and returns their time, as
    /// criterion's `iter_custom` expects.
    pub fn run(self, setup: impl FnOnce(), mut routine: impl FnMut(u64) -> Duration) -> Vec<f64> {
        self.run_counted(setup, None, |iters| (routine(iters), 0))
    }

    /// [`Self::run`] for a bench whose time per operation follows an event
    /// it can count, `covariate` naming it (`mprotect_per_op`):
    /// `routine(iters)` returns the time and how many such events the
    /// `iters` operations made. The file then holds the events per operation
    /// of every sample beside its time, so the gate can compare base and
    /// head at the same rate of that event (`docs/lockstep.md`, "Adjusted
    /// for a covariate"). Why: in the parallel secret benches the share of
    /// accesses that pay an `mprotect` pair changes from one 10 ms sample to
    /// the next (0.002-0.09 per op), and with it the time (15-140 ns); that,
    /// not the code, is most of their noise.
    pub fn run_counted(
        mut self,
        setup: impl FnOnce(),
        covariate: Option<&str>,
        mut routine: impl FnMut(u64) -> (Duration, u64),
    ) -> Vec<f64> {
        self.wait_turn();
        if self.setup {
            setup();
        }
        let (iters, t) = self.warm_up(|iters| routine(iters).0);
        let per_op = t.as_secs_f64() / iters as f64;
        let per_sample = if per_op > 0.0 {
            ((self.sample.as_secs_f64() / per_op).round() as u64).max(1)
        } else {
            iters
        };
        self.pass_turn();
        let mut samples = Vec::with_capacity(self.samples);
        let mut events = Vec::with_capacity(self.samples);
        for _ in 0..self.samples {
            self.wait_turn();
            let (t, n) = routine(per_sample);
            self.pass_turn();
            samples.push(t.as_nanos() as f64 / per_sample as f64);
            events.push(n as f64 / per_sample as f64);
        }
        self.last_turn();
        let list = |v: &[f64], digits: usize| {
            v.iter()
                .map(|s| format!("{s:.digits$}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let covariate = covariate.map_or(String::new(), |name| {
            format!(
                ", \"covariate\": {{\"name\": \"{}\", \"per_op\": [{}]}}",
                quote(name),
                list(&events, 6)
            )
        });
        let json = format!(
            "{{\"schema\": 1, \"id\": \"{}\", \"iters\": {per_sample}, \"samples_ns\": [{}]{covariate}}}\n",
            quote(&self.id),
            list(&samples, 3)
        );
        let tmp = self.out.with_extension("tmp");
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, &self.out))
            .unwrap_or_else(|e| {
                panic!(
                    "lockstep {}: cannot write {}: {e}",
                    self.id,
                    self.out.display()
                )
            });
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    fn pipe() -> (File, File) {
        let (r, w) = std::io::pipe().unwrap();
        // SAFETY: fresh descriptors owned by nobody else.
        unsafe {
            (
                File::from_raw_fd(r.into_raw_fd()),
                File::from_raw_fd(w.into_raw_fd()),
            )
        }
    }

    fn session(read: File, write: File, out: PathBuf) -> Lockstep {
        Lockstep {
            id: "g/op/sequential".into(),
            read,
            write,
            out,
            samples: 5,
            sample: Duration::from_micros(200),
            warm_up: Duration::from_micros(500),
            setup: true,
        }
    }

    /// Two sessions wired to each other in a fresh folder `name-<pid>`
    /// (writing `a.json` and `b.json`), the token given to the first.
    fn connected(name: &str) -> (PathBuf, Lockstep, Lockstep) {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a_read, to_a) = pipe();
        let (b_read, to_b) = pipe();
        let a = session(a_read, to_b, dir.join("a.json"));
        let b = session(b_read, to_a.try_clone().unwrap(), dir.join("b.json"));
        let mut start = to_a;
        start.write_all(&[1]).unwrap();
        drop(start);
        (dir, a, b)
    }

    /// Two sessions in two threads alternate strictly: the order of the
    /// timed calls is A B A B ..., neither finishes while the other is
    /// timing, and both write their samples.
    #[test]
    fn two_sessions_take_turns_and_write_their_samples() {
        let (dir, a, b) = connected("lockstep-test");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        // Each routine, after its work, gives the other side time to finish
        // and checks that it has not: the other may write its output only
        // once this side's last sample is over.
        let run = |s: Lockstep,
                   name: char,
                   log: std::sync::Arc<std::sync::Mutex<Vec<char>>>,
                   other_out: PathBuf| {
            std::thread::spawn(move || {
                s.run(
                    || {},
                    |iters| {
                        log.lock().unwrap().push(name);
                        let t = std::time::Instant::now();
                        for i in 0..iters {
                            std::hint::black_box(i);
                        }
                        let elapsed = t.elapsed().max(Duration::from_nanos(1));
                        std::thread::sleep(Duration::from_millis(2));
                        assert!(
                            !other_out.exists(),
                            "{name}: the other side finished while this one was timing"
                        );
                        elapsed
                    },
                )
            })
        };
        let ta = run(a, 'A', log.clone(), dir.join("b.json"));
        let tb = run(b, 'B', log.clone(), dir.join("a.json"));
        let (sa, sb) = (ta.join().unwrap(), tb.join().unwrap());
        assert_eq!((sa.len(), sb.len()), (5, 5));
        let log = log.lock().unwrap();
        // The timed samples are the last 10 calls, strictly alternating.
        let tail: String = log[log.len() - 10..].iter().collect();
        assert_eq!(tail, "ABABABABAB");
        let text = std::fs::read_to_string(dir.join("b.json")).unwrap();
        assert!(text.contains("\"samples_ns\": ["), "{text}");
        assert!(!text.contains("covariate"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A routine whose first calls cost 5 ms whatever their size: the
    /// warm-up goes on until the time follows the iterations, so samples
    /// hold about `sample` worth of operations, not a handful.
    #[test]
    fn the_warm_up_does_not_stop_on_slow_first_calls() {
        let (read, write) = pipe();
        let s = session(read, write, std::env::temp_dir().join("unused.json"));
        let mut calls = 0u32;
        let (iters, t) = s.warm_up(|iters| {
            calls += 1;
            let per_op = Duration::from_nanos(50) * iters as u32;
            if calls <= 3 {
                Duration::from_millis(5) + per_op
            } else {
                per_op
            }
        });
        let per_op = t.as_secs_f64() / iters as f64;
        assert!((per_op - 50e-9).abs() < 5e-9, "{iters} iterations in {t:?}");
        assert!(calls > 4, "{calls} calls");
    }

    /// `run_counted` writes the events per op of every sample beside it.
    #[test]
    fn a_counted_session_writes_its_covariate_per_op() {
        let (dir, a, b) = connected("lockstep-cov");
        let run = |s: Lockstep| {
            std::thread::spawn(move || {
                s.run_counted(
                    || {},
                    Some("mprotect_per_op"),
                    |iters| {
                        let t = std::time::Instant::now();
                        for i in 0..iters {
                            std::hint::black_box(i);
                        }
                        // One event per four operations.
                        (t.elapsed().max(Duration::from_nanos(1)), iters / 4)
                    },
                )
            })
        };
        let (ta, tb) = (run(a), run(b));
        ta.join().unwrap();
        tb.join().unwrap();
        let text = std::fs::read_to_string(dir.join("a.json")).unwrap();
        let at = text.find("\"covariate\": {\"name\": \"mprotect_per_op\", \"per_op\": [");
        let list = &text[at.expect(&text)..];
        let values: Vec<f64> = list[list.find('[').unwrap() + 1..list.find(']').unwrap()]
            .split(", ")
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(values.len(), 5, "{text}");
        assert!(values.iter().all(|v| (v - 0.25).abs() < 0.01), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
