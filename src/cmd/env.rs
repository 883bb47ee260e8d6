//! `gate env`: where we are measuring.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use gate_core::config::Config;
use gate_core::model::Environment;
use gate_runner::env::{Floor, detect_in, format_bytes, memlock_advice, read_floor};

use super::EXIT_PASS;

#[derive(Debug, Clone, Args)]
pub struct EnvArgs {
    #[arg(long, default_value = "gate.yaml")]
    pub config: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Everything `gate env` shows, also its `--json` form.
#[derive(Debug, Serialize)]
struct EnvReport {
    environment: Environment,
    fingerprint: String,
    floor: Floor,
    advice: Vec<String>,
    notes: Vec<String>,
}

/// `gate env`: prints where we are measuring and, when the floor benches
/// have run, the floor figures; advises on a small `RLIMIT_MEMLOCK`.
/// Always exits 0 when it could print: it is a diagnostic, and a broken
/// config is reported as a note rather than hiding the machine facts.
pub fn run(args: &EnvArgs) -> anyhow::Result<i32> {
    let mut notes = Vec::new();
    let workspace = match Config::load_if_exists(&args.config) {
        Ok(Some(c)) => c.resolve(&c.cargo.workspace),
        Ok(None) => PathBuf::from("."),
        Err(e) => {
            notes.push(format!("config not used: {e:#}"));
            PathBuf::from(".")
        }
    };
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from);
    let home = gate_runner::run::default_criterion_home(&workspace, target_dir.as_deref());
    let environment = detect_in(&workspace);
    let floor = read_floor(&home)?;
    if floor.mprotect_pair_ns.is_none() && floor.syscall_ns.is_none() {
        notes.push(format!(
            "no floor results in {}: run the `floor` benches (e.g. `gate check`) to measure them",
            home.display()
        ));
    }
    let advice = memlock_advice(
        environment.rlimit_memlock,
        environment.os.as_deref().unwrap_or(""),
    )
    .into_iter()
    .collect();
    let report = EnvReport {
        fingerprint: environment.fingerprint(),
        environment,
        floor,
        advice,
        notes,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(EXIT_PASS)
}

fn render(r: &EnvReport) -> String {
    let e = &r.environment;
    let unknown = || "unknown".to_string();
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(unknown);
    let ns = |o: Option<f64>| {
        o.map(|v| format!("{v:.0} ns"))
            .unwrap_or_else(|| "not measured".into())
    };
    let rows = [
        ("cpu", opt(&e.cpu_model)),
        (
            "cores",
            e.cores.map(|c| c.to_string()).unwrap_or_else(unknown),
        ),
        ("os/arch", format!("{}/{}", opt(&e.os), opt(&e.arch))),
        ("kernel", opt(&e.kernel)),
        (
            "virtualised",
            match e.virtualized {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => unknown(),
            },
        ),
        (
            "RLIMIT_MEMLOCK",
            e.rlimit_memlock.map(format_bytes).unwrap_or_else(unknown),
        ),
        ("rustc", opt(&e.rustc)),
        (
            "go",
            e.go.clone().unwrap_or_else(|| "not found on PATH".into()),
        ),
        ("fingerprint", r.fingerprint.clone()),
        ("floor mprotect pair", ns(r.floor.mprotect_pair_ns)),
        ("floor syscall", ns(r.floor.syscall_ns)),
        (
            "criterion folder",
            r.floor.criterion_home.display().to_string(),
        ),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<width$}  {v}\n"));
    }
    for a in &r.advice {
        out.push_str(&format!("advice: {a}\n"));
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_unknowns_and_advice() {
        let r = EnvReport {
            environment: Environment {
                rlimit_memlock: Some(64 * 1024),
                ..Environment::default()
            },
            fingerprint: "?".into(),
            floor: Floor::default(),
            advice: memlock_advice(Some(64 * 1024), "linux")
                .into_iter()
                .collect(),
            notes: vec![],
        };
        let text = render(&r);
        assert!(text.contains("RLIMIT_MEMLOCK       64 KiB"), "{text}");
        assert!(text.contains("cpu                  unknown"), "{text}");
        assert!(text.contains("--no-mlock"), "{text}");
    }
}
