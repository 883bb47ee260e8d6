//! The pipeline: the steps a command runs, from measurements to a report.
//! Each takes options (never command-line types), calls the runner to
//! measure and the core to decide, and returns what it found; the commands
//! print and turn it into an exit code.

pub mod arbitrate;
pub mod baseline;
pub mod check;
pub mod collect;
pub mod confirm;
pub mod history;
pub mod plan;
pub mod sequential;
