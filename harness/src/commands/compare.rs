//! `kharness compare`: two stored runs side by side.

use crate::cli::CompareArgs;
use crate::error::{Error, ExitCode, Result};

pub fn run(a: CompareArgs, verbose: bool) -> Result<ExitCode> {
    let threshold = crate::cli::percentage(a.threshold)?;
    let (ra, rb) = (
        crate::results::load(&a.run_a)?,
        crate::results::load(&a.run_b)?,
    );
    let c = crate::results::compare::compare(&ra, &rb, threshold);
    let text = crate::results::compare::render(&c, verbose);
    // Kept beside run B, so its directory says what it was compared with.
    let name = format!("compare-{}", ra.run_id);
    crate::results::write_json(&a.run_b.join(format!("{name}.json")), &c)?;
    crate::support::fs::write_atomic(&a.run_b.join(format!("{name}.txt")), text.as_bytes())
        .map_err(|e| Error::io("failed to write", a.run_b.join(format!("{name}.txt")), e))?;
    crate::support::stdout::print(&crate::report::for_stdout(&text)).map_err(Error::stdout)?;
    Ok(if c.has_regressions() {
        ExitCode::TestsFailed
    } else {
        ExitCode::Ok
    })
}
