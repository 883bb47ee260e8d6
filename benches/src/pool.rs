//! A persistent thread pool with Go's `RunParallel` meaning of ns/op.
//!
//! `run(total, body)` runs exactly `total` operations on N threads (the
//! calling thread is one of them), releases them together from a start
//! barrier and returns the wall time from the release to the moment the last
//! thread finished. ns/op is that time divided by `total`: inverse
//! throughput, as Go reports for `b.RunParallel`.
//!
//! As in Go's `testing.PB`, threads claim the operations in batches from a
//! shared counter (a grain of about 100 us of work, from the previous run's
//! speed, at most 10,000), so a thread that is slowed down (descheduled,
//! waiting for a lock) does not leave the others idle at the end while it
//! works through a fixed share alone.
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

/// The work of one batch: `body(thread_index, ops)` runs `ops` operations.
/// It is called once per batch, so several times per thread and run.
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

    /// Runs exactly `total` operations on the threads, which claim them in
    /// batches, and returns the wall time between the start barrier and the
    /// last thread's end.
    ///
    /// Allocation-free, so a counting pass around it sees only the body's
    /// allocations. A panic in any thread's body is re-raised here after all
    /// threads stopped.
    pub fn run(&self, total: u64, body: &Body<'_>) -> Duration {
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
            });
            control.generation += 1;
            control.done = 0;
            control.panicked = false;
        }
        shared.wake.notify_all();

        let own = catch_unwind(AssertUnwindSafe(|| shared.run_share(0, total, body)));

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
    fn run_share(&self, index: usize, total: u64, body: &Body<'_>) {
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
        let grain = self.grain.load(Ordering::Relaxed);
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
            shared.run_share(index, job.total, body)
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
    fn runs_exactly_the_total() {
        for threads in [1, 2, 3] {
            let pool = Pool::new(threads);
            for total in [0u64, 1, 7, 1000] {
                let per_thread: Vec<AtomicU64> = (0..threads).map(|_| AtomicU64::new(0)).collect();
                pool.run(total, &|i, ops| {
                    per_thread[i].fetch_add(ops, Ordering::Relaxed);
                });
                let counts: Vec<u64> = per_thread
                    .iter()
                    .map(|c| c.load(Ordering::Relaxed))
                    .collect();
                assert_eq!(counts.iter().sum::<u64>(), total, "threads {threads}");
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
        // A new pool claims one operation at a time; each body waits until
        // all three threads are inside one, so none can take a second.
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
