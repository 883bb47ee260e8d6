//! gate: a CI performance gate for the Rust port of the Asherah SDK.
//!
//! Data flows one way, one module per stage:
//! run ([`run`]) -> collect ([`formats`] into [`model`]) -> compare
//! ([`stats`]) -> decide ([`verdict`]) -> report ([`report`]) -> publish
//! ([`github`]). The gate never links the code it measures: it runs benches
//! as processes and reads what they write.

pub mod ab;
pub mod arbitrate;
pub mod baseline;
pub mod build;
pub mod check;
pub mod cli;
pub mod compare;
pub mod env;
pub mod git;
pub mod github;
pub mod livego;
pub mod lockstep;
pub mod merge;
pub mod power;
pub mod process;
pub mod run;
