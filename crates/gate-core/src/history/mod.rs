//! The history of the default branch: one stored record per commit
//! (`record`), the series of each bench across them (`series`), the
//! persistent shifts in those series (`edivisive`, `changes`), how the
//! change-point method is measured (`evaluate`), and the static trend page
//! (`page`, `svg`); the recent trend a pull request comment shows
//! (`trend`).
//!
//! `docs/history.md` describes the store, the method and its accuracy.

pub mod changes;
pub mod edivisive;
pub mod evaluate;
pub mod page;
pub mod record;
pub mod series;
pub mod svg;
pub mod trend;

pub use changes::{Change, changes};
pub use edivisive::Settings;
pub use record::{Record, read_dir, write_into};
pub use series::{Kind, Point, Series, series};
pub use trend::{Trend, trend};
