//! kharness: boots (patched) kernels in QEMU, runs the `kharness-guest`
//! suite inside them, and reports pass/fail, observations and metrics.
//!
//! Data flows one way: `cli -> plan -> kernel -> vm -> guest records ->
//! results -> report`; no module reaches back up that chain.

#![deny(unsafe_code)]

pub mod bundle;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod error;
pub mod guest;
pub mod kernel;
pub mod manual;
pub mod merge;
pub mod plan;
pub mod report;
pub mod repro;
pub mod results;
pub mod run;
pub mod series;
pub mod series_run;
pub mod support;
pub mod vm;
