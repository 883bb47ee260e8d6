//! `Secret::with_bytes` against its floor, one `mprotect(READ)` + `mprotect(NONE)` pair on a
//! page laid out like a secret's (guard pages, `MADV_DONTDUMP`, `mlock`), in one process:
//!
//! ```text
//! cargo run --release -p securememory --example access_vs_floor [rounds] [threads]
//! ```
//!
//! Blocks of 2,000 operations of each kind alternate, so host drift hits both alike; the
//! median of the per-round ratios is printed. `threads` > 1 starts that many idle helper
//! threads first (each runs briefly on every CPU, then sleeps), as a bench process with a
//! thread pool has: the kernel then checks the other CPUs on each TLB flush.

use std::hint::black_box;
use std::time::Instant;

use securememory::{Options, SecretFactory};

const BLOCK: u32 = 2_000;

struct FloorPage {
    data: *mut libc::c_void,
    page: usize,
}

impl FloorPage {
    fn new() -> Self {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // SAFETY: a fresh anonymous mapping of our own; the calls below only touch its middle
        // page.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                3 * page,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            );
            assert!(base != libc::MAP_FAILED, "mmap failed");
            let data = base.cast::<u8>().add(page).cast::<libc::c_void>();
            assert_eq!(
                libc::mprotect(data, page, libc::PROT_READ | libc::PROT_WRITE),
                0
            );
            assert_eq!(libc::madvise(data, page, libc::MADV_DONTDUMP), 0);
            assert_eq!(libc::mlock(data, page), 0, "mlock failed");
            assert_eq!(libc::mprotect(data, page, libc::PROT_NONE), 0);
            FloorPage { data, page }
        }
    }

    fn pair(&self) {
        // SAFETY: our own page; no reference into it exists.
        unsafe {
            libc::mprotect(self.data, self.page, libc::PROT_READ);
            black_box(self.data.cast::<u8>().read_volatile());
            libc::mprotect(self.data, self.page, libc::PROT_NONE);
        }
    }
}

fn time(op: impl Fn()) -> f64 {
    let start = Instant::now();
    for _ in 0..BLOCK {
        op();
    }
    start.elapsed().as_nanos() as f64 / f64::from(BLOCK)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(200, |a| a.parse().expect("rounds"));
    let threads: usize = args.next().map_or(1, |a| a.parse().expect("threads"));
    let helpers: Vec<_> = (1..threads)
        .map(|_| {
            std::thread::spawn(|| {
                let start = Instant::now();
                while start.elapsed().as_millis() < 50 {
                    std::hint::spin_loop();
                }
                std::thread::park();
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let floor = FloorPage::new();
    let mut bytes = *b"thisismy32bytesecretthatiwilluse";
    let secret = SecretFactory::with_options(Options::default())
        .new(&mut bytes)
        .expect("a secret");
    let access = || {
        secret
            .with_bytes(|b| assert_eq!(black_box(b).len(), 32))
            .expect("with_bytes");
    };
    let (mut ratios, mut floors, mut accesses) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let f = time(|| floor.pair());
        let a = time(access);
        ratios.push(a / f);
        floors.push(f);
        accesses.push(a);
    }
    println!(
        "floor {:.0} ns, with_bytes {:.0} ns, median ratio {:.4}",
        median(&mut floors),
        median(&mut accesses),
        median(&mut ratios)
    );
    for helper in &helpers {
        helper.thread().unpark();
    }
}
