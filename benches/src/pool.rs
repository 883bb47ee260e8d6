//! A persistent thread pool with Go's `RunParallel` meaning of ns/op.
//!
//! `run(total, body)` runs exactly `total` operations on N threads (the
//! calling thread is one of them), releases them together from a start
//! barrier and returns the wall time from the release to the moment the last
//! thread finished. ns/op is that time divided by `total`: inverse
//! throughput, as Go reports for `b.RunParallel`. Thread `i` gets a fixed
//! share: `total / N`, plus one for the first `total % N` threads, in one
//! call of the body (benches may rely on that to prepare per-thread data).
//!
//! `run_batched(total, body)` is the same, except that, as in Go's
//! `testing.PB`, threads claim the operations in batches from a shared
//! counter (a grain of about 100 us of work at the previous run's speed, at
//! most 10,000), so a thread that is slowed down (descheduled, waiting for
//! a page another thread is opening) does not leave the others idle at the
//! end while it works through a fixed share alone.
//!
//! Between runs the pool threads sleep on a condition variable, and a thread
//! that finishes its share early sleeps too. A thread spinning on the other
//! CPU would make every `mprotect` of the measured threads pay a TLB
//! shootdown (about 13 us instead of 1 us), so nothing spins except at the
//! start barrier, before any operation runs.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The work of one thread: `body(thread_index, ops)` runs `ops` operations.
/// [`Pool::run`] calls it once per thread; [`Pool::run_batched`] once per
/// batch, so possibly several times per thread.
pub type Body<'a> = dyn Fn(usize, u64) + Sync + 'a;

/// A pool of `threads` threads (the caller plus `threads - 1` workers).
pub struct Pool {
    threads: usize,
    /// One run at a time: the barrier and counters are per run.
    run_lock: Mutex<()>,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

struct Shared {
    threads: usize,
    control: Mutex<Control>,
    /// Wakes workers for a new run or shutdown.
    wake: Condvar,
    /// Wakes the caller when workers finished.
    finished: Condvar,
    /// Start barrier: threads arrived, and the release flag.
    arrived: AtomicUsize,
    released: AtomicBool,
    /// Threads still running their share.
    running: AtomicUsize,
    /// Operations claimed so far in this run, and the batch size.
    claimed: AtomicU64,
    grain: AtomicU64,
    /// Start and end of the run, in ns since `epoch`.
    start_ns: AtomicU64,
    end_ns: AtomicU64,
    epoch: Instant,
}

struct Control {
    generation: u64,
    job: Option<Job>,
    done: usize,
    /// Workers that started and are waiting for work.
    ready: usize,
    panicked: bool,
    shutdown: bool,
}

/// A run's work, with the body's lifetime erased (see `Pool::run`).
#[derive(Clone, Copy)]
struct Job {
    body: *const Body<'static>,
    total: u64,
    batched: bool,
}

// SAFETY: `body` points to a `Sync` closure that `Pool::run` keeps alive until
// every worker reported that it finished calling it.
unsafe impl Send for Job {}

impl Pool {
    /// A pool of `threads` threads; with 1 the caller does all the work and
    /// no thread is spawned.
    pub fn new(threads: usize) -> Pool {
        assert!(threads > 0, "a pool needs at least one thread");
        let shared = Arc::new(Shared {
            threads,
            control: Mutex::new(Control {
                generation: 0,
                job: None,
                done: 0,
                ready: 0,
                panicked: false,
                shutdown: false,
            }),
            wake: Condvar::new(),
            finished: Condvar::new(),
            arrived: AtomicUsize::new(0),
            released: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            claimed: AtomicU64::new(0),
            grain: AtomicU64::new(1),
            start_ns: AtomicU64::new(0),
            end_ns: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        if threads > 1 {
            gate_lockstep::pin_thread(0);
        }
        let workers = (1..threads)
            .map(|index| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("bench-pool-{index}"))
                    .spawn(move || worker(&shared, index))
                    .expect("spawning a bench pool thread")
            })
            .collect();
        // Wait until every worker has started: thread start-up allocates
        // (names, thread-locals), which must not leak into a counting pass.
        let mut control = shared.lock();
        while control.ready < threads - 1 {
            control = shared
                .finished
                .wait(control)
                .unwrap_or_else(|p| p.into_inner());
        }
        drop(control);
        Pool {
            threads,
            run_lock: Mutex::new(()),
            shared,
            workers,
        }
    }

    /// Number of threads that run operations.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs exactly `total` operations, thread `i` doing `total / N` (plus
    /// one for the first `total % N` threads) in a single call of `body`, and
    /// returns the wall time between the start barrier and the last
    /// thread's end.
    ///
    /// Allocation-free, so a counting pass around it sees only the body's
    /// allocations. A panic in any thread's body is re-raised here after all
    /// threads stopped.
    pub fn run(&self, total: u64, body: &Body<'_>) -> Duration {
        self.run_job(total, body, false)
    }

    /// Runs exactly `total` operations, which the threads claim in batches
    /// from a shared counter (Go's `testing.PB`); `body` is called once per
    /// batch. Returns the wall time as [`Pool::run`] does.
    pub fn run_batched(&self, total: u64, body: &Body<'_>) -> Duration {
        self.run_job(total, body, true)
    }

    fn run_job(&self, total: u64, body: &Body<'_>, batched: bool) -> Duration {
        let _one_run = self.run_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.threads == 1 {
            let start = Instant::now();
            body(0, total);
            return start.elapsed();
        }
        let shared = &*self.shared;
        // SAFETY: only the lifetime is erased. This function does not return
        // (nor unwind) before every worker has finished with the body: it
        // waits for `done == threads - 1` below in all cases.
        let body_ptr: *const Body<'static> =
            unsafe { std::mem::transmute(body as *const Body<'_>) };
        shared.arrived.store(0, Ordering::Relaxed);
        shared.released.store(false, Ordering::Relaxed);
        shared.running.store(self.threads, Ordering::Relaxed);
        shared.claimed.store(0, Ordering::Relaxed);
        {
            let mut control = shared.lock();
            control.job = Some(Job {
                body: body_ptr,
                total,
                batched,
            });
            control.generation += 1;
            control.done = 0;
            control.panicked = false;
        }
        shared.wake.notify_all();

        let own = catch_unwind(AssertUnwindSafe(|| {
            shared.run_share(0, total, batched, body)
        }));

        let mut control = shared.lock();
        while control.done < self.threads - 1 {
            control = shared
                .finished
                .wait(control)
                .unwrap_or_else(|p| p.into_inner());
        }
        control.job = None;
        let worker_panicked = control.panicked;
        drop(control);
        if let Err(payload) = own {
            resume_unwind(payload);
        }
        assert!(
            !worker_panicked,
            "a bench pool thread panicked (its message is above)"
        );
        let start = shared.start_ns.load(Ordering::Acquire);
        let end = shared.end_ns.load(Ordering::Acquire);
        let wall = Duration::from_nanos(end.saturating_sub(start));
        shared
            .grain
            .store(grain_for(total, wall), Ordering::Relaxed);
        wall
    }
}

/// Go's grain: the number of operations that take about 100 us at the
/// speed of the last run, between 1 and 10,000.
fn grain_for(total: u64, wall: Duration) -> u64 {
    let ns = wall.as_nanos().max(1);
    let grain = 100_000u128 * u128::from(total) / ns;
    grain.clamp(1, 10_000) as u64
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Start barrier, this thread's share of the operations, end time.
    fn run_share(&self, index: usize, total: u64, batched: bool, body: &Body<'_>) {
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.start_ns.store(self.now_ns(), Ordering::Release);
            self.released.store(true, Ordering::Release);
        } else {
            let mut spins = 0u32;
            while !self.released.load(Ordering::Acquire) {
                if spins < 10_000 {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        }
        // Record the end even if the body panics, so the run completes.
        struct End<'a>(&'a Shared);
        impl Drop for End<'_> {
            fn drop(&mut self) {
                if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
                    self.0.end_ns.store(self.0.now_ns(), Ordering::Release);
                }
            }
        }
        let _end = End(self);
        if !batched {
            let n = self.threads as u64;
            body(index, total / n + u64::from((index as u64) < total % n));
            return;
        }
        let grain = self.grain.load(Ordering::Relaxed);
        loop {
            let first = self.claimed.fetch_add(grain, Ordering::Relaxed);
            if first >= total {
                break;
            }
            body(index, grain.min(total - first));
        }
    }
}

fn worker(shared: &Shared, index: usize) {
    // Thread i on CPU i when the gate asks (lockstep pairs of parallel benches).
    gate_lockstep::pin_thread(index);
    let mut seen = 0u64;
    shared.lock().ready += 1;
    shared.finished.notify_all();
    loop {
        let job = {
            let mut control = shared.lock();
            while control.generation == seen && !control.shutdown {
                control = shared.wake.wait(control).unwrap_or_else(|p| p.into_inner());
            }
            if control.shutdown {
                return;
            }
            seen = control.generation;
            control.job.expect("a new generation carries a job")
        };
        // SAFETY: `Pool::run` keeps the body alive until we report `done`.
        let body = unsafe { &*job.body };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            shared.run_share(index, job.total, job.batched, body)
        }));
        let mut control = shared.lock();
        control.done += 1;
        control.panicked |= outcome.is_err();
        drop(control);
        shared.finished.notify_all();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_all();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_splits_the_total_evenly_in_one_call_per_thread() {
        for threads in [1, 2, 3] {
            let pool = Pool::new(threads);
            for total in [0u64, 1, 7, 1000] {
                let calls: Vec<Mutex<Vec<u64>>> =
                    (0..threads).map(|_| Mutex::new(Vec::new())).collect();
                pool.run(total, &|i, ops| calls[i].lock().unwrap().push(ops));
                let calls: Vec<Vec<u64>> =
                    calls.into_iter().map(|c| c.into_inner().unwrap()).collect();
                let expected: Vec<Vec<u64>> = (0..threads as u64)
                    .map(|i| vec![total / threads as u64 + u64::from(i < total % threads as u64)])
                    .collect();
                assert_eq!(calls, expected, "threads {threads} total {total}");
            }
        }
    }

    #[test]
    fn run_batched_runs_exactly_the_total() {
        for threads in [1, 2, 3] {
            let pool = Pool::new(threads);
            for total in [0u64, 1, 7, 1000, 100_000] {
                let done = AtomicU64::new(0);
                pool.run_batched(total, &|_, ops| {
                    done.fetch_add(ops, Ordering::Relaxed);
                });
                assert_eq!(done.load(Ordering::Relaxed), total, "threads {threads}");
            }
        }
    }

    #[test]
    fn grain_targets_a_hundred_microseconds() {
        assert_eq!(grain_for(1_000, Duration::from_micros(1_000)), 100);
        assert_eq!(grain_for(1, Duration::from_secs(1)), 1);
        assert_eq!(grain_for(u64::MAX, Duration::from_nanos(1)), 10_000);
    }

    #[test]
    fn every_thread_takes_part() {
        // Each body waits until all three threads are inside one; with 3 ops
        // each thread gets one (fixed split; a new pool's batches are 1 op).
        let pool = Pool::new(3);
        let seen: Vec<AtomicBool> = (0..3).map(|_| AtomicBool::new(false)).collect();
        pool.run(3, &|i, ops| {
            assert_eq!(ops, 1);
            seen[i].store(true, Ordering::SeqCst);
            while !seen.iter().all(|s| s.load(Ordering::SeqCst)) {
                std::thread::yield_now();
            }
        });
    }

    #[test]
    fn a_worker_panic_reaches_the_caller() {
        let pool = Pool::new(2);
        let result = catch_unwind(AssertUnwindSafe(|| {
            pool.run(2, &|i, _| assert!(i == 0, "worker fails"));
        }));
        assert!(result.is_err());
        // The pool is still usable.
        let sum = AtomicU64::new(0);
        pool.run(10, &|_, ops| {
            sum.fetch_add(ops, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 10);
    }
}
