//! gate: a CI performance gate for the Rust port of the Asherah SDK.
//!
//! Four layers, dependencies pointing inward only:
//!
//! - [`cmd`]: the commands, the only place with clap types, exit codes and
//!   printing of results; each turns its arguments into options and calls
//!   the pipeline;
//! - [`pipeline`] and [`power`]: the steps a command runs (measure, pair and
//!   decide, confirm, re-judge, write baselines, estimate power);
//! - the runner (`gate-runner`: builds, bench processes, lockstep pairs,
//!   worktrees, live Go, environment, progress) and publishing
//!   (`gate-github`);
//! - the core (`gate-core`: model, config data, formats, statistics, the one
//!   decision, report renderers), which knows no CLI, process, network or
//!   terminal.
//!
//! Data flows one way: run -> collect -> compare -> decide -> report ->
//! publish. The gate never links the code it measures: it runs benches as
//! processes and reads what they write.

pub mod cmd;
pub mod pipeline;
pub mod power;
