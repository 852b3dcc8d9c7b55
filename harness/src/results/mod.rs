//! The result model of a run and the run directory that stores it.

pub mod bisect;
pub mod bundle;
pub mod compare;
mod model;
pub mod recipe;
pub mod selection;
pub mod stats;
pub mod steps;
mod store;

pub use model::{Boot, BootReason, KernelOutcome, KernelRun, RESULTS_SCHEMA, RunResults};
pub use store::{RunDir, check_out, load, write_json};
