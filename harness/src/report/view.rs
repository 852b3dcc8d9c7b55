//! What the file reports need from a run, worked out once: a label per
//! kernel, test ids in run order, the worst status of a test over its
//! repetitions, and the observation and metric tables across kernels.

use std::collections::{BTreeSet, HashMap};

use kharness_record::{Status, TestRecord, Value};

use crate::results::compare::{DEFAULT_THRESHOLD, MetricDiff, Metrics, compare_kernels};
use crate::results::{KernelOutcome, KernelRun, RunResults};

/// A run seen test by test.
pub(crate) struct View<'a> {
    pub res: &'a RunResults,
    /// One label per kernel, its column heading: the series step (`base`,
    /// `+1`, ...) when the kernels are a series' steps, else its release,
    /// with ` (N)` added when two kernels of the run share a release.
    pub labels: Vec<String>,
    /// One full name per kernel: a series step with its patch subject
    /// (`+2 splice: settle ...`), else the label.
    pub titles: Vec<String>,
    /// Per kernel, the series step it is; all `None` outside a series.
    pub steps: Vec<Option<crate::plan::StepInfo>>,
    /// Test ids in the order the guest ran them, over all kernels.
    pub ids: Vec<&'a str>,
    /// Per kernel: test id -> that test's records, by repetition.
    by_test: Vec<HashMap<&'a str, Vec<&'a TestRecord>>>,
}

/// One observation of one test, across kernels (first repetition).
pub(crate) struct ObsRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub values: Vec<Option<&'a Value>>,
    /// Per kernel: the test reported observations there at all. A test
    /// that never ran or died first has none, and is not compared.
    pub observed: Vec<bool>,
    /// The release or commit where this behaviour changed, as the test
    /// recorded it (any kernel's record that says).
    pub changed_in: Option<&'a str>,
}

impl ObsRow<'_> {
    /// True when two kernels on which the test reported observations
    /// disagree; a value one of them lacks counts as a difference.
    pub fn differs(&self) -> bool {
        let seen: Vec<Option<&Value>> = self
            .values
            .iter()
            .zip(&self.observed)
            .filter(|(_, o)| **o)
            .map(|(v, _)| *v)
            .collect();
        seen.windows(2).any(|w| w[0] != w[1])
    }
}

/// One metric of one test, across kernels: every repetition's sample.
pub(crate) struct MetricRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub unit: &'a str,
    pub samples: Vec<Vec<f64>>,
}

impl MetricRow<'_> {
    pub fn all_zero(&self) -> bool {
        self.samples.iter().flatten().all(|v| *v == 0.0)
    }
}

/// Median and spread of a metric's samples on one kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stats {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl<'a> View<'a> {
    pub fn new(res: &'a RunResults) -> Self {
        let mut steps: Vec<Option<crate::plan::StepInfo>> =
            res.kernels.iter().map(KernelRun::series_step).collect();
        // A column that is no step makes the run no series.
        if steps.iter().any(Option::is_none) {
            steps = vec![None; res.kernels.len()];
        }
        let mut labels = Vec::with_capacity(res.kernels.len());
        for (i, k) in res.kernels.iter().enumerate() {
            let rel = &k.identity.release;
            let shared = res
                .kernels
                .iter()
                .filter(|o| &o.identity.release == rel)
                .count()
                > 1;
            labels.push(if shared {
                format!("{rel} ({})", i + 1)
            } else {
                rel.clone()
            });
        }
        let mut titles = labels.clone();
        for (k, st) in steps.iter().enumerate() {
            if let Some(st) = st {
                labels[k] = st.label();
                titles[k] = st.title();
            }
        }
        let mut ids: Vec<&str> = Vec::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut by_test: Vec<HashMap<&str, Vec<&TestRecord>>> = Vec::new();
        for kr in &res.kernels {
            let mut map: HashMap<&str, Vec<&TestRecord>> = HashMap::new();
            for r in &kr.records {
                if seen.insert(&r.id) {
                    ids.push(&r.id);
                }
                map.entry(&r.id).or_default().push(r);
            }
            for recs in map.values_mut() {
                recs.sort_by_key(|r| (r.boot, r.rep));
            }
            by_test.push(map);
        }
        View {
            res,
            labels,
            titles,
            steps,
            ids,
            by_test,
        }
    }

    /// True when the kernels are the steps of a series.
    pub fn is_series(&self) -> bool {
        self.steps.first().is_some_and(Option::is_some)
    }

    /// True when the kernels are a series from its base on (not a rerun
    /// of some of its steps): then each step after the first is one
    /// patch's, or the whole series', verdict.
    pub fn has_verdict(&self) -> bool {
        self.labels.len() > 1
            && self
                .steps
                .first()
                .is_some_and(|s| s.as_ref().is_some_and(|s| s.patches == 0))
    }

    /// Short names for kernels in text: the step labels of a series,
    /// else `[1]`, `[2]`...
    pub fn tags(&self) -> Vec<String> {
        if self.is_series() {
            self.labels.clone()
        } else {
            (1..=self.labels.len()).map(|i| format!("[{i}]")).collect()
        }
    }

    /// The kernel whose metrics kernel `k`'s are judged against: a series
    /// step against the step before, other kernels against the first.
    pub fn reference(&self, k: usize) -> usize {
        if self.is_series() {
            k.saturating_sub(1)
        } else {
            0
        }
    }

    /// For each kernel after the first (index `k - 1`), its metrics
    /// compared with its [`View::reference`]'s by kharness's statistics.
    pub fn metric_diffs(&self) -> Vec<Vec<MetricDiff>> {
        let ks = self.kernels();
        (1..ks.len())
            .map(|k| {
                let metrics = Metrics::for_mode(self.res.perf_mode);
                compare_kernels(&ks[self.reference(k)], &ks[k], DEFAULT_THRESHOLD, metrics).metrics
            })
            .collect()
    }

    pub fn kernels(&self) -> &'a [KernelRun] {
        &self.res.kernels
    }

    /// A test's records on kernel `k`, by repetition; empty if it did not run there.
    pub fn records(&self, k: usize, id: &str) -> &[&'a TestRecord] {
        self.by_test
            .get(k)
            .and_then(|m| m.get(id))
            .map_or(&[], |v| v.as_slice())
    }

    /// The record that stands for a test on kernel `k`: its worst repetition.
    pub fn worst(&self, k: usize, id: &str) -> Option<&'a TestRecord> {
        self.records(k, id)
            .iter()
            .copied()
            .min_by_key(|r| severity(r.status))
    }

    /// Which of a test's samples `r` is, from 1, in (boot, rep) order: the
    /// `i` of "rep i of n".
    pub fn sample_no(&self, k: usize, id: &str, r: &TestRecord) -> usize {
        self.records(k, id)
            .iter()
            .position(|x| std::ptr::eq(*x, r))
            .map_or(usize::try_from(r.rep).unwrap_or(0), |i| i)
            + 1
    }

    pub fn status(&self, k: usize, id: &str) -> Option<Status> {
        self.worst(k, id).map(|r| r.status)
    }

    /// True when the kernels of the run do not all give a test the same status.
    pub fn status_differs(&self, id: &str) -> bool {
        let sts: Vec<Option<Status>> = (0..self.labels.len()).map(|k| self.status(k, id)).collect();
        sts.windows(2).any(|w| w[0] != w[1])
    }

    /// How many of kernel `k`'s tests ended in each status, by their worst
    /// repetition, in [`TALLY_ORDER`]; tests the guest never reached are
    /// counted by [`View::not_run_ids`] instead.
    pub fn tally(&self, k: usize) -> Vec<(Status, usize)> {
        let kr = &self.kernels()[k];
        TALLY_ORDER
            .iter()
            .map(|&st| {
                let n = self
                    .ids
                    .iter()
                    .filter_map(|id| self.worst(k, id))
                    .filter(|r| r.status == st && !not_run(kr, r))
                    .count();
                (st, n)
            })
            .collect()
    }

    /// Kernel `k`'s tests that the guest stopped before reaching, in run
    /// order.
    pub fn not_run_ids(&self, k: usize) -> Vec<&'a str> {
        let kr = &self.kernels()[k];
        self.ids
            .iter()
            .copied()
            .filter(|id| self.worst(k, id).is_some_and(|r| not_run(kr, r)))
            .collect()
    }

    /// The most repetitions any test had.
    pub fn max_reps(&self) -> usize {
        self.by_test
            .iter()
            .flat_map(|m| m.values())
            .map(Vec::len)
            .max()
            .unwrap_or(0)
    }

    /// Every observation, by test in run order, then by name.
    pub fn observations(&self) -> Vec<ObsRow<'a>> {
        let n = self.labels.len();
        let mut rows: Vec<ObsRow<'a>> = Vec::new();
        for id in &self.ids {
            let mut names: BTreeSet<&'a str> = BTreeSet::new();
            for k in 0..n {
                if let Some(r) = self.records(k, id).first() {
                    names.extend(r.observations.keys().map(String::as_str));
                }
            }
            let observed: Vec<bool> = (0..n)
                .map(|k| {
                    self.records(k, id)
                        .first()
                        .is_some_and(|r| !r.observations.is_empty())
                })
                .collect();
            for name in names {
                let values = (0..n)
                    .map(|k| {
                        self.records(k, id)
                            .first()
                            .and_then(|r| r.observations.get(name))
                    })
                    .collect();
                let changed_in = (0..n).find_map(|k| {
                    self.records(k, id)
                        .first()
                        .and_then(|r| r.changed_in.get(name))
                        .map(String::as_str)
                });
                rows.push(ObsRow {
                    id,
                    name,
                    values,
                    observed: observed.clone(),
                    changed_in,
                });
            }
        }
        rows
    }

    /// Every metric, by test in run order, then in the order the test
    /// reported them.
    pub fn metrics(&self) -> Vec<MetricRow<'a>> {
        let n = self.labels.len();
        let mut rows: Vec<MetricRow<'a>> = Vec::new();
        for id in &self.ids {
            let start = rows.len();
            for k in 0..n {
                for r in self.records(k, id) {
                    for m in &r.metrics {
                        let pos = rows[start..]
                            .iter()
                            .position(|row| row.name == m.name)
                            .map(|p| p + start);
                        let row = match pos {
                            Some(p) => &mut rows[p],
                            None => {
                                rows.push(MetricRow {
                                    id,
                                    name: &m.name,
                                    unit: &m.unit,
                                    samples: vec![Vec::new(); n],
                                });
                                rows.last_mut().expect("just pushed")
                            }
                        };
                        row.samples[k].push(m.value);
                    }
                }
            }
        }
        rows
    }
}

/// The order in which tallies and summary tables list the statuses:
/// passes, then the flaky, then the failures from worst, then skips.
pub(crate) const TALLY_ORDER: [Status; 8] = [
    Status::Pass,
    Status::Flaky,
    Status::Fail,
    Status::Crashed,
    Status::Timeout,
    Status::Warned,
    Status::Error,
    Status::Skip,
];

/// Lower is worse: the order of [`Status::ALL`].
pub(crate) fn severity(s: Status) -> usize {
    Status::ALL
        .iter()
        .position(|x| *x == s)
        .unwrap_or(Status::ALL.len())
}

/// Median, min and max of some samples; `None` when there are none.
pub(crate) fn stats(samples: &[f64]) -> Option<Stats> {
    if samples.is_empty() {
        return None;
    }
    Some(Stats {
        n: samples.len(),
        median: crate::results::stats::median(samples),
        min: samples.iter().copied().fold(f64::INFINITY, f64::min),
        max: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// A test the host wrote for a guest that stopped before reaching it (see
/// `run_pass` in `run.rs` and `harness/RESULTS.md`).
pub(crate) fn not_run(kr: &KernelRun, r: &TestRecord) -> bool {
    kr.outcome != KernelOutcome::Completed
        && r.status == Status::Error
        && r.reason
            .as_deref()
            .is_some_and(|s| s.starts_with("not run"))
}

/// Whether the guest suite started on this kernel: some record is the
/// guest's own, or the host charged a test that was running.
pub(crate) fn suite_started(kr: &KernelRun) -> bool {
    kr.outcome == KernelOutcome::Completed || kr.records.iter().any(|r| !not_run(kr, r))
}

/// The facts about a kernel's test machine its boots recorded (scratch
/// filesystem, perf counters, ...; `boots[].environment`), as one line:
/// `scratch_fs=tmpfs, sw_counters=[...]`, each name once, in name order. A
/// name whose value differed between tests or boots lists every value,
/// `a|b`. `None` when nothing was recorded. These are never observations:
/// no report compares them between kernels.
pub(crate) fn environment_line(kr: &KernelRun) -> Option<String> {
    use std::collections::BTreeMap;
    let mut facts: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for boot in &kr.boots {
        for per_test in boot.environment.values() {
            for (name, value) in per_test {
                let shown = one_line(&value.to_string());
                let values = facts.entry(name.as_str()).or_default();
                if !values.contains(&shown) {
                    values.push(shown);
                }
            }
        }
    }
    if facts.is_empty() {
        return None;
    }
    let parts: Vec<String> = facts
        .iter()
        .map(|(name, values)| format!("{name}={}", values.join("|")))
        .collect();
    Some(parts.join(", "))
}

/// The first 12 hex digits of a SHA-256, as people quote them.
pub(crate) fn short_sha(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

/// Why a record is not a plain pass, in one line: its reason, then how its
/// retries went (`--retries`); `None` when there is nothing to say.
pub(crate) fn why(r: &TestRecord) -> Option<String> {
    match (r.reason.as_deref().map(one_line), r.retry_note()) {
        (Some(w), Some(n)) => Some(format!("{w}; {n}")),
        (w, n) => w.or(n),
    }
}

pub(crate) use crate::support::text::one_line;

/// A number as a person reads it: whole numbers whole, others to three
/// significant decimals at most.
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.fract() == 0.0 || v.abs() >= 100.0 {
        return format!("{v:.0}");
    }
    let s = if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A short form for chart axes: 180464200 -> 180M.
pub(crate) fn si(v: f64) -> String {
    let a = v.abs();
    let (div, suffix) = if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    format!("{}{suffix}", num(v / div))
}

/// For list observations, what each kernel has that the first lacks and
/// the other way round: `6.12 adds BIND; 6.12 lacks X`.
pub(crate) fn list_difference(labels: &[String], values: &[Option<&Value>]) -> Option<String> {
    let sets: Vec<Option<BTreeSet<&str>>> = values
        .iter()
        .map(|v| match v {
            Some(Value::List(l)) => Some(l.iter().map(String::as_str).collect()),
            _ => None,
        })
        .collect();
    let base = sets.first()?.as_ref()?;
    let mut parts = Vec::new();
    for (k, set) in sets.iter().enumerate().skip(1) {
        let set = set.as_ref()?;
        let added: Vec<&str> = set.difference(base).copied().collect();
        let removed: Vec<&str> = base.difference(set).copied().collect();
        if !added.is_empty() {
            parts.push(format!("{} adds {}", labels[k], added.join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("{} lacks {}", labels[k], removed.join(", ")));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The backend that booted the kernels: `vng` for results written before
/// the field existed (see `harness/RESULTS.md`).
pub(crate) fn backend(res: &RunResults) -> &'static str {
    res.backend.map_or("vng", |b| b.as_str())
}

/// How metrics were timed, when the run says.
pub(crate) fn perf_mode(res: &RunResults) -> Option<&'static str> {
    res.perf_mode.map(|m| m.as_str())
}

/// Left-aligned columns two spaces apart, each line prefixed by `indent`;
/// a row of one cell spans the table and does not widen it.
pub(crate) fn table(indent: &str, header: &[String], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let mut width = vec![0usize; n];
    for r in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        if r.len() == 1 && n > 1 {
            continue;
        }
        for (i, c) in r.iter().enumerate().take(n) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let mut line = String::from(indent);
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = width[i].saturating_sub(c.chars().count());
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Wraps words at `width` columns; the first line starts with `first`,
/// the others with `rest`.
pub(crate) fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(first);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(rest);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A run read from JSON the way `kharness report` reads one, so these
    /// tests do not depend on every field of the model.
    pub(crate) fn run(kernels: &[(&str, &str, &[serde_json::Value])]) -> RunResults {
        let ks: Vec<serde_json::Value> = kernels
            .iter()
            .enumerate()
            .map(|(i, (release, outcome, records))| {
                json!({
                    "identity": {
                        "release": release,
                        "banner": format!("{release} (builder) #1 SMP"),
                        "path": format!("/boot/vmlinuz-{release}"),
                        "sha256": format!("{:064x}", i + 1),
                        "size": 1000,
                    },
                    "outcome": outcome,
                    "wall_s": 10.0 + i as f64,
                    "command": format!("vng --run /boot/vmlinuz-{release} --exec 'kharness-guest run'"),
                    "console_log": format!("kernels/{}-{release}/console.log", i + 1),
                    "guest_log": format!("kernels/{}-{release}/guest.log", i + 1),
                    "records": records,
                })
            })
            .collect();
        serde_json::from_value(json!({
            "schema": 1,
            "tool_version": "0.1.0",
            "run_id": "20270101T000000Z",
            "started": "2027-01-01T00:00:00Z",
            "finished": "2027-01-01T00:01:00Z",
            "interrupted": false,
            "accel": {"accel": "tcg", "reason": "test", "cached": false},
            "guest": {"path": "/g", "sha256": format!("{:064x}", 7)},
            "filters": [],
            "kernels": ks,
        }))
        .expect("test run is well formed")
    }

    pub(crate) fn rec(id: &str, status: &str) -> serde_json::Value {
        json!({"id": id, "status": status, "duration_us": 1500})
    }

    #[test]
    fn worst_repetition_stands_for_the_test() {
        let res = run(&[(
            "6.1",
            "completed",
            &[
                json!({"id": "perf.a", "status": "pass", "duration_us": 1}),
                json!({"id": "perf.a", "status": "fail", "reason": "slow", "duration_us": 1, "rep": 1}),
                json!({"id": "perf.a", "status": "pass", "duration_us": 1, "rep": 2}),
                rec("splice.b", "skip"),
            ],
        )]);
        let v = View::new(&res);
        assert_eq!(v.ids, ["perf.a", "splice.b"]);
        assert_eq!(v.status(0, "perf.a"), Some(Status::Fail));
        assert_eq!(v.worst(0, "perf.a").unwrap().rep, 1);
        assert_eq!(v.status(0, "splice.b"), Some(Status::Skip));
        assert_eq!(v.max_reps(), 3);
    }

    #[test]
    fn observations_of_a_test_that_did_not_run_are_not_differences() {
        let obs = |v: i64| json!({"id": "a.x", "status": "pass", "duration_us": 1, "observations": {"n": v, "m": 1}});
        let res = run(&[
            ("6.1", "completed", &[obs(1)]),
            (
                "6.12",
                "crashed",
                &[
                    json!({"id": "a.x", "status": "crashed", "reason": "running when the guest ended: guest crashed", "duration_us": 0}),
                ],
            ),
            (
                "6.13",
                "completed",
                &[
                    json!({"id": "a.x", "status": "pass", "duration_us": 1, "observations": {"n": 1}}),
                ],
            ),
        ]);
        let v = View::new(&res);
        let rows = v.observations();
        let d: Vec<(&str, bool)> = rows.iter().map(|r| (r.name, r.differs())).collect();
        assert_eq!(d, [("m", true), ("n", false)]);
    }

    #[test]
    fn labels_tell_kernels_of_one_release_apart() {
        let res = run(&[
            ("6.12", "completed", &[]),
            ("6.12", "completed", &[]),
            ("6.1", "completed", &[]),
        ]);
        assert_eq!(View::new(&res).labels, ["6.12 (1)", "6.12 (2)", "6.1"]);
    }

    #[test]
    fn metrics_gather_repetitions_per_kernel() {
        let m = |v: f64, rep: u32| {
            json!({"id": "perf.a", "status": "pass", "duration_us": 1, "rep": rep,
                "metrics": [{"name": "throughput", "value": v, "unit": "MiB/s"},
                            {"name": "faults", "value": 0.0, "unit": "count"}]})
        };
        let res = run(&[
            ("6.1", "completed", &[m(10.0, 0), m(12.0, 1), m(11.0, 2)]),
            ("6.12", "completed", &[m(20.0, 0)]),
        ]);
        let v = View::new(&res);
        let rows = v.metrics();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "throughput");
        assert_eq!(rows[0].samples, [vec![10.0, 12.0, 11.0], vec![20.0]]);
        assert!(rows[1].all_zero());
        let s = stats(&rows[0].samples[0]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.max), (3, 11.0, 10.0, 12.0));
        assert_eq!(stats(&[1.0, 4.0]).unwrap().median, 2.5);
        assert_eq!(stats(&[]), None);
    }

    #[test]
    fn tables_align_and_text_wraps() {
        let t = table(
            "  ",
            &["A".into(), "BB".into()],
            &[
                vec!["long name".into(), "x".into()],
                vec!["spanning row that is long".into()],
            ],
        );
        assert_eq!(
            t,
            "  A          BB\n  long name  x\n  spanning row that is long\n"
        );
        assert_eq!(
            wrap("one two three four", 10, "- ", "  "),
            "- one two\n  three\n  four\n"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(180464200.0), "180464200");
        assert_eq!(num(3033.1165), "3033");
        assert_eq!(num(12.3456), "12.3");
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(0.12345), "0.123");
        assert_eq!(num(2.0), "2");
        assert_eq!(si(180464200.0), "180M");
        assert_eq!(si(12500.0), "12.5k");
        assert_eq!(si(950.0), "950");
    }

    /// A boot of kernel `k` of `res` with these environment facts.
    fn add_boot(res: &mut RunResults, k: usize, env: serde_json::Value) {
        let boot = json!({"why": {"kind": "first"}, "started": "2027-01-01T00:00:00.000Z",
            "wall_s": 1.0, "outcome": "completed", "command": "qemu", "console_log": "c",
            "guest_log": "g", "tests": 2, "environment": env});
        res.kernels[k]
            .boots
            .push(serde_json::from_value(boot).unwrap());
    }

    #[test]
    fn environment_is_a_line_per_kernel_and_never_a_difference() {
        let o = |v: bool| {
            json!({"id": "a.one", "status": "pass", "duration_us": 1,
                                 "observations": {"zero_copy": v}})
        };
        let mut res = run(&[
            ("6.1", "completed", &[o(false)]),
            ("6.12", "completed", &[o(false)]),
        ]);
        add_boot(
            &mut res,
            0,
            json!({"a.one": {"scratch_fs": "tmpfs", "sw_counters": true},
                                     "a.two": {"scratch_fs": "tmpfs"}}),
        );
        add_boot(
            &mut res,
            1,
            json!({"a.one": {"scratch_fs": "ext4", "sw_counters": true}}),
        );
        add_boot(&mut res, 1, json!({"a.one": {"scratch_fs": "tmpfs"}}));
        assert_eq!(
            environment_line(&res.kernels[0]).as_deref(),
            Some("scratch_fs=tmpfs, sw_counters=true")
        );
        assert_eq!(
            environment_line(&res.kernels[1]).as_deref(),
            Some("scratch_fs=ext4|tmpfs, sw_counters=true")
        );
        let t = crate::report::terminal(&res, false);
        assert!(
            t.contains("\n6.12: 1 passed, 0 failed, 0 skipped; completed in 11.0s (2 boots)\n    environment: scratch_fs=ext4|tmpfs, sw_counters=true\n"),
            "{t}"
        );
        // The kernels differ in their machines, not in what they observed.
        assert!(
            t.contains("No observation differs between the kernels."),
            "{t}"
        );
        let md = crate::report::markdown(&res);
        assert!(
            md.contains("    environment: scratch_fs=tmpfs, sw_counters=true\n"),
            "{md}"
        );
        assert!(!md.contains("scratch_fs *"), "{md}");
        let page = crate::report::html(&res);
        assert!(
            page.contains("environment: scratch_fs=ext4|tmpfs, sw_counters=true</div>"),
            "{page}"
        );
        let none = run(&[("6.1", "completed", &[rec("a.one", "pass")])]);
        assert_eq!(environment_line(&none.kernels[0]), None);
        assert!(!crate::report::terminal(&none, false).contains("environment:"));
        assert!(!crate::report::html(&none).contains("environment:"));
    }

    #[test]
    fn not_run_is_only_what_the_host_filled_in() {
        let res = run(&[(
            "6.12",
            "crashed",
            &[
                rec("a.one", "pass"),
                json!({"id": "a.two", "status": "crashed", "reason": "running when the guest ended: guest crashed", "duration_us": 0}),
                json!({"id": "a.three", "status": "error", "reason": "not run: the guest stopped first (guest crashed)", "duration_us": 0}),
            ],
        )]);
        let kr = &res.kernels[0];
        let flags: Vec<bool> = kr.records.iter().map(|r| not_run(kr, r)).collect();
        assert_eq!(flags, [false, false, true]);
        assert!(suite_started(kr));
        let early = run(&[(
            "6.12",
            "hung",
            &[
                json!({"id": "a.one", "status": "error", "reason": "not run: the guest stopped first (guest hung)", "duration_us": 0}),
            ],
        )]);
        assert!(!suite_started(&early.kernels[0]));
    }
}
