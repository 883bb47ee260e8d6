//! Bench ids and thread counts.

use std::fmt;

/// How a bench runs: one thread, or Go's `RunParallel` over N threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One thread; ns/op is the latency of one operation.
    Sequential,
    /// N threads share the work; ns/op is wall time / total ops.
    Parallel {
        /// Number of threads.
        threads: usize,
    },
}

impl Mode {
    /// The mode for `threads` threads of the pool: parallel, even for 1
    /// (that is Go's `-cpu=1` RunParallel, not a sequential bench).
    pub fn parallel(threads: usize) -> Mode {
        Mode::Parallel { threads }
    }

    /// `"sequential"` or `"parallel"` (the counters file's `mode`).
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Parallel { .. } => "parallel",
        }
    }

    /// Threads that run operations.
    pub fn threads(&self) -> usize {
        match self {
            Mode::Sequential => 1,
            Mode::Parallel { threads } => *threads,
        }
    }
}

/// The criterion parameter: `sequential` or `parallel/t<N>`; pass it as the
/// second argument of `BenchmarkId::new(operation, mode)`.
impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Sequential => f.write_str("sequential"),
            Mode::Parallel { threads } => write!(f, "parallel/t{threads}"),
        }
    }
}

/// The full id criterion gives `BenchmarkId::new(operation, mode)` in
/// `group`: `secret/with_bytes/parallel/t2`.
pub fn bench_id(group: &str, operation: &str, mode: Mode) -> String {
    format!("{group}/{operation}/{mode}")
}

/// Threads of parallel benches: `GATE_BENCH_THREADS` if set (a positive
/// integer; anything else panics with a message, since a silently different
/// thread count would make every ratio wrong), else the available cores.
pub fn threads() -> usize {
    match std::env::var("GATE_BENCH_THREADS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => panic!("GATE_BENCH_THREADS must be a positive integer, got {v:?}"),
        },
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_scheme() {
        assert_eq!(
            bench_id("secret", "with_bytes", Mode::Sequential),
            "secret/with_bytes/sequential"
        );
        assert_eq!(
            bench_id("secret", "with_bytes", Mode::parallel(2)),
            "secret/with_bytes/parallel/t2"
        );
    }
}
