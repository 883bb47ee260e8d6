//! Which benches a step runs, and how.

use anyhow::{Context, Result};
use regex::Regex;

use gate_core::config::Config;
use gate_runner::run::RunPlan;

/// The choices every measuring step shares.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Fewer, shorter samples (the report says so).
    pub quick: bool,
    /// Build and run the benches with mlock off.
    pub no_mlock: bool,
    /// Only ids matching this regular expression (`--filter`).
    pub filter: Option<String>,
}

/// Compiles `--filter`, naming the flag when the expression is bad.
pub fn compile_filter(filter: Option<&str>) -> Result<Option<Regex>> {
    filter
        .map(|f| {
            Regex::new(f)
                .with_context(|| format!("--filter `{f}` is not a valid regular expression"))
        })
        .transpose()
}

/// The bench plan of `gate.yaml` with the selection applied and the
/// config's environment variables.
pub fn plan_for(config: &Config, selection: &Selection) -> Result<RunPlan> {
    let mut plan = RunPlan::from_config(config);
    plan.quick = selection.quick;
    plan.no_mlock = selection.no_mlock;
    plan.filter = compile_filter(selection.filter.as_deref())?;
    for (k, v) in &config.cargo.env {
        if !plan.env.iter().any(|(ek, _)| ek == k) {
            plan.env.push((k.clone(), v.clone()));
        }
    }
    Ok(plan)
}
