//! `kharness-guest`: the test binary kharness runs inside the kernel under
//! test. It runs the same way natively on a developer's host, inside a
//! virtme-ng guest, and as PID 1 of an initramfs.
//!
//! Tests live one module per area; each registers [`framework::Test`]
//! entries in its `TESTS` table. All `unsafe` is confined to [`sys`].

#![deny(unsafe_code)]

pub mod cli;
pub mod framework;
pub mod pid1;
pub mod registry;
pub mod runner;
#[allow(unsafe_code)]
pub mod sys;
pub mod util;
pub mod watch;

pub mod io_uring;
pub mod perf;
pub mod selftest;
pub mod sendfile;
pub mod signals;
pub mod splice;
pub mod tee;
pub mod vmsplice;
pub mod zerocopy;
