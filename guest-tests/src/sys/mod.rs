//! The only place in the guest crate that may use `unsafe`: thin wrappers
//! over syscalls that rustix and io-uring do not cover safely. Each file is
//! one area; every `unsafe` block carries a `// SAFETY:` comment.

pub mod mem;
pub mod net;
pub mod perf;
pub mod process;
pub mod signal;
pub mod splice;
pub mod uring;
