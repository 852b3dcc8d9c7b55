//! `junit.xml`: one testsuite per kernel, for CI dashboards (GitLab,
//! Jenkins, GitHub test reporters).
//!
//! A test with several repetitions is one testcase judged by its worst
//! repetition; its observations and metrics are properties. A retried test
//! (`--retries`) keeps its failed attempts: a flaky one is a success with
//! a `flakyFailure`/`flakyError` per failed attempt (the convention of
//! Maven Surefire that GitLab and Jenkins read), one that failed every
//! time a failure with `rerunFailure`/`rerunError` for the attempts before
//! the last. A kernel that
//! did not complete says why in the suite's properties and `system-err`.

use std::time::Duration;

use kharness_record::{Status, TestRecord};
use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::view::{self, View};
use crate::results::{KernelOutcome, RunResults};

/// Renders `junit.xml`.
pub fn junit(res: &RunResults) -> Result<String, quick_junit::SerializeError> {
    let v = View::new(res);
    let mut report = Report::new(format!("kharness {}", res.run_id));
    for (k, kr) in res.kernels.iter().enumerate() {
        let mut suite = TestSuite::new(v.titles[k].as_str());
        suite.set_time(secs(kr.wall_s));
        suite
            .extra
            .insert("timestamp".into(), res.started.as_str().into());
        let id = &kr.identity;
        suite.add_properties([
            Property::new("kernel.release", id.release.as_str()),
            Property::new("kernel.banner", id.banner.as_str()),
            Property::new("kernel.path", id.path.to_string_lossy().as_ref()),
            Property::new("kernel.sha256", id.sha256.as_str()),
            Property::new("outcome", kr.outcome.as_str()),
            Property::new("accel", res.accel.accel.as_str()),
            Property::new("guest.sha256", res.guest.sha256.as_str()),
            Property::new("console_log", kr.console_log.as_str()),
            Property::new("command", kr.command.as_str()),
        ]);
        if let Some(st) = &v.steps[k] {
            suite.add_property(Property::new("series.step", st.label()));
            suite.add_property(Property::new(
                "series.patchset_hash",
                st.patchset_hash.as_str(),
            ));
        }
        if let Some(code) = kr.vm_exit {
            suite.add_property(Property::new("vm_exit", code.to_string()));
        }
        if kr.outcome != KernelOutcome::Completed || !kr.console_findings.is_empty() {
            let mut err = String::new();
            if let Some(d) = &kr.detail {
                err.push_str(&format!("{}: {d}\n", kr.outcome.as_str()));
            }
            for f in &kr.console_findings {
                err.push_str(&format!(
                    "\nkernel {} on the console:\n{}\n",
                    f.kind, f.excerpt
                ));
            }
            suite.set_system_err(err);
        }
        for tid in &v.ids {
            let recs = v.records(k, tid);
            let Some(worst) = v.worst(k, tid) else {
                continue;
            };
            let mut case = TestCase::new(
                *tid,
                case_status(worst, v.sample_no(k, tid, worst), recs.len()),
            );
            case.set_classname(v.titles[k].as_str());
            // Retried attempts took time too.
            case.set_time(Duration::from_micros(
                recs.iter()
                    .flat_map(|r| {
                        std::iter::once(r.duration_us)
                            .chain(r.attempts.iter().map(|a| a.duration_us))
                    })
                    .sum(),
            ));
            add_record_properties(&mut case, recs);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string()
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or_default()
}

fn case_status(worst: &TestRecord, sample: usize, reps: usize) -> TestCaseStatus {
    let why = worst
        .reason
        .as_deref()
        .map(view::one_line)
        .unwrap_or_default();
    let message = if reps > 1 && worst.status != Status::Pass {
        format!("rep {sample} of {reps}: {why}")
    } else {
        why
    };
    let mut st = match worst.status {
        Status::Pass => return TestCaseStatus::success(),
        Status::Flaky => {
            let mut st = TestCaseStatus::success();
            st.add_reruns(reruns(worst));
            return st;
        }
        Status::Skip => TestCaseStatus::skipped(),
        // The kernel complained while the test ran: a kernel failure.
        Status::Fail | Status::Warned => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Status::Error | Status::Timeout | Status::Crashed => {
            TestCaseStatus::non_success(NonSuccessKind::Error)
        }
    };
    st.set_type(worst.status.as_str());
    if !message.is_empty() {
        st.set_message(message);
    }
    st.add_reruns(reruns(worst));
    st
}

/// The failed attempts of a retried test, as JUnit reruns.
fn reruns(r: &TestRecord) -> Vec<TestRerun> {
    r.attempts
        .iter()
        .map(|a| {
            let kind = if a.status == Status::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut rerun = TestRerun::new(kind);
            rerun.set_type(a.status.as_str());
            rerun.set_time(Duration::from_micros(a.duration_us));
            if let Some(why) = &a.reason {
                rerun.set_message(view::one_line(why));
            }
            rerun
        })
        .collect()
}

/// Observations of the first repetition (and of later ones where they
/// differ), then each metric with its samples.
fn add_record_properties(case: &mut TestCase, recs: &[&TestRecord]) {
    let Some(first) = recs.first() else {
        return;
    };
    for (name, value) in &first.observations {
        case.add_property(Property::new(format!("obs.{name}"), value.to_string()));
    }
    for r in recs.iter().skip(1) {
        for (name, value) in &r.observations {
            if first.observations.get(name) != Some(value) {
                case.add_property(Property::new(
                    format!("obs.{name}.{}", r.sample()),
                    value.to_string(),
                ));
            }
        }
    }
    let mut names: Vec<(&str, &str)> = Vec::new();
    for r in recs {
        for m in &r.metrics {
            if !names.iter().any(|(n, _)| *n == m.name) {
                names.push((&m.name, &m.unit));
            }
        }
    }
    for (name, unit) in names {
        let samples: Vec<f64> = recs
            .iter()
            .flat_map(|r| r.metrics.iter().filter(|m| m.name == name))
            .map(|m| m.value)
            .collect();
        let text = match view::stats(&samples) {
            Some(s) if s.n > 1 => {
                let all: Vec<String> = samples.iter().map(|x| view::num(*x)).collect();
                format!(
                    "{} {unit} (median of {}: {})",
                    view::num(s.median),
                    s.n,
                    all.join(", ")
                )
            }
            Some(s) => format!("{} {unit}", view::num(s.median)),
            None => continue,
        };
        case.add_property(Property::new(format!("metric.{name}"), text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::tests::{rec, run};
    use serde_json::json;

    #[test]
    fn statuses_map_to_junit_elements() {
        let res = run(&[(
            "6.1",
            "completed",
            &[
                rec("a.pass", "pass"),
                json!({"id": "a.fail", "status": "fail", "reason": "short <write> & more", "duration_us": 2}),
                json!({"id": "a.skip", "status": "skip", "reason": "no io_uring", "duration_us": 2}),
                json!({"id": "a.err", "status": "error", "reason": "setup", "duration_us": 2}),
                json!({"id": "a.crash", "status": "crashed", "reason": "oops", "duration_us": 2}),
            ],
        )]);
        let xml = junit(&res).unwrap();
        assert!(
            xml.contains(r#"<testsuite name="6.1" tests="5" disabled="1" errors="2" failures="1""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="short &lt;write&gt; &amp; more" type="fail"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<skipped message="no io_uring" type="skip"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<error message="oops" type="crashed"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="a.pass" classname="6.1" time="0.002">"#),
            "{xml}"
        );
    }

    #[test]
    fn repetitions_make_one_case_with_metric_samples() {
        let m = |rep: u32, st: &str, v: f64| {
            json!({"id": "perf.a", "status": st, "reason": "slow", "duration_us": 1000, "rep": rep,
                   "observations": {"mode": if rep == 2 { "b" } else { "a" }},
                   "metrics": [{"name": "throughput", "value": v, "unit": "MiB/s"}]})
        };
        let res = run(&[(
            "6.12",
            "completed",
            &[m(0, "pass", 10.0), m(1, "fail", 12.5), m(2, "pass", 11.0)],
        )]);
        let xml = junit(&res).unwrap();
        assert_eq!(xml.matches("<testcase ").count(), 1, "{xml}");
        assert!(xml.contains(r#"message="rep 2 of 3: slow""#), "{xml}");
        assert!(xml.contains(r#"<property name="metric.throughput" value="11 MiB/s (median of 3: 10, 12.5, 11)"/>"#), "{xml}");
        assert!(
            xml.contains(r#"<property name="obs.mode" value="a"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<property name="obs.mode.rep2" value="b"/>"#),
            "{xml}"
        );
        assert!(xml.contains(r#"time="0.003""#), "{xml}");
    }

    #[test]
    fn flaky_tests_are_successes_with_flaky_failures_and_retried_failures_keep_reruns() {
        let res = run(&[(
            "6.1",
            "completed",
            &[
                json!({"id": "a.flaky", "status": "flaky", "duration_us": 2,
                       "attempts": [{"status": "fail", "reason": "first <try>", "duration_us": 1000},
                                    {"status": "timeout", "duration_us": 2000}]}),
                json!({"id": "a.bad", "status": "fail", "reason": "third", "duration_us": 2,
                       "attempts": [{"status": "fail", "reason": "first", "duration_us": 1}]}),
            ],
        )]);
        let xml = junit(&res).unwrap();
        assert!(
            xml.contains(r#"<testsuite name="6.1" tests="2" disabled="0" errors="0" failures="1""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<flakyFailure time="0.001" message="first &lt;try&gt;" type="fail">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<flakyError time="0.002" type="timeout">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="a.flaky" classname="6.1" time="0.003">"#),
            "retries count in the case's time: {xml}"
        );
        assert!(
            xml.contains(r#"<rerunFailure time="0.000" message="first" type="fail">"#),
            "{xml}"
        );
    }

    #[test]
    fn a_crashed_kernel_says_why_in_system_err() {
        let mut res = run(&[("6.12", "crashed", &[rec("a.one", "pass")])]);
        res.kernels[0].detail = Some("kernel oops: Oops: int3".into());
        let xml = junit(&res).unwrap();
        assert!(
            xml.contains("<system-err>guest crashed: kernel oops: Oops: int3"),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<property name="outcome" value="guest crashed"/>"#),
            "{xml}"
        );
    }
}
