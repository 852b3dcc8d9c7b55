//! Errors of reading a series and of applying it, each naming the file and
//! line (reading) or the patch, file and hunk (applying).

use std::path::PathBuf;

/// Why a series could not be read. Every variant names the file and, where
/// there is one, the 1-based line.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a patch series: a directory with a quilt `series` file or NNNN-*.patch files, an mbox, or a lore thread", path.display())]
    NotASeries { path: PathBuf },
    #[error("{}: empty series: {why}", path.display())]
    Empty { path: PathBuf, why: String },
    #[error("{}:{line}: binary data (a NUL byte), not a patch or a mailbox", path.display())]
    Binary { path: PathBuf, line: usize },
    #[error("{}: not a readable gzip file: {why}", path.display())]
    Gzip { path: PathBuf, why: String },
    #[error("{}:{line}: not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf, line: usize },
    #[error("{}:{line}: {why}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("{}:{line}: the series names {patch}, which does not exist", path.display())]
    MissingPatch {
        path: PathBuf,
        line: usize,
        patch: String,
    },
    #[error("{}:{line}: malformed diff: {why}", path.display())]
    MalformedDiff {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("{}:{line}: patch \"{subject}\" has no diff", path.display())]
    NoDiff {
        path: PathBuf,
        line: usize,
        subject: String,
    },
    #[error("{}: incomplete series: {why}", path.display())]
    Incomplete { path: PathBuf, why: String },
    #[error("{}:{line}: {why}", path.display())]
    Manifest {
        path: PathBuf,
        line: usize,
        why: String,
    },
}

impl SeriesError {
    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            SeriesError::Io { path, .. }
            | SeriesError::NotASeries { path }
            | SeriesError::Empty { path, .. }
            | SeriesError::Binary { path, .. }
            | SeriesError::Gzip { path, .. }
            | SeriesError::NotUtf8 { path, .. }
            | SeriesError::Syntax { path, .. }
            | SeriesError::MissingPatch { path, .. }
            | SeriesError::MalformedDiff { path, .. }
            | SeriesError::NoDiff { path, .. }
            | SeriesError::Incomplete { path, .. }
            | SeriesError::Manifest { path, .. } => path,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SeriesError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why a scratch tree could not be set up or a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The patch does not apply on top of the ones before it.
    #[error("{}", does_not_apply_message(.index, .total, .subject, .file, .hunk, .output))]
    DoesNotApply {
        /// 1-based position of the patch in its series.
        index: usize,
        total: usize,
        subject: String,
        /// The file whose hunk was rejected, when the tool said.
        file: Option<String>,
        /// The rejected hunk's `@@ ... @@` line, when it could be told.
        hunk: Option<String>,
        /// What the tool printed.
        output: String,
    },
    /// An applied patch could not be taken back to reach another prefix.
    #[error("cannot revert patch {index} ({subject}) in {}: {output}", tree.display())]
    Revert {
        index: usize,
        subject: String,
        tree: PathBuf,
        output: String,
    },
    /// The source tree is not usable.
    #[error("{}: {why}", path.display())]
    Source { path: PathBuf, why: String },
    /// A tool (git, cp) failed.
    #[error("`{command}` {status}: {stderr}")]
    Tool {
        command: String,
        status: String,
        stderr: String,
    },
    /// A tool could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn does_not_apply_message(
    index: &usize,
    total: &usize,
    subject: &str,
    file: &Option<String>,
    hunk: &Option<String>,
    output: &str,
) -> String {
    let mut s = format!("patch {index}/{total} \"{subject}\" does not apply");
    match (file, hunk) {
        (Some(f), Some(h)) => s.push_str(&format!(": {f}: hunk {h} rejected")),
        (Some(f), None) => s.push_str(&format!(": {f}")),
        (None, _) => {}
    }
    let out = output.trim_end();
    if !out.is_empty() {
        for line in out.lines() {
            s.push_str("\n    ");
            s.push_str(line);
        }
    }
    s
}

impl ApplyError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ApplyError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

impl crate::error::OpError for SeriesError {
    /// Bad input: exit code 2. The message already names file and line.
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::Usage
    }
}

impl crate::error::OpError for ApplyError {
    /// A patch that does not apply or a tool that fails is an
    /// infrastructure failure (exit code 3); an unusable source tree is
    /// bad input (exit code 2).
    fn exit_code(&self) -> crate::error::ExitCode {
        match self {
            ApplyError::Source { .. } => crate::error::ExitCode::Usage,
            _ => crate::error::ExitCode::Infra,
        }
    }
}
