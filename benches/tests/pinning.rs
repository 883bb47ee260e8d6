//! `GATE_BENCH_PIN=1` (lockstep's `pin_threads`): a pool's thread `i` runs
//! on the `i`-th CPU of the process, one CPU each, not all of them on the
//! first (what reading each thread's inherited affinity did). A test binary
//! of its own: it sets the variable for the whole process.

#[cfg(target_os = "linux")]
#[test]
fn a_pinned_pool_puts_each_thread_on_a_cpu_of_its_own() {
    use std::sync::Mutex;
    use subject_benches::Pool;

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("one CPU: every thread shares it, nothing to check");
        return;
    }
    // SAFETY: the only test of this binary; no other thread reads the
    // environment while it is set.
    unsafe { std::env::set_var(gate_lockstep::PIN_ENV, "1") };
    let pool = Pool::new(2);
    let seen: Vec<Mutex<Vec<usize>>> = (0..2).map(|_| Mutex::new(Vec::new())).collect();
    pool.run(2, &|i, _| {
        // SAFETY: a zeroed cpu_set_t is a valid empty set; the call fills it.
        let allowed: Vec<usize> = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
                0
            );
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        };
        *seen[i].lock().unwrap() = allowed;
    });
    let seen: Vec<Vec<usize>> = seen.into_iter().map(|m| m.into_inner().unwrap()).collect();
    assert!(
        seen.iter().all(|s| s.len() == 1) && seen[0] != seen[1],
        "each thread on one CPU of its own, got {seen:?}"
    );
}
