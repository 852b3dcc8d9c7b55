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

/// The error of one library operation (finding the guest, resolving a
/// kernel, reading a series, building, booting, ...): a `thiserror` enum
/// of its own that says which exit code each of its cases means. `?`
/// turns it into [`Error::Op`], which keeps it whole (typed, never
/// flattened into a string).
pub trait OpError: std::error::Error + Send + Sync + 'static {
    fn exit_code(&self) -> ExitCode;

    /// The operation stopped because the user asked kharness to stop:
    /// it becomes [`Error::Interrupted`] (exit 130/143).
    fn interrupted(&self) -> bool {
        false
    }
}

impl<E: OpError> From<E> for Error {
    fn from(e: E) -> Self {
        match e.interrupted() {
            true => Error::Interrupted,
            false => Error::Op(Box::new(e)),
        }
    }
}

/// `e` followed by each of its causes, `: `-separated.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

/// Errors that end a command, each mapped to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command's own check of what it was asked (commands/ and cli/
    /// only: library modules return an [`OpError`]).
    #[error("{0}")]
    Usage(String),
    /// A library operation failed; its enum knows the exit code.
    #[error("{}", with_causes(&**.0))]
    Op(Box<dyn OpError>),
    /// An input file exists but is not what it should be.
    #[error("{}: {why}", path.display())]
    BadInput { path: PathBuf, why: String },
    /// The output location cannot be written.
    #[error("cannot write to {}: {source}; pass --out DIR with a writable directory", path.display())]
    Output {
        path: PathBuf,

        source: std::io::Error,
    },
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
            Error::Io { .. } => ExitCode::Infra,
            Error::Op(e) => e.exit_code(),
            Error::Interrupted => match crate::support::process::interrupt_signal() {
                Some(15) => ExitCode::Terminated,
                _ => ExitCode::Interrupted,
            },
        }
    }

    /// The library error inside, if it is an `E`.
    pub fn op<E: OpError>(&self) -> Option<&E> {
        match self {
            Error::Op(e) => (&**e as &dyn std::error::Error).downcast_ref(),
            _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Probe {
        #[error("bad value")]
        Bad,
        #[error("tool failed")]
        Tool { source: std::io::Error },
        #[error("stopped")]
        Stopped,
    }

    impl OpError for Probe {
        fn exit_code(&self) -> ExitCode {
            match self {
                Probe::Bad => ExitCode::Usage,
                _ => ExitCode::Infra,
            }
        }

        fn interrupted(&self) -> bool {
            matches!(self, Probe::Stopped)
        }
    }

    #[test]
    fn an_operation_error_stays_typed_and_keeps_its_exit_code() {
        let e = Error::from(Probe::Bad);
        assert_eq!(e.exit_code(), ExitCode::Usage);
        assert!(matches!(e.op::<Probe>(), Some(Probe::Bad)), "{e:?}");
        let e = Error::from(Probe::Tool {
            source: std::io::Error::other("no such tool"),
        });
        assert_eq!(e.exit_code(), ExitCode::Infra);
        // Printed once, with its causes.
        assert_eq!(e.to_string(), "tool failed: no such tool");
        assert!(matches!(Error::from(Probe::Stopped), Error::Interrupted));
    }
}
