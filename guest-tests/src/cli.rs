//! Command line of `kharness-guest`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::runner::{RunOptions, run};

/// Kernel semantics tests for splice, tee, vmsplice, sendfile, io_uring and
/// signals. Prints KTAP v1 on stdout; with --results, also appends one JSON
/// event per line to a file, synced as each test ends.
///
/// Examples:
///   kharness-guest list
///   kharness-guest run
///   kharness-guest run 'splice.*' io_uring --results /tmp/out.jsonl
///   kharness-guest run tag:perf --reps 5
///   kharness-guest run selftest.sysrq_crash tee --after selftest.sysrq_crash
///   kharness-guest run --slice 10..20 'splice.*'
///   kharness-guest run 'tee.*' --retries 2
#[derive(Parser, Debug)]
#[command(name = "kharness-guest", version, verbatim_doc_comment)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List tests (id, tags, what each checks).
    List {
        /// One JSON object per test instead of a table.
        #[arg(long)]
        json: bool,
        /// Globs over ids (`splice.*`), area names (`tee`), or `tag:NAME`.
        filters: Vec<String>,
    },
    /// Run tests; exits 0 when none failed, 1 otherwise, 2 on bad usage.
    Run {
        /// Globs over ids (`splice.*`), area names (`tee`), or `tag:NAME`.
        filters: Vec<String>,
        /// Run each perf-tagged test this many times.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        reps: u32,
        /// Run a test that fails, errors or times out up to N more times;
        /// one that then passes is reported as flaky, not as passed.
        #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100))]
        retries: u32,
        /// Append JSON events (one per line) to this file, or write them to
        /// this serial port (kharness's VMs use /dev/ttyS1); each is made
        /// durable as it is written, so a crash loses no finished test.
        #[arg(long, value_name = "FILE")]
        results: Option<PathBuf>,
        /// Print JSON events on stdout instead of KTAP.
        #[arg(long)]
        json: bool,
        /// Seconds one test may take before it is killed and reported as timeout.
        #[arg(long, default_value_t = 120)]
        test_timeout: u64,
        /// Directory for the tests' scratch files.
        #[arg(long, default_value = "/tmp/kharness-guest")]
        scratch: PathBuf,
        /// Run tests in this process instead of one child each (debugging).
        #[arg(long)]
        no_fork: bool,
        /// Shrink perf tests' data sizes by this factor (0 < f <= 1).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Set by kharness inside the VMs it starts: write `kharness: begin
        /// ID` / `end ID` around each test to the kernel log (/dev/kmsg), and
        /// allow the destructive selftests (they taint, crash or hang the
        /// kernel; without --vm they skip).
        #[arg(long)]
        vm: bool,
        /// Run only the selected tests that come after this one (all its
        /// repetitions included): the host continues a suite this way in a
        /// fresh boot after ID crashed or hung the kernel.
        #[arg(long, value_name = "ID")]
        after: Option<String>,
        /// Run only the tests at positions START..END (0-based, END
        /// excluded) of those the filters select, in run order. The
        /// host's `--shard` uses it: two numbers fit on any kernel command
        /// line, a list of ids may not.
        #[arg(long, value_name = "START..END", value_parser = parse_slice)]
        slice: Option<(usize, usize)>,
    },
}

/// Parses `args` (without argv\[0\]) and runs; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("kharness-guest".to_owned()).chain(args)) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.cmd {
        Cmd::List { json, filters } => list(json, &filters),
        Cmd::Run {
            filters,
            reps,
            retries,
            results,
            json,
            test_timeout,
            scratch,
            no_fork,
            scale,
            vm,
            after,
            slice,
        } => {
            if !(scale > 0.0 && scale <= 1.0) {
                eprintln!("kharness-guest: --scale must be in (0, 1], got {scale}");
                return 2;
            }
            let filters = match slice {
                Some(range) => match sliced(&filters, range) {
                    Ok(ids) => ids,
                    Err(e) => {
                        eprintln!("kharness-guest: {e}");
                        return 2;
                    }
                },
                None => filters,
            };
            run(&RunOptions {
                filters,
                reps,
                retries,
                results,
                json,
                test_timeout: Duration::from_secs(test_timeout.max(1)),
                scratch,
                fork: !no_fork,
                scale,
                vm,
                after,
            })
        }
    }
}

fn parse_slice(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("{s:?} is not START..END (e.g. 10..20)"))?;
    let num = |x: &str| {
        x.parse::<usize>()
            .map_err(|e| format!("{x:?} in {s:?} is not a position: {e}"))
    };
    let (a, b) = (num(a)?, num(b)?);
    if a >= b {
        return Err(format!("{s:?} is empty: START must be below END"));
    }
    Ok((a, b))
}

/// The exact ids at `range` of what `filters` select. Exact ids select the
/// same tests again (destructive ones included, since they are named).
fn sliced(filters: &[String], (a, b): (usize, usize)) -> Result<Vec<String>, String> {
    let tests = crate::registry::select(filters);
    if b > tests.len() {
        return Err(format!(
            "--slice {a}..{b} reaches past the {} test(s) {filters:?} select",
            tests.len()
        ));
    }
    Ok(tests[a..b].iter().map(|t| t.id.to_owned()).collect())
}

fn list(json: bool, filters: &[String]) -> i32 {
    let tests = crate::registry::select(filters);
    if tests.is_empty() {
        eprintln!("kharness-guest: no test matches {filters:?}");
        return 2;
    }
    let mut out = std::io::stdout().lock();
    for t in tests {
        let line = if json {
            serde_json::to_string(&crate::registry::info(t)).expect("catalogue entries serialise")
        } else {
            format!("{:<48} [{}] {}", t.id, t.tags.join(","), t.about)
        };
        // A reader that stops early (`| head`) is not an error: the list
        // ends there. Any other write error is.
        match writeln!(out, "{line}") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return 0,
            Err(e) => {
                eprintln!("kharness-guest: writing the list: {e}");
                return 1;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_pick_positions_of_the_selection() {
        let all = crate::registry::select(&[]);
        let ids = sliced(&[], (1, 3)).unwrap();
        assert_eq!(ids, [all[1].id, all[2].id]);
        assert!(sliced(&[], (0, all.len() + 1)).is_err());
        assert_eq!(parse_slice("2..5"), Ok((2, 5)));
        assert!(parse_slice("5..5").is_err());
        assert!(parse_slice("5").is_err());
        assert!(parse_slice("a..5").is_err());
    }
}
