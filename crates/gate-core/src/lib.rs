//! The gate's core: what a measurement is, what `gate.yaml` says, how
//! results are read and written, the statistics, the one decision, and the
//! report renderers.
//!
//! It prints nothing and knows no command line, process, git, network or
//! terminal: the runner, the pipeline, publishing and the commands are
//! built around it in other crates and modules, and depend on it, never the
//! other way (the crate boundary keeps it so).

pub mod compare;
pub mod config;
pub mod figures;
pub mod formats;
pub mod history;
pub mod merge;
pub mod model;
pub mod pairing;
pub mod report;
pub mod sequential;
pub mod stats;
pub mod units;
pub mod update;
pub mod verdict;
