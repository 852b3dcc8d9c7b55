//! Runs a bisection: each step is a commit of the range, built in the one
//! scratch worktree at `--good` (the range's commits applied as patches,
//! so a step reverts or applies only what differs from the last and the
//! build stays incremental; an image built before is reused), booted
//! with only the bisected test, and judged against the ends.

use std::path::Path;
use std::time::{Instant, SystemTime};

use super::Output;
use super::steps::{Step, build_step, reusable_step};
use crate::error::{Error, Result};
use crate::plan::bisect::{BisectPlan, Bisection, LogCommit, Outcome, Verdict, max_steps};
use crate::results::bisect::{BisectReport, BisectStep, Ends, Judge, Judged};
use crate::results::compare::Metrics;
use crate::results::{KernelRun, RunDir};
use crate::series::git::{Range, short};
use crate::series::{Base, ScratchTree};

/// A bisection's inputs, checked by the caller.
pub struct BisectInput<'a> {
    pub plan: &'a BisectPlan,
    /// `good..bad` read as a series (one patch per commit).
    pub range: &'a Range,
    /// The subject of `--good`'s commit (`range.base`).
    pub good_subject: String,
    pub cache: &'a Path,
}

/// The kernels of the steps: kept images, else builds in the scratch
/// worktree, opened on first need.
struct Builder<'a> {
    input: &'a BisectInput<'a>,
    base: Base,
    tree: Option<ScratchTree>,
}

impl Builder<'_> {
    fn step(&mut self, k: usize, out: &Output) -> Result<Step> {
        let (bp, series) = (self.input.plan, &self.input.range.series);
        if let Some(s) = reusable_step(&bp.build, series, &self.base, self.input.cache, k, out) {
            return Ok(s);
        }
        let tree = match &mut self.tree {
            Some(t) => t,
            None => {
                let t =
                    ScratchTree::open_at(&bp.ask.tree, self.input.cache, &self.input.range.base)?;
                for n in t.notes() {
                    if !out.quiet {
                        eprintln!("kharness:   {n}");
                    }
                }
                self.tree.insert(t)
            }
        };
        build_step(&bp.build, series, tree, self.input.cache, k, out)
    }
}

/// Bisects, writing every step's run under `RUN_DIR/steps/`, and
/// `bisect.json`, `bisect.log` and `summary.txt` into the run directory.
pub fn bisect(input: &BisectInput<'_>, out: &Output) -> Result<(BisectReport, RunDir)> {
    let started = Instant::now();
    let bp = input.plan;
    let range = input.range;
    let n = range.commits.len();
    let run_dir = RunDir::create(&bp.run.out, SystemTime::now())?;
    let steps_dir = run_dir.join("steps");
    let commits: Vec<LogCommit> = std::iter::once(LogCommit {
        id: range.base.clone(),
        subject: input.good_subject.clone(),
    })
    .chain(range.commits.iter().map(|c| LogCommit {
        id: c.id.clone(),
        subject: c.subject.clone(),
    }))
    .collect();
    let mut builder = Builder {
        input,
        base: Base::Git {
            commit: range.base.clone(),
        },
        tree: None,
    };
    if !out.quiet {
        eprintln!(
            "kharness: bisect {} {} over {n} commit(s) {}..{} (at most {} step(s) between the ends)",
            bp.ask.test,
            bp.ask.criterion.describe(),
            short(&range.base),
            short(&commits[n].id),
            max_steps(n)
        );
    }
    // The accelerator the ends' run settled on (after a KVM probe that
    // may not be cached): every step uses it without probing again.
    let accel = std::cell::Cell::new(bp.run.accel);
    let boot = |kernels: Vec<(&Step, String)>, out: &Output| -> Result<Booted> {
        let mut plan = bp.run.clone();
        plan.accel = accel.get();
        plan.out = steps_dir.clone();
        plan.filters = vec![bp.ask.test.clone()];
        plan.boots = bp.ask.repeat;
        plan.labels = kernels.iter().map(|(_, l)| l.clone()).collect();
        plan.kernels = kernels.iter().map(|(s, _)| s.bzimage.clone()).collect();
        match crate::engine::run_plan(&plan, out)? {
            Some((res, _)) if res.interrupted => Err(Error::Interrupted),
            Some((res, dir)) => {
                accel.set(match res.accel.accel {
                    crate::vm::Accel::Kvm => crate::vm::AccelChoice::Kvm,
                    crate::vm::Accel::Tcg => crate::vm::AccelChoice::Tcg,
                });
                // Each step's run reads like any other run's.
                let table = crate::report::terminal(&res, out.verbose);
                crate::support::fs::write_atomic(&dir.join("summary.txt"), table.as_bytes())
                    .map_err(|e| Error::io("failed to write", dir.join("summary.txt"), e))?;
                Ok(Booted {
                    metrics: Metrics::for_mode(res.perf_mode),
                    cols: res.kernels,
                    dir: format!("steps/{}", dir.id),
                })
            }
            None => Err(Error::Interrupted),
        }
    };
    let stopped = || crate::support::process::interrupted();

    // The ends, built and booted first (interleaved, so a host that
    // drifts drifts for both), then judged.
    let mut ends_built = Vec::new();
    for (k, end, rev) in [(0, "--good", &bp.ask.good), (n, "--bad", &bp.ask.bad)] {
        match builder.step(k, out) {
            Ok(s) => ends_built.push(s),
            Err(_) if stopped() => return Err(Error::Interrupted),
            Err(e) => {
                eprintln!(
                    "kharness: the {end} end, {rev} ({}), did not build:",
                    short(&commits[k].id)
                );
                return Err(e);
            }
        }
    }
    let ends = boot(
        vec![
            (&ends_built[0], short(&commits[0].id).to_owned()),
            (&ends_built[1], short(&commits[n].id).to_owned()),
        ],
        out,
    )?;
    let cols = &ends.cols;
    let judge = Judge::from_ends(
        &bp.ask.test,
        &bp.ask.criterion,
        bp.threshold,
        ends.metrics,
        &Ends {
            good_rev: &bp.ask.good,
            bad_rev: &bp.ask.bad,
            good: &cols[0],
            bad: &cols[1],
        },
    )?;
    let mut steps = Vec::new();
    for (i, (k, role, v, evidence)) in [
        (0, "good", Verdict::Good, &judge.good_shown),
        (n, "bad", Verdict::Bad, &judge.bad_shown),
    ]
    .into_iter()
    .enumerate()
    {
        let st = record(
            &commits,
            k,
            role,
            Some(&ends_built[i]),
            Some((&cols[i], &ends.dir)),
            Judged {
                verdict: v,
                evidence: format!("{}: {evidence}", bp.ask.test),
            },
        );
        say(&st, 0, out);
        steps.push(st);
    }

    let mut bis = Bisection::new(n);
    let mut log = Vec::new();
    while let Some(k) = bis.next() {
        if stopped() {
            return Err(Error::Interrupted);
        }
        let st = match builder.step(k, out) {
            Ok(built) => {
                let label = short(&commits[k].id).to_owned();
                let booted = boot(vec![(&built, label)], out)?;
                let col = &booted.cols[0];
                let judged = judge.judge(col);
                record(
                    &commits,
                    k,
                    "step",
                    Some(&built),
                    Some((col, &booted.dir)),
                    judged,
                )
            }
            Err(_) if stopped() => return Err(Error::Interrupted),
            // A commit that does not build is skipped, as `git bisect
            // skip` does; a patch that does not apply is no such commit.
            Err(e) if is_build_failure(&e) => record(
                &commits,
                k,
                "step",
                None,
                None,
                Judged {
                    verdict: Verdict::Skip,
                    evidence: build_failure(&e.to_string()),
                },
            ),
            Err(e) => return Err(e),
        };
        bis.record(k, st.verdict);
        log.push((k, st.verdict));
        say(&st, max_steps(bis_left(&bis)), out);
        steps.push(st);
    }
    let outcome = bis.outcome().expect("the loop ends when nothing is left");
    let text = crate::plan::bisect::git_bisect_log(&commits, &log, Some(&outcome));
    let log_path = run_dir.join("bisect.log");
    crate::support::fs::write_atomic(&log_path, text.as_bytes())
        .map_err(|e| Error::io("failed to write", &log_path, e))?;
    let culprits: Vec<(String, String)> = match &outcome {
        Outcome::Found { commit } => vec![*commit],
        Outcome::Among { commits } => commits.clone(),
    }
    .into_iter()
    .map(|k| (commits[k].id.clone(), commits[k].subject.clone()))
    .collect();
    let first = match &outcome {
        Outcome::Found { commit } => *commit,
        Outcome::Among { commits } => commits[0],
    };
    let report = BisectReport {
        ask: bp.ask.clone(),
        commits: n,
        outcome,
        culprits,
        good_shown: judge.good_shown.clone(),
        bad_shown: judge.bad_shown.clone(),
        kernels: steps.len(),
        builds: steps.iter().filter(|s| s.built).count(),
        boots: steps.iter().map(|s| s.boots).sum(),
        wall_s: started.elapsed().as_secs_f64(),
        reproduce: reproducer(bp, &commits[first - 1].id, &commits[first].id),
        steps,
    };
    crate::results::write_json(&run_dir.join("bisect.json"), &report)?;
    Ok((report, run_dir))
}

/// Commits left to test between the newest good and the oldest bad, for
/// the "steps left" estimate.
fn bis_left(b: &Bisection) -> usize {
    let mut probe = b.clone();
    let mut left = 0;
    while let Some(k) = probe.next() {
        probe.record(k, Verdict::Skip);
        left += 1;
    }
    left + 1
}

/// The columns of one boot of steps, and where their run is.
struct Booted {
    cols: Vec<KernelRun>,
    /// Which metrics the statistics judge in the run's perf mode.
    metrics: Metrics,
    /// The run directory, relative to the bisection's.
    dir: String,
}

/// A failed build in a line: the first compiler or make error and
/// where the whole log is.
fn build_failure(error: &str) -> String {
    let first = error
        .lines()
        .skip(1)
        .find(|l| l.contains("error:") || l.contains("Error "))
        .or_else(|| error.lines().next())
        .unwrap_or_default()
        .trim();
    let log = error
        .split_once("full log: ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(|p| format!(" (full log: {p})"))
        .unwrap_or_default();
    format!("does not build: {first}{log}")
}

fn is_build_failure(e: &Error) -> bool {
    e.op::<super::EngineError>()
        .is_some_and(|e| matches!(e, super::EngineError::Build { .. }))
}

fn record(
    commits: &[LogCommit],
    k: usize,
    role: &'static str,
    built: Option<&Step>,
    col: Option<(&KernelRun, &String)>,
    judged: Judged,
) -> BisectStep {
    BisectStep {
        index: k,
        role,
        commit: commits[k].id.clone(),
        subject: commits[k].subject.clone(),
        verdict: judged.verdict,
        evidence: judged.evidence,
        built: built.is_some_and(|s| !s.reused),
        build_s: built.map_or(0.0, |s| s.build_s),
        boots: col.map_or(0, |(c, _)| c.boots.len().max(1)),
        vm_s: col.map_or(0.0, |(c, _)| c.wall_s),
        run_dir: col.map(|(_, d)| d.clone()),
    }
}

/// One line per step on stderr: the commit, the verdict and what it
/// rests on, what it cost.
fn say(st: &BisectStep, left: usize, out: &Output) {
    if out.quiet {
        return;
    }
    let left = match (st.role, left) {
        ("step", l) if l > 0 => format!("; about {l} step(s) left"),
        _ => String::new(),
    };
    eprintln!("kharness: bisect {}{left}: {}", st.line(), st.evidence);
}

/// `kharness series PARENT..CULPRIT`: the culprit as a one-commit series
/// on its parent, which shows the change with `series`'s report.
fn reproducer(bp: &BisectPlan, parent: &str, culprit: &str) -> String {
    let mut argv: Vec<String> = vec![
        "kharness".into(),
        "series".into(),
        format!("{}..{}", short(parent), short(culprit)),
        "--tree".into(),
        bp.ask.tree.display().to_string(),
        "--filter".into(),
        bp.ask.test.clone(),
    ];
    if matches!(bp.ask.criterion, crate::plan::bisect::Criterion::Metric(_)) {
        argv.extend(["--reps".into(), bp.run.reps.to_string()]);
    }
    if bp.ask.repeat > 1 {
        argv.extend(["--boots".into(), bp.ask.repeat.to_string()]);
    }
    if bp.run.perf_mode != crate::vm::PerfModeChoice::Auto {
        argv.extend([
            "--perf-mode".into(),
            format!("{:?}", bp.run.perf_mode).to_lowercase(),
        ]);
    }
    crate::support::quote::sh_join(&argv)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failed_build_is_told_by_its_first_error_and_its_log() {
        let e = "building with patch 2/5 \"x\" failed: `make -j2 bzImage` failed with exit status \
                 2; full log: /c/build/kharness-make-bzImage.log\n../../tree/fs/pipe.c:1526:1: \
                 error: unknown type name 'this'\nmake[4]: *** [fs/pipe.o] Error 1";
        assert_eq!(
            super::build_failure(e),
            "does not build: ../../tree/fs/pipe.c:1526:1: error: unknown type name 'this' (full \
             log: /c/build/kharness-make-bzImage.log)"
        );
    }
}
