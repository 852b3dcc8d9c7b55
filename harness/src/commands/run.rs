//! `kharness run`: run a plan and print its summary.

use crate::cli::RunArgs;
use crate::engine::Output;
use crate::error::{Error, ExitCode, Result};
use crate::plan::{Plan, TreeRunPlan};
use crate::series::{self, Series, SeriesFormat};
use crate::support::stdout;

pub fn run(mut a: RunArgs, out: Output) -> Result<ExitCode> {
    if let Some(tree) = a.tree.take() {
        return run_tree(a.tree_plan(tree)?, &out);
    }
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

/// `run --tree DIR [--base REV]`: the working tree built as it is (from a
/// hard-link mirror, never in DIR), and with a base, REV built in a
/// scratch worktree and the two compared as a one-step series.
fn run_tree(mut tp: TreeRunPlan, out: &Output) -> Result<ExitCode> {
    // Everything the user named is checked before anything is built.
    let tree = crate::kernel::build::check_source(&tp.tree)
        .map_err(|e| Error::Usage(format!("--tree: {e}")))?;
    let base = match &tp.base {
        Some(rev) => Some(series::git::resolve(&tree, "--base", rev)?),
        None => None,
    };
    super::series::check_fragments(&tp.build)?;
    super::series::check_debug_files(&tp.build)?;
    if tp.dry_run {
        let mut text = format!(
            "build the working tree {} as it is (a hard-link mirror under the cache; the tree is never written)\n",
            tree.display()
        );
        if let Some(b) = &base {
            text.push_str(&format!(
                "build {} ({}) in a scratch worktree, boot both, report what the working tree changed\n",
                tp.base.as_deref().unwrap_or_default(),
                series::git::short(b)
            ));
        }
        stdout::print(&text).map_err(Error::stdout)?;
        return Ok(ExitCode::Ok);
    }
    crate::results::check_out(&tp.run.out)?;
    let cache = crate::support::paths::cache_dir()
        .ok_or_else(|| Error::Usage("no cache directory: set KHARNESS_CACHE_DIR".into()))?;
    super::series::materialise_debug(&mut tp.build, &cache)?;
    let Some(commit) = base else {
        let snapshot = crate::kernel::tree::TreeSnapshot::refresh(
            &tree,
            &cache,
            Some(crate::support::process::interrupt_flag()),
        )?;
        let step = crate::engine::build_working_tree(&tp.build, &snapshot, 0, out)?;
        let mut plan = tp.run.clone();
        plan.kernels = vec![step.bzimage];
        return execute(&plan, out);
    };
    let rev = tp.base.as_deref().unwrap_or_default();
    let empty = Series {
        name: format!(
            "working tree {} against {rev} ({})",
            tree.display(),
            series::git::short(&commit)
        ),
        origin: tree.clone(),
        format: SeriesFormat::WorkingTree,
        version: 1,
        patches: Vec::new(),
        manifest: None,
        notes: Vec::new(),
    };
    // A base built before needs no worktree: opening one can mean a
    // checkout of the whole tree.
    let base = series::Base::Git {
        commit: commit.clone(),
    };
    let base_step = match crate::engine::reusable_step(&tp.build, &empty, &base, &cache, 0, out) {
        Some(step) => step,
        None => {
            let mut scratch = series::ScratchTree::open_at(&tree, &cache, &commit)?;
            crate::engine::build_step(&tp.build, &empty, &mut scratch, &cache, 0, out)?
        }
    };
    if crate::support::process::interrupted() {
        return Err(Error::Interrupted);
    }
    let snapshot = crate::kernel::tree::TreeSnapshot::refresh(
        &tree,
        &cache,
        Some(crate::support::process::interrupt_flag()),
    )?;
    let mut built = vec![base_step];
    let mut stopped = None;
    match crate::engine::build_working_tree(&tp.build, &snapshot, 1, out) {
        Ok(step) => built.push(step),
        Err(_) if crate::support::process::interrupted() => return Err(Error::Interrupted),
        Err(e) => {
            eprintln!("kharness: error: {e}");
            stopped = Some((e.to_string(), e.exit_code()));
        }
    }
    super::series::run_steps(
        super::series::Steps {
            run: &tp.run,
            threshold: tp.threshold,
            tree: &tree,
            series: &empty,
            expectations: false,
            built,
            stopped,
            recipe: None,
        },
        out,
    )
}
