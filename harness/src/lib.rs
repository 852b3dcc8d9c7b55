//! kharness: boots (patched) kernels in QEMU, runs the `kharness-guest`
//! suite inside them, and reports pass/fail, observations and metrics.
//!
//! Dependencies point one way: `commands/` (one file per command) may use
//! anything; `engine/` (runs a plan) uses the stage modules (`plan`,
//! `kernel`, `series`, `vm`, `guest`, `results`, `report`); nothing
//! imports `engine/` or `commands/`; `support/` imports nothing of the
//! crate. `tests/architecture.rs` reads the `crate::` paths and fails on a
//! forbidden edge or a cycle.

#![deny(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
pub mod guest;
pub mod kernel;
pub mod plan;
pub mod report;
pub mod results;
pub mod series;
pub mod support;
pub mod vm;
