//! Run directories: created fresh for every run (never overwritten), files
//! written atomically so a crash or Ctrl-C never leaves half a file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// Why `--out` cannot take a new run directory: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum OutError {
    #[error("{} already holds 1000 runs started at {stamp}", out.display())]
    Full { out: PathBuf, stamp: String },
    #[error("--out {}: not a directory; pass --out DIR with a writable directory", out.display())]
    NotADirectory { out: PathBuf },
}

impl crate::error::OpError for OutError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::Usage
    }
}
use crate::support::fs::write_atomic;

/// A run directory `OUT/<run id>`.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new run directory under `out`, named after the UTC start
    /// time; a suffix keeps two runs in the same second apart.
    pub fn create(out: &Path, started: std::time::SystemTime) -> Result<RunDir> {
        std::fs::create_dir_all(out).map_err(|source| Error::Output {
            path: out.to_owned(),
            source,
        })?;
        let stamp = humantime::format_rfc3339_seconds(started)
            .to_string()
            .replace([':', '-'], "");
        for n in 0..1000 {
            let id = if n == 0 {
                stamp.clone()
            } else {
                format!("{stamp}-{n}")
            };
            let path = out.join(&id);
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    update_latest(out, &id);
                    return Ok(RunDir { id, path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(Error::Output { path, source }),
            }
        }
        Err(OutError::Full {
            out: out.to_owned(),
            stamp,
        }
        .into())
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

/// Checks, before anything is built or booted, that run directories can
/// be made under `out`: a file can be created in it, or in the nearest
/// directory above it that exists. Creates nothing that stays.
pub fn check_out(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(OutError::NotADirectory {
            out: out.to_owned(),
        }
        .into());
    }
    let existing = out
        .ancestors()
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists())
        .unwrap_or(Path::new("."));
    tempfile::tempfile_in(existing)
        .map(drop)
        .map_err(|source| Error::Output {
            path: out.to_owned(),
            source,
        })
}

/// Reads a run directory's `results.json`.
pub fn load(run_dir: &Path) -> Result<crate::results::RunResults> {
    let path = run_dir.join("results.json");
    let text = std::fs::read(&path).map_err(|e| Error::BadInput {
        path: path.clone(),
        why: format!(
            "cannot read ({e}); is {} a kharness run directory?",
            run_dir.display()
        ),
    })?;
    let bad = |why: String| Error::BadInput {
        path: path.clone(),
        why,
    };
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    // The schema first: a results.json from another kharness version fails
    // on its schema number, not on whichever field moved.
    let Some(schema) = value.get("schema").and_then(serde_json::Value::as_u64) else {
        return Err(bad(
            "not a kharness results file: no `schema` number at the top".into(),
        ));
    };
    if schema != u64::from(crate::results::RESULTS_SCHEMA) {
        return Err(bad(format!(
            "schema {schema} is not {}, the one this kharness reads",
            crate::results::RESULTS_SCHEMA
        )));
    }
    let res: crate::results::RunResults = serde_json::from_value(value)
        .map_err(|e| bad(format!("not a kharness results file: {e}")))?;
    Ok(res)
}

/// Points `OUT/latest` at the newest run; best effort.
fn update_latest(out: &Path, id: &str) {
    let link = out.join("latest");
    let tmp = out.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::os::unix::fs::symlink(id, &tmp).is_ok() && std::fs::rename(&tmp, &link).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Serialises `value` as pretty JSON into `path`, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("result types serialise");
    bytes.push(b'\n');
    write_atomic(path, &bytes).map_err(|e| Error::io("failed to write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_are_never_reused() {
        let out = tempfile::tempdir().unwrap();
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let a = RunDir::create(out.path(), t).unwrap();
        let b = RunDir::create(out.path(), t).unwrap();
        assert_ne!(a.path, b.path);
        assert_eq!(a.id, "20270115T080000Z");
        assert_eq!(b.id, "20270115T080000Z-1");
        assert_eq!(
            std::fs::read_link(out.path().join("latest")).unwrap(),
            Path::new(&b.id)
        );
    }

    #[test]
    fn unwritable_out_is_a_usage_error() {
        let e = RunDir::create(
            Path::new("/proc/kharness-cannot-exist"),
            std::time::SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), crate::error::ExitCode::Usage);
        assert!(e.to_string().contains("pass --out DIR"), "{e}");
    }
}
