//! Properties of the workflows (`.github/workflows/*.yml`) and of
//! `action.yml` that the linters do not check: every action pinned by a
//! full commit SHA with its version as a comment, one pin per action across
//! files, write permissions granted per job (never at the top), checkouts
//! that keep no credentials, no expression pasted into a `run:` script, and
//! for `history.yml` which job may write what.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_yaml::Value as Yaml;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn workflows() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

fn load(path: &Path) -> Yaml {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn jobs(workflow: &Yaml) -> Vec<(String, &Yaml)> {
    workflow["jobs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v))
        .collect()
}

/// The job's permissions as scope -> access.
fn permissions(job: &Yaml) -> BTreeMap<String, String> {
    job["permissions"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().unwrap().to_string(),
                        v.as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_action_is_pinned_by_commit_sha_with_its_version() {
    let uses = Regex::new(r"^\s*(?:-\s+)?uses:\s+(\S+)(.*)$").unwrap();
    let pinned = Regex::new(r"^([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@([0-9a-f]{40})$").unwrap();
    let version = Regex::new(r"^\s+#\s+(v\d+(?:\.\d+)*)\s*$").unwrap();
    // owner/repo -> (sha, version, where)
    let mut pins: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    let mut files = workflows();
    files.push(root().join("action.yml"));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let Some(c) = uses.captures(line) else {
                continue;
            };
            let at = format!("{}:{}", file.display(), n + 1);
            if &c[1] == "./" {
                continue;
            }
            let p = pinned
                .captures(&c[1])
                .unwrap_or_else(|| panic!("{at}: `{}` is not pinned by a full commit SHA", &c[1]));
            let v = version
                .captures(&c[2])
                .unwrap_or_else(|| panic!("{at}: `{}` has no `# vX.Y.Z` comment", &c[1]));
            let entry = (p[2].to_string(), v[1].to_string(), at.clone());
            match pins.get(&p[1]) {
                Some((sha, ver, first)) => assert!(
                    *sha == entry.0 && *ver == entry.1,
                    "{at}: {} pinned at {} ({}), but at {sha} ({ver}) in {first}",
                    &p[1],
                    entry.0,
                    entry.1
                ),
                None => {
                    pins.insert(p[1].to_string(), entry);
                }
            }
        }
    }
    for action in ["actions/upload-pages-artifact", "actions/deploy-pages"] {
        assert!(pins.contains_key(action), "{action} is used, pinned");
    }
}

#[test]
fn permissions_are_granted_per_job_and_checkouts_keep_no_credentials() {
    for file in workflows() {
        let name = file.display();
        let workflow = load(&file);
        assert_eq!(
            workflow["permissions"].as_mapping().map(|m| m.len()),
            Some(0),
            "{name}: the workflow's permissions must be `{{}}`; grant them per job"
        );
        for (id, job) in jobs(&workflow) {
            assert!(
                job["permissions"].is_mapping(),
                "{name}: job `{id}` must name its permissions"
            );
            for step in job["steps"].as_sequence().into_iter().flatten() {
                let uses = step["uses"].as_str().unwrap_or("");
                if uses.starts_with("actions/checkout@") {
                    assert_eq!(
                        step["with"]["persist-credentials"].as_bool(),
                        Some(false),
                        "{name}: job `{id}`: a checkout keeps its token in .git/config; \
                         set persist-credentials: false and hand the token to the one step that needs it"
                    );
                }
            }
        }
    }
}

/// The `run:` scripts of the workflows' jobs and of the composite action
/// read expressions (inputs, event fields) only through `env:`.
#[test]
fn scripts_take_no_expression() {
    for file in workflows() {
        let name = file.display();
        for (id, job) in jobs(&load(&file)) {
            assert_scripts_take_no_expression(&format!("{name}: job `{id}`"), &job["steps"]);
        }
    }
    let action = load(&root().join("action.yml"));
    let steps = &action["runs"]["steps"];
    assert!(steps.is_sequence(), "action.yml has runs.steps");
    assert_scripts_take_no_expression("action.yml", steps);
}

/// No `${{ }}` inside a `run:` script of `steps`: GitHub pastes the value
/// into the script before the shell reads it (script injection); a value
/// passed through `env:` stays data.
fn assert_scripts_take_no_expression(place: &str, steps: &Yaml) {
    for step in steps.as_sequence().into_iter().flatten() {
        if let Some(script) = step["run"].as_str() {
            assert!(
                !script.contains("${{"),
                "{place}, step `{}` pastes an expression into its script; pass it through env:",
                step["name"].as_str().unwrap_or("?")
            );
        }
    }
}

#[test]
fn history_workflow_scopes_each_write_permission_to_its_job() {
    let workflow = load(&root().join(".github/workflows/history.yml"));
    let on = &workflow["on"];
    assert!(
        on["push"]["branches"].is_sequence(),
        "history.yml runs on pushes to the default branch"
    );
    assert!(on["workflow_dispatch"]["inputs"]["commits"].is_mapping());

    let mut writers = BTreeMap::new();
    for (id, job) in jobs(&workflow) {
        let perms = permissions(job);
        let writes: Vec<String> = perms
            .iter()
            .filter(|(_, v)| v.as_str() == "write")
            .map(|(k, _)| k.clone())
            .collect();
        writers.insert(id.clone(), writes);
    }
    let expect = |job: &str, scopes: &[&str]| {
        assert_eq!(
            writers[job],
            scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "history.yml: the write permissions of job `{job}`"
        );
    };
    expect("measure", &[]);
    expect("record", &["contents"]);
    expect("backfill", &["contents"]);
    expect("pages", &["id-token", "pages"]);
    assert_eq!(writers.len(), 4, "history.yml: jobs {:?}", writers.keys());

    let job = |id: &str| -> &Yaml { &workflow["jobs"][id] };
    let steps =
        |id: &str| -> Vec<&Yaml> { job(id)["steps"].as_sequence().unwrap().iter().collect() };
    let script = |id: &str| -> String {
        steps(id)
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };

    // The check runs with a read-only token and measures Go live.
    let measure = steps("measure");
    assert!(
        measure
            .iter()
            .any(|s| s["uses"].as_str() == Some("./") && s["with"]["base"].is_null()),
        "measure runs the stored check (the action without `base`)"
    );
    assert!(measure.iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/setup-go@"))
            && s["with"]["go-version-file"].as_str() == Some("go/securememory/go.mod")
    }));

    // The jobs that write run the verified release binary, never a build of
    // the checkout, and push through the data branch store.
    for id in ["record", "pages"] {
        let install = steps(id)
            .into_iter()
            .find(|s| s["run"].as_str() == Some("scripts/install-gate.sh"))
            .unwrap_or_else(|| panic!("job `{id}` installs the gate with scripts/install-gate.sh"));
        assert_eq!(install["env"]["GATE_INSTALL"].as_str(), Some("release"));
        assert!(!script(id).contains("cargo "), "job `{id}` builds nothing");
    }
    let record = script("record");
    assert!(record.contains("history append") && record.contains("--branch"));
    assert!(record.contains("GIT_CONFIG_COUNT=1"));
    assert!(script("backfill").contains("history backfill"));
    let pages = script("pages");
    assert!(pages.contains("history html") && pages.contains("--branch"));

    // Pages: its environment, the upload and the deploy, one deploy at a time.
    assert_eq!(
        job("pages")["environment"]["name"].as_str(),
        Some("github-pages")
    );
    assert_eq!(
        job("pages")["concurrency"]["cancel-in-progress"].as_bool(),
        Some(false)
    );
    let uses: Vec<&str> = steps("pages")
        .iter()
        .filter_map(|s| s["uses"].as_str())
        .collect();
    assert!(
        uses.iter()
            .any(|u| u.starts_with("actions/upload-pages-artifact@"))
    );
    assert!(uses.iter().any(|u| u.starts_with("actions/deploy-pages@")));
    let needs: Vec<&str> = job("pages")["needs"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(needs.contains(&"record"), "pages renders after the append");

    // Every commit measured: runs of different commits never cancel each other.
    assert_eq!(
        workflow["concurrency"]["cancel-in-progress"].as_bool(),
        Some(false)
    );
    assert!(
        workflow["concurrency"]["group"]
            .as_str()
            .unwrap()
            .contains("github.sha"),
        "one concurrency group per commit"
    );
}
