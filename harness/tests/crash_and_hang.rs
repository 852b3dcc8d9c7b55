//! The acceptance test of "nothing lost": a kernel patched to panic under
//! one test, freeze under another and WARN under a third
//! (kernel-patches/guest-crash-and-hang), built from Debian's 6.12 source
//! and booted for real. Each misbehaviour is charged to its own test, and
//! every other test keeps its real result.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    kharness, latest_run, results_json, series_dir, series_json, step, unmet_expectations,
};

const TREE: &str = "/usr/src/linux-source-6.12";

/// `kharness series guest-crash-and-hang --final-only` with these filters
/// and VM time limit, its run directory under `out`.
fn run_series(out: &std::path::Path, timeout: &str, filters: &[&str]) -> common::Run {
    run_series_with(out, timeout, filters, &[])
}

/// [`run_series`] with more options (`--backend vng`).
fn run_series_with(
    out: &std::path::Path,
    timeout: &str,
    filters: &[&str],
    more: &[&str],
) -> common::Run {
    let series = series_dir("guest-crash-and-hang");
    let mut args = vec![
        "series",
        &series,
        "--tree",
        TREE,
        "--final-only",
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount.
        "--perf-mode",
        "wallclock",
        "--timeout",
        timeout,
        "--out",
        out.to_str().unwrap(),
    ];
    for f in filters {
        args.extend(["--filter", f]);
    }
    args.extend(more);
    kharness(&args)
}

/// (id, status) of each record of a kernel run, in order.
fn statuses(k: &serde_json::Value) -> Vec<(&str, &str)> {
    k["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect()
}

#[test]
#[ignore = "builds a patched kernel and boots it several times; ci/test.sh runs it"]
fn panic_hang_and_warn_are_charged_to_their_tests_and_the_rest_is_kept() {
    let out = tempfile::tempdir().unwrap();
    let normal = [
        "tee.duplicate_content",
        "splice.from_dev_zero",
        "vmsplice.memory_pipe_file",
    ];
    let selftests = [
        "selftest.kernel_panic",
        "selftest.kernel_hang",
        "selftest.kernel_warn",
    ];
    // Interleaved: where the guest runs tests in filter order, each
    // ordinary test after the panic and the freeze needs a fresh boot.
    let filters: Vec<&str> = normal
        .iter()
        .zip(&selftests)
        .flat_map(|(n, s)| [*n, *s])
        .collect();
    let r = run_series(out.path(), "90s", &filters);
    r.expect_code(4);
    let run = latest_run(out.path());
    let res = results_json(&run);
    let rec = |k: &serde_json::Value, id: &str| -> serde_json::Value {
        k["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["id"] == id)
            // With fresh boots a test may have a record per boot; the one
            // that ran counts.
            .find(|r| !r["reason"].as_str().unwrap_or("").starts_with("not run"))
            .cloned()
            .unwrap_or_else(|| panic!("no record of {id} that ran: {}", k["records"]))
    };
    // The base kernel has no trigger: the selftests skip, the rest pass.
    let base = step(&res, "base");
    for id in normal {
        assert_eq!(rec(base, id)["status"], "pass", "base {id}");
    }
    for id in selftests {
        assert_eq!(rec(base, id)["status"], "skip", "base {id}");
    }

    let patched = step(&res, "+1");
    let panic = rec(patched, "selftest.kernel_panic");
    assert_eq!(panic["status"], "crashed", "{panic}");
    let excerpt = panic["kernel_findings"][0]["excerpt"]
        .as_str()
        .unwrap_or("");
    assert!(
        excerpt.contains("Kernel panic - not syncing: kharness: panic requested from userspace"),
        "the crashed test carries the panic's excerpt: {panic}"
    );

    let hang = rec(patched, "selftest.kernel_hang");
    assert_eq!(hang["status"], "timeout", "{hang}");

    let warn = rec(patched, "selftest.kernel_warn");
    assert_eq!(warn["status"], "warned", "{warn}");
    let found = &warn["kernel_findings"];
    let kinds: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"warn"), "{warn}");
    let w = found
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "warn")
        .unwrap()["excerpt"]
        .as_str()
        .unwrap();
    assert!(
        w.starts_with("WARNING: CPU: 0 PID: ") && w.contains("fs/splice.c"),
        "first WARN line: {w}"
    );
    assert!(w.contains("\nRIP: "), "RIP line: {w}");
    assert!(w.contains("\nCall Trace:\n"), "head of the call trace: {w}");
    // The W taint flag the WARN set is seen by the guest too.
    assert!(kinds.contains(&"taint"), "{warn}");

    // Every other test kept its real result on the patched kernel.
    for id in normal {
        let r = rec(patched, id);
        assert_eq!(r["status"], "pass", "+1 {id}: {r}");
        assert!(r.get("kernel_findings").is_none(), "{r}");
    }

    let unmet = unmet_expectations(&series_json(&run));
    assert!(unmet.is_empty(), "series.toml expectations: {unmet:?}");
}

/// The WARN half alone, in one boot: a console WARN between a test's
/// markers marks that test and no other.
#[test]
#[ignore = "builds a patched kernel (or reuses it) and boots it; ci/test.sh runs it"]
fn a_kernel_warn_marks_its_test_and_no_other() {
    warn_marks_its_test_and_no_other(&[]);
}

/// The same through vng, whose console and results channel are its own.
#[test]
#[ignore = "builds a patched kernel (or reuses it) and boots it; ci/test.sh runs it"]
fn a_kernel_warn_under_vng_marks_its_test_and_no_other() {
    warn_marks_its_test_and_no_other(&["--backend", "vng"]);
}

fn warn_marks_its_test_and_no_other(more: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let r = run_series_with(
        out.path(),
        "90s",
        &[
            "tee.duplicate_content",
            "selftest.kernel_warn",
            "splice.from_dev_zero",
        ],
        more,
    );
    r.expect_code(1);
    let res = results_json(&latest_run(out.path()));
    if let Some(i) = more.iter().position(|a| *a == "--backend") {
        assert_eq!(
            res["backend"],
            more[i + 1],
            "booted by the backend asked for"
        );
    }
    let patched = step(&res, "+1");
    assert_eq!(patched["outcome"], "completed", "{patched}");
    // The guest runs tests in the order of the filters.
    let recs = patched["records"].as_array().unwrap();
    assert_eq!(
        statuses(patched),
        [
            ("tee.duplicate_content", "pass"),
            ("selftest.kernel_warn", "warned"),
            ("splice.from_dev_zero", "pass"),
        ]
    );
    let warn = &recs[1];
    let w = warn["kernel_findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "warn")
        .unwrap_or_else(|| panic!("no console WARN charged: {warn}"))["excerpt"]
        .as_str()
        .unwrap();
    assert!(
        w.starts_with("WARNING: CPU: 0 PID: ") && w.contains("fs/splice.c"),
        "{w}"
    );
    assert!(
        w.contains("\nRIP: ") && w.contains("\nCall Trace:\n"),
        "{w}"
    );
    assert!(
        warn["reason"].as_str().unwrap().starts_with("kernel "),
        "{warn}"
    );
}

/// The hang half alone, in one boot: a guest frozen with interrupts off is
/// stopped by the host's VM time limit and the frozen test is `timeout`;
/// the test before it keeps its pass.
#[test]
#[ignore = "builds a patched kernel (or reuses it) and boots it; ci/test.sh runs it"]
fn a_frozen_guest_is_stopped_and_its_test_timed_out() {
    let out = tempfile::tempdir().unwrap();
    let r = run_series(
        out.path(),
        "60s",
        &["tee.duplicate_content", "selftest.kernel_hang"],
    );
    r.expect_code(4);
    let res = results_json(&latest_run(out.path()));
    let patched = step(&res, "+1");
    assert_eq!(patched["outcome"], "hung", "{patched}");
    assert_eq!(
        statuses(patched),
        [
            ("tee.duplicate_content", "pass"),
            ("selftest.kernel_hang", "timeout"),
        ]
    );
}

/// A once-only WARN (patch 1) fires again in the fresh boot that follows a
/// crash (patch 2), in another test's tee: it is charged to patch 1 by its
/// signature, and patch 2 is charged with its crash only.
#[test]
#[ignore = "builds two patched kernels (or reuses them) and boots them; ci/test.sh runs it"]
fn a_once_only_warn_firing_again_after_a_crash_stays_its_own_patchs() {
    let out = tempfile::tempdir().unwrap();
    let series = series_dir("warn-once-then-crash");
    let o = out.path().to_str().unwrap();
    // In this order: the first tee warns, the gift crashes the guest, and
    // io_uring.tee_content is the first tee of the fresh boot.
    let r = kharness(&[
        "series",
        &series,
        "--tree",
        TREE,
        "--timeout",
        "120s",
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount.
        "--perf-mode",
        "wallclock",
        "--out",
        o,
        "--filter",
        "tee.duplicate_content",
        "--filter",
        "vmsplice.gift_accepted",
        "--filter",
        "io_uring.tee_content",
    ]);
    // The crash makes it 4 (guest crashed), over the 1 of the changes.
    r.expect_code(4);
    let run = latest_run(out.path());
    let res = results_json(&run);
    let crash = step(&res, "+2");
    assert_eq!(
        statuses(crash),
        [
            ("tee.duplicate_content", "warned"),
            ("vmsplice.gift_accepted", "crashed"),
            ("io_uring.tee_content", "warned"),
        ],
        "{crash}"
    );
    // Both WARNs are the same complaint, by signature.
    let sig = |k: &serde_json::Value, id: &str| -> Vec<String> {
        k["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["id"] == id)
            .flat_map(|r| r["kernel_findings"].as_array().cloned().unwrap_or_default())
            .filter(|f| f["kind"] == "warn")
            .map(|f| f["signature"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(sig(crash, "tee.duplicate_content"), ["WARNING in do_tee"]);
    assert_eq!(sig(crash, "io_uring.tee_content"), ["WARNING in do_tee"]);
    assert_eq!(
        sig(step(&res, "+1"), "tee.duplicate_content"),
        ["WARNING in do_tee"]
    );
    // The WARN's file:line moved with patch 2 (1978 -> 1979); its
    // signature did not. The series charges each change to its own patch.
    let s = series_json(&run);
    assert!(unmet_expectations(&s).is_empty(), "{s:#}");
    let changes: Vec<(u64, &str, &str)> = s["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["what"] == "status")
        .map(|c| {
            (
                c["patch"].as_u64().unwrap(),
                c["test"].as_str().unwrap(),
                c["to"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (1, "tee.duplicate_content", "warned"),
            (2, "vmsplice.gift_accepted", "crashed"),
        ]
    );
    let text = r.stdout();
    // The taint the WARN sets (W) is named with it.
    assert!(
        text.contains(
            "io_uring.tee_content status: pass -> warned again (taint W, first at +1; \
             WARNING in do_tee, first at +1): not a change of this patch"
        ),
        "{text}"
    );
}
