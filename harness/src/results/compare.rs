//! Comparing two runs: what changed in status and observations, and which
//! metrics moved beyond the noise.

use std::collections::BTreeMap;
use std::fmt::Write;

use kharness_record::{Status, Value};
use serde::Serialize;

use super::stats::{bootstrap_rel_change_ci, mann_whitney_p, median};
use super::{KernelRun, RunResults};
use crate::vm::PerfMode;

/// Fewer samples than this on either side give no verdict: with 3 a side
/// even a complete separation has a Mann-Whitney p of 0.1; 5 a side can
/// reach p < 0.01.
pub const MIN_SAMPLES: usize = 5;
const BOOTSTRAP_ITERS: usize = 2000;
/// The smallest relative change that counts when no `--threshold` was
/// given (its default, 2%): what report files judge metrics by.
pub const DEFAULT_THRESHOLD: f64 = 0.02;
const ALPHA: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Regression,
    Improvement,
    /// Within the noise or below the threshold.
    NoChange,
    /// Too few samples (`--reps`) to tell.
    TooFewSamples,
    /// The unit says nothing about which way is better (counts).
    NotDirectional,
    /// A wall-time figure (`elapsed`, `*_wall`) of a deterministic-mode
    /// run: guest time there also counts idle time and other tasks' work,
    /// which do not repeat from boot to boot (Debian's 6.12 spread 5-25%
    /// across boots where the CPU-time figures stayed within 2%:
    /// ci/bench-determinism.sh), so it is shown and not judged.
    WallTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricDiff {
    pub test: String,
    pub metric: String,
    pub unit: String,
    pub n_a: usize,
    pub n_b: usize,
    pub median_a: f64,
    pub median_b: f64,
    /// (median_b - median_a) / median_a.
    pub rel_change: f64,
    /// 95% bootstrap interval of `rel_change`.
    pub ci: Option<(f64, f64)>,
    pub p: Option<f64>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusChange {
    pub test: String,
    pub a: Option<Status>,
    pub b: Option<Status>,
}

impl StatusChange {
    /// Worse from `a` to `b`: the test stopped passing (a bad status it
    /// did not have), or it passed and now skips. A skip says the kernel
    /// lacks what the test needs (an opcode, a config option, a syscall):
    /// between two steps of a series, or two kernels, a feature vanished.
    pub fn is_regression(&self) -> bool {
        let bad_now = self.b.is_some_and(|s| s.is_bad()) && !self.a.is_some_and(|s| s.is_bad());
        bad_now || self.vanished()
    }

    /// The test passed and now skips.
    pub fn vanished(&self) -> bool {
        self.a == Some(Status::Pass) && self.b == Some(Status::Skip)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ObservationChange {
    pub test: String,
    pub name: String,
    pub a: Option<Value>,
    pub b: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KernelPair {
    pub a: String,
    pub b: String,
    pub status_changes: Vec<StatusChange>,
    pub observation_changes: Vec<ObservationChange>,
    pub metrics: Vec<MetricDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub run_a: String,
    pub run_b: String,
    pub threshold: f64,
    /// Why metrics were not compared (different perf modes), if so.
    pub perf_refused: Option<String>,
    pub pairs: Vec<KernelPair>,
    /// Kernels of one run with no partner in the other.
    pub unpaired: Vec<String>,
}

impl Comparison {
    /// Something got worse: a test stopped passing or a metric regressed.
    pub fn has_regressions(&self) -> bool {
        self.pairs.iter().any(|p| {
            p.status_changes.iter().any(StatusChange::is_regression)
                || p.metrics.iter().any(MetricDiff::is_regression)
        })
    }
}

/// Whether a larger value of a metric in `unit` is better, worse, or neither.
fn higher_is_better(unit: &str) -> Option<bool> {
    let u = unit.to_ascii_lowercase();
    if u.ends_with("/s") || u.ends_with("ps") || u == "ratio" {
        Some(true)
    } else if ["ns", "us", "µs", "ms", "s", "cycles", "instructions"].contains(&u.as_str())
        || u.starts_with("ns/")
    {
        Some(false)
    } else {
        None
    }
}

/// Whether a metric is a headline figure a reviewer judges a patch by:
/// a throughput (a rate, `.../s`) or a latency (a time whose name says
/// latency). The guest does not mark metrics, so this decides by unit and
/// name; everything else (counters, CPU times, ratios derived from the
/// headline figures) stays in `results.json` and behind `--verbose`.
pub fn is_primary(name: &str, unit: &str) -> bool {
    let u = unit.to_ascii_lowercase();
    let rate = u.ends_with("/s");
    let time = ["ns", "us", "µs", "ms", "s"].contains(&u.as_str());
    rate || (time && name.to_ascii_lowercase().contains("latency"))
}

/// Compares run `b` against run `a`; `threshold` is the smallest relative
/// change (0.02 = 2%) that counts as a regression or improvement.
/// Whether a metric is measured by the wall clock: `elapsed`, `*_elapsed`
/// or `*_wall`, as the guest names them beside their CPU-time figures.
pub fn is_wall_time(name: &str) -> bool {
    name == "elapsed" || name.ends_with("_elapsed") || name.ends_with("_wall")
}

pub fn compare(a: &RunResults, b: &RunResults, threshold: f64) -> Comparison {
    let perf_refused = match (a.perf_mode, b.perf_mode) {
        (Some(x), Some(y)) if x != y => Some(format!(
            "metrics not compared: run A measured them in {} mode, run B in {} mode",
            x.as_str(),
            y.as_str()
        )),
        _ => match (a.icount_shift_or_old(), b.icount_shift_or_old()) {
            (Some(x), Some(y)) if x != y => Some(format!(
                "metrics not compared: run A measured them at icount shift {x}, run B at \
                 shift {y} (guest time per instruction differs)"
            )),
            _ => None,
        },
    };
    let (pairs, unpaired) = pair_kernels(a, b);
    let pairs = pairs
        .into_iter()
        .map(|(ka, kb)| {
            let metrics = match perf_refused {
                Some(_) => Metrics::Skip,
                None => Metrics::for_mode(a.perf_mode.or(b.perf_mode)),
            };
            compare_kernels(ka, kb, threshold, metrics)
        })
        .collect();
    Comparison {
        run_a: a.run_id.clone(),
        run_b: b.run_id.clone(),
        threshold,
        perf_refused,
        pairs,
        unpaired,
    }
}

/// Kernels pair by position when both runs have as many, else by release.
fn pair_kernels<'a>(
    a: &'a RunResults,
    b: &'a RunResults,
) -> (Vec<(&'a KernelRun, &'a KernelRun)>, Vec<String>) {
    if a.kernels.len() == b.kernels.len() {
        return (a.kernels.iter().zip(&b.kernels).collect(), Vec::new());
    }
    let mut pairs = Vec::new();
    let mut unpaired = Vec::new();
    for ka in &a.kernels {
        match b
            .kernels
            .iter()
            .find(|kb| kb.identity.release == ka.identity.release)
        {
            Some(kb) => pairs.push((ka, kb)),
            None => unpaired.push(format!("A: {}", ka.identity.release)),
        }
    }
    for kb in &b.kernels {
        if !a
            .kernels
            .iter()
            .any(|ka| ka.identity.release == kb.identity.release)
        {
            unpaired.push(format!("B: {}", kb.identity.release));
        }
    }
    (pairs, unpaired)
}

/// Which metrics of two kernels' runs to compare, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metrics {
    /// None (the runs measured them in different modes).
    Skip,
    /// All, judging wall-time figures too (wall-clock mode, or unknown).
    All,
    /// All, wall-time figures shown but not judged ([`Verdict::WallTime`]).
    Deterministic,
}

impl Metrics {
    /// What a run measured in `mode` compares.
    pub fn for_mode(mode: Option<PerfMode>) -> Metrics {
        match mode {
            Some(PerfMode::Deterministic) => Metrics::Deterministic,
            _ => Metrics::All,
        }
    }
}

pub fn compare_kernels(
    a: &KernelRun,
    b: &KernelRun,
    threshold: f64,
    metrics: Metrics,
) -> KernelPair {
    let status = |k: &KernelRun| -> BTreeMap<String, Status> {
        let mut m = BTreeMap::new();
        for r in &k.records {
            // The worst status of any repetition stands for the test.
            let e = m.entry(r.id.clone()).or_insert(r.status);
            if r.status.is_bad() {
                *e = r.status;
            }
        }
        m
    };
    let (sa, sb) = (status(a), status(b));
    let mut ids: Vec<&String> = sa.keys().chain(sb.keys()).collect();
    ids.sort();
    ids.dedup();
    let status_changes = ids
        .iter()
        .filter(|id| sa.get(**id) != sb.get(**id))
        .map(|id| StatusChange {
            test: (*id).clone(),
            a: sa.get(*id).copied(),
            b: sb.get(*id).copied(),
        })
        .collect();

    let obs = |k: &KernelRun| -> BTreeMap<(String, String), Value> {
        k.records
            .iter()
            .filter(|r| r.rep == 0)
            .flat_map(|r| {
                r.observations
                    .iter()
                    .map(|(n, v)| ((r.id.clone(), n.clone()), v.clone()))
            })
            .collect()
    };
    let (oa, ob) = (obs(a), obs(b));
    let mut keys: Vec<&(String, String)> = oa.keys().chain(ob.keys()).collect();
    keys.sort();
    keys.dedup();
    let observation_changes = keys
        .into_iter()
        .filter(|k| oa.get(*k) != ob.get(*k))
        .map(|k| ObservationChange {
            test: k.0.clone(),
            name: k.1.clone(),
            a: oa.get(k).cloned(),
            b: ob.get(k).cloned(),
        })
        .collect();

    let metrics = match metrics {
        Metrics::Skip => Vec::new(),
        m => compare_metrics(a, b, threshold, m == Metrics::Deterministic),
    };
    KernelPair {
        a: a.identity.release.clone(),
        b: b.identity.release.clone(),
        status_changes,
        observation_changes,
        metrics,
    }
}

fn samples(k: &KernelRun) -> BTreeMap<(String, String), (String, Vec<f64>)> {
    let mut m: BTreeMap<(String, String), (String, Vec<f64>)> = BTreeMap::new();
    for r in k.records.iter().filter(|r| r.status == Status::Pass) {
        for x in &r.metrics {
            m.entry((r.id.clone(), x.name.clone()))
                .or_insert_with(|| (x.unit.clone(), Vec::new()))
                .1
                .push(x.value);
        }
    }
    m
}

fn compare_metrics(
    a: &KernelRun,
    b: &KernelRun,
    threshold: f64,
    deterministic: bool,
) -> Vec<MetricDiff> {
    let (ma, mb) = (samples(a), samples(b));
    let mut out = Vec::new();
    for (key, (unit, va)) in &ma {
        let Some((_, vb)) = mb.get(key) else { continue };
        let (med_a, med_b) = (median(va), median(vb));
        let rel = match (med_a, med_b) {
            (a, b) if a == b => 0.0,
            (a, b) if a != 0.0 => (b - a) / a,
            _ => f64::INFINITY,
        };
        let enough = va.len() >= MIN_SAMPLES && vb.len() >= MIN_SAMPLES;
        let (ci, p) = if enough {
            (
                Some(bootstrap_rel_change_ci(va, vb, BOOTSTRAP_ITERS)),
                Some(mann_whitney_p(va, vb)),
            )
        } else {
            (None, None)
        };
        let verdict = match (higher_is_better(unit), ci, p) {
            _ if deterministic && is_wall_time(&key.1) => Verdict::WallTime,
            (_, None, _) | (_, _, None) => Verdict::TooFewSamples,
            (None, _, _) => Verdict::NotDirectional,
            (Some(up_good), Some((lo, hi)), Some(p)) => {
                let outside_noise = (lo > 0.0 || hi < 0.0) && p < ALPHA;
                if !outside_noise || rel.abs() < threshold {
                    Verdict::NoChange
                } else if (rel > 0.0) == up_good {
                    Verdict::Improvement
                } else {
                    Verdict::Regression
                }
            }
        };
        out.push(MetricDiff {
            test: key.0.clone(),
            metric: key.1.clone(),
            unit: unit.clone(),
            n_a: va.len(),
            n_b: vb.len(),
            median_a: med_a,
            median_b: med_b,
            rel_change: rel,
            ci,
            p,
            verdict,
        });
    }
    out
}

impl MetricDiff {
    /// `perf.x.throughput: -12.3% ± 0.4% (n=10, p<0.01)`, the way the
    /// 0-day robot prints a change.
    pub fn line(&self) -> String {
        let pct = 100.0 * self.rel_change;
        let spread = match self.ci {
            Some((lo, hi)) => format!(" ± {:.1}%", 100.0 * (hi - lo) / 2.0),
            None => String::new(),
        };
        let n = if self.n_a == self.n_b {
            format!("n={}", self.n_a)
        } else {
            format!("n={}/{}", self.n_a, self.n_b)
        };
        let p = match self.p {
            Some(p) if p < 0.01 => ", p<0.01".to_owned(),
            Some(p) => format!(", p={p:.2}"),
            None => String::new(),
        };
        format!("{}.{}: {pct:+.1}%{spread} ({n}{p})", self.test, self.metric)
    }
}

impl MetricDiff {
    /// True when the statistics say the metric moved.
    pub fn moved(&self) -> bool {
        matches!(self.verdict, Verdict::Regression | Verdict::Improvement)
    }

    /// Whether this metric's move is judged: a change of the patch or
    /// kernel, and a regression in the exit code. Only the headline
    /// figures are ([`is_primary`]); the CPU times and counters beside
    /// them explain a move and are shown, not judged. A comment-only
    /// patch moved `vmsplice_task_clock` by -2.4% (n=5) while every
    /// throughput stayed put (2026-12-07): a second figure of the same
    /// work, judged on its own, doubles the chance of a false alarm.
    pub fn judged(&self) -> bool {
        self.moved() && is_primary(&self.metric, &self.unit)
    }

    /// A judged regression.
    pub fn is_regression(&self) -> bool {
        self.judged() && self.verdict == Verdict::Regression
    }

    /// The evidence for a move, as a reviewer checks it: `-15.7% (95% CI
    /// -17.0% to -14.1%, p<0.01, n=5)`.
    pub fn evidence(&self) -> String {
        let pct = 100.0 * self.rel_change;
        let ci = match self.ci {
            Some((lo, hi)) => format!("95% CI {:+.1}% to {:+.1}%, ", 100.0 * lo, 100.0 * hi),
            None => String::new(),
        };
        let p = match self.p {
            Some(p) if p < 0.01 => "p<0.01, ".to_owned(),
            Some(p) => format!("p={p:.2}, "),
            None => String::new(),
        };
        let n = if self.n_a == self.n_b {
            format!("n={}", self.n_a)
        } else {
            format!("n={}/{}", self.n_a, self.n_b)
        };
        format!("{pct:+.1}% ({ci}{p}{n})")
    }
}

/// Renders a comparison of two runs.
pub fn render(c: &Comparison, verbose: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "kharness compare: A = {}, B = {}; a metric moves when its change is outside the noise (95% bootstrap CI excludes 0, Mann-Whitney p < 0.05) and beyond {:.1}%",
        c.run_a,
        c.run_b,
        100.0 * c.threshold
    );
    if let Some(why) = &c.perf_refused {
        let _ = writeln!(s, "{why}");
    }
    for u in &c.unpaired {
        let _ = writeln!(s, "no partner in the other run: {u}");
    }
    for p in &c.pairs {
        let _ = writeln!(s, "\n{} -> {}", p.a, p.b);
        if p.status_changes.is_empty() && p.observation_changes.is_empty() {
            s.push_str("  no status or observation changed\n");
        }
        let st = |x: Option<Status>| x.map_or("-", |s| s.as_str());
        for ch in &p.status_changes {
            let _ = writeln!(
                s,
                "  status       {}: {} -> {}",
                ch.test,
                st(ch.a),
                st(ch.b)
            );
        }
        for ch in &p.observation_changes {
            let _ = writeln!(
                s,
                "  observation  {}: {}: {} -> {}",
                ch.test,
                ch.name,
                cell(&ch.a),
                cell(&ch.b)
            );
        }
        let mut few = 0;
        for m in &p.metrics {
            let tag = match m.verdict {
                _ if m.moved() && !m.judged() => {
                    if !verbose {
                        continue;
                    }
                    "(explains) "
                }
                Verdict::Regression => "REGRESSION ",
                Verdict::Improvement => "improvement",
                Verdict::NoChange if verbose => "no change  ",
                Verdict::NotDirectional if verbose => "(count)    ",
                Verdict::WallTime if verbose => "(wall time)",
                Verdict::TooFewSamples => {
                    few += 1;
                    continue;
                }
                _ => continue,
            };
            let _ = writeln!(s, "  {tag}  {}", m.line());
        }
        let moved = p.metrics.iter().filter(|m| m.judged()).count();
        let _ = writeln!(
            s,
            "  metrics: {} compared, {moved} headline figure(s) moved",
            p.metrics.len()
        );
        if few > 0 {
            let _ = writeln!(
                s,
                "  {few} metric(s) with fewer than {} samples a side: rerun both with --reps 5 or more for a verdict",
                MIN_SAMPLES
            );
        }
    }
    s
}

fn cell(v: &Option<Value>) -> String {
    let Some(v) = v else { return "-".to_owned() };
    let text = v.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_turning_skip_is_a_regression_like_a_failure() {
        let c = |a: Option<Status>, b: Option<Status>| StatusChange {
            test: "io_uring.splice_file_to_pipe".into(),
            a,
            b,
        };
        use Status::*;
        assert!(c(Some(Pass), Some(Skip)).is_regression());
        assert!(c(Some(Pass), Some(Fail)).is_regression());
        assert!(c(Some(Skip), Some(Crashed)).is_regression());
        assert!(c(None, Some(Fail)).is_regression());
        assert!(!c(Some(Skip), Some(Pass)).is_regression());
        assert!(!c(Some(Fail), Some(Crashed)).is_regression(), "bad already");
        assert!(
            !c(Some(Pass), None).is_regression(),
            "a test the other side lacks"
        );
        assert!(!c(Some(Skip), Some(Pass)).vanished());
    }

    #[test]
    fn deterministic_runs_at_different_icount_shifts_do_not_compare_metrics() {
        let old: RunResults = serde_json::from_str(include_str!(
            "../../tests/fixtures/perf-reps-two-kernels.json"
        ))
        .expect("the fixture parses");
        assert_eq!(old.icount_shift, None, "recorded before the shift was");
        let at = |shift: Option<u8>| RunResults {
            icount_shift: shift,
            ..old.clone()
        };
        let refused = compare(&old, &at(Some(4)), DEFAULT_THRESHOLD).perf_refused;
        let why = refused.expect("shift 0 against shift 4 is refused");
        assert!(why.contains("shift 0") && why.contains("shift 4"), "{why}");
        assert!(
            compare(&old, &at(Some(0)), DEFAULT_THRESHOLD)
                .perf_refused
                .is_none(),
            "an old deterministic run measured at shift 0"
        );
        let same = compare(&at(Some(4)), &at(Some(4)), DEFAULT_THRESHOLD);
        assert!(same.perf_refused.is_none());
        assert!(same.pairs.iter().any(|p| !p.metrics.is_empty()));
    }

    #[test]
    fn wall_time_figures_are_not_judged_in_deterministic_mode() {
        // Five samples a side: elapsed 40% longer, the CPU-time throughput
        // the same.
        let kernel = |elapsed: f64| -> KernelRun {
            let recs: Vec<serde_json::Value> = (0..5)
                .map(|rep| {
                    serde_json::json!({"id": "perf.x", "status": "pass", "duration_us": 1,
                        "rep": rep, "metrics": [
                            {"name": "elapsed", "value": elapsed + rep as f64 * 0.01, "unit": "ms"},
                            {"name": "throughput_wall", "value": 1000.0 / elapsed, "unit": "MiB/s"},
                            {"name": "throughput", "value": 500.0 + rep as f64 * 0.01, "unit": "MiB/s"}]})
                })
                .collect();
            serde_json::from_value(serde_json::json!({
                "identity": {"release": "6.12", "banner": "b", "path": "/k", "sha256": "00", "size": 1},
                "outcome": "completed", "wall_s": 1.0, "command": "c",
                "console_log": "c.log", "guest_log": "g.log", "records": recs}))
            .expect("a kernel run")
        };
        let (a, b) = (kernel(10.0), kernel(14.0));
        let verdict = |m: Metrics, name: &str| {
            compare_kernels(&a, &b, DEFAULT_THRESHOLD, m)
                .metrics
                .into_iter()
                .find(|d| d.metric == name)
                .map(|d| d.verdict)
        };
        assert_eq!(
            verdict(Metrics::Deterministic, "elapsed"),
            Some(Verdict::WallTime)
        );
        assert_eq!(
            verdict(Metrics::Deterministic, "throughput_wall"),
            Some(Verdict::WallTime)
        );
        assert_eq!(
            verdict(Metrics::Deterministic, "throughput"),
            Some(Verdict::NoChange)
        );
        assert_eq!(verdict(Metrics::All, "elapsed"), Some(Verdict::Regression));
        assert_eq!(
            verdict(Metrics::All, "throughput_wall"),
            Some(Verdict::Regression)
        );
        assert!(
            compare_kernels(&a, &b, DEFAULT_THRESHOLD, Metrics::Skip)
                .metrics
                .is_empty()
        );
        assert_eq!(
            Metrics::for_mode(Some(PerfMode::Deterministic)),
            Metrics::Deterministic
        );
        assert_eq!(Metrics::for_mode(Some(PerfMode::Wallclock)), Metrics::All);
        assert!(is_wall_time("uring_elapsed") && is_wall_time("latency_wall"));
        assert!(!is_wall_time("cpu") && !is_wall_time("wall_s_total"));
    }

    #[test]
    fn units_know_their_direction() {
        assert_eq!(higher_is_better("MiB/s"), Some(true));
        assert_eq!(higher_is_better("ns"), Some(false));
        assert_eq!(higher_is_better("count"), None);
    }

    fn diff(rel: f64, ci: Option<(f64, f64)>, p: Option<f64>) -> MetricDiff {
        MetricDiff {
            test: "perf.splice_file_to_pipe".into(),
            metric: "throughput".into(),
            unit: "MiB/s".into(),
            n_a: 10,
            n_b: 10,
            median_a: 100.0,
            median_b: 100.0 * (1.0 + rel),
            rel_change: rel,
            ci,
            p,
            verdict: Verdict::Regression,
        }
    }

    #[test]
    fn only_a_headline_figure_that_moved_is_judged() {
        let throughput = diff(-0.05, Some((-0.06, -0.04)), Some(0.001));
        assert!(throughput.judged() && throughput.is_regression());
        let task_clock = MetricDiff {
            metric: "task_clock".into(),
            unit: "ns".into(),
            ..throughput.clone()
        };
        assert!(task_clock.moved() && !task_clock.judged() && !task_clock.is_regression());
        let steady = MetricDiff {
            verdict: Verdict::NoChange,
            ..throughput
        };
        assert!(!steady.judged() && !steady.is_regression());
    }

    #[test]
    fn only_throughput_and_latency_are_primary() {
        assert!(is_primary("throughput", "MiB/s"));
        assert!(is_primary("send_zc_throughput", "MiB/s"));
        assert!(is_primary("latency", "ns"));
        assert!(!is_primary("task_clock", "ns"));
        assert!(!is_primary("elapsed", "ms"));
        assert!(!is_primary("page_faults", "count"));
        assert!(!is_primary("splice_to_read_write_ratio", "ratio"));
    }

    #[test]
    fn evidence_gives_interval_p_and_n() {
        assert_eq!(
            diff(-0.157, Some((-0.17, -0.141)), Some(0.004)).evidence(),
            "-15.7% (95% CI -17.0% to -14.1%, p<0.01, n=10)"
        );
    }

    #[test]
    fn lines_read_like_the_0day_robot() {
        assert_eq!(
            diff(-0.123, Some((-0.127, -0.119)), Some(0.001)).line(),
            "perf.splice_file_to_pipe.throughput: -12.3% ± 0.4% (n=10, p<0.01)"
        );
        assert_eq!(
            diff(0.01, None, None).line(),
            "perf.splice_file_to_pipe.throughput: +1.0% (n=10)"
        );
    }
}
