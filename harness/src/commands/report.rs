//! `kharness report`: a stored run's summary again, and with `--write` or
//! `--out` its report files rendered again. The run directory is only
//! read unless `--write` says otherwise.

use crate::cli::ReportArgs;
use crate::error::{Error, ExitCode, Result};

pub fn run(a: ReportArgs, verbose: bool) -> Result<ExitCode> {
    let res = crate::results::load(&a.run_dir)?;
    let into = match (&a.out, a.write) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).map_err(|source| Error::Output {
                path: dir.clone(),
                source,
            })?;
            Some(dir.as_path())
        }
        (None, true) => Some(a.run_dir.as_path()),
        (None, false) => None,
    };
    if let Some(dir) = into {
        // A newer kharness renders an older run with its own renderers.
        crate::report::write_all(dir, &res, verbose)?;
    }
    crate::support::stdout::print(&crate::report::for_stdout(&crate::report::terminal(
        &res, verbose,
    )))
    .map_err(Error::stdout)?;
    Ok(res.exit_code())
}
