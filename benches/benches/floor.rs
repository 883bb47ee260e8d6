//! The physical limits of the machine, measured in the same run as the
//! secret benches: `floor/mprotect_pair/sequential` (one `mprotect(READ)` +
//! `mprotect(NONE)` on one locked page: the floor of a sequential
//! `with_bytes`) and `floor/syscall/sequential` (a trivial system call).

use std::hint::black_box;
use std::ptr::NonNull;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use subject_benches::{
    CountersFile, CountingAllocator, Mode, Pool, bench_id, count_allocs, mlock_setting,
};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

const GROUP: &str = "floor";
const COUNTED_OPS: u64 = 10_000;

/// One data page between two guard pages, laid out like a secret's mapping
/// (its own flags through `MADV_DONTDUMP` and, when on, `mlock`) so that the
/// pair measures only the kernel's cost, not an area merge.
struct Page {
    base: NonNull<u8>,
    page: usize,
}

// SAFETY: the page is only touched through syscalls and a volatile read of
// our own mapping; sharing the address between threads is harmless.
unsafe impl Sync for Page {}

impl Page {
    fn new(mlock: bool) -> Page {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // SAFETY: a fresh anonymous mapping of our own.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                3 * page,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            )
        };
        assert!(
            base != libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        let base = NonNull::new(base.cast::<u8>()).expect("mmap returned null");
        let data = Page { base, page };
        // SAFETY: the middle page of our mapping.
        unsafe {
            assert_eq!(
                libc::mprotect(data.data(), page, libc::PROT_READ | libc::PROT_WRITE),
                0
            );
            #[cfg(any(target_os = "linux", target_os = "android"))]
            assert_eq!(libc::madvise(data.data(), page, libc::MADV_DONTDUMP), 0);
            if mlock {
                assert_eq!(
                    libc::mlock(data.data(), page),
                    0,
                    "mlock: {} (set GATE_NO_MLOCK=1 to run without)",
                    std::io::Error::last_os_error()
                );
            }
            assert_eq!(libc::mprotect(data.data(), page, libc::PROT_NONE), 0);
        }
        data
    }

    fn data(&self) -> *mut libc::c_void {
        // SAFETY: the middle of three mapped pages.
        unsafe { self.base.as_ptr().add(self.page).cast() }
    }

    /// `mprotect(READ)` then `mprotect(NONE)`, the kernel work of one
    /// sequential access.
    fn pair(&self) {
        // SAFETY: our own page; no reference into it exists.
        unsafe {
            let r = libc::mprotect(self.data(), self.page, libc::PROT_READ);
            black_box(self.data().cast::<u8>().read_volatile());
            let n = libc::mprotect(self.data(), self.page, libc::PROT_NONE);
            debug_assert!(r == 0 && n == 0);
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: the whole mapping is ours and unused from here on.
        unsafe { libc::munmap(self.base.as_ptr().cast(), 3 * self.page) };
    }
}

/// Registers a sequential floor bench; `syscalls` is the number of system
/// calls one operation makes by construction, recorded in the counters file.
fn floor_bench(
    c: &mut Criterion,
    pool: &Pool,
    operation: &str,
    counter: &str,
    syscalls: f64,
    op: impl Fn() + Sync,
) {
    let mode = Mode::Sequential;
    let id = bench_id(GROUP, operation, mode);
    let body = |_thread: usize, ops: u64| {
        for _ in 0..ops {
            op();
        }
    };
    let count = || {
        let ((), allocs) = count_allocs(|| {
            pool.run(COUNTED_OPS, &body);
        });
        let file = CountersFile::new(id.as_str(), mode, COUNTED_OPS)
            .per_op(counter, syscalls, true)
            .allocs(allocs, true);
        if let Err(e) = file.write() {
            panic!("writing the counters of {id}: {e}");
        }
    };
    // `gate check --base`: base and head in lockstep (docs/lockstep.md).
    if let Some(session) = gate_lockstep::Lockstep::for_id(&id) {
        session.run(count, |iters| pool.run(iters, &body));
        return;
    }
    let mut counted = false;
    c.benchmark_group(GROUP)
        .bench_function(BenchmarkId::new(operation, mode), |b| {
            if !counted {
                counted = true;
                count();
            }
            b.iter_custom(|iters| pool.run(iters, &body));
        });
}

fn floors(c: &mut Criterion) {
    let pool = Pool::new(1);
    let page = Page::new(mlock_setting().enabled);
    floor_bench(c, &pool, "mprotect_pair", "mprotect_per_op", 2.0, || {
        page.pair()
    });
    floor_bench(c, &pool, "syscall", "syscalls_per_op", 1.0, || {
        // SAFETY: getppid has no preconditions; it is never cached by libc.
        black_box(unsafe { libc::getppid() });
    });
}

criterion_group!(benches, floors);
criterion_main!(benches);
