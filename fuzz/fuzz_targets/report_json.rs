//! Report JSON (`gate check --json`): `report::parse_json` on any UTF-8
//! input, and `load_text` (which takes a report's new side for `gate
//! compare`) on the same text. A report it reads, serialised again as
//! `write_json` does, must read back equal.
#![no_main]

use std::path::Path;

use gate_core::formats::load_text;
use gate_core::report::parse_json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.json");
    let _ = load_text(text, path, None);
    let Ok(report) = parse_json(text, path) else {
        return;
    };
    let written =
        serde_json::to_string_pretty(&report).expect("a report read from JSON serialises");
    let back = parse_json(&written, path)
        .unwrap_or_else(|e| panic!("the report does not read back: {e:#}\n{written}"));
    assert_eq!(back, report, "the report changes through JSON:\n{written}");
});
