//! The memory protections: faults on misuse, canary, wipe of the source,
//! panic safety, close while accessors are inside.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use common::*;
use securememory::{Error, Options, Secret, SecretFactory};

fn secret() -> Secret {
    let mut bytes = *PAYLOAD;
    SecretFactory::default()
        .new(&mut bytes)
        .expect("creating a secret")
}

#[test]
fn secret_is_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<Secret>();
    both::<SecretFactory>();
}

#[test]
fn new_wipes_the_source_and_keeps_the_bytes() {
    let mut source = *PAYLOAD;
    let secret = SecretFactory::default().new(&mut source).unwrap();
    assert_eq!(source, [0u8; 32]);
    assert_eq!(secret.len(), 32);
    assert!(secret.with_bytes(|b| b == PAYLOAD).unwrap());
}

#[test]
fn empty_secrets_are_refused_with_a_clear_error() {
    let factory = SecretFactory::default();
    let mut nothing: [u8; 0] = [];
    let err = factory.new(&mut nothing).expect_err("an empty secret");
    assert!(matches!(err, Error::Empty), "{err:?}");
    assert!(err.to_string().contains("empty secret"), "{err}");
    let err = factory
        .create_random(0)
        .expect_err("an empty random secret");
    assert!(matches!(err, Error::Empty), "{err:?}");
}

#[test]
fn create_random_gives_distinct_random_bytes() {
    let factory = SecretFactory::default();
    let a = factory.create_random(32).unwrap();
    let b = factory.create_random(32).unwrap();
    let (va, vb) = (
        a.with_bytes(<[u8]>::to_vec).unwrap(),
        b.with_bytes(<[u8]>::to_vec).unwrap(),
    );
    assert_eq!(va.len(), 32);
    assert_ne!(va, vb);
    assert_ne!(va, vec![0u8; 32]);
}

#[test]
fn secrets_of_many_sizes_round_trip() {
    let page = page_size();
    for len in [1, 31, page - 16, page - 15, page, 3 * page + 5] {
        let mut source: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
        let expected = source.clone();
        let secret = SecretFactory::default().new(&mut source).unwrap();
        assert!(source.iter().all(|&b| b == 0));
        assert_eq!(secret.len(), len);
        assert!(!secret.is_empty());
        assert!(
            secret.with_bytes(|b| b == &expected[..]).unwrap(),
            "len {len}"
        );
        secret.close().unwrap();
    }
}

#[cfg(target_os = "linux")] // reads /proc/self/maps
#[test]
fn page_is_readable_only_inside_with_bytes() {
    let secret = secret();
    let addr = secret
        .with_bytes(|b| {
            assert_eq!(protection_of(b.as_ptr() as usize), "r--p");
            b.as_ptr() as usize
        })
        .unwrap();
    assert_eq!(protection_of(addr), "---p");
    // The guard pages around the data are never accessible.
    assert_eq!(protection_of(addr + 32), "---p");
}

#[test]
fn reading_after_with_bytes_returned_segfaults() {
    if in_child("reading_after_with_bytes_returned_segfaults") {
        let secret = secret();
        let ptr = secret.with_bytes(|b| b.as_ptr()).unwrap();
        started();
        // SAFETY: deliberately reads a PROT_NONE page; the child must die here.
        let byte = unsafe { ptr.read_volatile() };
        println!("read {byte} after with_bytes returned");
        return;
    }
    assert_sigsegv(&run_child("reading_after_with_bytes_returned_segfaults"));
}

#[test]
fn writing_inside_with_bytes_segfaults() {
    if in_child("writing_inside_with_bytes_segfaults") {
        let secret = secret();
        secret
            .with_bytes(|b| {
                started();
                // SAFETY: deliberately writes a PROT_READ page; the child must die here.
                unsafe { b.as_ptr().cast_mut().write_volatile(0) };
            })
            .unwrap();
        println!("wrote inside with_bytes");
        return;
    }
    assert_sigsegv(&run_child("writing_inside_with_bytes_segfaults"));
}

#[test]
fn reading_past_the_end_hits_the_guard_page() {
    if in_child("reading_past_the_end_hits_the_guard_page") {
        let secret = secret();
        secret
            .with_bytes(|b| {
                started();
                // SAFETY: deliberately reads one byte past the data, which is
                // right-aligned against the rear guard page.
                let byte = unsafe { b.as_ptr().add(b.len()).read_volatile() };
                println!("read {byte} past the end");
            })
            .unwrap();
        return;
    }
    assert_sigsegv(&run_child("reading_past_the_end_hits_the_guard_page"));
}

#[test]
fn a_corrupted_canary_is_reported_on_close() {
    let secret = secret();
    corrupt_canary(&secret);
    let err = secret.close().expect_err("the canary was changed");
    assert!(
        matches!(err, Error::BufferOverflowDetected { len: 32 }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("buffer overflow detected"),
        "{err}"
    );
    // The memory is released anyway; the secret is closed, and neither a
    // second close nor the drop reports the corruption again (the drop
    // would abort this test process).
    assert!(secret.is_closed());
    secret.close().unwrap();
    drop(secret);
}

#[test]
fn an_intact_canary_closes_cleanly() {
    let secret = secret();
    secret.with_bytes(|_| ()).unwrap();
    secret.close().unwrap();
}

#[test]
fn access_after_close_is_an_error() {
    use std::io::Read;
    let secret = secret();
    secret.close().unwrap();
    assert!(secret.is_closed());
    assert!(matches!(secret.with_bytes(|_| ()), Err(Error::Closed)));
    let func: Result<(), Error> = secret.with_bytes_func(|_| Ok(()));
    assert!(matches!(func, Err(Error::Closed)));
    let err = secret.reader().read(&mut [0u8; 8]).expect_err("closed");
    assert!(err.to_string().contains("closed"), "{err}");
    assert_eq!(secret.len(), 32);
    secret.close().unwrap(); // closing twice is fine
}

#[test]
fn with_bytes_func_returns_the_closures_value_or_error() {
    #[derive(Debug)]
    enum MyError {
        Secret(Error),
        Rejected,
    }
    impl From<Error> for MyError {
        fn from(e: Error) -> Self {
            MyError::Secret(e)
        }
    }
    let secret = secret();
    let sum: Result<u32, MyError> =
        secret.with_bytes_func(|b| Ok(b.iter().map(|&x| u32::from(x)).sum()));
    assert_eq!(sum.unwrap(), PAYLOAD.iter().map(|&x| u32::from(x)).sum());
    let rejected: Result<u32, MyError> = secret.with_bytes_func(|_| Err(MyError::Rejected));
    assert!(matches!(rejected, Err(MyError::Rejected)));
    secret.close().unwrap();
    let closed: Result<u32, MyError> = secret.with_bytes_func(|_| Ok(1));
    assert!(matches!(closed, Err(MyError::Secret(Error::Closed))));
}

#[test]
fn a_panicking_closure_leaves_the_page_protected_and_the_secret_usable() {
    let secret = secret();
    let addr = AtomicUsize::new(0);
    let result = catch_unwind(AssertUnwindSafe(|| {
        secret.with_bytes(|b| {
            addr.store(b.as_ptr() as usize, Ordering::Relaxed);
            panic!("the closure fails");
        })
    }));
    assert!(result.is_err());
    #[cfg(target_os = "linux")]
    assert_eq!(protection_of(addr.load(Ordering::Relaxed)), "---p");
    // The counter was restored: a new access opens and shuts the page again.
    assert!(secret.with_bytes(|b| b == PAYLOAD).unwrap());
    #[cfg(target_os = "linux")]
    assert_eq!(protection_of(addr.load(Ordering::Relaxed)), "---p");
    secret.close().unwrap();
}

#[test]
fn close_waits_for_eight_threads_inside_with_bytes() {
    const THREADS: usize = 8;
    let secret = Arc::new(secret());
    let all_inside = Arc::new(Barrier::new(THREADS + 1));
    let close_returned = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (secret, all_inside, close_returned) = (
                Arc::clone(&secret),
                Arc::clone(&all_inside),
                Arc::clone(&close_returned),
            );
            std::thread::spawn(move || {
                secret
                    .with_bytes(|b| {
                        all_inside.wait();
                        // Close has begun (it sets the flag before waiting) ...
                        while !secret.is_closed() {
                            std::thread::yield_now();
                        }
                        // ... refuses newcomers, but waits for us: our bytes
                        // are still mapped and readable.
                        assert!(matches!(secret.with_bytes(|_| ()), Err(Error::Closed)));
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        assert!(
                            !close_returned.load(Ordering::SeqCst),
                            "close returned early"
                        );
                        assert_eq!(b, PAYLOAD);
                    })
                    .unwrap();
                assert!(matches!(secret.with_bytes(|_| ()), Err(Error::Closed)));
            })
        })
        .collect();
    all_inside.wait();
    secret.close().unwrap();
    close_returned.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("a thread inside with_bytes failed");
    }
    assert!(matches!(secret.with_bytes(|_| ()), Err(Error::Closed)));
}

#[test]
fn concurrent_accesses_all_see_the_bytes() {
    let secret = Arc::new(secret());
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let secret = Arc::clone(&secret);
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    assert!(secret.with_bytes(|b| b == PAYLOAD).unwrap());
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    secret.close().unwrap();
}

#[test]
fn mlock_can_be_turned_off_at_run_time() {
    let factory = SecretFactory::with_options(Options::default().mlock(false));
    assert!(!factory.options().mlock_enabled());
    let secret = factory.create_random(32).unwrap();
    assert_eq!(secret.with_bytes(<[u8]>::len).unwrap(), 32);
    secret.close().unwrap();
    // On by default: no cargo feature of this crate can turn it off.
    assert!(Options::default().mlock_enabled());
}

#[test]
fn creating_a_secret_disables_core_dumps() {
    let _secret = secret();
    let mut lim = libc::rlimit {
        rlim_cur: 1,
        rlim_max: 1,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut lim) }, 0);
    assert_eq!((lim.rlim_cur, lim.rlim_max), (0, 0));
}
