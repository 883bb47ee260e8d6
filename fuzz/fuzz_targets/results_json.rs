//! Results JSON (`gate check --save`): `parse_results` on any UTF-8 input,
//! and `load_text` (the sniffing of `gate compare`) on the same text. A set
//! it reads, written again by `results_json`, must read back equal.
#![no_main]

use std::path::Path;

use gate_core::formats::load_text;
use gate_core::formats::results::{parse_results, results_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.json");
    let _ = load_text(text, path, None);
    let Ok(set) = parse_results(text, path) else {
        return;
    };
    let written = results_json(&set).expect("a set read from JSON serialises");
    let back = parse_results(&written, path)
        .unwrap_or_else(|e| panic!("results_json output does not read back: {e:#}\n{written}"));
    assert_eq!(back, set, "results change through results_json:\n{written}");
});
