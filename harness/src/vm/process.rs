//! Running a VM: its own process group that dies with kharness, the
//! kernel's and the guest's output straight to log files, a time limit,
//! and the whole group stopped on timeout or Ctrl-C
//! ([`crate::support::process`] does the work).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::process::{self, Stop, Supervised};

/// Runs the VM command `cmd` with stdout and stderr going to the given
/// files, calling `tick` a few times a second; stops the whole group
/// after `limit` or when the user interrupts.
pub fn supervise(
    cmd: &mut Command,
    stdout_log: &Path,
    stderr_log: &Path,
    limit: Duration,
    tick: impl FnMut(),
) -> std::io::Result<Supervised> {
    let out = std::fs::File::create(stdout_log)?;
    let err = std::fs::File::create(stderr_log)?;
    process::supervise(
        cmd,
        out,
        err,
        Stop {
            limit: Some(limit),
            cancel: Some(process::interrupt_flag()),
        },
        tick,
    )
}
