//! `gate.yaml`: `Config::parse` on any UTF-8 input. For a config it
//! accepts, the per-id lookups (lockstep override patterns, pairs per
//! check, floor) run on every id it names, and the config serialised again
//! must be accepted again.
#![no_main]

use std::path::Path;

use gate_core::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("gate.yaml");
    let Ok(config) = Config::parse(text, path) else {
        return;
    };
    let ids = config
        .lockstep
        .overrides
        .keys()
        .chain(&config.cargo.ids)
        .chain(config.pairs.iter().map(|p| &p.rust))
        .chain(config.allow_counters.keys());
    for id in ids {
        let settings = config.lockstep.for_id(id);
        settings
            .validate()
            .unwrap_or_else(|e| panic!("the settings of `{id}` are invalid: {e:#}"));
        assert!(config.pairs_per_check(id) >= 1 || config.rounds == 0);
        let _ = config.floor.is_floor(id) || config.floor.scales_id(id);
    }
    let written = serde_yaml_text(&config);
    Config::parse(&written, path)
        .unwrap_or_else(|e| panic!("the config does not read back: {e:#}\n{written}"));
});

fn serde_yaml_text(config: &Config) -> String {
    serde_yaml::to_string(config).expect("a config read from YAML serialises")
}
