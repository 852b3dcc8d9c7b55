//! Syscall wrappers for this area (see sys/mod.rs).
