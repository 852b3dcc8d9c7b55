//! What can go wrong reading kharness.toml and laying it under the flags.

use std::fmt;
use std::path::PathBuf;

/// A place in a config file: the file, and line and column, both from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

/// Why the config files could not be read or used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config FILE` (or `$KHARNESS_CONFIG`) names no file.
    #[error("--config {}: no such file", path.display())]
    NoSuchFile { path: PathBuf },
    /// A file exists but cannot be read.
    #[error("{}: cannot read", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The profile asked for is in no file, and is not `default` or `ci`.
    #[error(
        "unknown profile '{profile}'{}; profiles: {}",
        from.as_ref().map_or(String::new(), |f| format!(" (from {f})")),
        known.join(", ")
    )]
    UnknownProfile {
        profile: String,
        /// The flag or environment variable that named it.
        from: Option<String>,
        known: Vec<String>,
    },
    #[error("{at}: invalid TOML: {why}")]
    InvalidToml { at: Place, why: String },
    /// `profile = ...` where `[profile.NAME]` tables belong.
    #[error("{at}: `profile` must be a table of profiles, e.g. [profile.default], not {found}")]
    ProfilesNotTable { at: Place, found: &'static str },
    #[error("{at}: `profile.{name}` must be a table, not {found}")]
    ProfileNotTable {
        at: Place,
        name: String,
        found: &'static str,
    },
    /// A value of the wrong TOML type for its key.
    #[error("{at}: `{key}` must be {expected}, not {found}")]
    WrongType {
        at: Place,
        key: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    /// An integer that does not fit.
    #[error("{at}: `{key}`: {why}")]
    BadInteger {
        at: Place,
        key: &'static str,
        why: std::num::ParseIntError,
    },
    /// A value the flag it stands for would refuse; `value` as TOML writes it.
    #[error("{at}: invalid value {value} for `{key}`: {why}")]
    InvalidValue {
        at: Place,
        key: &'static str,
        value: String,
        why: String,
    },
    /// The command line given to `config show` does not parse.
    #[error("config show: {why}")]
    ShowCommandLine { why: String },
}

impl crate::error::OpError for ConfigError {
    /// All of it is bad usage or input (exit code 2), an unreadable file
    /// too: it is told with the reason.
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::Usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ExitCode};

    #[test]
    fn every_config_error_is_bad_usage_and_keeps_its_message() {
        let unreadable = ConfigError::Unreadable {
            path: "/p/kharness.toml".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let e = Error::from(unreadable);
        assert_eq!(e.exit_code(), ExitCode::Usage);
        assert_eq!(
            e.to_string(),
            "/p/kharness.toml: cannot read: permission denied"
        );

        let profile = ConfigError::UnknownProfile {
            profile: "nighty".into(),
            from: Some("--profile".into()),
            known: vec!["ci".into(), "default".into()],
        };
        let e = Error::from(profile);
        assert_eq!(e.exit_code(), ExitCode::Usage);
        assert_eq!(
            e.to_string(),
            "unknown profile 'nighty' (from --profile); profiles: ci, default"
        );
    }
}
