//! Why a plan could not be run: its own checks, and the stage errors it
//! meets with the kernel or step they were met at.

use crate::error::{ExitCode, OpError};
use crate::kernel::build::BuildError;
use crate::vm::VmError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the plan has no kernel to boot")]
    NoKernel,
    /// Setting up the VM of this kernel failed.
    #[error("{release}")]
    Kernel { release: String, source: VmError },
    /// Building a series step's kernel failed (`what`: which step).
    #[error("{what} failed")]
    Build { what: String, source: BuildError },
}

impl OpError for EngineError {
    /// A plan without kernels is the caller's mistake; a wrapped stage
    /// error keeps the exit code it has on its own.
    fn exit_code(&self) -> ExitCode {
        match self {
            EngineError::NoKernel => ExitCode::Usage,
            EngineError::Kernel { source, .. } => source.exit_code(),
            EngineError::Build { source, .. } => source.exit_code(),
        }
    }

    fn interrupted(&self) -> bool {
        matches!(self, EngineError::Build { source, .. } if source.interrupted())
    }
}
