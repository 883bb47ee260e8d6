//! `go test -bench` text: `parse_go` on any UTF-8 input. What it reads must
//! hold finite samples, and what `write_go` makes of it must read back with
//! the same benchmarks (the gate writes Go text for `benchstat` and reads
//! its own output again).
#![no_main]

use std::path::Path;

use gate_core::formats::{parse_go, write_go};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = parse_go(text, Path::new("fuzz.txt"), None) else {
        return;
    };
    for b in &first.set.benchmarks {
        assert!(
            b.samples.iter().all(|s| s.is_finite()),
            "non-finite sample in {}",
            b.id
        );
    }
    // The writer refuses what it cannot write faithfully; that is an error,
    // not a finding.
    let Ok(written) = write_go(&first.set) else {
        return;
    };
    let again = parse_go(&written, Path::new("fuzz.txt"), None)
        .unwrap_or_else(|e| panic!("write_go output does not read back: {e:#}\n{written}"));
    let keys = |set: &gate_core::model::ResultSet| {
        let mut k: Vec<_> = set
            .benchmarks
            .iter()
            .map(|b| (b.lang, b.id.clone(), b.threads))
            .collect();
        k.sort();
        k.dedup();
        k
    };
    assert_eq!(
        keys(&first.set),
        keys(&again.set),
        "benchmarks change through write_go:\n{written}"
    );
});
