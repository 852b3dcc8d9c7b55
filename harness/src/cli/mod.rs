//! The command line: clap definitions, and kharness.toml layered under
//! them (profiles, environment, origins). Argument parsing and config
//! only: commands live in `commands/`.

mod args;
pub mod config;

pub use args::*;
