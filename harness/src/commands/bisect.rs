//! `kharness bisect`: check what was asked (tree, revisions, range, test)
//! before anything is built, run the bisection, print what it found.

use crate::cli::BisectArgs;
use crate::engine::Output;
use crate::engine::bisect::{BisectInput, bisect};
use crate::error::{Error, ExitCode, Result};
use crate::plan::bisect::Outcome;
use crate::series::git::{self, GitError};

pub fn run(a: BisectArgs, out: &Output) -> Result<ExitCode> {
    let mut bp = a.plan()?;
    // Everything the user named is checked before anything is built.
    bp.ask.tree = crate::kernel::build::check_kernel_tree(&bp.ask.tree)
        .map_err(|e| Error::Usage(format!("--tree: {e}")))?;
    let good = git::resolve(&bp.ask.tree, "--good", &bp.ask.good)?;
    git::resolve(&bp.ask.tree, "--bad", &bp.ask.bad)?;
    let patches = tempfile::tempdir()
        .map_err(|e| Error::io("failed to create", "a temporary directory", e))?;
    let spec = format!("{}..{}", bp.ask.good, bp.ask.bad);
    let range =
        git::read_range(&bp.ask.tree, &spec, patches.path()).map_err(|e| range_error(&bp, e))?;
    check_test(&bp.ask.test, &bp.run)?;
    super::series::check_fragments(&bp.build)?;
    super::series::check_debug_files(&bp.build)?;
    crate::results::check_out(&bp.run.out)?;
    let cache = crate::support::paths::cache_dir()
        .ok_or_else(|| Error::Usage("no cache directory: set KHARNESS_CACHE_DIR".into()))?;
    super::series::materialise_debug(&mut bp.build, &cache)?;
    let input = BisectInput {
        plan: &bp,
        range: &range,
        good_subject: git::subject(&bp.ask.tree, &good)?,
        cache: &cache,
    };
    let (report, run_dir) = bisect(&input, out)?;
    let text = report.render(&run_dir.path);
    crate::support::fs::write_atomic(&run_dir.join("summary.txt"), text.as_bytes())
        .map_err(|e| Error::io("failed to write", run_dir.join("summary.txt"), e))?;
    crate::support::stdout::print(&format!("\n{text}")).map_err(Error::stdout)?;
    crate::support::stdout::println(&format!("run directory: {}", run_dir.path.display()))
        .map_err(Error::stdout)?;
    Ok(match report.outcome {
        Outcome::Found { .. } => ExitCode::Ok,
        // Commits that did not build or boot hide the first bad one.
        Outcome::Among { .. } => ExitCode::Infra,
    })
}

/// A range error told in bisect's terms (--good, --bad).
fn range_error(bp: &crate::plan::bisect::BisectPlan, e: GitError) -> Error {
    match e {
        GitError::NotAncestor { .. } => Error::Usage(format!(
            "--good {} is not an ancestor of --bad {} in {}",
            bp.ask.good,
            bp.ask.bad,
            bp.ask.tree.display()
        )),
        GitError::Empty { .. } => Error::Usage(format!(
            "--good {} and --bad {}: no commit between them to bisect (--bad has no commit \
             --good lacks)",
            bp.ask.good, bp.ask.bad
        )),
        GitError::Merge {
            commit, subject, ..
        } => Error::Usage(format!(
            "--good {}..--bad {}: commit {commit} \"{subject}\" is a merge; bisect steps \
             through a linear history, so give a --good after the merge",
            bp.ask.good, bp.ask.bad
        )),
        e => e.into(),
    }
}

/// `--test` must name one test of the guest's catalogue exactly.
fn check_test(id: &str, run: &crate::plan::Plan) -> Result<()> {
    let guest = crate::guest::locate(
        crate::guest::Want {
            given: run.guest.as_deref(),
            rebuild: run.rebuild_guest,
        },
        true,
    )?;
    let no_such = || {
        Error::Usage(format!(
            "--test {id}: no such test (give an exact id; `kharness list` shows them)"
        ))
    };
    let found = match crate::guest::catalogue(&guest, &[id.to_owned()]) {
        Ok(c) => c,
        Err(e) if e.exit_code() == ExitCode::Usage => return Err(no_such()),
        Err(e) => return Err(e),
    };
    if !found.iter().any(|t| t.id == id) {
        return Err(no_such());
    }
    Ok(())
}
