//! Helpers every stage uses: atomic files, hashing, XDG paths, program
//! lookup, shell quoting, text, child-process supervision, colour and
//! terminal progress. Nothing here imports the rest of the crate
//! (`tests/architecture.rs` checks it), so any module may use it.

pub mod color;
pub mod fs;
pub mod hash;
pub mod paths;
pub mod process;
pub mod progress;
pub mod quote;
pub mod stdout;
pub mod text;
