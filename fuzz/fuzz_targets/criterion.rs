//! A criterion home: `read_criterion` on a folder holding one benchmark.
//! The input is split at NUL bytes (JSON holds none) into
//! `new/benchmark.json`, `new/sample.json` and, when present, one file of
//! `gate-counters/`; `fuzz/seed.sh` joins the repository's fixtures so.
//! What it reads must be one benchmark with a bench id and finite,
//! non-negative samples.
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use gate_core::formats::criterion::{COUNTERS_DIR, read_criterion};
use gate_core::model::BenchId;
use libfuzzer_sys::fuzz_target;

/// One scratch home per process, rewritten by every input: in memory
/// (`/dev/shm`) where there is one, since on a disk-backed `/tmp` the
/// rewrites wait on the disk. libFuzzer exits without dropping it, so a few
/// small files stay behind.
fn home() -> &'static PathBuf {
    static HOME: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &HOME
        .get_or_init(|| {
            let shm = std::path::Path::new("/dev/shm");
            let dir = if shm.is_dir() {
                tempfile::tempdir_in(shm)
            } else {
                tempfile::tempdir()
            }
            .expect("a scratch folder");
            let home = dir.path().to_path_buf();
            fs::create_dir_all(home.join("group/op/new")).expect("a bench folder");
            fs::create_dir_all(home.join(COUNTERS_DIR)).expect("a counters folder");
            (dir, home)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let bench = parts.next().unwrap_or_default();
    let sample = parts.next().unwrap_or_default();
    let counters = parts.next();
    let home = home();
    let new = home.join("group/op/new");
    fs::write(new.join("benchmark.json"), bench).expect("write benchmark.json");
    fs::write(new.join("sample.json"), sample).expect("write sample.json");
    let counters_file = home.join(COUNTERS_DIR).join("bench.json");
    match counters {
        Some(c) => fs::write(&counters_file, c).expect("write the counters file"),
        None => {
            let _ = fs::remove_file(&counters_file);
        }
    }
    let Ok(parsed) = read_criterion(home, None) else {
        return;
    };
    assert_eq!(parsed.set.benchmarks.len(), 1);
    let b = &parsed.set.benchmarks[0];
    assert!(
        BenchId::parse(&b.id).is_ok(),
        "id `{}` is not a bench id",
        b.id
    );
    assert!(
        !b.samples.is_empty() && b.samples.iter().all(|s| s.is_finite() && *s >= 0.0),
        "samples {:?}",
        b.samples
    );
    assert!(b.counters.values().all(|v| v.is_finite()));
});
