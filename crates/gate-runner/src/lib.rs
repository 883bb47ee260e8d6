//! The gate's runner: everything that starts a process or looks at the
//! machine. It builds and lists the benches (`run`, `build`), runs bench
//! processes and lockstep pairs (`lockstep`, `ab`), checks out other
//! commits (`git`), runs Go's benchmarks (`livego`), probes the environment
//! (`env`) and shows progress.
//!
//! It depends on the core (`gate-core`) for the model and the config data,
//! never on the pipeline, publishing or the commands.

pub mod ab;
pub mod build;
pub mod env;
pub mod git;
pub mod livego;
pub mod lockstep;
pub mod process;
pub mod progress;
pub mod run;
