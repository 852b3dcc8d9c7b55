//! Judging a bisect step: what the two ends of `kharness bisect` showed of
//! the bisected behaviour (a test's status, an observation's value, a
//! metric against `--good`'s samples with `compare`'s statistics), and
//! whether a step's runs look like the good end, the bad end, or neither.

use kharness_record::{Status, Value};
use serde::Serialize;

use super::compare::{self, Metrics};
use super::selection::worst;
use super::{BootReason, KernelOutcome, KernelRun};
use crate::plan::bisect::{Criterion, Verdict};

/// Why the ends of a bisection cannot be bisected.
#[derive(Debug, thiserror::Error)]
pub enum EndsError {
    #[error(
        "--good {rev}: {test} already fails there ({shown}); --good must be a revision where \
         it does not"
    )]
    GoodFails {
        rev: String,
        test: String,
        shown: String,
    },
    #[error(
        "--good {rev}: {test} is not steady there ({shown} over {runs} runs); --good must show \
         one {what}"
    )]
    GoodUnsteady {
        rev: String,
        test: String,
        shown: String,
        runs: usize,
        what: String,
    },
    #[error("--bad {rev}: {test} shows what --good shows ({shown}): nothing to bisect")]
    BadLooksGood {
        rev: String,
        test: String,
        shown: String,
    },
    #[error("--{end} {rev}: {test} reports no {what}{known}")]
    Missing {
        end: &'static str,
        rev: String,
        test: String,
        what: String,
        known: String,
    },
    #[error(
        "--metric {name}: {why}; bisect a metric whose direction the statistics judge (a \
         throughput or a time)"
    )]
    NotJudged { name: String, why: String },
    #[error("--{end} {rev}: {test} did not run there ({why})")]
    NotRun {
        end: &'static str,
        rev: String,
        test: String,
        why: String,
    },
}

impl crate::error::OpError for EndsError {
    /// The user's ends are wrong: exit 2; an end that did not boot: 3.
    fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            EndsError::NotRun { .. } => ExitCode::Infra,
            _ => ExitCode::Usage,
        }
    }
}

/// A step's verdict and what it rests on, one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judged {
    pub verdict: Verdict,
    pub evidence: String,
}

/// What the ends showed, against which every step is judged.
#[derive(Debug, Clone)]
enum Reference {
    Status {
        good: Status,
        bad: Status,
    },
    Observation {
        good: Value,
        bad: Value,
    },
    /// The metric moved this way at --bad against --good.
    Metric {
        moved: compare::Verdict,
    },
}

/// The judge of a bisection: the ends' behaviour and --good's samples.
#[derive(Debug, Clone)]
pub struct Judge {
    test: String,
    criterion: Criterion,
    threshold: f64,
    metrics: Metrics,
    good: KernelRun,
    reference: Reference,
    /// What each end showed, for the report.
    pub good_shown: String,
    pub bad_shown: String,
}

/// The names of the revisions, for messages.
pub struct Ends<'a> {
    pub good_rev: &'a str,
    pub bad_rev: &'a str,
    pub good: &'a KernelRun,
    pub bad: &'a KernelRun,
}

/// The runs of a column (one per `--repeat`), each with its records: a
/// run starts at a boot that is not a continuation after a crash.
pub fn runs(k: &KernelRun) -> Vec<KernelRun> {
    if k.boots.is_empty() {
        return vec![k.clone()];
    }
    let mut run_of = Vec::with_capacity(k.boots.len());
    let mut n = 0usize;
    for (i, b) in k.boots.iter().enumerate() {
        if i > 0 && !matches!(b.why, BootReason::Continue { .. }) {
            n += 1;
        }
        run_of.push(n);
    }
    (0..=n)
        .map(|r| {
            let mut one = k.clone();
            one.records = k
                .records
                .iter()
                .filter(|rec| run_of.get(rec.boot as usize).copied().unwrap_or(0) == r)
                .cloned()
                .collect();
            let boots: Vec<_> = k
                .boots
                .iter()
                .zip(&run_of)
                .filter(|(_, x)| **x == r)
                .map(|(b, _)| b.clone())
                .collect();
            one.boots = Vec::new();
            one.wall_s = 0.0;
            one.console_findings = Vec::new();
            for b in boots {
                one.push_boot(b);
            }
            one
        })
        .collect()
}

/// Why a test has no record in a run: how the run's VM ended.
fn not_run(run: &KernelRun) -> String {
    match (run.outcome, &run.detail) {
        (KernelOutcome::Completed, _) => "the guest ran without it".to_owned(),
        (o, Some(d)) => format!("{}: {}", o.as_str(), crate::support::text::one_line(d)),
        (o, None) => o.as_str().to_owned(),
    }
}

fn status_line(test: &str, run: &KernelRun) -> Option<(Status, String)> {
    let r = worst(run, test)?;
    let reason = r
        .reason
        .as_deref()
        .map(|w| format!(": {}", crate::support::text::one_line(w)))
        .unwrap_or_default();
    Some((r.status, format!("{}{reason}", r.status.as_str())))
}

fn observation(test: &str, name: &str, run: &KernelRun) -> Option<Value> {
    run.records
        .iter()
        .filter(|r| r.id == test)
        .find_map(|r| r.observations.get(name).cloned())
}

fn known_observations(test: &str, run: &KernelRun) -> String {
    let names: std::collections::BTreeSet<&str> = run
        .records
        .iter()
        .filter(|r| r.id == test)
        .flat_map(|r| r.observations.keys().map(String::as_str))
        .collect();
    known(names)
}

fn known_metrics(test: &str, run: &KernelRun) -> String {
    let names: std::collections::BTreeSet<&str> = run
        .records
        .iter()
        .filter(|r| r.id == test)
        .flat_map(|r| r.metrics.iter().map(|m| m.name.as_str()))
        .collect();
    known(names)
}

fn known(names: std::collections::BTreeSet<&str>) -> String {
    if names.is_empty() {
        return " (it reports none)".to_owned();
    }
    format!(
        " (it reports: {})",
        names.into_iter().collect::<Vec<_>>().join(", ")
    )
}

/// `--metric` takes the metric's name, or the test id and the name.
fn metric_name<'a>(test: &str, name: &'a str) -> &'a str {
    name.strip_prefix(test)
        .and_then(|n| n.strip_prefix('.'))
        .unwrap_or(name)
}

impl Judge {
    /// Reads the ends: --good's behaviour must be steady (and not a
    /// failure, for a status), --bad's must differ from it in at least one
    /// run.
    pub fn from_ends(
        test: &str,
        criterion: &Criterion,
        threshold: f64,
        metrics: Metrics,
        ends: &Ends<'_>,
    ) -> Result<Judge, EndsError> {
        let good_runs = runs(ends.good);
        let bad_runs = runs(ends.bad);
        let not_run = |end: &'static str, rev: &str, run: &KernelRun| EndsError::NotRun {
            end,
            rev: rev.to_owned(),
            test: test.to_owned(),
            why: not_run(run),
        };
        let unsteady = |shown: Vec<String>, what: &str| EndsError::GoodUnsteady {
            rev: ends.good_rev.to_owned(),
            test: test.to_owned(),
            runs: shown.len(),
            shown: shown.join(", "),
            what: what.to_owned(),
        };
        let missing =
            |end: &'static str, rev: &str, what: String, known: String| EndsError::Missing {
                end,
                rev: rev.to_owned(),
                test: test.to_owned(),
                what,
                known,
            };
        let (reference, good_shown, bad_shown) = match criterion {
            Criterion::Status => {
                let mut seen = Vec::new();
                for r in &good_runs {
                    seen.push(
                        status_line(test, r).ok_or_else(|| not_run("good", ends.good_rev, r))?,
                    );
                }
                let (good, good_shown) = seen[0].clone();
                if seen.iter().any(|(s, _)| *s != good) {
                    let shown = seen.iter().map(|(s, _)| s.as_str().to_owned()).collect();
                    return Err(unsteady(shown, "status"));
                }
                if good.is_bad() {
                    return Err(EndsError::GoodFails {
                        rev: ends.good_rev.to_owned(),
                        test: test.to_owned(),
                        shown: good_shown,
                    });
                }
                let mut bad = None;
                for r in &bad_runs {
                    match status_line(test, r) {
                        Some((s, line)) if s != good => {
                            bad = Some((s, line));
                            break;
                        }
                        Some(_) => {}
                        None => return Err(not_run("bad", ends.bad_rev, r)),
                    }
                }
                let Some((bad, bad_shown)) = bad else {
                    return Err(EndsError::BadLooksGood {
                        rev: ends.bad_rev.to_owned(),
                        test: test.to_owned(),
                        shown: good.as_str().to_owned(),
                    });
                };
                (Reference::Status { good, bad }, good_shown, bad_shown)
            }
            Criterion::Observation(name) => {
                let what = format!("observation {name}");
                let mut seen = Vec::new();
                for r in &good_runs {
                    if worst(r, test).is_none() {
                        return Err(not_run("good", ends.good_rev, r));
                    }
                    seen.push(observation(test, name, r).ok_or_else(|| {
                        missing(
                            "good",
                            ends.good_rev,
                            what.clone(),
                            known_observations(test, r),
                        )
                    })?);
                }
                let good = seen[0].clone();
                if seen.iter().any(|v| *v != good) {
                    return Err(unsteady(
                        seen.iter().map(Value::to_string).collect(),
                        "value",
                    ));
                }
                let mut bad = None;
                for r in &bad_runs {
                    if worst(r, test).is_none() {
                        return Err(not_run("bad", ends.bad_rev, r));
                    }
                    match observation(test, name, r) {
                        Some(v) if v != good => {
                            bad = Some(v);
                            break;
                        }
                        _ => {}
                    }
                }
                let Some(bad) = bad else {
                    if bad_runs
                        .iter()
                        .all(|r| observation(test, name, r).is_none())
                    {
                        return Err(missing(
                            "bad",
                            ends.bad_rev,
                            what,
                            known_observations(test, &bad_runs[0]),
                        ));
                    }
                    return Err(EndsError::BadLooksGood {
                        rev: ends.bad_rev.to_owned(),
                        test: test.to_owned(),
                        shown: format!("{name} = {good}"),
                    });
                };
                let (g, b) = (format!("{name} = {good}"), format!("{name} = {bad}"));
                (Reference::Observation { good, bad }, g, b)
            }
            Criterion::Metric(name) => {
                let name = metric_name(test, name);
                for (end, rev, rs) in [
                    ("good", ends.good_rev, &good_runs),
                    ("bad", ends.bad_rev, &bad_runs),
                ] {
                    for r in rs.iter() {
                        if worst(r, test).is_none() {
                            return Err(not_run(end, rev, r));
                        }
                    }
                }
                let diff = metric_diff(test, name, ends.good, ends.bad, threshold, metrics)
                    .ok_or_else(|| {
                        let has = |k: &KernelRun| {
                            k.records
                                .iter()
                                .any(|r| r.id == test && r.metrics.iter().any(|m| m.name == name))
                        };
                        let (end, rev, k) = if has(ends.good) {
                            ("bad", ends.bad_rev, ends.bad)
                        } else {
                            ("good", ends.good_rev, ends.good)
                        };
                        let status = status_line(test, k).map(|s| s.1).unwrap_or_default();
                        let known = match known_metrics(test, k).as_str() {
                            " (it reports none)" => format!(" (its status: {status})"),
                            k => k.to_owned(),
                        };
                        missing(end, rev, format!("metric {name}"), known)
                    })?;
                let judged = |why: &str| EndsError::NotJudged {
                    name: name.to_owned(),
                    why: why.to_owned(),
                };
                match diff.verdict {
                    compare::Verdict::Regression | compare::Verdict::Improvement => {}
                    compare::Verdict::NoChange => {
                        return Err(EndsError::BadLooksGood {
                            rev: ends.bad_rev.to_owned(),
                            test: test.to_owned(),
                            shown: format!(
                                "{}, within the noise or below --threshold {}%",
                                diff.line(),
                                100.0 * threshold
                            ),
                        });
                    }
                    compare::Verdict::TooFewSamples => {
                        return Err(judged(&format!(
                            "too few samples ({}/{} of {} needed a side; raise --reps)",
                            diff.n_a,
                            diff.n_b,
                            compare::MIN_SAMPLES
                        )));
                    }
                    compare::Verdict::NotDirectional => {
                        return Err(judged(&format!(
                            "its unit {:?} says nothing of which way is worse",
                            diff.unit
                        )));
                    }
                    compare::Verdict::WallTime => {
                        return Err(judged(
                            "a wall-time figure, not judged in deterministic perf mode \
                             (--perf-mode wallclock judges it)",
                        ));
                    }
                }
                let good_shown = format!("median {} {}", fmt_num(diff.median_a), diff.unit);
                let bad_shown = format!(
                    "median {} {}: {}",
                    fmt_num(diff.median_b),
                    diff.unit,
                    diff.evidence()
                );
                (
                    Reference::Metric {
                        moved: diff.verdict,
                    },
                    good_shown,
                    bad_shown,
                )
            }
        };
        Ok(Judge {
            test: test.to_owned(),
            criterion: match criterion {
                Criterion::Metric(n) => Criterion::Metric(metric_name(test, n).to_owned()),
                c => c.clone(),
            },
            threshold,
            metrics,
            good: ends.good.clone(),
            reference,
            good_shown,
            bad_shown,
        })
    }

    /// A step's verdict over its runs: bad when any run is bad (a flaky
    /// regression shows in some runs only), good when a run is good and
    /// none bad, else skip (it did not run, or showed something else).
    pub fn judge(&self, step: &KernelRun) -> Judged {
        let judged: Vec<Judged> = runs(step).iter().map(|r| self.judge_run(r)).collect();
        let n = judged.len();
        let pick = |v: Verdict| {
            let hits: Vec<&Judged> = judged.iter().filter(|j| j.verdict == v).collect();
            let first = hits.first()?;
            let evidence = if n > 1 {
                format!("{} (in {} of {n} runs)", first.evidence, hits.len())
            } else {
                first.evidence.clone()
            };
            Some(Judged {
                verdict: v,
                evidence,
            })
        };
        pick(Verdict::Bad)
            .or_else(|| pick(Verdict::Good))
            .or_else(|| pick(Verdict::Skip))
            .unwrap_or(Judged {
                verdict: Verdict::Skip,
                evidence: "no run".to_owned(),
            })
    }

    fn judge_run(&self, run: &KernelRun) -> Judged {
        let skip = |evidence: String| Judged {
            verdict: Verdict::Skip,
            evidence,
        };
        let Some((status, status_shown)) = status_line(&self.test, run) else {
            return skip(format!("{} did not run: {}", self.test, not_run(run)));
        };
        let (verdict, evidence) = match (&self.reference, &self.criterion) {
            (Reference::Status { good, bad }, _) => {
                let v = side(&status, good, bad);
                let mut e = format!("{}: {status_shown}", self.test);
                if v == Verdict::Skip {
                    e.push_str(&format!(
                        " (neither {} as at --good nor {} as at --bad)",
                        good.as_str(),
                        bad.as_str()
                    ));
                }
                (v, e)
            }
            (Reference::Observation { good, bad }, Criterion::Observation(name)) => {
                match observation(&self.test, name, run) {
                    None => (
                        Verdict::Skip,
                        format!("{}: no observation {name} ({status_shown})", self.test),
                    ),
                    Some(v) => {
                        let verdict = side(&v, good, bad);
                        let mut e = format!("{}: {name} = {v}", self.test);
                        if verdict == Verdict::Skip {
                            e.push_str(&format!(
                                " (neither {good} as at --good nor {bad} as at --bad)"
                            ));
                        }
                        (verdict, e)
                    }
                }
            }
            (Reference::Metric { moved }, Criterion::Metric(name)) => {
                match metric_diff(
                    &self.test,
                    name,
                    &self.good,
                    run,
                    self.threshold,
                    self.metrics,
                ) {
                    None => (
                        Verdict::Skip,
                        format!("{}: no metric {name} ({status_shown})", self.test),
                    ),
                    Some(d) if d.verdict == compare::Verdict::TooFewSamples => (
                        Verdict::Skip,
                        format!("{} against --good: too few samples", d.line()),
                    ),
                    Some(d) => {
                        let v = if d.verdict == *moved {
                            Verdict::Bad
                        } else {
                            Verdict::Good
                        };
                        (v, format!("{} against --good", d.line()))
                    }
                }
            }
            _ => unreachable!("the reference is made for the criterion"),
        };
        Judged { verdict, evidence }
    }
}

/// Good when `x` is what --good showed, bad when what --bad showed,
/// else neither.
fn side<T: PartialEq>(x: &T, good: &T, bad: &T) -> Verdict {
    if x == good {
        Verdict::Good
    } else if x == bad {
        Verdict::Bad
    } else {
        Verdict::Skip
    }
}

/// The metric `name` of `test` at `b` against `a`, with `compare`'s
/// statistics.
fn metric_diff(
    test: &str,
    name: &str,
    a: &KernelRun,
    b: &KernelRun,
    threshold: f64,
    metrics: Metrics,
) -> Option<compare::MetricDiff> {
    compare::compare_kernels(a, b, threshold, metrics)
        .metrics
        .into_iter()
        .find(|m| m.test == test && m.metric == name)
}

fn fmt_num(x: f64) -> String {
    match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 1.0 => format!("{x:.2}"),
        _ => format!("{x:.4}"),
    }
}

/// One kernel a bisection tested.
#[derive(Debug, Clone, Serialize)]
pub struct BisectStep {
    /// 0 for --good, n for --bad, k for the k-th commit of the range.
    pub index: usize,
    /// `good`, `bad` (the ends) or `step`.
    pub role: &'static str,
    pub commit: String,
    pub subject: String,
    pub verdict: Verdict,
    pub evidence: String,
    /// Built now (false: the image was kept from an earlier build, or
    /// the build failed).
    pub built: bool,
    pub build_s: f64,
    pub boots: usize,
    /// Wall time of its VMs.
    pub vm_s: f64,
    /// The step's run directory, relative to the bisection's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<String>,
}

impl BisectStep {
    /// `bad 1a2b3c4d5e6f subject: bad (built 31s, 1 boot(s) 4s)`: the
    /// step, its verdict and what it cost.
    pub fn line(&self) -> String {
        let how = match (self.built, self.boots) {
            (true, _) => format!("built {:.0}s", self.build_s),
            (false, 0) => "not built".to_owned(),
            (false, _) => "image kept".to_owned(),
        };
        format!(
            "{:<5} {} {}: {} ({how}, {} boot(s) {:.0}s)",
            self.role,
            &self.commit[..12.min(self.commit.len())],
            crate::support::text::one_line(&self.subject),
            self.verdict.as_str(),
            self.boots,
            self.vm_s
        )
    }
}

/// What a bisection found, as `bisect.json` holds it.
#[derive(Debug, Clone, Serialize)]
pub struct BisectReport {
    #[serde(flatten)]
    pub ask: crate::plan::bisect::BisectAsk,
    /// Commits in good..bad.
    pub commits: usize,
    pub outcome: crate::plan::bisect::Outcome,
    /// The first bad commit (or the candidates), id and subject.
    pub culprits: Vec<(String, String)>,
    pub good_shown: String,
    pub bad_shown: String,
    pub steps: Vec<BisectStep>,
    /// Kernels tested (ends included), built now, and VM boots.
    pub kernels: usize,
    pub builds: usize,
    pub boots: usize,
    pub wall_s: f64,
    /// The command that shows the change again.
    pub reproduce: String,
}

impl BisectReport {
    /// The summary people read: the culprit and its evidence, the
    /// steps, the counts, the log and the reproducer.
    pub fn render(&self, run_dir: &std::path::Path) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let short = |id: &str| id[..12.min(id.len())].to_owned();
        let _ = writeln!(
            s,
            "Bisected {} {} over {} commit(s) of {}..{} in {}:",
            self.ask.test,
            self.ask.criterion.describe(),
            self.commits,
            self.ask.good,
            self.ask.bad,
            self.ask.tree.display()
        );
        let _ = writeln!(s, "  at --good: {}", self.good_shown);
        let _ = writeln!(s, "  at --bad:  {}", self.bad_shown);
        s.push('\n');
        for st in &self.steps {
            let _ = writeln!(s, "  {}\n        {}", st.line(), st.evidence);
        }
        s.push('\n');
        match &self.outcome {
            crate::plan::bisect::Outcome::Found { .. } => {
                let (id, subject) = &self.culprits[0];
                let _ = writeln!(s, "First bad commit: {} {}", short(id), subject);
                let _ = writeln!(s, "  commit {id}");
                if let Some(st) = self.steps.iter().find(|st| &st.commit == id) {
                    let _ = writeln!(s, "  evidence: {}", st.evidence);
                }
                if let Some(st) = self
                    .steps
                    .iter()
                    .filter(|st| st.verdict == Verdict::Good)
                    .max_by_key(|st| st.index)
                {
                    let _ = writeln!(
                        s,
                        "  last good: {} {}: {}",
                        short(&st.commit),
                        crate::support::text::one_line(&st.subject),
                        st.evidence
                    );
                }
            }
            crate::plan::bisect::Outcome::Among { .. } => {
                let _ = writeln!(
                    s,
                    "No single first bad commit: commits that did not build, boot or show \
                     either behaviour hide it. It is one of:"
                );
                for (id, subject) in &self.culprits {
                    let _ = writeln!(s, "  {} {}", short(id), subject);
                }
            }
        }
        let kept = self
            .steps
            .iter()
            .filter(|st| !st.built && st.boots > 0)
            .count();
        let unbuilt = self
            .steps
            .iter()
            .filter(|st| !st.built && st.boots == 0)
            .count();
        let unbuilt = match unbuilt {
            0 => String::new(),
            n => format!(", {n} did not build"),
        };
        let _ = writeln!(
            s,
            "  {} kernel(s) tested ({} built, {kept} kept{unbuilt}), {} boot(s), {:.0}s",
            self.kernels, self.builds, self.boots, self.wall_s
        );
        let log = run_dir.join("bisect.log");
        let _ = writeln!(
            s,
            "  log: {} (git -C {} bisect replay {})",
            log.display(),
            crate::support::quote::sh_quote(&self.ask.tree.display().to_string()),
            crate::support::quote::sh_quote(&log.display().to_string())
        );
        let _ = writeln!(s, "  reproduce: {}", self.reproduce);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A column from (status, observation value, metric samples) per run.
    fn column(runs: &[(&str, Option<i64>, &[f64])]) -> KernelRun {
        let mut records = Vec::new();
        let mut boots = Vec::new();
        for (i, (status, obs, samples)) in runs.iter().enumerate() {
            boots.push(json!({"why": if i == 0 { json!({"kind": "first"}) } else { json!({"kind": "repeat", "k": i + 1, "of": runs.len()}) },
                "started": "s", "wall_s": 1.0, "outcome": "completed", "command": "c",
                "console_log": "c", "guest_log": "g", "tests": 1}));
            let reps = samples.len().max(1);
            for rep in 0..reps {
                let mut r =
                    json!({"id": "t.x", "status": status, "duration_us": 1, "rep": rep, "boot": i});
                if *status != "pass" {
                    r["reason"] = json!("expected 0, got 1");
                }
                if let Some(v) = obs {
                    r["observations"] = json!({"o": v});
                }
                if let Some(s) = samples.get(rep) {
                    r["metrics"] = json!([{"name": "throughput", "value": s, "unit": "MB/s"}]);
                }
                records.push(r);
            }
        }
        serde_json::from_value(json!({
            "identity": {"release": "6.12", "banner": "b", "path": "/k", "sha256": "0", "size": 1},
            "outcome": "completed", "wall_s": 1.0, "command": "", "console_log": "",
            "guest_log": "", "records": records, "boots": boots
        }))
        .unwrap()
    }

    fn judge(c: Criterion, good: &KernelRun, bad: &KernelRun) -> Result<Judge, EndsError> {
        Judge::from_ends(
            "t.x",
            &c,
            0.02,
            Metrics::Deterministic,
            &Ends {
                good_rev: "v1",
                bad_rev: "v2",
                good,
                bad,
            },
        )
    }

    const FAST: [f64; 5] = [100.0, 101.0, 99.0, 100.5, 99.5];
    const SLOW: [f64; 5] = [60.0, 61.0, 59.0, 60.5, 59.5];
    const SAME: [f64; 5] = [100.2, 100.8, 99.2, 100.1, 99.7];

    #[test]
    fn a_status_step_is_good_bad_or_neither() {
        let j = judge(
            Criterion::Status,
            &column(&[("pass", None, &[])]),
            &column(&[("fail", None, &[])]),
        )
        .unwrap();
        let v = |s: &str| j.judge(&column(&[(s, None, &[])])).verdict;
        assert_eq!(v("pass"), Verdict::Good);
        assert_eq!(v("fail"), Verdict::Bad);
        assert_eq!(v("error"), Verdict::Skip);
        let e = j.judge(&column(&[("fail", None, &[])])).evidence;
        assert_eq!(e, "t.x: fail: expected 0, got 1");
    }

    #[test]
    fn one_bad_run_of_several_makes_the_step_bad() {
        let j = judge(
            Criterion::Status,
            &column(&[("pass", None, &[]), ("pass", None, &[])]),
            &column(&[("pass", None, &[]), ("fail", None, &[])]),
        )
        .unwrap();
        let step = column(&[
            ("pass", None, &[]),
            ("pass", None, &[]),
            ("fail", None, &[]),
        ]);
        let got = j.judge(&step);
        assert_eq!(got.verdict, Verdict::Bad);
        assert!(
            got.evidence.ends_with("(in 1 of 3 runs)"),
            "{}",
            got.evidence
        );
        let steady = column(&[("pass", None, &[]), ("pass", None, &[])]);
        assert_eq!(j.judge(&steady).verdict, Verdict::Good);
    }

    #[test]
    fn ends_that_cannot_be_bisected_are_refused() {
        let pass = column(&[("pass", None, &[])]);
        let fail = column(&[("fail", None, &[])]);
        let e = judge(Criterion::Status, &fail, &fail)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--good v1: t.x already fails there (fail: expected 0, got 1); --good must be a \
             revision where it does not"
        );
        let e = judge(Criterion::Status, &pass, &pass)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--bad v2: t.x shows what --good shows (pass): nothing to bisect"
        );
        let flaky = column(&[("pass", None, &[]), ("fail", None, &[])]);
        let e = judge(Criterion::Status, &flaky, &fail)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is not steady there (pass, fail over 2 runs)"),
            "{e}"
        );
        let e = judge(Criterion::Observation("nope".into()), &pass, &fail)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--good v1: t.x reports no observation nope (it reports none)"
        );
        let e = judge(
            Criterion::Metric("latency".into()),
            &column(&[("pass", None, &FAST)]),
            &fail,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "--good v1: t.x reports no metric latency (it reports: throughput)"
        );
        let e = judge(
            Criterion::Metric("throughput".into()),
            &column(&[("pass", None, &FAST)]),
            &column(&[("pass", None, &SAME)]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("--bad v2: t.x shows what --good shows (t.x.throughput: "),
            "{e}"
        );
    }

    #[test]
    fn an_observation_step_matches_one_end_or_neither() {
        let j = judge(
            Criterion::Observation("o".into()),
            &column(&[("pass", Some(0), &[])]),
            &column(&[("pass", Some(4096), &[])]),
        )
        .unwrap();
        assert_eq!(j.good_shown, "o = 0");
        let v = |o| j.judge(&column(&[("pass", Some(o), &[])])).verdict;
        assert_eq!(
            (v(0), v(4096), v(7)),
            (Verdict::Good, Verdict::Bad, Verdict::Skip)
        );
    }

    #[test]
    fn a_metric_step_is_bad_when_it_moved_as_the_bad_end_did() {
        let good = column(&[("pass", None, &FAST)]);
        let j = judge(
            Criterion::Metric("t.x.throughput".into()),
            &good,
            &column(&[("pass", None, &SLOW)]),
        )
        .unwrap();
        assert!(
            j.bad_shown.starts_with("median 60.00 MB/s: -40.0%"),
            "{}",
            j.bad_shown
        );
        let slow = j.judge(&column(&[("pass", None, &SLOW)]));
        assert_eq!(slow.verdict, Verdict::Bad);
        assert!(
            slow.evidence.starts_with("t.x.throughput: -40.0%"),
            "{}",
            slow.evidence
        );
        assert_eq!(
            j.judge(&column(&[("pass", None, &SAME)])).verdict,
            Verdict::Good
        );
        // Faster is not the change bisected.
        let fast: Vec<f64> = FAST.iter().map(|x| x * 1.5).collect();
        assert_eq!(
            j.judge(&column(&[("pass", None, &fast)])).verdict,
            Verdict::Good
        );
        assert_eq!(
            j.judge(&column(&[("fail", None, &[])])).verdict,
            Verdict::Skip
        );
    }

    #[test]
    fn a_step_whose_test_did_not_run_is_skipped() {
        let j = judge(
            Criterion::Status,
            &column(&[("pass", None, &[])]),
            &column(&[("fail", None, &[])]),
        )
        .unwrap();
        let mut k = column(&[("pass", None, &[])]);
        k.records.clear();
        k.boots[0].outcome = KernelOutcome::BootFailed;
        k.boots[0].detail = Some("no console output".into());
        k.outcome = KernelOutcome::BootFailed;
        let got = j.judge(&k);
        assert_eq!(got.verdict, Verdict::Skip);
        assert_eq!(
            got.evidence,
            "t.x did not run: boot failed: no console output"
        );
    }
}
