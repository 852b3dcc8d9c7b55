//! Runs a plan: boots (layout, launch, supervise), classifies what each
//! boot left (pure), runs passes with fresh boots after a crash, and
//! builds the kernels of a series' steps. Only `commands/` uses it.

pub mod bisect;
mod boot;
mod classify;
mod context;
mod error;
mod launch;
mod pass;
mod run;
mod steps;

pub use classify::{Classified, Observed, boot_records, classify, tests_after};
pub use error::EngineError;
pub use run::{Output, boot_order, capacity, run_plan};
pub use steps::{
    SeriesReport, Step, build_step, build_working_tree, reusable_step, working_tree_subject,
};
