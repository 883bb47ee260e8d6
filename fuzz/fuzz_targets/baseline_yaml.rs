//! Baseline YAML (`baselines/*.yaml`): `parse_baseline` on any UTF-8 input,
//! and `load_text` (all sets merged, for `gate compare`) on the same text.
//! A baseline it reads holds finite figures only, and written again by
//! `to_yaml` must read back to the same YAML.
#![no_main]

use std::path::Path;

use gate_core::formats::baseline::parse_baseline;
use gate_core::formats::load_text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.yaml");
    let _ = load_text(text, path, None);
    let Ok(baseline) = parse_baseline(text, path) else {
        return;
    };
    for b in baseline.benchmarks() {
        assert!(baseline.find(b.lang, &b.id, b.threads).is_some());
        assert!(
            b.samples
                .iter()
                .chain(b.counters.values())
                .all(|v| v.is_finite()),
            "non-finite figure in {}",
            b.id
        );
    }
    let written = baseline
        .to_yaml()
        .expect("a baseline read from YAML serialises");
    let back = parse_baseline(&written, path)
        .unwrap_or_else(|e| panic!("to_yaml output does not read back: {e:#}\n{written}"));
    assert_eq!(
        back.to_yaml().expect("serialises"),
        written,
        "the baseline changes through YAML"
    );
});
