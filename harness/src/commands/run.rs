//! `kharness run`: run a plan and print its summary.

use crate::cli::RunArgs;
use crate::engine::Output;
use crate::error::{Error, ExitCode, Result};
use crate::plan::Plan;
use crate::support::stdout;

pub fn run(a: RunArgs, out: Output) -> Result<ExitCode> {
    let dry_run = a.dry_run;
    let plan = a.plan()?;
    if !dry_run {
        crate::results::check_out(&plan.out)?;
    }
    execute(&plan, &Output { dry_run, ..out })
}

/// Runs a plan end to end, prints the summary; returns the exit code.
pub fn execute(plan: &Plan, out: &Output) -> Result<ExitCode> {
    let Some((results, run_dir)) = crate::engine::run_plan(plan, out)? else {
        return Ok(ExitCode::Ok);
    };
    let table = crate::report::terminal(&results, out.verbose);
    crate::support::fs::write_atomic(&run_dir.join("summary.txt"), table.as_bytes())
        .map_err(|e| Error::io("failed to write", run_dir.join("summary.txt"), e))?;
    stdout::print(&crate::report::for_stdout(&table)).map_err(Error::stdout)?;
    stdout::println(&format!("run directory: {}", run_dir.path.display()))
        .map_err(Error::stdout)?;
    if results.interrupted {
        return Err(Error::Interrupted);
    }
    Ok(results.exit_code())
}
