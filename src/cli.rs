//! Command line (being written).

/// Entry point; returns the process exit code (0 pass, 1 regression, 2 error).
pub fn main() -> i32 {
    0
}
