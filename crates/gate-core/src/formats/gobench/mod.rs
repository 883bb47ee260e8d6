//! The Go benchmark format (golang proposal 14313, the format `go test
//! -bench` prints and `benchstat` reads).
//!
//! [`read`] turns `go test -bench` output into a [`crate::model::ResultSet`];
//! [`write`] turns any result set (Rust ones too) back into text `benchstat`
//! reads. [`names`] holds what both sides must agree on: what a benchmark
//! name is, the `-N` GOMAXPROCS suffix, and how a Rust bench id is encoded
//! as a Go name so that writing then reading gives the same id back.

pub mod names;
pub mod read;
pub mod write;

pub use read::{parse_go, read_go_file};
pub use write::write_go;

#[cfg(test)]
mod tests;
