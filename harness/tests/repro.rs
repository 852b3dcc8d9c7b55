//! `kharness bundle` and `kharness repro` through the real CLI: bad input
//! without booting anything, and the acceptance end to end (a
//! failing result of the demo series reproduced from a bundle alone, in a
//! fresh directory, its kernel rebuilt from the tree through the cache).

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{kharness, kharness_in, latest_run};

const TREE: &str = "/usr/src/linux-source-6.12";

/// A stored run whose one kernel is no longer on this machine.
fn fake_run(dir: &Path) {
    fake_run_with(dir, |_, _| {});
}

/// [`fake_run`], with its results and recipe changed by `edit` first.
fn fake_run_with(dir: &Path, edit: impl FnOnce(&mut serde_json::Value, &mut serde_json::Value)) {
    let kernel = serde_json::json!({
        "release": "6.12.1", "banner": "6.12.1 #1", "path": "/nonexistent/bzImage",
        "sha256": "ab".repeat(32), "size": 1,
    });
    let results = serde_json::json!({
        "schema": 1, "tool_version": "0.1.0", "run_id": "20270101T000000Z",
        "started": "2027-01-01T00:00:00Z", "interrupted": false,
        "accel": {"accel": "tcg", "reason": "test"},
        "guest": {"path": "/nonexistent/kharness-guest", "sha256": "cd".repeat(32)},
        "filters": [],
        "kernels": [{"identity": kernel, "outcome": "completed", "wall_s": 1.0, "command": "x",
            "console_log": "c", "guest_log": "g",
            "records": [{"id": "tee.duplicate_content", "status": "fail", "reason": "short", "duration_us": 1},
                        {"id": "tee.other", "status": "pass", "duration_us": 1}]}],
    });
    let recipe = serde_json::json!({
        "schema": 1, "kharness_version": "0.1.0", "run_id": "20270101T000000Z",
        "guest": {"path": "/nonexistent/kharness-guest", "sha256": "cd".repeat(32)},
        "options": {"backend": "qemu", "accel": "tcg", "perf_mode": "deterministic", "memory": "1G",
            "timeout": "5m", "test_timeout": 60, "reps": 1},
        "filters": [], "tests": ["tee.duplicate_content", "tee.other"],
        "kernels": [{"identity": kernel}],
    });
    let (mut results, mut recipe) = (results, recipe);
    edit(&mut results, &mut recipe);
    std::fs::write(dir.join("results.json"), results.to_string()).unwrap();
    std::fs::write(dir.join("recipe.json"), recipe.to_string()).unwrap();
}

#[test]
fn a_run_without_results_is_bad_input_not_a_panic() {
    let d = tempfile::tempdir().unwrap();
    fake_run_with(d.path(), |res, _| {
        res["kernels"][0]["records"] = serde_json::json!([]);
    });
    let r = kharness(&["repro", d.path().to_str().unwrap()]);
    r.expect_code(2);
    assert!(!r.stderr().contains("panicked"), "{}", r.stderr());
    assert!(
        r.stderr()
            .contains("results.json: the run holds no test results"),
        "{}",
        r.stderr()
    );
}

#[test]
fn a_bad_recorded_timeout_is_refused_before_anything_runs() {
    let d = tempfile::tempdir().unwrap();
    fake_run_with(d.path(), |_, recipe| {
        recipe["options"]["timeout"] = serde_json::json!("soon");
    });
    let r = kharness(&["repro", d.path().to_str().unwrap()]);
    r.expect_code(2);
    assert!(
        r.stderr()
            .contains("recipe.json: options.timeout \"soon\" is not a duration"),
        "{}",
        r.stderr()
    );
}

#[test]
fn a_bundle_holds_the_failing_result_and_repro_says_what_is_missing() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    std::fs::create_dir(&run).unwrap();
    fake_run(&run);
    let bundle = d.path().join("b.tar.gz");
    let r = kharness(&[
        "bundle",
        run.to_str().unwrap(),
        "-o",
        bundle.to_str().unwrap(),
    ]);
    r.expect_code(0);
    // Bundles are never overwritten.
    kharness(&[
        "bundle",
        run.to_str().unwrap(),
        "-o",
        bundle.to_str().unwrap(),
    ])
    .expect_code(2);
    // Unpacked by hand: only the failing test's records went in.
    let out = std::process::Command::new("tar")
        .args([
            "xzf",
            bundle.to_str().unwrap(),
            "-C",
            d.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let inner = d.path().join("kharness-bundle-20270101T000000Z");
    let res = common::results_json(&inner);
    let recs = res["kernels"][0]["records"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["id"], "tee.duplicate_content");
    // The kernel is neither in the bundle nor on this machine.
    let fresh = tempfile::tempdir().unwrap();
    let r = kharness_in(Some(fresh.path()), &["repro", bundle.to_str().unwrap()]);
    r.expect_code(2);
    assert!(r.stderr().contains("--with-kernel"), "{}", r.stderr());
    // --with-kernel cannot pack a kernel that is gone.
    let r = kharness(&[
        "bundle",
        run.to_str().unwrap(),
        "--with-kernel",
        "-o",
        d.path().join("k.tar.gz").to_str().unwrap(),
    ]);
    r.expect_code(2);
    // Neither a test the run lacks, nor something that is not a bundle.
    let r = kharness(&["repro", run.to_str().unwrap(), "--test", "no.such"]);
    r.expect_code(2);
    assert!(r.stderr().contains("no result for it"), "{}", r.stderr());
    let junk = d.path().join("junk.tar.gz");
    std::fs::write(&junk, b"not gzip").unwrap();
    let r = kharness(&["repro", junk.to_str().unwrap()]);
    r.expect_code(2);
    assert!(
        r.stderr().contains("not a kharness bundle"),
        "{}",
        r.stderr()
    );
    kharness(&["repro", "/nonexistent/run"]).expect_code(2);
}

#[test]
fn bundle_and_repro_select_results_with_run_filters() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    std::fs::create_dir(&run).unwrap();
    fake_run(&run);
    let bundle = |filter: &str, name: &str| {
        kharness(&[
            "bundle",
            run.to_str().unwrap(),
            "--filter",
            filter,
            "-o",
            d.path().join(name).to_str().unwrap(),
        ])
    };
    // A glob that covers only the passing test takes it (nothing failed
    // among what was asked); the area name takes the failing one.
    let ids = |dir: &str| -> Vec<String> {
        let res = common::results_json(&d.path().join(dir));
        res["kernels"][0]["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    bundle("*other", "glob").expect_code(0);
    assert_eq!(ids("glob"), ["tee.other"]);
    bundle("tee", "area").expect_code(0);
    assert_eq!(ids("area"), ["tee.duplicate_content"]);
    // A filter that selects nothing, or a tag, is bad input: exit 2 naming
    // it, nothing written.
    for (f, says) in [("splice.*", "selects none"), ("tag:perf", "not tags")] {
        let r = bundle(f, "never");
        r.expect_code(2);
        assert!(
            r.stderr().contains(f) && r.stderr().contains(says),
            "{}",
            r.stderr()
        );
        assert!(!d.path().join("never").exists());
        let r = kharness(&["repro", run.to_str().unwrap(), "-f", f]);
        r.expect_code(2);
        assert!(r.stderr().contains(says), "{}", r.stderr());
    }
}

#[test]
#[ignore = "boots four VMs (series kernels come from the build cache); ci/test.sh runs it"]
fn a_failing_series_result_reproduces_from_a_bundle_in_a_fresh_directory() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("runs");
    let series = format!(
        "{}/../kernel-patches/demo-splice-regression",
        env!("CARGO_MANIFEST_DIR")
    );
    // Patch 3 breaks tee.duplicate_content.
    kharness(&[
        "series",
        &series,
        "--tree",
        TREE,
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount.
        "--perf-mode",
        "wallclock",
        "--filter",
        "tee.duplicate_content",
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(1);
    let run = latest_run(&out);
    let recipe: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("recipe.json")).unwrap()).unwrap();
    assert_eq!(recipe["kernels"][3]["patches"], 3, "{recipe}");
    assert_eq!(recipe["series"]["patches"].as_array().unwrap().len(), 3);
    assert_eq!(recipe["options"]["backend"], "qemu");
    let bundle = work.path().join("tee.tar.gz");
    kharness(&[
        "bundle",
        run.to_str().unwrap(),
        "--test",
        "tee.duplicate_content",
        "-o",
        bundle.to_str().unwrap(),
    ])
    .expect_code(0);
    // With --with-kernel the failing step's image travels too, and only it.
    let with_kernel = work.path().join("tee-k.tar.gz");
    kharness(&[
        "bundle",
        run.to_str().unwrap(),
        "--with-kernel",
        "-o",
        with_kernel.to_str().unwrap(),
    ])
    .expect_code(0);
    let listing = std::process::Command::new("tar")
        .args(["tzf", with_kernel.to_str().unwrap()])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    let images: Vec<&str> = listing.lines().filter(|l| l.ends_with("bzImage")).collect();
    assert_eq!(images.len(), 1, "{listing}");
    assert!(images[0].ends_with("/kernels/4/bzImage"), "{listing}");

    // Only the bundle travels.
    let fresh = tempfile::tempdir().unwrap();
    let copy = fresh.path().join("tee.tar.gz");
    std::fs::copy(&bundle, &copy).unwrap();
    drop(work);
    let r = kharness_in(
        Some(fresh.path()),
        &[
            "repro",
            "tee.tar.gz",
            "--tree",
            TREE,
            "--rebuild",
            "--out",
            "runs",
        ],
    );
    r.expect_code(0);
    let stdout = r.stdout();
    // The kernel was rebuilt from the tree (from the cache here) and is
    // the one recorded.
    assert!(
        r.stderr().contains("kernel +3 from --tree: sha256"),
        "{}",
        r.stderr()
    );
    assert!(
        stdout.contains("[+3] tee.duplicate_content: was fail, now fail: reproduced"),
        "{stdout}"
    );
    let rerun = latest_run(&fresh.path().join("runs"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rerun.join("repro.json")).unwrap()).unwrap();
    assert_eq!(report["reproduced"], true, "{report}");
    assert_eq!(report["verdicts"].as_array().unwrap().len(), 1);
}
