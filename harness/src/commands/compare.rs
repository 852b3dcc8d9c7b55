//! `kharness compare`: two stored runs side by side; writes nothing into
//! them (`--out` keeps the comparison elsewhere).

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
    // Only where asked: the run directories may be read-only artifacts.
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(|source| Error::Output {
            path: dir.clone(),
            source,
        })?;
        let name = format!("compare-{}", ra.run_id);
        crate::results::write_json(&dir.join(format!("{name}.json")), &c)?;
        let txt = dir.join(format!("{name}.txt"));
        crate::support::fs::write_atomic(&txt, text.as_bytes())
            .map_err(|e| Error::io("failed to write", &txt, e))?;
    }
    crate::support::stdout::print(&crate::report::for_stdout(&text)).map_err(Error::stdout)?;
    Ok(if c.has_regressions() {
        ExitCode::TestsFailed
    } else {
        ExitCode::Ok
    })
}
