//! The verdict of a series run, worked out once for `report.md` and
//! `report.html`: which patches changed a result, each change with its
//! evidence (a status with its reason; a headline metric's change with
//! its interval and p-value), and the commands that reproduce them.

use kharness_record::Status;

use super::view::View;
use crate::results::compare::{DEFAULT_THRESHOLD, KernelPair, MetricDiff, Verdict, is_primary};
use crate::results::{KernelOutcome, steps};

/// Status changes a patch gets in the verdict before the rest is counted.
const LEAD_MAX: usize = 5;
/// More changed tests than this and the reproducer reruns what did not
/// pass (the recipe's own choice) instead of naming each.
const REPRO_MAX: usize = 4;

/// What one patch changed.
pub(crate) struct PatchVerdict {
    /// Index of the step in the run's kernels.
    pub k: usize,
    /// It made something worse: a test stopped passing, the guest
    /// crashed, a headline metric regressed.
    pub worse: bool,
    /// One line per change, unwrapped; `true` for one that is worse.
    pub lines: Vec<(bool, String)>,
    /// Tests a reviewer reruns to see the changes.
    pub tests: Vec<String>,
}

/// The verdict of a series run.
pub(crate) struct SeriesVerdict {
    /// `kharness: regressions in +2, +3 of a 3-patch series`.
    pub subject: String,
    /// Tests that did not pass on the base already.
    pub base_bad: usize,
    /// The patches that changed something, in series order.
    pub found: Vec<PatchVerdict>,
    /// Steps (kernel indices) that changed nothing.
    pub quiet: Vec<usize>,
    /// `kharness repro RUN_DIR --filter ID...`, word by word.
    pub repro: Vec<String>,
    /// `kharness bundle RUN_DIR -o RUN.tar.gz`, word by word.
    pub bundle: Vec<String>,
}

impl SeriesVerdict {
    /// The verdict of `v`, whose kernels are a series' steps.
    pub fn new(v: &View<'_>) -> SeriesVerdict {
        let res = v.res;
        let att = steps::attribute(res, DEFAULT_THRESHOLD);
        let patches = v.steps.last().cloned().flatten().map_or(0, |st| st.patches);
        let found: Vec<PatchVerdict> = att
            .per_patch
            .iter()
            .enumerate()
            .filter_map(|(i, pair)| patch_verdict(v, i + 1, pair))
            .collect();
        let names = |worse: bool| -> Vec<&str> {
            found
                .iter()
                .filter(|p| p.worse == worse)
                .map(|p| v.labels[p.k].as_str())
                .collect()
        };
        let (worse, other) = (names(true), names(false));
        let series = format!("a {patches}-patch series");
        let subject = if !worse.is_empty() {
            let s = if worse.len() == 1 { "" } else { "s" };
            format!(
                "kharness: regression{s} in {} of {series}",
                worse.join(", ")
            )
        } else if !other.is_empty() {
            format!("kharness: {} of {series} change results", other.join(", "))
        } else {
            format!("kharness: no patch of {series} changes a result")
        };
        let base_bad = v
            .ids
            .iter()
            .filter(|id| v.status(0, id).is_some_and(|st| st.is_bad()))
            .count();
        let quiet = (1..v.labels.len())
            .filter(|k| !found.iter().any(|p| p.k == *k))
            .collect();
        let mut tests: Vec<&str> = Vec::new();
        for t in found.iter().flat_map(|p| &p.tests) {
            if !tests.contains(&t.as_str()) {
                tests.push(t);
            }
        }
        let dir = res.dir_shown();
        let mut repro = vec!["kharness".to_owned(), "repro".to_owned(), dir.clone()];
        if tests.len() <= REPRO_MAX {
            for t in tests {
                repro.extend(["--filter".to_owned(), t.to_owned()]);
            }
        }
        let bundle = vec![
            "kharness".to_owned(),
            "bundle".to_owned(),
            dir,
            "-o".to_owned(),
            format!("{}.tar.gz", res.run_id),
        ];
        SeriesVerdict {
            subject,
            base_bad,
            found,
            quiet,
            repro,
            bundle,
        }
    }
}

/// What step `k` changed against step `k - 1`; `None` when nothing.
fn patch_verdict(v: &View<'_>, k: usize, pair: &KernelPair) -> Option<PatchVerdict> {
    let kr = &v.kernels()[k];
    let mut lines = Vec::new();
    let mut tests = Vec::new();
    let was_ok = v.kernels()[k - 1].outcome == KernelOutcome::Completed;
    if kr.outcome != KernelOutcome::Completed && kr.outcome != KernelOutcome::Pending && was_ok {
        let why = kr.detail.as_deref().and_then(|d| d.lines().next());
        let line = match why {
            Some(d) => format!("{} (regression): {d}", kr.outcome.as_str()),
            None => format!("{} (regression)", kr.outcome.as_str()),
        };
        lines.push((true, line));
    }
    let mut not_run = 0;
    let mut shown = 0;
    for c in &pair.status_changes {
        let rec = v.worst(k, &c.test);
        if rec.is_some_and(|r| super::view::not_run(kr, r)) {
            not_run += 1;
            continue;
        }
        let (a, b) = (
            c.a.is_some_and(|s| s.is_bad()),
            c.b.is_some_and(|s| s.is_bad()),
        );
        let mark = match (a, b) {
            (false, true) => "regression",
            (true, false) => "fixed",
            _ => "changed",
        };
        tests.push(c.test.clone());
        shown += 1;
        if shown > LEAD_MAX {
            continue;
        }
        let st = |x: Option<Status>| x.map_or("-", |s| s.as_str());
        let why = rec
            .filter(|r| r.status.is_bad() || r.status == Status::Skip)
            .and_then(super::view::why)
            .map(|w| format!(": {w}"))
            .unwrap_or_default();
        lines.push((
            !a && b,
            format!("{}: {} -> {} ({mark}){why}", c.test, st(c.a), st(c.b)),
        ));
    }
    if shown > LEAD_MAX {
        let more = shown - LEAD_MAX;
        let s = if more == 1 { "" } else { "s" };
        lines.push((
            false,
            format!("and {more} more status change{s} (table below)"),
        ));
    }
    if not_run > 0 {
        let s = if not_run == 1 { "" } else { "s" };
        lines.push((
            true,
            format!("{not_run} test{s} not run: the guest stopped first"),
        ));
    }
    for m in pair.metrics.iter().filter(|m| m.moved()) {
        if !is_primary(&m.metric, &m.unit) {
            continue;
        }
        let worse = m.verdict == Verdict::Regression;
        let mark = if worse { "regression" } else { "improvement" };
        tests.push(m.test.clone());
        lines.push((worse, metric_line(m, mark)));
    }
    let obs = pair.observation_changes.len();
    if obs > 0 {
        let mut names: Vec<&str> = pair
            .observation_changes
            .iter()
            .map(|c| c.test.as_str())
            .collect();
        names.dedup();
        let s = if obs == 1 { "" } else { "s" };
        lines.push((
            false,
            format!(
                "{obs} observation{s} changed, of {} (tables below)",
                names.join(", ")
            ),
        ));
    }
    let worse = lines.iter().any(|(w, _)| *w);
    (!lines.is_empty()).then_some(PatchVerdict {
        k,
        worse,
        lines,
        tests,
    })
}

/// `perf.x throughput: 5081 -> 4283 MiB/s, -15.7% (95% CI ..., p<0.01,
/// n=5), regression`.
fn metric_line(m: &MetricDiff, mark: &str) -> String {
    format!(
        "{} {}: {} -> {} {}, {}, {mark}",
        m.test,
        m.metric,
        super::view::num(m.median_a),
        super::view::num(m.median_b),
        m.unit,
        m.evidence()
    )
}
