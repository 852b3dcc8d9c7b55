//! Shell completions and man pages, generated from the clap definition so
//! they never drift from `--help`.

use std::io::Write;

use clap::Command;

use crate::error::{Error, Result};

/// Writes the completion script for `shell`.
pub fn completions(mut cmd: Command, shell: clap_complete::Shell, out: &mut dyn Write) {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// Writes the man page of the command, or of one of its subcommands
/// (`kharness-run(1)`).
pub fn man(cmd: Command, sub: Option<&str>, out: &mut dyn Write) -> Result<()> {
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
    clap_mangen::Man::new(cmd)
        .render(out)
        .map_err(|e| Error::io("failed to write", "the man page to stdout", e))
}
