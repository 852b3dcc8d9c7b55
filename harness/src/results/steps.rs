//! A series run's results read step by step (base, +patch 1, ..., +patch
//! n): what each patch changed compared with the step before, the first
//! patch that changed each test, and whether the series' expected effects
//! (series.toml) happened.

use std::collections::{BTreeMap, BTreeSet};

use kharness_record::Value;
use serde::Serialize;

use super::RunResults;
use super::compare::{KernelPair, Metrics, Verdict, compare_kernels};
use crate::series::{Better, ChangeKind, Expectation};

/// One thing a patch changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// 1-based patch index: the step that changed it, against the step before.
    pub patch: usize,
    pub test: String,
    /// `status`, `observation NAME` or `metric NAME`.
    pub what: String,
    pub from: String,
    pub to: String,
}

/// The first patch that changed each (test, what).
#[derive(Debug, Clone, Serialize)]
pub struct Attribution {
    /// Step k against step k-1, for k = 1..=n.
    pub per_patch: Vec<KernelPair>,
    pub changes: Vec<Change>,
    pub first_change: BTreeMap<(String, String), usize>,
    /// Tests that turned `warned` at a step only by kernel complaints an
    /// earlier step already showed (same signature: a once-only WARN
    /// firing again in a fresh boot, the same WARN hit by another test).
    /// Not changes of that step; `to` names the complaint and its step.
    pub repeated: Vec<Change>,
}

/// The signatures of every complaint step `k` shows, on the console
/// outside tests too.
fn signatures(res: &RunResults, k: usize) -> BTreeSet<&str> {
    let kr = &res.kernels[k];
    kr.records
        .iter()
        .flat_map(|r| &r.kernel_findings)
        .chain(&kr.console_findings)
        .map(|f| f.signature.as_str())
        .filter(|s| !s.is_empty())
        .collect()
}

/// When `test` is `warned` at step `k` only by complaints an earlier step
/// showed (`shown[j]`: the signatures of step `j`): those signatures and
/// the first step of each.
fn seen_before(
    res: &RunResults,
    shown: &[BTreeSet<&str>],
    k: usize,
    test: &str,
) -> Option<Vec<(String, usize)>> {
    let mut out = Vec::new();
    for r in res.kernels[k].records.iter().filter(|r| r.id == test) {
        for f in &r.kernel_findings {
            let first = (0..k).find(|&j| shown[j].contains(f.signature.as_str()));
            match first {
                Some(j) if !f.signature.is_empty() => out.push((f.signature.clone(), j)),
                _ => return None,
            }
        }
    }
    out.dedup();
    (!out.is_empty()).then_some(out)
}

/// Compares each step with the one before. `res.kernels[0]` is the base.
pub fn attribute(res: &RunResults, threshold: f64) -> Attribution {
    let metrics = Metrics::for_mode(res.perf_mode);
    let per_patch: Vec<KernelPair> = res
        .kernels
        .windows(2)
        .map(|w| compare_kernels(&w[0], &w[1], threshold, metrics))
        .collect();
    let mut changes = Vec::new();
    let mut repeated = Vec::new();
    let shown: Vec<BTreeSet<&str>> = (0..res.kernels.len()).map(|k| signatures(res, k)).collect();
    for (i, p) in per_patch.iter().enumerate() {
        let patch = i + 1;
        let st = |s: Option<kharness_record::Status>| {
            s.map_or("-".to_owned(), |s| s.as_str().to_owned())
        };
        for c in &p.status_changes {
            let change = Change {
                patch,
                test: c.test.clone(),
                what: "status".into(),
                from: st(c.a),
                to: st(c.b),
            };
            let only_complaints = c.b == Some(kharness_record::Status::Warned)
                && matches!(
                    c.a,
                    Some(kharness_record::Status::Pass | kharness_record::Status::Skip)
                );
            match seen_before(res, &shown, patch, &c.test).filter(|_| only_complaints) {
                Some(seen) => {
                    let step = |j: usize| {
                        res.kernels[j]
                            .label
                            .clone()
                            .unwrap_or_else(|| format!("step {j}"))
                    };
                    let names: Vec<String> = seen
                        .iter()
                        .map(|(sig, j)| format!("{sig}, first at {}", step(*j)))
                        .collect();
                    repeated.push(Change {
                        to: format!("warned again ({})", names.join("; ")),
                        ..change
                    });
                }
                None => changes.push(change),
            }
        }
        let v = |x: &Option<Value>| x.as_ref().map_or("-".to_owned(), |v| v.to_string());
        for c in &p.observation_changes {
            changes.push(Change {
                patch,
                test: c.test.clone(),
                what: format!("observation {}", c.name),
                from: v(&c.a),
                to: v(&c.b),
            });
        }
        for m in &p.metrics {
            if m.judged() {
                changes.push(Change {
                    patch,
                    test: m.test.clone(),
                    what: format!("metric {}", m.metric),
                    from: format!("{:.4} {}", m.median_a, m.unit),
                    to: format!("{:.4} {} ({})", m.median_b, m.unit, m.line()),
                });
            }
        }
    }
    let mut first_change = BTreeMap::new();
    for c in &changes {
        first_change
            .entry((c.test.clone(), c.what.clone()))
            .or_insert(c.patch);
    }
    Attribution {
        per_patch,
        changes,
        first_change,
        repeated,
    }
}

/// Whether one expectation of series.toml held.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub patch: usize,
    pub test: String,
    pub expected: String,
    pub met: bool,
    pub actual: String,
}

/// Checks every expectation against what the steps showed.
pub fn check_expectations(att: &Attribution, expect: &[Expectation]) -> Vec<Check> {
    expect.iter().map(|e| check_one(att, e)).collect()
}

fn check_one(att: &Attribution, e: &Expectation) -> Check {
    let Some(pair) = att.per_patch.get(e.patch.wrapping_sub(1)) else {
        return Check {
            patch: e.patch,
            test: e.test.clone(),
            expected: format!("{:?}", e.change),
            met: false,
            actual: format!(
                "no step for patch {} (the series did not get that far)",
                e.patch
            ),
        };
    };
    // A complaint an earlier step showed is not this patch's change.
    let repeat = att
        .repeated
        .iter()
        .any(|r| r.patch == e.patch && r.test == e.test);
    let status = pair
        .status_changes
        .iter()
        .find(|c| c.test == e.test && !repeat);
    let obs = |name: &str| {
        pair.observation_changes
            .iter()
            .find(|c| c.test == e.test && c.name == name)
    };
    let show = |v: &Option<Value>| v.as_ref().map_or("-".to_owned(), |v| v.to_string());
    let (expected, met, actual) = match e.change {
        ChangeKind::Status => {
            let to = e.to.as_ref().map(|v| v.to_string()).unwrap_or_default();
            let from = e.from.as_ref().map(|v| v.to_string());
            let expected = format!(
                "status {} -> {to}",
                from.clone().unwrap_or_else(|| "*".into())
            );
            match status {
                Some(c) => {
                    let got_from = c.a.map_or("-", |s| s.as_str());
                    let got_to = c.b.map_or("-", |s| s.as_str());
                    let met = got_to == to && from.as_deref().is_none_or(|f| f == got_from);
                    (expected, met, format!("status {got_from} -> {got_to}"))
                }
                None => (expected, false, "status unchanged".into()),
            }
        }
        ChangeKind::Observation => {
            let name = e.observation.clone().unwrap_or_default();
            let expected = format!("observation {name}: {} -> {}", show(&e.from), show(&e.to));
            match obs(&name) {
                Some(c) => {
                    let met = c.b == e.to && (e.from.is_none() || c.a == e.from);
                    (
                        expected,
                        met,
                        format!("observation {name}: {} -> {}", show(&c.a), show(&c.b)),
                    )
                }
                None => (expected, false, format!("observation {name} unchanged")),
            }
        }
        ChangeKind::MetricRegression => {
            let name = e.metric.clone().unwrap_or_default();
            let min = e.min_percent.unwrap_or(0.0);
            let expected = format!("metric {name} worse by at least {min}%");
            match pair
                .metrics
                .iter()
                .find(|m| m.test == e.test && m.metric == name)
            {
                Some(m) => {
                    let worse_pct = match e.better {
                        Better::Higher => -100.0 * m.rel_change,
                        Better::Lower => 100.0 * m.rel_change,
                    };
                    let in_range =
                        worse_pct >= min && e.max_percent.is_none_or(|max| worse_pct <= max);
                    let met = in_range && m.verdict == Verdict::Regression;
                    (expected, met, format!("{} [{:?}]", m.line(), m.verdict))
                }
                None => (
                    expected,
                    false,
                    format!("no samples of metric {name} on both sides"),
                ),
            }
        }
        ChangeKind::Unchanged => {
            let mut moved = Vec::new();
            if let Some(c) = status {
                moved.push(format!(
                    "status {} -> {}",
                    c.a.map_or("-", |s| s.as_str()),
                    c.b.map_or("-", |s| s.as_str())
                ));
            }
            match &e.observation {
                Some(name) => {
                    if let Some(c) = obs(name) {
                        moved.push(format!(
                            "observation {name}: {} -> {}",
                            show(&c.a),
                            show(&c.b)
                        ));
                    }
                }
                None => {
                    for c in pair.observation_changes.iter().filter(|c| c.test == e.test) {
                        moved.push(format!(
                            "observation {}: {} -> {}",
                            c.name,
                            show(&c.a),
                            show(&c.b)
                        ));
                    }
                }
            }
            for m in pair
                .metrics
                .iter()
                .filter(|m| m.test == e.test && m.is_regression())
            {
                moved.push(m.line());
            }
            let met = moved.is_empty();
            (
                "unchanged".to_owned(),
                met,
                if met {
                    "unchanged".into()
                } else {
                    moved.join("; ")
                },
            )
        }
    };
    Check {
        patch: e.patch,
        test: e.test.clone(),
        expected,
        met,
        actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A series run of `steps`, each a list of (test, status, complaint
    /// signatures), read from JSON as `kharness report` reads one.
    fn series(steps: &[&[(&str, &str, &[&str])]]) -> RunResults {
        let kernels: Vec<serde_json::Value> = steps
            .iter()
            .enumerate()
            .map(|(i, recs)| {
                let records: Vec<serde_json::Value> = recs
                    .iter()
                    .map(|(id, status, sigs)| {
                        let findings: Vec<serde_json::Value> = sigs
                            .iter()
                            .map(|s| json!({"kind": "warn", "fatal": false, "excerpt": "WARNING: ...", "signature": s}))
                            .collect();
                        json!({"id": id, "status": status, "duration_us": 1, "kernel_findings": findings})
                    })
                    .collect();
                json!({
                    "label": if i == 0 { "base".to_owned() } else { format!("+{i}") },
                    "identity": {"release": "6.12.117", "banner": "b", "path": format!("/k{i}"),
                                 "sha256": format!("{:064x}", i), "size": 1},
                    "outcome": "completed", "wall_s": 1.0, "command": "x",
                    "console_log": "c", "guest_log": "g", "records": records,
                })
            })
            .collect();
        serde_json::from_value(json!({
            "schema": 1, "tool_version": "0.1.0", "run_id": "r", "started": "2027-01-01T00:00:00Z",
            "interrupted": false, "accel": {"accel": "tcg", "reason": "t"},
            "guest": {"path": "/g", "sha256": "00"}, "filters": [], "kernels": kernels,
        }))
        .expect("a well-formed run")
    }

    #[test]
    fn a_complaint_is_charged_to_the_first_step_that_shows_its_signature() {
        const WARN: &[&str] = &["WARNING in do_tee"];
        let res = series(&[
            &[
                ("tee.duplicate_content", "pass", &[]),
                ("io_uring.tee_content", "pass", &[]),
            ],
            // +1 adds the WARN: the first tee of the boot hits it.
            &[
                ("tee.duplicate_content", "warned", WARN),
                ("io_uring.tee_content", "pass", &[]),
            ],
            &[
                ("tee.duplicate_content", "warned", WARN),
                ("io_uring.tee_content", "pass", &[]),
            ],
            // +3 crashes a later test; in the fresh boot the once-only
            // WARN fires again, in the first tee of that boot.
            &[
                ("tee.duplicate_content", "warned", WARN),
                ("io_uring.tee_content", "warned", WARN),
            ],
        ]);
        let att = attribute(&res, 0.02);
        let status: Vec<(usize, &str)> = att
            .changes
            .iter()
            .filter(|c| c.what == "status")
            .map(|c| (c.patch, c.test.as_str()))
            .collect();
        assert_eq!(status, [(1, "tee.duplicate_content")]);
        assert_eq!(att.repeated.len(), 1, "{:?}", att.repeated);
        assert_eq!(att.repeated[0].patch, 3);
        assert_eq!(att.repeated[0].test, "io_uring.tee_content");
        assert_eq!(
            att.repeated[0].to,
            "warned again (WARNING in do_tee, first at +1)"
        );
    }

    #[test]
    fn a_new_signature_or_an_unnamed_complaint_is_a_change_of_its_step() {
        const OLD: &[&str] = &["WARNING in do_tee"];
        let res = series(&[
            &[
                ("tee.a", "pass", &[]),
                ("splice.x", "pass", &[]),
                ("vmsplice.z", "pass", &[]),
            ],
            &[
                ("tee.a", "warned", OLD),
                ("splice.x", "pass", &[]),
                ("vmsplice.z", "pass", &[]),
            ],
            &[
                ("tee.a", "warned", OLD),
                // Another WARN as well as the old one: new.
                (
                    "splice.x",
                    "warned",
                    &["WARNING in do_tee", "WARNING in splice_to_pipe"],
                ),
                ("vmsplice.z", "pass", &[]),
            ],
            // A complaint without a signature (older results) is never
            // taken for a repeat, even beside a known one.
            &[
                ("tee.a", "pass", &[]),
                (
                    "splice.x",
                    "warned",
                    &["WARNING in do_tee", "WARNING in splice_to_pipe"],
                ),
                ("vmsplice.z", "warned", &["WARNING in do_tee", ""]),
            ],
        ]);
        let att = attribute(&res, 0.02);
        let status: Vec<(usize, &str, &str)> = att
            .changes
            .iter()
            .filter(|c| c.what == "status")
            .map(|c| (c.patch, c.test.as_str(), c.to.as_str()))
            .collect();
        assert_eq!(
            status,
            [
                (1, "tee.a", "warned"),
                (2, "splice.x", "warned"),
                (3, "tee.a", "pass"),
                (3, "vmsplice.z", "warned"),
            ]
        );
        assert!(att.repeated.is_empty());
    }
}
