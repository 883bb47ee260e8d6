//! Benchmark names in the Go format, and the reversible encoding of Rust
//! bench ids as Go names.
//!
//! Encoding (chosen so that `benchstat` shows something readable and the
//! reader can undo it exactly): a Rust id is written as
//! `BenchmarkRust/<id>` under the config line `gate-lang: rust`, with `%`
//! and whitespace in the id percent-encoded (`%25`, `%20`), because result
//! line fields are separated by whitespace. Only under `gate-lang: rust` is
//! the prefix removed again, so a genuine Go `BenchmarkRust/...` is never
//! mistaken for a Rust id. The thread count travels as Go's own `-N`
//! GOMAXPROCS suffix.

use anyhow::{Context, Result, bail};

use std::collections::BTreeMap;

use crate::formats::EXACT_LABEL;
use crate::model::{BenchId, Benchmark, Lang, Mode};
use crate::units::UNIT_LABEL_PREFIX;

/// Config key that marks the results after it as Rust figures.
pub const LANG_KEY: &str = "gate-lang";
/// Config key carrying a mode that differs from the one a name implies
/// (see [`implied_mode`]), so that a declared mode survives a round trip.
pub const MODE_KEY: &str = "gate-mode";
/// Go name prefix of an encoded Rust id.
pub const RUST_PREFIX: &str = "BenchmarkRust/";

/// Whether a field is a benchmark name: `Benchmark` followed by the end of
/// the field or a character that is not lower case. This is Go's `testing`
/// rule (it accepts `Benchmark_x`); it keeps lines such as criterion's
/// `Benchmarking foo: Warming up` from being taken as results.
pub fn is_benchmark_name(field: &str) -> bool {
    match field.strip_prefix("Benchmark") {
        Some(rest) => rest.chars().next().is_none_or(|c| !c.is_lowercase()),
        None => false,
    }
}

/// Splits Go's `-N` GOMAXPROCS suffix off a full name:
/// `BenchmarkX/size=8-4` -> (`BenchmarkX/size=8`, 4). A name without the
/// suffix ran at GOMAXPROCS=1, which `go test` does not print.
pub fn split_procs(name: &str) -> (&str, u32) {
    if let Some(dash) = name.rfind('-') {
        let digits = &name[dash + 1..];
        if dash > 0
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = digits.parse::<u32>()
            && n >= 1
        {
            return (&name[..dash], n);
        }
    }
    (name, 1)
}

/// Whether writing `name` without a suffix would make the reader take part
/// of it for a GOMAXPROCS suffix (`BenchmarkX-8` at GOMAXPROCS=1). The
/// writer then adds `-1` explicitly.
pub fn needs_explicit_procs(name: &str) -> bool {
    split_procs(name).0.len() != name.len()
}

/// The `/key=value` parts of a sub-benchmark name, in order.
pub fn subname_parts(id: &str) -> Vec<(&str, &str)> {
    id.split('/')
        .skip(1)
        .filter_map(|part| part.split_once('='))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Mode of a benchmark when no `gate-mode:` line or override says
/// otherwise: a Rust id declares its own; a Go name does not. Its `-N`
/// suffix is GOMAXPROCS, which a benchmark runs at whether or not it calls
/// `b.RunParallel`, so a Go figure stays [`Mode::Undeclared`] until a pair
/// in `gate.yaml` or `--mode` declares it.
pub fn implied_mode(lang: Lang, id: &str) -> Mode {
    match (lang, BenchId::parse(id)) {
        (Lang::Rust, Ok(b)) => b.mode,
        _ => Mode::Undeclared,
    }
}

/// Whether `key` may be written as a config line key: it starts with a lower
/// case character and holds no space, upper case character or colon.
pub fn is_config_key(key: &str) -> bool {
    key.chars().next().is_some_and(char::is_lowercase)
        && !key
            .chars()
            .any(|c| c.is_whitespace() || c.is_uppercase() || c == ':')
}

/// A benchmark's configuration: the Go `key: value` lines in force for it
/// (`goos`, `goarch`, `pkg`, `cpu`, `note`, custom keys), as its labels
/// keep them; not the labels that are part of its name (`/key=value`
/// sub-benchmark parts), unit metadata, exactness, or the gate's own
/// `gate-lang`/`gate-mode` keys.
pub fn configuration(b: &Benchmark) -> BTreeMap<&str, &str> {
    let parts = if b.lang == Lang::Go {
        subname_parts(&b.id)
    } else {
        Vec::new()
    };
    b.labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, v)| {
            *k != EXACT_LABEL
                && *k != LANG_KEY
                && *k != MODE_KEY
                && !k.starts_with(UNIT_LABEL_PREFIX)
                && !parts.contains(&(*k, *v))
        })
        .collect()
}

/// Rust id -> Go benchmark name (without the `-N` suffix).
pub fn encode_rust_id(id: &str) -> String {
    let mut out = String::from(RUST_PREFIX);
    for c in id.chars() {
        if c == '%' || c.is_whitespace() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Go benchmark name (without the `-N` suffix) -> Rust id, or `None` when
/// the name was not written by [`encode_rust_id`].
pub fn decode_rust_id(name: &str) -> Option<Result<String>> {
    let encoded = name.strip_prefix(RUST_PREFIX)?;
    Some(percent_decode(encoded).with_context(|| format!("cannot decode Rust id `{name}`")))
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).unwrap_or("");
            match u8::from_str_radix(hex, 16) {
                Ok(b) if hex.len() == 2 => out.push(b),
                _ => bail!("`%{hex}` at byte {i} is not a `%XX` escape"),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("escapes do not form UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benchmark_names_follow_go_testing_rule() {
        assert!(is_benchmark_name("BenchmarkFoo-2"));
        assert!(is_benchmark_name("Benchmark"));
        assert!(is_benchmark_name("Benchmark_x"));
        assert!(!is_benchmark_name("Benchmarking"));
        assert!(!is_benchmark_name("benchmarkFoo"));
    }

    #[test]
    fn procs_suffix_is_split_only_when_numeric() {
        assert_eq!(split_procs("BenchmarkX-2"), ("BenchmarkX", 2));
        assert_eq!(split_procs("BenchmarkX"), ("BenchmarkX", 1));
        assert_eq!(
            split_procs("BenchmarkX/size=8-16"),
            ("BenchmarkX/size=8", 16)
        );
        assert_eq!(split_procs("BenchmarkX-a"), ("BenchmarkX-a", 1));
        assert_eq!(split_procs("BenchmarkX-0"), ("BenchmarkX-0", 1));
        assert!(needs_explicit_procs("BenchmarkX-8"));
        assert!(!needs_explicit_procs("BenchmarkX"));
    }

    #[test]
    fn rust_ids_round_trip_through_go_names() {
        for id in [
            "secret/with_bytes/parallel/t2",
            "odd id/with%percent/sequential",
            "tab\there",
        ] {
            let name = encode_rust_id(id);
            assert!(!name.contains(char::is_whitespace), "{name}");
            assert_eq!(decode_rust_id(&name).unwrap().unwrap(), id);
        }
        assert_eq!(
            encode_rust_id("secret/with_bytes/parallel/t2"),
            "BenchmarkRust/secret/with_bytes/parallel/t2"
        );
        assert!(decode_rust_id("BenchmarkOther").is_none());
        assert!(decode_rust_id("BenchmarkRust/bad%zz").unwrap().is_err());
    }

    #[test]
    fn subname_parts_are_key_value_parts_after_the_top_name() {
        assert_eq!(
            subname_parts("BenchmarkX/size=8/small/policy=lru"),
            vec![("size", "8"), ("policy", "lru")]
        );
        assert!(subname_parts("BenchmarkX").is_empty());
    }
}
