//! `kharness config show`: every effective setting and where it came from.

use crate::cli::Cli;
use crate::cli::config::Layers;
use crate::error::{Error, ExitCode, Result};

pub fn show(command: &[String], layers: &Layers) -> Result<ExitCode> {
    let text = crate::cli::config::show::<Cli>(command, layers)?;
    crate::support::stdout::print(&text).map_err(Error::stdout)?;
    Ok(ExitCode::Ok)
}
