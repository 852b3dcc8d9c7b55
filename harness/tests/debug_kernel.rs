//! Debug kernels end to end: `kharness series --debug` builds Debian's real
//! 6.12 source with KASAN, lockdep, UBSAN and KFENCE, and
//! kernel-patches/debug-use-after-free (a use-after-free no test sees from
//! userspace) is caught: KASAN's report becomes a complaint charged to the
//! test that ran into it and to the patch that brought it, in every
//! report. Without `--debug` the same series runs clean
//! (`ci/bench-debug.sh` shows both). 33 s with both debug kernels cached
//! (wall-clock timing, the --debug default); a cold run first builds the
//! debug base from scratch (1465 s on the shared 2-core machine).

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    kharness, latest_run, results_json, series_dir, series_json, step, unmet_expectations,
};

const TREE: &str = "/usr/src/linux-source-6.12";
/// What KASAN's report of the patch's bug is called, on every boot.
const SIGNATURE: &str = "KASAN: slab-use-after-free Read in pipe_resize_ring";
/// The test whose F_SETPIPE_SZ moves buffers, so reads the freed ring.
const HIT: &str = "splice.setpipe_size_shrink_busy";
/// A resize of an empty pipe: nothing moved, nothing freed read.
const MISSED: &str = "splice.setpipe_size_page";

fn record<'a>(step: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    step["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record of {id}: {}", step["records"]))
}

#[test]
#[ignore = "builds a KASAN/lockdep/UBSAN/KFENCE kernel and boots it twice; ci/test.sh runs it"]
fn a_use_after_free_is_charged_to_its_test_and_patch_on_a_debug_kernel() {
    let out = tempfile::tempdir().unwrap();
    let r = kharness(&[
        "series",
        &series_dir("debug-use-after-free"),
        "--tree",
        TREE,
        "--debug",
        "kasan,lockdep,ubsan,kfence",
        "--filter",
        HIT,
        "--filter",
        MISSED,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    // A test that passed in userspace but made the kernel complain is
    // `warned`, a failure: exit 1, not 4 (the guest went on).
    r.expect_code(1);
    let run = latest_run(out.path());
    let res = results_json(&run);

    let base = step(&res, "base");
    assert_eq!(base["outcome"], "completed", "{base}");
    for id in [HIT, MISSED] {
        let rec = record(base, id);
        assert_eq!(rec["status"], "pass", "base {id}: {rec}");
        assert!(rec.get("kernel_findings").is_none(), "base {id}: {rec}");
    }
    // The debug checkers are on, and the base kernel never complained.
    let console = std::fs::read_to_string(run.join(base["console_log"].as_str().unwrap())).unwrap();
    assert!(
        !console.contains("BUG: KASAN") && !console.contains("WARNING:"),
        "the base debug kernel complained:\n{console}"
    );

    let patched = step(&res, "+1");
    let hit = record(patched, HIT);
    assert_eq!(hit["status"], "warned", "{hit}");
    // KASAN's report, and the taint (B) it leaves, both during this test.
    let findings = hit["kernel_findings"].as_array().unwrap();
    let finding = findings
        .iter()
        .find(|f| f["kind"] == "kasan")
        .unwrap_or_else(|| panic!("no KASAN finding: {hit}"));
    assert_eq!(finding["signature"], SIGNATURE, "{hit}");
    assert!(
        finding["excerpt"]
            .as_str()
            .unwrap()
            .starts_with("BUG: KASAN: slab-use-after-free in pipe_resize_ring"),
        "{hit}"
    );
    let missed = record(patched, MISSED);
    assert_eq!(missed["status"], "pass", "{missed}");

    // The series charges it to patch 1, and its expectations hold.
    let series = series_json(&run);
    assert!(
        unmet_expectations(&series).is_empty(),
        "{:?}",
        unmet_expectations(&series)
    );
    let changes: Vec<(u64, &str)> = series["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["patch"].as_u64().unwrap(), c["test"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, [(1, HIT)], "{}", series["changes"]);

    // Every report a reader gets names the complaint.
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(md.contains(SIGNATURE), "{md}");
    assert!(r.stdout().contains(SIGNATURE), "{}", r.stdout());
    let kcidb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("kcidb.json")).unwrap()).unwrap();
    let issue_id = format!("kharness:{SIGNATURE}");
    assert!(
        kcidb["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == issue_id.as_str()),
        "{}",
        kcidb["issues"]
    );
    let incidents: Vec<&serde_json::Value> = kcidb["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["issue_id"] == issue_id.as_str())
        .collect();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert!(
        incidents[0]["test_id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("-patch1:{HIT}")),
        "{incidents:?}"
    );
}
