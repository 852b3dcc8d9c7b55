//! Exit codes and the top-level error every command returns.

use std::path::PathBuf;

/// The documented exit codes (README, `kharness --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// Everything passed (skips included).
    Ok = 0,
    /// A test failed or regressed.
    TestsFailed = 1,
    /// Bad usage, configuration or input.
    Usage = 2,
    /// Infrastructure failure: a tool is missing, a VM could not boot, a
    /// build or a patch failed.
    Infra = 3,
    /// The guest kernel crashed or hung.
    GuestCrashed = 4,
    /// Interrupted by SIGINT (Ctrl-C): 128 + 2, as a shell reports it.
    Interrupted = 130,
    /// Interrupted by SIGTERM (a cancelled job): 128 + 15.
    Terminated = 143,
}

/// Errors that end a command, each mapped to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something that cannot be: bad flag value, no such
    /// kernel, a filter that matches nothing.
    #[error("{0}")]
    Usage(String),
    /// An input file exists but is not what it should be.
    #[error("{}: {why}", path.display())]
    BadInput { path: PathBuf, why: String },
    /// The output location cannot be written.
    #[error("cannot write to {}: {source}; pass --out DIR with a writable directory", path.display())]
    Output {
        path: PathBuf,

        source: std::io::Error,
    },
    /// A tool the run needs is missing or failed.
    #[error("{0}")]
    Infra(String),
    /// An I/O error on the harness's own files.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,

        source: std::io::Error,
    },
    /// The user interrupted the run (SIGINT/SIGTERM).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) | Error::BadInput { .. } | Error::Output { .. } => ExitCode::Usage,
            Error::Infra(_) | Error::Io { .. } => ExitCode::Infra,
            Error::Interrupted => match crate::support::process::interrupt_signal() {
                Some(15) => ExitCode::Terminated,
                _ => ExitCode::Interrupted,
            },
        }
    }

    /// Writing to stdout failed (other than a closed pipe).
    pub fn stdout(source: std::io::Error) -> Self {
        Error::io("failed to write", "stdout", source)
    }

    /// An I/O failure on `path`; the error of long file work stopped by
    /// Ctrl-C ([`crate::support::fs::check_interrupt`]) becomes
    /// [`Error::Interrupted`].
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        if crate::support::fs::is_interrupted_error(&source) {
            return Error::Interrupted;
        }
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
