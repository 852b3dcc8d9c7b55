//! One thin file per command: each turns its arguments into a plan or a
//! request, calls the stages, and prints. Nothing imports this module
//! except the binary (`main.rs` calls [`main`]).

pub mod bisect;
pub mod bundle;
pub mod compare;
pub mod config;
mod dispatch;
pub mod doctor;
pub mod list;
pub mod man;
pub mod merge;
pub mod report;
pub mod repro;
pub mod run;
pub mod series;
pub mod shell;

pub use dispatch::main;
