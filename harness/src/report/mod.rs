//! Renderers of a run's results: the terminal summary, and the files every
//! run directory gets (JUnit, KTAP, KCIDB, mail-ready text, HTML).

mod html;
mod junit;
mod kcidb;
mod ktap;
mod markdown;
mod terminal;
mod verdict;
mod view;

use std::path::{Path, PathBuf};

pub use html::{PALETTE, html};
pub use junit::junit;
pub use kcidb::kcidb;
pub use ktap::ktap;
pub use markdown::{markdown, markdown_verbose};
pub use terminal::{for_stdout, terminal};

use crate::error::{Error, ExitCode, OpError, Result};
use crate::results::RunResults;

/// A report file that could not be rendered (a bug of ours, or a library
/// refusing data): exit 3.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("failed to render {file}")]
    Render {
        file: &'static str,
        source: quick_junit::SerializeError,
    },
}

impl OpError for ReportError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Infra
    }
}

/// The report files of a run directory, in the order [`write_all`] writes them.
pub const REPORT_FILES: [&str; 5] = [
    "junit.xml",
    "results.ktap",
    "kcidb.json",
    "report.md",
    "report.html",
];

/// Writes every report file into `run_dir`, each atomically, and returns
/// their paths. All are attempted; the first failure is returned after.
/// `verbose` puts every metric into `report.md`, not only the headline ones.
pub fn write_all(run_dir: &Path, res: &RunResults, verbose: bool) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut first_err = None;
    for name in REPORT_FILES {
        let path = run_dir.join(name);
        let outcome = render(name, res, verbose).and_then(|bytes| {
            crate::support::fs::write_atomic(&path, &bytes)
                .map_err(|e| Error::io("failed to write", &path, e))
        });
        match outcome {
            Ok(()) => written.push(path),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(written),
    }
}

fn render(name: &str, res: &RunResults, verbose: bool) -> Result<Vec<u8>> {
    Ok(match name {
        "junit.xml" => junit(res)
            .map_err(|source| ReportError::Render {
                file: "junit.xml",
                source,
            })?
            .into_bytes(),
        "results.ktap" => ktap(res).into_bytes(),
        "kcidb.json" => {
            let mut b = serde_json::to_vec_pretty(&kcidb(res)).expect("JSON values serialise");
            b.push(b'\n');
            b
        }
        "report.md" if verbose => markdown_verbose(res).into_bytes(),
        "report.md" => markdown(res).into_bytes(),
        "report.html" => html(res).into_bytes(),
        other => unreachable!("{other} is not in REPORT_FILES"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use view::tests::{rec, run};

    #[test]
    fn every_file_is_written_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let res = run(&[("6.1", "completed", &[rec("a.one", "pass")])]);
        let paths = write_all(d.path(), &res, false).unwrap();
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, REPORT_FILES);
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            REPORT_FILES.len()
        );
    }

    #[test]
    fn an_unwritable_directory_is_an_error_naming_the_file() {
        let res = run(&[("6.1", "completed", &[])]);
        let e = write_all(Path::new("/proc/kharness-no-such-dir"), &res, false).unwrap_err();
        assert!(e.to_string().contains(REPORT_FILES[0]), "{e}");
    }
}
