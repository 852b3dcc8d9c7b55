//! A series run's results read step by step (base, +patch 1, ..., +patch
//! n): what each patch changed compared with the step before, the first
//! patch that changed each test, and whether the series' expected effects
//! (series.toml) happened.

use std::collections::BTreeMap;

use kharness_record::Value;
use serde::Serialize;

use super::RunResults;
use super::compare::{KernelPair, Verdict, compare_kernels};
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
}

/// Compares each step with the one before. `res.kernels[0]` is the base.
pub fn attribute(res: &RunResults, threshold: f64) -> Attribution {
    let with_metrics = true;
    let per_patch: Vec<KernelPair> = res
        .kernels
        .windows(2)
        .map(|w| compare_kernels(&w[0], &w[1], threshold, with_metrics))
        .collect();
    let mut changes = Vec::new();
    for (i, p) in per_patch.iter().enumerate() {
        let patch = i + 1;
        let st = |s: Option<kharness_record::Status>| {
            s.map_or("-".to_owned(), |s| s.as_str().to_owned())
        };
        for c in &p.status_changes {
            changes.push(Change {
                patch,
                test: c.test.clone(),
                what: "status".into(),
                from: st(c.a),
                to: st(c.b),
            });
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
            if matches!(m.verdict, Verdict::Regression | Verdict::Improvement) {
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
    let status = pair.status_changes.iter().find(|c| c.test == e.test);
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
                .filter(|m| m.test == e.test && m.verdict == Verdict::Regression)
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
