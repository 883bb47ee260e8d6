//! The crate's modules do not import each other in a loop: the graph of `crate::<module>`
//! references between the files of `src/` (code and doc links alike; a reference to an item
//! re-exported at the crate root counts as one to `lib.rs`, which declares every module) has no
//! cycle. `super::` appears only in modules nested inside a file (unit tests), where it names
//! that file's own module, so it adds no edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module of `src/` and the modules it refers to.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("reading src/") {
        let path = entry.expect("a src/ entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            files.insert(
                name,
                std::fs::read_to_string(&path).expect("reading a module"),
            );
        }
    }
    let modules: BTreeSet<String> = files.keys().filter(|m| *m != "lib").cloned().collect();
    files
        .iter()
        .map(|(name, text)| {
            let mut deps: BTreeSet<String> = text
                .split("crate::")
                .skip(1)
                .map(|rest| {
                    let ident: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if modules.contains(&ident) {
                        ident
                    } else {
                        "lib".to_owned()
                    }
                })
                .collect();
            if name == "lib" {
                deps.extend(modules.iter().cloned());
            }
            deps.remove(name);
            (name.clone(), deps)
        })
        .collect()
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
        found.push(from.to_owned());
        return Some(found);
    }
    if done.contains(from) {
        return None;
    }
    path.push(from.to_owned());
    for next in graph.get(from).into_iter().flatten() {
        if let Some(found) = cycle(graph, next, path, done) {
            return Some(found);
        }
    }
    path.pop();
    done.insert(from.to_owned());
    None
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    assert!(graph.len() > 3, "src/ not found: {graph:?}");
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(found) = cycle(&graph, module, &mut Vec::new(), &mut done) {
            panic!("import loop: {}", found.join(" -> "));
        }
    }
}
