//! Creating and closing many secrets from several threads leaves no mapping
//! behind. Alone in its binary, so no other test maps memory meanwhile.
//! Linux only: it reads `/proc/self/maps`.
#![cfg(target_os = "linux")]

mod common;

use std::sync::{Arc, Barrier};

use common::mapping_count;
use securememory::SecretFactory;

const THREADS: usize = 4;

/// Each of `THREADS` threads creates, reads and closes `per_thread` secrets.
/// All threads are alive at once (barriers at start and end), so the warm-up
/// round creates every malloc arena the measured round will use.
fn churn(factory: &Arc<SecretFactory>, per_thread: usize) {
    let together = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (factory, together) = (Arc::clone(factory), Arc::clone(&together));
            std::thread::spawn(move || {
                together.wait();
                for i in 0..per_thread {
                    let secret = factory.create_random(32 + i % 64).unwrap();
                    let copy = secret.with_bytes(<[u8]>::to_vec).unwrap();
                    assert_eq!(copy.len(), 32 + i % 64);
                    secret.close().unwrap();
                }
                together.wait();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn ten_thousand_secrets_leave_no_mapping_behind() {
    let factory = Arc::new(SecretFactory::default());
    // Warm-up: thread stacks and malloc arenas are cached by the C library
    // and stay mapped; the measured round reuses them.
    churn(&factory, 10);
    let before = mapping_count();
    churn(&factory, 10_000 / THREADS);
    assert_eq!(mapping_count(), before, "mappings were left behind");
}
