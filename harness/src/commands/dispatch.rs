//! The entry point: parse (flags over config), run the command, map its
//! outcome to the documented exit code once.

use crate::cli::config::{self, Failure, Layers};
use crate::cli::{Cli, Cmd, ConfigArgs, ConfigCmd};
use crate::engine::Output;
use crate::error::{ExitCode, Result};

/// Entry point of the `kharness` binary; returns the exit code.
pub fn main() -> i32 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let (cli, config) = match config::parse::<Cli>(&argv) {
        Ok(c) => c,
        Err(Failure::Clap(e)) => {
            let code = if e.use_stderr() {
                ExitCode::Usage as i32
            } else {
                0
            };
            let _ = e.print();
            return code;
        }
        Err(Failure::Config(e)) => {
            eprintln!("kharness: error: {e}");
            return e.exit_code() as i32;
        }
    };
    for w in &config.warnings {
        eprintln!("kharness: warning: {w}");
    }
    if let (Some(note), false, Cmd::Run(_) | Cmd::Series(_) | Cmd::Bisect(_)) =
        (config.note(), cli.quiet, &cli.cmd)
    {
        eprintln!("kharness: config: {note}");
    }
    crate::support::process::interrupt_flag();
    crate::support::color::init(cli.color);
    let outcome = dispatch(cli, &config);
    if crate::support::stdout::closed() {
        // The reader of stdout went away (`| head`): what it wanted it got.
        return ExitCode::Ok as i32;
    }
    match outcome {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            if code == ExitCode::Usage {
                // Bad input is told on one line, even when a path or a
                // filter holds a newline.
                eprintln!(
                    "kharness: error: {}",
                    crate::support::text::escape_controls(&e.to_string())
                );
            } else {
                eprintln!("kharness: error: {e}");
            }
            code as i32
        }
    }
}

/// Runs the command; its exit code (`shell`'s is the guest shell's).
fn dispatch(cli: Cli, config: &Layers) -> Result<i32> {
    let out = Output {
        quiet: cli.quiet,
        verbose: cli.verbose,
        dry_run: false,
    };
    let code = match cli.cmd {
        Cmd::Shell(a) => return super::shell::run(a, &out),
        Cmd::Run(a) => super::run::run(a, out),
        Cmd::Series(a) => super::series::run(a, &out),
        Cmd::Bisect(a) => super::bisect::run(a, &out),
        Cmd::List(a) => super::list::run(a, cli.quiet),
        Cmd::Report(a) => super::report::run(a, cli.verbose),
        Cmd::Compare(a) => super::compare::run(a, cli.verbose),
        Cmd::Merge(a) => super::merge::execute(&a.run_dirs, &a.out, a.allow_missing, &out),
        Cmd::Repro(a) => super::repro::run(a, &out),
        Cmd::Bundle(a) => super::bundle::run(a, cli.quiet),
        Cmd::Doctor(a) => super::doctor::run(a),
        Cmd::Config(ConfigArgs {
            cmd: ConfigCmd::Show { command },
        }) => super::config::show(&command, config),
        Cmd::Completions(a) => super::man::completions(a),
        Cmd::Man(a) => super::man::man(a),
    }?;
    Ok(code as i32)
}
