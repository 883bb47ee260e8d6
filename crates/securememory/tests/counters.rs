//! System calls per operation, read from the crate's counters. One test in
//! its own binary, because the counters are process-wide.

mod common;

use std::io::Read;

use common::PAYLOAD;
use securememory::{Counters, Options, SecretFactory, counters};

fn measure<R>(f: impl FnOnce() -> R) -> (R, Counters) {
    let before = counters();
    let r = f();
    (r, counters().since(&before))
}

#[test]
fn syscalls_per_operation() {
    for mlock in [true, false] {
        let factory = SecretFactory::with_options(Options::default().mlock(mlock));
        let mut source = *PAYLOAD;
        let (secret, made) = measure(|| factory.new(&mut source).unwrap());
        assert_eq!(
            (made.mmap, made.mlock, made.munmap),
            (1, u64::from(mlock), 0),
            "{made:?}"
        );
        // Inner pages read-write, then PROT_NONE.
        assert_eq!(made.mprotect, 2, "{made:?}");

        // One sequential access is one mprotect pair and nothing else.
        let (_, c) = measure(|| secret.with_bytes(|b| b[0]).unwrap());
        assert_eq!(
            c,
            Counters {
                mprotect: 2,
                ..Counters::default()
            }
        );
        let (_, c) = measure(|| {
            let r: Result<u8, securememory::Error> = secret.with_bytes_func(|b| Ok(b[1]));
            r.unwrap()
        });
        assert_eq!(c.mprotect, 2);

        // read_to_end of the whole secret: one access, EOF costs nothing.
        let (out, c) = measure(|| {
            let mut out = Vec::new();
            secret.reader().read_to_end(&mut out).unwrap();
            out
        });
        assert_eq!(out, PAYLOAD);
        assert_eq!(c.mprotect, 2, "read_to_end");

        // read_exact of 32 and of 16 bytes: one access each.
        let (_, c) = measure(|| secret.reader().read_exact(&mut [0u8; 32]).unwrap());
        assert_eq!(c.mprotect, 2, "read_exact 32");
        let (_, c) = measure(|| secret.reader().read_exact(&mut [0u8; 16]).unwrap());
        assert_eq!(c.mprotect, 2, "read_exact 16");

        // A read loop to EOF: the read that returns 0 makes no access.
        let (n, c) = measure(|| {
            let mut reader = secret.reader();
            let (mut buf, mut total) = ([0u8; 64], 0);
            loop {
                match reader.read(&mut buf).unwrap() {
                    0 => break total,
                    n => total += n,
                }
            }
        });
        assert_eq!((n, c.mprotect), (32, 2), "read loop");

        // Nested (overlapping) accesses share one pair.
        let (_, c) = measure(|| {
            secret
                .with_bytes(|_| secret.with_bytes(|b| b[0]).unwrap())
                .unwrap();
        });
        assert_eq!(c.mprotect, 2, "overlapping accesses");

        // Close: one mprotect (to wipe) and the munmap.
        let (_, c) = measure(|| secret.close().unwrap());
        assert_eq!((c.mprotect, c.munmap, c.mmap), (1, 1, 0), "{c:?}");
        let (_, c) = measure(|| assert!(secret.with_bytes(|_| ()).is_err()));
        assert_eq!(
            c,
            Counters::default(),
            "access after close makes no syscall"
        );
    }
}
