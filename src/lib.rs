//! gate: a CI performance gate for the Rust port of the Asherah SDK.
//!
//! Data flows one way, one module per stage:
//! run ([`run`]) -> collect ([`formats`] into [`model`]) -> compare
//! ([`stats`]) -> decide ([`verdict`]) -> report ([`report`]) -> publish
//! ([`github`]). The gate never links the code it measures: it runs benches
//! as processes and reads what they write.

pub mod cmd;
pub mod pipeline;
pub mod power;
