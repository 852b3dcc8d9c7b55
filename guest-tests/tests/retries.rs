//! `--retries` through the real guest binary, run natively: a test that
//! fails once and then passes is reported flaky on every channel.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use kharness_record::{Event, Status, TestRecord};

struct GuestRun {
    code: Option<i32>,
    ktap: String,
    records: Vec<TestRecord>,
}

fn guest_run(args: &[&str]) -> GuestRun {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("records.jsonl");
    let scratch = dir.path().join("scratch");
    let out = Command::new(env!("CARGO_BIN_EXE_kharness-guest"))
        .arg("run")
        .arg("--results")
        .arg(&results)
        .arg("--scratch")
        .arg(&scratch)
        .args(args)
        .output()
        .unwrap();
    let ktap = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = std::fs::read_to_string(&results).unwrap_or_default();
    let (events, bad) = kharness_record::parse_events(&text);
    assert!(bad.is_empty(), "{bad:?}");
    let records = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Result(r) => Some(r),
            _ => None,
        })
        .collect();
    GuestRun {
        code: out.status.code(),
        ktap: format!("{ktap}{}", String::from_utf8_lossy(&out.stderr)),
        records,
    }
}

#[test]
fn a_test_that_passes_on_a_retry_is_flaky_not_passed() {
    let r = guest_run(&["--retries", "2", "selftest.flaky_once"]);
    assert_eq!(r.code, Some(0), "flaky is not a failure:\n{}", r.ktap);
    assert_eq!(r.records.len(), 1, "{:?}", r.records);
    let rec = &r.records[0];
    assert_eq!(rec.status, Status::Flaky, "{rec:?}");
    assert_eq!(rec.attempts.len(), 1, "one failed attempt: {rec:?}");
    assert_eq!(rec.attempts[0].status, Status::Fail);
    assert_eq!(
        rec.attempts[0].reason.as_deref(),
        Some("first attempt fails on purpose")
    );
    assert!(
        r.ktap.contains(
            "ok 1 selftest.flaky_once # flaky: passed on attempt 2 after attempt 1 fail: first attempt fails on purpose"
        ),
        "{}",
        r.ktap
    );
}

#[test]
fn without_retries_the_same_test_fails() {
    let r = guest_run(&["selftest.flaky_once"]);
    assert_eq!(r.code, Some(1), "{}", r.ktap);
    assert_eq!(r.records[0].status, Status::Fail);
    assert!(r.records[0].attempts.is_empty());
}

#[test]
fn a_test_that_keeps_failing_is_a_failure_with_its_earlier_attempts() {
    // selftest.hang outlives its one-second limit every time: three
    // timeouts, the last one the record, the first two its attempts.
    let r = guest_run(&["--retries", "2", "--test-timeout", "1", "selftest.hang"]);
    assert_eq!(r.code, Some(1), "{}", r.ktap);
    let rec = &r.records[0];
    assert_eq!(rec.status, Status::Timeout, "{rec:?}");
    assert_eq!(
        rec.attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        [Status::Timeout, Status::Timeout]
    );
}
