//! (being written)
pub mod markdown;
