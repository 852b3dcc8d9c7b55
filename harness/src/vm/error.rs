//! Why a VM could not be set up or started.

use std::path::PathBuf;

use crate::error::{ExitCode, OpError};

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("the kernel command line would be {len} bytes, more than the {max} x86 takes")]
    CmdlineTooLong { len: usize, max: usize },
    #[error(
        "vng would put {len} bytes of --exec on a kernel command line of at most {max} \
         (a shorter --out path helps)"
    )]
    ExecTooLong { len: usize, max: usize },
    #[error(
        "--perf-mode deterministic needs TCG (QEMU's -icount); use --accel tcg or \
         --perf-mode wallclock"
    )]
    DeterministicNeedsTcg,
    #[error(
        "{} not found: virtme-ng is not installed; {} (see `kharness doctor`)",
        vng.display(),
        super::vng::INSTALL_HINT
    )]
    VngMissing { vng: PathBuf },
    #[error(
        "{} not found: install it with `apt-get install qemu-system-x86` (see `kharness doctor`)",
        qemu.display()
    )]
    QemuMissing { qemu: PathBuf },
    #[error("failed to start {what}")]
    Start {
        what: String,
        source: std::io::Error,
    },
}

impl OpError for VmError {
    /// What the user asked for cannot be booted (exit 2); a missing or
    /// failing tool is the machine's (exit 3).
    fn exit_code(&self) -> ExitCode {
        match self {
            VmError::CmdlineTooLong { .. }
            | VmError::ExecTooLong { .. }
            | VmError::DeterministicNeedsTcg => ExitCode::Usage,
            VmError::VngMissing { .. } | VmError::QemuMissing { .. } | VmError::Start { .. } => {
                ExitCode::Infra
            }
        }
    }
}
