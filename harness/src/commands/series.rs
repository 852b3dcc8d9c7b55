//! `kharness series`: build the base tree and each prefix of a series
//! (incrementally, in one scratch tree), boot every step, and report per
//! patch what changed and the first patch that changed each test.

use std::path::Path;

use crate::cli::SeriesArgs;
use crate::engine::Output;
use crate::engine::{SeriesReport, Step, build_step};
use crate::error::{Error, ExitCode, Result};
use crate::plan::{BuildOptions, Plan, SeriesPlan};
use crate::results::steps::{self, Attribution};
use crate::series::{self, ScratchTree, Series};

pub fn run(a: SeriesArgs, out: &Output) -> Result<ExitCode> {
    let sp = a.plan()?;
    // Before the series is read: a tree that cannot be built is
    // told now, not after a scratch copy.
    if !sp.series.exists() && !is_range(&sp.series) {
        return Err(Error::Usage(format!(
            "series {}: no such file or directory",
            sp.series.display()
        )));
    }
    crate::kernel::build::check_kernel_tree(&sp.tree).map_err(|e| {
        Error::Usage(format!(
            "--tree: {e}; e.g. /usr/src/linux-source-6.12 after ci/setup.sh"
        ))
    })?;
    check_debug_files(&sp.build)?;
    // Before any build: a run directory that cannot be made would
    // only fail after every step was built. A dry run makes none.
    if !sp.dry_run {
        crate::results::check_out(&sp.run.out)?;
    }
    execute(sp, out)
}

/// A `--fragment` that does not exist is bad input, found before
/// anything is built.
pub(crate) fn check_fragments(build: &BuildOptions) -> Result<()> {
    for f in &build.fragments {
        if !f.is_file() {
            return Err(Error::Usage(format!(
                "--fragment {}: no such file",
                f.display()
            )));
        }
    }
    Ok(())
}

/// A `--debug` fragment file that does not exist is bad input, found
/// before anything is built.
pub(crate) fn check_debug_files(build: &BuildOptions) -> Result<()> {
    for d in &build.debug {
        if let crate::kernel::debug::DebugChoice::File(p) = d {
            if !p.is_file() {
                return Err(Error::Usage(format!(
                    "--debug {}: no such fragment file",
                    p.display()
                )));
            }
        }
    }
    Ok(())
}

/// The `--debug` checkers become fragment files before the user's own
/// (which keep the last word): every step's build, its cache key and the
/// recipe's copies then see them like any --fragment.
pub(crate) fn materialise_debug(build: &mut BuildOptions, cache: &Path) -> Result<()> {
    let dir = cache.join("fragments");
    let mut fragments = Vec::new();
    for d in &build.debug {
        fragments.push(
            crate::kernel::debug::materialise(d, &dir)
                .map_err(|e| Error::io("failed to write", &dir, e))?,
        );
    }
    fragments.append(&mut build.fragments);
    build.fragments = fragments;
    // Turned into fragments: not again.
    build.debug.clear();
    Ok(())
}

/// A series argument that names no file but reads as `BASE..TIP` (a
/// path written as one, `../x` or `/x`, stays a path).
fn is_range(series: &Path) -> bool {
    series
        .to_str()
        .is_some_and(|s| s.contains("..") && !["/", "./", "../"].iter().any(|p| s.starts_with(p)))
}

pub fn execute(mut sp: SeriesPlan, out: &Output) -> Result<ExitCode> {
    // A git range becomes a format-patch directory, kept until the
    // recipe has copied it.
    let range_dir = tempfile::tempdir()
        .map_err(|e| Error::io("failed to create", "a temporary directory", e))?;
    let (series, base, input) = if !sp.series.exists() && is_range(&sp.series) {
        let spec = sp.series.to_string_lossy().into_owned();
        let range = series::git::read_range(&sp.tree, &spec, range_dir.path())?;
        (range.series, Some(range.base), range_dir.path().to_owned())
    } else {
        (series::read(&sp.series)?, None, sp.series.clone())
    };
    if !out.quiet {
        eprintln!(
            "kharness: series {:?}: {} patch(es) read from {}",
            series.name,
            series.patches.len(),
            match &base {
                Some(b) => format!(
                    "git range of {} after {}",
                    sp.tree.display(),
                    series::git::short(b)
                ),
                None => sp.series.display().to_string(),
            }
        );
        for n in &series.notes {
            eprintln!("kharness:   {n}");
        }
    }
    check_base(&series, &sp.tree, out);
    if sp.dry_run {
        let text = dry_run(&sp, &series);
        crate::support::stdout::print(&text).map_err(Error::stdout)?;
        return Ok(ExitCode::Ok);
    }
    let cache = crate::support::paths::cache_dir()
        .ok_or_else(|| Error::Usage("no cache directory: set KHARNESS_CACHE_DIR".into()))?;
    materialise_debug(&mut sp.build, &cache)?;
    // A range's base is known without a worktree: steps whose images are
    // kept need none, and opening one can mean checking out the tree.
    let known_base = base.as_ref().map(|commit| series::Base::Git {
        commit: commit.clone(),
    });
    let open = || -> Result<ScratchTree> {
        let tree = match &base {
            Some(commit) => ScratchTree::open_at(&sp.tree, &cache, commit)?,
            None => ScratchTree::open(&sp.tree, &cache)?,
        };
        for n in tree.notes() {
            if !out.quiet {
                eprintln!("kharness:   {n}");
            }
        }
        Ok(tree)
    };
    let mut tree = match &known_base {
        Some(_) => None,
        None => Some(open()?),
    };
    let n = series.patches.len();
    let wanted: Vec<usize> = if sp.final_only {
        vec![0, n]
    } else {
        (0..=n).collect()
    };
    let mut built: Vec<Step> = Vec::new();
    let mut stopped = None;
    for &k in &wanted {
        if crate::support::process::interrupted() {
            return Err(Error::Interrupted);
        }
        let kept = known_base
            .as_ref()
            .and_then(|b| crate::engine::reusable_step(&sp.build, &series, b, &cache, k, out));
        let step = match (kept, &mut tree) {
            (Some(step), _) => Ok(step),
            (None, Some(t)) => build_step(&sp.build, &series, t, &cache, k, out),
            (None, None) => {
                let t = tree.insert(open()?);
                build_step(&sp.build, &series, t, &cache, k, out)
            }
        };
        match step {
            Ok(step) => built.push(step),
            // Nothing built: the error ends the command (and is printed
            // once, by the caller).
            // A tool stopped by Ctrl-C fails too: say interrupted, not
            // that the patch or the build is bad.
            Err(_) if crate::support::process::interrupted() => return Err(Error::Interrupted),
            Err(e) if built.is_empty() => return Err(e),
            Err(e) => {
                eprintln!("kharness: error: {e}");
                stopped = Some((e.to_string(), e.exit_code()));
                break;
            }
        }
    }
    let recipe_base = tree.as_ref().map(|t| t.base().clone()).or(known_base);
    let steps = Steps {
        run: &sp.run,
        threshold: sp.threshold,
        tree: &sp.tree,
        series: &series,
        expectations: !sp.final_only || n == 1,
        built,
        stopped,
        recipe: recipe_base.as_ref().map(|base| Recipe {
            input: &input,
            base,
            fragments: &sp.build.fragments,
        }),
    };
    run_steps(steps, out)
}

/// Built steps on their way to a run and a report.
pub struct Steps<'a> {
    /// How they boot (kernels filled in from `built`).
    pub run: &'a Plan,
    pub threshold: f64,
    pub tree: &'a Path,
    pub series: &'a Series,
    /// Check series.toml's expectations (they name single patches: not
    /// with --final-only over several).
    pub expectations: bool,
    pub built: Vec<Step>,
    /// Why the steps stopped early, and the exit code that means.
    pub stopped: Option<(String, ExitCode)>,
    /// What a repro needs to rebuild the steps, when it can.
    pub recipe: Option<Recipe<'a>>,
}

/// The inputs of a series a recipe keeps.
pub struct Recipe<'a> {
    /// The series as read (a format-patch directory for a git range).
    pub input: &'a Path,
    pub base: &'a series::Base,
    pub fragments: &'a [std::path::PathBuf],
}

/// Boots the built steps, reports per step what changed against the step
/// before, and returns the exit code: 1 when a step made a test worse, a
/// metric regressed or an expected effect did not happen.
pub fn run_steps(st: Steps<'_>, out: &Output) -> Result<ExitCode> {
    let Steps {
        run,
        threshold,
        tree,
        series,
        expectations: check_expectations,
        built,
        stopped,
        recipe,
    } = st;
    let n = series.patches.len();
    let stop_code = stopped.as_ref().map_or(ExitCode::Ok, |s| s.1);
    let stopped = stopped.map(|s| s.0);
    // Interrupted while building: nothing booted yet, so there is nothing
    // to record; do not go on to build the guest and prepare boots.
    if crate::support::process::interrupted() {
        return Err(Error::Interrupted);
    }
    // `built` is not empty here: the base step's error returned above
    // (and an empty plan would be refused by the engine).

    let mut plan = run.clone();
    plan.kernels = built.iter().map(|s| s.bzimage.clone()).collect();
    plan.labels = built.iter().map(|s| s.label.clone()).collect();
    plan.steps = built
        .iter()
        .map(|s| crate::plan::StepInfo {
            patches: s.patches,
            subject: s.subject.clone(),
            patchset_hash: s.patchset_hash.clone(),
        })
        .collect();
    let Some((results, run_dir)) = crate::engine::run_plan(&plan, out)? else {
        return Ok(ExitCode::Ok);
    };
    if let Some(r) = recipe {
        crate::results::recipe::add_series(
            &run_dir.path,
            &crate::results::recipe::SeriesSource {
                input: r.input,
                series,
                tree,
                tree_version: makefile_version(tree),
                base: r.base,
                fragments: r.fragments,
                steps: built
                    .iter()
                    .map(|s| (s.patches, s.patchset_hash.clone()))
                    .collect(),
            },
        )?;
    }
    let attribution = steps::attribute(&results, threshold);
    let expectations = match &series.manifest {
        // With --final-only, step 1 is the whole series: expectations name
        // single patches and cannot be checked, unless there is only one.
        Some(m) if check_expectations => steps::check_expectations(&attribution, &m.expect),
        _ => Vec::new(),
    };
    let report = SeriesReport {
        name: series.name.clone(),
        format: format!("{:?}", series.format),
        tree: tree.to_owned(),
        steps: built,
        stopped,
        changes: attribution.changes.clone(),
        expectations,
    };
    crate::results::write_json(&run_dir.join("series.json"), &report)?;
    let mut text = crate::report::terminal(&results, out.verbose);
    text.push_str(&render(&report, &attribution, series, n));
    crate::support::fs::write_atomic(&run_dir.join("summary.txt"), text.as_bytes())
        .map_err(|e| Error::io("failed to write", run_dir.join("summary.txt"), e))?;
    crate::support::stdout::print(&crate::report::for_stdout(&text)).map_err(Error::stdout)?;
    crate::support::stdout::println(&format!("run directory: {}", run_dir.path.display()))
        .map_err(Error::stdout)?;

    // Worse: a test stopped passing, or a passing test now skips (a
    // feature the kernel lost) unless series.toml expected that skip; a
    // complaint an earlier step showed is not the later step's change.
    let expected_here = |patch: usize, test: &str| {
        report
            .expectations
            .iter()
            .any(|c| c.met && c.patch == patch && c.test == test)
    };
    let worse = attribution.per_patch.iter().enumerate().any(|(i, p)| {
        let patch = i + 1;
        let repeat = |test: &str| {
            attribution
                .repeated
                .iter()
                .any(|r| r.patch == patch && r.test == test)
        };
        // Any move to a bad status counts (fail -> crashed too).
        p.status_changes.iter().any(|c| {
            let bad = c.b.is_some_and(|s| s.is_bad()) && !repeat(&c.test);
            let vanished = c.vanished() && !expected_here(patch, &c.test);
            bad || vanished
        }) || p
            .metrics
            .iter()
            .any(crate::results::compare::MetricDiff::is_regression)
    });
    let unmet = report.expectations.iter().any(|c| !c.met);
    let code = results.exit_code().max(stop_code).max(if worse || unmet {
        ExitCode::TestsFailed
    } else {
        ExitCode::Ok
    });
    Ok(code)
}

/// What a series run would do, step by step, for `--dry-run`.
fn dry_run(sp: &SeriesPlan, series: &Series) -> String {
    let n = series.patches.len();
    let steps: Vec<usize> = if sp.final_only {
        vec![0, n]
    } else {
        (0..=n).collect()
    };
    let mut s = format!(
        "series {:?} ({:?}, {n} patch(es)) onto {} (never modified: a scratch copy gets the patches)\n",
        series.name,
        series.format,
        sp.tree.display()
    );
    for k in steps {
        let (label, what) = match k {
            0 => (crate::plan::step_label(0), "the tree as it is".to_owned()),
            k => (
                crate::plan::step_label(k),
                format!("patch {}", series.patches[k - 1].label()),
            ),
        };
        s.push_str(&format!("step {label:>4}: build and boot {what}\n"));
    }
    let mut fragments = "the built-in kernel config".to_owned();
    if !sp.build.debug.is_empty() {
        let names: Vec<String> = sp.build.debug.iter().map(|d| d.name()).collect();
        fragments.push_str(&format!(" + debug {}", names.join(",")));
    }
    if !sp.build.fragments.is_empty() {
        let names: Vec<String> = sp
            .build
            .fragments
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        fragments.push_str(&format!(" + {}", names.join(", ")));
    }
    let filters = if sp.run.filters.is_empty() {
        "every test".to_owned()
    } else {
        sp.run.filters.join(" ")
    };
    s.push_str(&format!(
        "each step: {fragments}; backend {}, {} boot(s), tests: {filters}\n",
        format!("{:?}", sp.run.backend).to_lowercase(),
        sp.run.boots
    ));
    s
}

/// Warns when series.toml names a base the tree is not.
fn check_base(series: &Series, tree: &Path, out: &Output) {
    let Some(req) = series
        .manifest
        .as_ref()
        .and_then(|m| m.base.kernel.as_ref())
    else {
        return;
    };
    let Some(version) = makefile_version(tree) else {
        return;
    };
    if !req.matches(&version) && !out.quiet {
        eprintln!(
            "kharness: warning: series wants a {} base; {} is {version}",
            req.as_str(),
            tree.display()
        );
    }
}

/// VERSION.PATCHLEVEL.SUBLEVEL from a kernel tree's top Makefile.
fn makefile_version(tree: &Path) -> Option<String> {
    let text = std::fs::read_to_string(tree.join("Makefile")).ok()?;
    let field = |name: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(name)?
                .trim_start()
                .strip_prefix('=')
                .map(|v| v.trim().to_owned())
        })
    };
    Some(format!(
        "{}.{}.{}",
        field("VERSION")?,
        field("PATCHLEVEL")?,
        field("SUBLEVEL")?
    ))
}

fn render(r: &SeriesReport, att: &Attribution, series: &Series, n: usize) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    match series.format {
        series::SeriesFormat::WorkingTree => {
            let _ = writeln!(s, "\n{}:", r.name);
        }
        series::SeriesFormat::GitRange => {
            let _ = writeln!(s, "\nRange {} ({n} commits):", r.name);
        }
        _ => {
            let _ = writeln!(s, "\nSeries {:?} ({n} patches):", r.name);
        }
    }
    for step in &r.steps {
        let what = step.subject.as_deref().unwrap_or("the base tree");
        let how = if step.reused {
            "reused".to_owned()
        } else {
            format!("built in {:.0}s", step.build_s)
        };
        let _ = writeln!(s, "  {:<5} {what} ({how})", step.label);
    }
    if let Some(why) = &r.stopped {
        let _ = writeln!(s, "  stopped: {}", why.lines().next().unwrap_or(""));
    }
    s.push_str("\nWhat each patch changed (against the step before):\n");
    for (i, p) in att.per_patch.iter().enumerate() {
        let step = &r.steps[i + 1];
        let changes: Vec<&steps::Change> =
            att.changes.iter().filter(|c| c.patch == i + 1).collect();
        let _ = writeln!(
            s,
            "  {} {}: {}",
            step.label,
            step.subject.as_deref().unwrap_or(""),
            if changes.is_empty() {
                "nothing".to_owned()
            } else {
                format!("{} change(s)", changes.len())
            }
        );
        for c in changes {
            let _ = writeln!(s, "      {} {}: {} -> {}", c.test, c.what, c.from, c.to);
        }
        for c in att.repeated.iter().filter(|c| c.patch == i + 1) {
            let _ = writeln!(
                s,
                "      {} {}: {} -> {}: not a change of this patch",
                c.test, c.what, c.from, c.to
            );
        }
        let _ = p;
    }
    if !att.first_change.is_empty() {
        s.push_str("\nFirst patch that changed each result:\n");
        for ((test, what), k) in &att.first_change {
            let _ = writeln!(
                s,
                "  {test} {what}: {}",
                r.steps.get(*k).map_or("?", |st| st.label.as_str())
            );
        }
    }
    if !r.expectations.is_empty() {
        let met = r.expectations.iter().filter(|c| c.met).count();
        let _ = writeln!(
            s,
            "\nExpected effects (series.toml): {met} of {} met",
            r.expectations.len()
        );
        for c in &r.expectations {
            let mark = if c.met { "met  " } else { "UNMET" };
            let _ = writeln!(
                s,
                "  {mark} {} {}: expected {}; got {}",
                crate::plan::step_label(c.patch),
                c.test,
                c.expected,
                c.actual
            );
        }
    }
    s
}
