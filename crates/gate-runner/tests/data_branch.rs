//! The history's data branch: appends from two checkouts racing against
//! one bare repository all land, and the branch reads back whole.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};

use gate_runner::git::{append_to_branch, read_branch};

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?}");
}

#[test]
fn racing_appends_all_land() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("origin.git");
    std::fs::create_dir(&bare).unwrap();
    git(&bare, &["init", "--quiet", "--bare"]);
    let remote = bare.to_string_lossy().into_owned();
    const PER: usize = 4;
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let dir = tmp.path().join(format!("clone{w}"));
            std::fs::create_dir(&dir).unwrap();
            git(&dir, &["init", "--quiet"]);
            let (remote, barrier) = (remote.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut retried = 0;
                for k in 0..PER {
                    let name = format!("{w}{k:039}.json");
                    let body = format!("{{\"run\": \"{w}-{k}\"}}");
                    let attempts = append_to_branch(
                        &dir,
                        &remote,
                        "gate-history",
                        &name,
                        body.as_bytes(),
                        &format!("history: {name}"),
                        20,
                    )
                    .unwrap();
                    retried += attempts - 1;
                }
                retried
            })
        })
        .collect();
    let retried: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let reader = tmp.path().join("reader");
    std::fs::create_dir(&reader).unwrap();
    git(&reader, &["init", "--quiet"]);
    let files = read_branch(&reader, &remote, "gate-history").unwrap();
    assert_eq!(
        files.len(),
        2 * PER,
        "retries: {retried}; {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for w in 0..2 {
        for k in 0..PER {
            let name = format!("{w}{k:039}.json");
            let (_, body) = files.iter().find(|f| f.0 == name).expect("file landed");
            assert_eq!(
                String::from_utf8_lossy(body),
                format!("{{\"run\": \"{w}-{k}\"}}")
            );
        }
    }
    // One orphan line of commits: one per append, no merge, no other root.
    let log = Command::new("git")
        .args(["rev-list", "--count", "gate-history"])
        .current_dir(&bare)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&log.stdout).trim(),
        (2 * PER).to_string()
    );
    eprintln!("{retried} push(es) lost a race and were retried");
}

#[test]
fn an_absent_branch_reads_as_empty() {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "--quiet", "--bare"]);
    let clone = tempfile::tempdir().unwrap();
    git(clone.path(), &["init", "--quiet"]);
    let files = read_branch(clone.path(), &tmp.path().to_string_lossy(), "gate-history").unwrap();
    assert!(files.is_empty());
}
