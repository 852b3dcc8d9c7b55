//! `kharness report`: a stored run's summary again.

use crate::cli::ReportArgs;
use crate::error::{Error, ExitCode, Result};

pub fn run(a: ReportArgs, verbose: bool) -> Result<ExitCode> {
    let res = crate::results::load(&a.run_dir)?;
    // Regenerate the report files too: a newer kharness renders
    // an older run with its own renderers.
    crate::report::write_all(&a.run_dir, &res)?;
    crate::support::stdout::print(&crate::report::for_stdout(&crate::report::terminal(
        &res, verbose,
    )))
    .map_err(Error::stdout)?;
    Ok(res.exit_code())
}
