//! `kharness completions` and `kharness man`: shell completions and man
//! pages, generated from the clap definition so they never drift from
//! `--help`.

use clap::{Command, CommandFactory};

use crate::cli::{Cli, CompletionsArgs, ManArgs};

use crate::error::{Error, ExitCode, Result};

pub fn completions(a: CompletionsArgs) -> Result<ExitCode> {
    print(&completion_script(Cli::command(), a.shell))?;
    Ok(ExitCode::Ok)
}

pub fn man(a: ManArgs) -> Result<ExitCode> {
    print(&man_page(Cli::command(), a.command.as_deref())?)?;
    Ok(ExitCode::Ok)
}

/// The completion script for `shell`.
pub fn completion_script(mut cmd: Command, shell: clap_complete::Shell) -> Vec<u8> {
    let name = cmd.get_name().to_owned();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

/// The man page (roff) of the command, or of one of its subcommands
/// (`kharness-run(1)`).
pub fn man_page(cmd: Command, sub: Option<&str>) -> Result<Vec<u8>> {
    let cmd = match sub {
        None => cmd,
        Some(name) => {
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|s| s.get_name().to_owned())
                .collect();
            let Some(s) = cmd.find_subcommand(name) else {
                return Err(Error::Usage(format!(
                    "man: no command '{name}'; commands: {}",
                    names.join(", ")
                )));
            };
            // The page's title and synopsis name the full command.
            let full = format!("{}-{}", cmd.get_name(), s.get_name());
            let shown = format!("{} {}", cmd.get_name(), s.get_name());
            let mut page = s.clone().name(full).bin_name(shown);
            if let Some(v) = cmd.get_version() {
                page = page.version(v.to_owned());
            }
            page
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| Error::io("failed to render", "the man page", e))?;
    Ok(out)
}

fn print(bytes: &[u8]) -> Result<()> {
    crate::support::stdout::print(&String::from_utf8_lossy(bytes)).map_err(Error::stdout)
}
