//! A kernel complaint during a test marks that test, even when userspace
//! saw it pass: here a real taint change in a real VM (Debian's 6.12
//! kernel, qemu backend). The console-WARN half runs against a patched
//! kernel in `crash_and_hang.rs`.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{kharness, latest_run, results_json};

const K612: &str = "/boot/vmlinuz-6.12.107+deb12-amd64";

fn record<'a>(res: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    res["kernels"][0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record for {id}: {res}"))
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn a_taint_change_marks_only_the_test_that_caused_it() {
    let out = tempfile::tempdir().unwrap();
    let r = kharness(&[
        "run",
        "--out",
        out.path().to_str().unwrap(),
        "--backend",
        "qemu",
        "--kernel",
        K612,
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount.
        "--perf-mode",
        "wallclock",
        "--filter",
        "tee.duplicate_content",
        "--filter",
        "splice.from_dev_zero",
        "--filter",
        "selftest.taint_user",
    ]);
    // Userspace saw three passes; the kernel's taint says otherwise.
    r.expect_code(1);
    let run = latest_run(out.path());
    let res = results_json(&run);
    assert_eq!(res["kernels"][0]["outcome"], "completed");
    let taint = record(&res, "selftest.taint_user");
    assert_eq!(taint["status"], "warned", "{taint}");
    let found = &taint["kernel_findings"][0];
    assert_eq!(found["kind"], "taint", "{taint}");
    assert_eq!(
        found["excerpt"],
        "tainted during the test: 0 -> 64, new: U (taint requested by userspace)"
    );
    for id in ["tee.duplicate_content", "splice.from_dev_zero"] {
        let rec = record(&res, id);
        assert_eq!(rec["status"], "pass", "{rec}");
        assert!(rec.get("kernel_findings").is_none(), "{rec}");
    }
    // The console shows which test ran when.
    let console =
        std::fs::read_to_string(run.join(res["kernels"][0]["console_log"].as_str().unwrap()))
            .unwrap();
    assert!(
        console.contains("kharness: begin selftest.taint_user rep 0")
            && console.contains("kharness: end selftest.taint_user rep 0 warned"),
        "{console}"
    );
    let ktap = std::fs::read_to_string(run.join("results.ktap")).unwrap();
    assert!(
        ktap.lines()
            .any(|l| l.trim_start().starts_with("not ok")
                && l.contains("selftest.taint_user # WARNED")),
        "{ktap}"
    );
    assert!(r.stdout().contains("1 warned"), "{}", r.stdout());
}
