//! `--retries` end to end: a real VM (qemu backend, Debian's 6.12 kernel)
//! runs a guest test that fails once and passes on its retry; every report
//! of the run says flaky.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{kharness, latest_run, results_json};

const K612: &str = "/boot/vmlinuz-6.12.107+deb12-amd64";

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn a_test_that_passes_on_a_retry_is_flaky_in_every_report() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--backend",
        "qemu",
        "--kernel",
        K612,
        "--retries",
        "2",
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount.
        "--perf-mode",
        "wallclock",
        "--filter",
        "selftest.flaky_once",
        "--timeout",
        "5m",
    ]);
    // Flaky is not a failure of the run.
    r.expect_code(0);
    let stdout = r.stdout();
    assert!(stdout.contains("1 flaky"), "{stdout}");
    let run = latest_run(out.path());
    let res = results_json(&run);
    let rec = &res["kernels"][0]["records"][0];
    assert_eq!(rec["id"], "selftest.flaky_once");
    assert_eq!(rec["status"], "flaky", "{rec}");
    assert_eq!(rec["attempts"][0]["status"], "fail", "{rec}");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["retries"], 2);
    let read = |f: &str| std::fs::read_to_string(run.join(f)).unwrap();
    assert!(
        read("junit.xml").contains("<flakyFailure"),
        "{}",
        read("junit.xml")
    );
    assert!(
        read("results.ktap").contains("ok 1 selftest.flaky_once # flaky: passed on attempt 2"),
        "{}",
        read("results.ktap")
    );
    assert!(read("kcidb.json").contains("\"attempts\""));
    assert!(read("report.md").contains("Flaky (failed, then passed on a retry"));
    assert!(read("report.html").contains("st-flaky"));
}
