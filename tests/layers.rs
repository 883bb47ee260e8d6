//! The layers stay as the README's Layout describes them, checked on the
//! source itself:
//!
//! - no crate of the workspace has an import loop among its source files:
//!   the graph of references between files (`crate::a::b`, `super::x`,
//!   `self::x`, in code and in doc links) has no cycle. A folder's `mod.rs`
//!   (or `lib.rs`) declaring, re-exporting and calling its own children is
//!   the facade of that folder and adds no edge; every other reference
//!   does. Test modules (from `#[cfg(test)]` on) are not read;
//! - the core depends on no command-line, async, HTTP, terminal or
//!   process-spawning crate, and its source prints nothing and starts no
//!   process;
//! - no function of the gate's own crates is longer than 120 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `src/` folders of the workspace's crates.
fn crate_sources() -> Vec<PathBuf> {
    let root = root();
    let mut dirs = vec![
        root.join("src"),
        root.join("benches/src"),
        root.join("lockstep/src"),
        root.join("tests/fixture-bench/src"),
    ];
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        dirs.push(entry.unwrap().path().join("src"));
    }
    dirs.retain(|d| d.is_dir());
    dirs
}

/// Every `.rs` file under `dir`, by module path (`pairing/floor`; a
/// folder's `mod.rs` is the folder's path; `lib.rs` and `main.rs` are "").
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut raw = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut name = rel.to_string_lossy().replace('\\', "/");
                for tail in ["mod", "lib", "main"] {
                    if name == tail {
                        name.clear();
                    } else if let Some(parent) = name.strip_suffix(&format!("/{tail}")) {
                        name = parent.to_string();
                    }
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = match text.find("#[cfg(test)]") {
                    Some(at) => text[..at].to_string(),
                    None => text,
                };
                out.entry(name).or_insert_with(String::new).push_str(&code);
                raw.push(path);
            }
        }
    }
    // A file its parent declares under `#[cfg(test)]` is test code.
    let test_only: Vec<String> = out
        .keys()
        .filter(|m| {
            let (parent, leaf) = m.rsplit_once('/').unwrap_or(("", m.as_str()));
            let declared = format!("#[cfg(test)]\nmod {leaf};");
            raw.iter().any(|p| {
                let rel = p.strip_prefix(src).unwrap().with_extension("");
                let rel = rel.to_string_lossy();
                let is_parent = match parent {
                    "" => rel == "lib" || rel == "main",
                    _ => rel == parent || rel == format!("{parent}/mod"),
                };
                is_parent
                    && std::fs::read_to_string(p)
                        .is_ok_and(|t| t.replace("\r", "").contains(&declared))
            })
        })
        .cloned()
        .collect();
    for m in test_only {
        out.remove(&m);
    }
    out
}

/// The path segments of each `prefix` reference in `text`: for
/// `crate::a::b::Item`, `["a", "b", "Item"]`.
fn references<'a>(text: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &text[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        out.push(rest[..end].split("::").filter(|s| !s.is_empty()).collect());
    }
    out
}

/// The longest module that `segments` (from module `base`) names.
fn resolve(all: &BTreeMap<String, String>, base: &str, segments: &[&str]) -> String {
    let mut best = base.to_string();
    let mut path = base.to_string();
    for s in segments {
        path = if path.is_empty() {
            s.to_string()
        } else {
            format!("{path}/{s}")
        };
        if all.contains_key(&path) {
            best = path.clone();
        } else {
            break;
        }
    }
    best
}

fn parent(module: &str) -> String {
    module
        .rsplit_once('/')
        .map(|(p, _)| p)
        .unwrap_or("")
        .to_string()
}

/// Whether `to` is a direct child module of `from`.
fn is_child(from: &str, to: &str) -> bool {
    !to.is_empty() && parent(to) == from
}

/// Each module and the modules it refers to.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let all = modules(src);
    let mut graph = BTreeMap::new();
    for (name, text) in &all {
        let mut deps = BTreeSet::new();
        for segs in references(text, "crate::") {
            deps.insert(resolve(&all, "", &segs));
        }
        for segs in references(text, "super::") {
            let supers = 1 + segs.iter().take_while(|s| **s == "super").count();
            let mut base = name.clone();
            for _ in 0..supers {
                base = parent(&base);
            }
            deps.insert(resolve(&all, &base, &segs[supers - 1..]));
        }
        for segs in references(text, "self::") {
            deps.insert(resolve(&all, name, &segs));
        }
        deps.retain(|d| d != name && !is_child(name, d));
        graph.insert(name.clone(), deps);
    }
    graph
}

/// A cycle through `from`, if any (depth-first search).
fn cycle(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|m| m == from) {
        let mut found = path[at..].to_vec();
        found.push(from.to_string());
        return Some(found);
    }
    if !done.insert(from.to_string()) {
        return None;
    }
    path.push(from.to_string());
    for next in graph.get(from).into_iter().flatten() {
        if let Some(found) = cycle(graph, next, path, done) {
            return Some(found);
        }
    }
    path.pop();
    None
}

#[test]
fn no_crate_has_an_import_loop() {
    let sources = crate_sources();
    assert!(sources.len() >= 7, "crates not found: {sources:?}");
    let mut loops = Vec::new();
    for src in sources {
        let graph = graph(&src);
        let mut done = BTreeSet::new();
        for module in graph.keys() {
            if let Some(found) = cycle(&graph, module, &mut Vec::new(), &mut done) {
                let names: Vec<String> = found
                    .iter()
                    .map(|m| {
                        if m.is_empty() {
                            "(root)".into()
                        } else {
                            m.clone()
                        }
                    })
                    .collect();
                loops.push(format!("{}: {}", src.display(), names.join(" -> ")));
            }
        }
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

/// The checker finds a loop between two sibling files, and none between a
/// folder's facade and its children.
#[test]
fn the_checker_sees_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(src.join("a/mod.rs"), "pub mod x;\npub use x::f;\n").unwrap();
    std::fs::write(src.join("a/x.rs"), "use super::g;\npub fn f() {}\n").unwrap();
    std::fs::write(src.join("b.rs"), "use crate::a::x::f;\n").unwrap();
    let g = graph(src);
    assert!(cycle(&g, "a", &mut Vec::new(), &mut BTreeSet::new()).is_none());
    std::fs::write(src.join("a/x.rs"), "use crate::b::h;\n").unwrap();
    std::fs::write(src.join("b.rs"), "/// See [`crate::a::x::f`].\n").unwrap();
    let g = graph(src);
    let found = cycle(&g, "b", &mut Vec::new(), &mut BTreeSet::new()).expect("a loop");
    assert_eq!(found, ["b", "a/x", "b"]);
}

/// `[dependencies]` names of a manifest.
fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let Some(at) = text.find("\n[dependencies]") else {
        return Vec::new();
    };
    text[at + 16..]
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .collect()
}

#[test]
fn the_core_knows_no_cli_process_network_or_terminal() {
    let core = root().join("crates/gate-core");
    let deps = dependencies(&core.join("Cargo.toml"));
    assert!(deps.contains(&"serde".to_string()), "{deps:?}");
    let outer = [
        "clap",
        "tokio",
        "octocrab",
        "indicatif",
        "reqwest",
        "hyper",
        "console",
        "crossterm",
        "duct",
        "cargo_metadata",
        "gate-runner",
        "gate-github",
        "libc",
    ];
    for d in &deps {
        assert!(!outer.contains(&d.as_str()), "gate-core depends on `{d}`");
    }
    for (module, text) in modules(&core.join("src")) {
        for banned in [
            "std::process",
            "println!",
            "eprintln!",
            "print!(",
            "std::io::stdout",
        ] {
            assert!(
                !text.contains(banned),
                "gate-core `{module}` uses `{banned}`"
            );
        }
    }
}

/// Lengths of the functions in `text`: from a line declaring `fn` to the
/// line closing it at the same indentation (rustfmt's layout).
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let is_fn = trimmed.split_whitespace().take(5).any(|w| w == "fn")
            && !trimmed.starts_with("//")
            && !trimmed.ends_with(';');
        if !is_fn {
            continue;
        }
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(len) = lines[i..].iter().position(|l| *l == close) {
            out.push((trimmed.chars().take(60).collect(), len + 1));
        }
    }
    out
}

#[test]
fn no_function_of_the_gate_is_over_120_lines() {
    let root = root();
    let mut dirs = vec![root.join("src")];
    for c in ["gate-core", "gate-runner", "gate-github"] {
        dirs.push(root.join("crates").join(c).join("src"));
    }
    let mut long = Vec::new();
    for dir in dirs {
        for (module, text) in modules(&dir) {
            for (f, len) in function_lengths(&text) {
                if len > 120 {
                    long.push(format!("{}/{module}: {len} lines: {f}", dir.display()));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over 120 lines:\n{}",
        long.join("\n")
    );
    let sample = "fn a() {\n    x();\n}\n\npub fn b(\n    y: u8,\n) {\n}\n";
    assert_eq!(
        function_lengths(sample)
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>(),
        [3, 4]
    );
}
