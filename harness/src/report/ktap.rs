//! `results.ktap`: KTAP version 1 (Documentation/dev-tools/ktap.rst), one
//! subtest per kernel, the guest's tests inside it.
//!
//! Test lines are the ones the guest prints itself (`ktap_result_line` of
//! the record crate). A test run several times (`--reps`) becomes a subtest
//! of its own, one line per repetition. Observations and metrics are
//! diagnostic lines right before the result line they belong to, as the
//! specification suggests; a kernel that did not complete says why in the
//! directive of its own result line.

use std::fmt::Write;

use kharness_record::{TestRecord, ktap_result_line};

use super::view::{self, View};
use crate::results::{KernelOutcome, KernelRun, RunResults};

/// One level of KTAP indentation.
const INDENT: &str = "  ";

/// Renders `results.ktap`.
pub fn ktap(res: &RunResults) -> String {
    let v = View::new(res);
    let mut s = String::new();
    s.push_str("KTAP version 1\n");
    let _ = writeln!(
        s,
        "# kharness {} run {} started {}, accelerator {}",
        res.tool_version,
        res.run_id,
        res.started,
        res.accel.accel.as_str()
    );
    let _ = writeln!(s, "1..{}", res.kernels.len());
    for (k, kr) in res.kernels.iter().enumerate() {
        kernel_block(&mut s, &v, k, kr);
    }
    s
}

fn kernel_block(s: &mut String, v: &View<'_>, k: usize, kr: &KernelRun) {
    let label = description(&v.titles[k]);
    let p = INDENT;
    let ids: Vec<&str> = v
        .ids
        .iter()
        .copied()
        .filter(|id| !v.records(k, id).is_empty())
        .collect();
    let _ = writeln!(s, "{p}KTAP version 1");
    let _ = writeln!(s, "{p}# Subtest: {label}");
    // Banners and paths are the kernel's and the user's text: a line
    // break in one would break the document.
    let _ = writeln!(s, "{p}# kernel: {}", view::one_line(&kr.identity.banner));
    let _ = writeln!(
        s,
        "{p}# image: {} sha256 {}",
        view::one_line(&kr.identity.path.to_string_lossy()),
        kr.identity.sha256
    );
    let _ = writeln!(s, "{p}1..{}", ids.len());
    for (n, id) in ids.iter().enumerate() {
        let recs = v.records(k, id);
        match recs {
            [one] => {
                diagnostics(s, p, one);
                let _ = writeln!(s, "{p}{}", ktap_result_line(n + 1, one));
            }
            reps => {
                let q = format!("{p}{INDENT}");
                let _ = writeln!(s, "{q}KTAP version 1");
                let _ = writeln!(s, "{q}# Subtest: {id}");
                let _ = writeln!(s, "{q}1..{}", reps.len());
                for (i, r) in reps.iter().enumerate() {
                    diagnostics(s, &q, r);
                    let named = TestRecord {
                        id: format!("{id}.{}", r.sample()),
                        ..(*r).clone()
                    };
                    let _ = writeln!(s, "{q}{}", ktap_result_line(i + 1, &named));
                }
                let worst = v.worst(k, id).expect("a test with records has a worst one");
                let _ = writeln!(s, "{p}{}", ktap_result_line(n + 1, worst));
            }
        }
    }
    for f in &kr.console_findings {
        let _ = writeln!(s, "{p}# kernel {} on the console:", f.kind);
        for line in f.excerpt.lines() {
            let _ = writeln!(s, "{p}#   {}", view::one_line(line));
        }
    }
    let bad = kr.records.iter().filter(|r| r.status.is_bad()).count();
    let line = match kr.outcome {
        KernelOutcome::Completed if bad == 0 => format!("ok {} {label}", k + 1),
        KernelOutcome::Completed => {
            format!(
                "not ok {} {label} # FAIL {bad} test result(s) not ok",
                k + 1
            )
        }
        other => {
            let directive = match other {
                KernelOutcome::Crashed => "CRASHED",
                KernelOutcome::Hung => "TIMEOUT",
                _ => "ERROR",
            };
            let why = kr
                .detail
                .as_deref()
                .and_then(|d| d.lines().next())
                .map(|d| format!(": {}", view::one_line(d)))
                .unwrap_or_default();
            format!(
                "not ok {} {label} # {directive} {}{why}",
                k + 1,
                other.as_str()
            )
        }
    };
    let _ = writeln!(s, "{line}");
}

/// Observations and metrics of one record as diagnostic lines.
fn diagnostics(s: &mut String, p: &str, r: &TestRecord) {
    for (name, value) in &r.observations {
        let _ = writeln!(s, "{p}# {name} = {}", view::one_line(&value.to_string()));
    }
    for m in &r.metrics {
        let _ = writeln!(s, "{p}# {} = {} {}", m.name, view::num(m.value), m.unit);
    }
}

/// A KTAP test description is one line, not empty, and may not hold `#`,
/// which starts a directive.
fn description(s: &str) -> String {
    let d = view::one_line(s).replace('#', "_");
    if d.is_empty() {
        "unnamed".to_owned()
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::tests::{rec, run};
    use serde_json::json;

    #[test]
    fn kernels_nest_and_repetitions_nest_again() {
        let perf = |rep: u32| {
            json!({"id": "perf.a", "status": "pass", "duration_us": 5, "rep": rep,
                   "metrics": [{"name": "throughput", "value": 10.5, "unit": "MiB/s"}]})
        };
        let mut res = run(&[
            (
                "6.1",
                "completed",
                &[
                    json!({"id": "a.one", "status": "pass", "duration_us": 1, "observations": {"errno": "EINVAL"}}),
                    perf(0),
                    perf(1),
                ],
            ),
            (
                "6.12",
                "crashed",
                &[
                    rec("a.one", "pass"),
                    json!({"id": "perf.a", "status": "crashed", "reason": "running when the guest ended: guest crashed", "duration_us": 0}),
                ],
            ),
        ]);
        res.kernels[1].detail = Some("kernel oops: Oops: int3\nmore".into());
        let text = ktap(&res);
        let expected = "\
KTAP version 1
# kharness 0.1.0 run 20270101T000000Z started 2027-01-01T00:00:00Z, accelerator tcg
1..2
  KTAP version 1
  # Subtest: 6.1
  # kernel: 6.1 (builder) #1 SMP
  # image: /boot/vmlinuz-6.1 sha256 0000000000000000000000000000000000000000000000000000000000000001
  1..2
  # errno = EINVAL
  ok 1 a.one
    KTAP version 1
    # Subtest: perf.a
    1..2
    # throughput = 10.5 MiB/s
    ok 1 perf.a.rep0
    # throughput = 10.5 MiB/s
    ok 2 perf.a.rep1
  ok 2 perf.a
ok 1 6.1
  KTAP version 1
  # Subtest: 6.12
  # kernel: 6.12 (builder) #1 SMP
  # image: /boot/vmlinuz-6.12 sha256 0000000000000000000000000000000000000000000000000000000000000002
  1..2
  ok 1 a.one
  not ok 2 perf.a # CRASHED running when the guest ended: guest crashed
not ok 2 6.12 # CRASHED guest crashed: kernel oops: Oops: int3
";
        assert_eq!(text, expected);
    }

    #[test]
    fn descriptions_lose_hashes() {
        assert_eq!(description("6.12 #2"), "6.12 _2");
        // Found by fuzz_reports: a line break in a name broke the document.
        assert_eq!(description("a\nb\u{1c}c"), "a b c");
        assert_eq!(description(" "), "unnamed");
    }

    #[test]
    fn flaky_tests_stay_ok_with_a_flaky_note() {
        let res = run(&[(
            "6.1",
            "completed",
            &[json!({"id": "a.flaky", "status": "flaky", "duration_us": 2,
                "attempts": [{"status": "fail", "reason": "first", "duration_us": 1}]})],
        )]);
        let text = ktap(&res);
        assert!(
            text.contains("  ok 1 a.flaky # flaky: passed on attempt 2 after attempt 1 fail: first\nok 1 6.1\n"),
            "{text}"
        );
    }
}
