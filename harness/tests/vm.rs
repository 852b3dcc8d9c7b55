//! End-to-end tests that boot real kernels in QEMU through virtme-ng.
//! They take minutes under TCG, so a quick `cargo test` skips them;
//! ci/test.sh runs them with `--include-ignored`.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{kharness, latest_run, results_json};

const K61: &str = "/boot/vmlinuz-6.1.0-56-amd64";
const K612: &str = "/boot/vmlinuz-6.12.107+deb12-amd64";
/// Debian's 6.12 with the stable fix "io_uring: don't pass restart error
/// codes to userspace" (6.12.115): the whole suite passes there.
const K612_FIXED: &str = "/boot/vmlinuz-6.12.117+deb12-amd64";

/// The status of a test, with its reason when it has one, e.g.
/// `error (not run: ...)`, so a failing assertion shows why.
fn status_of(res: &serde_json::Value, kernel: usize, id: &str) -> String {
    let rec = res["kernels"][kernel]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record for {id}"));
    let status = rec["status"].as_str().unwrap().to_owned();
    match (status.as_str(), rec["reason"].as_str()) {
        ("pass", _) | (_, None) => status,
        (_, Some(why)) => format!("{status} ({why})"),
    }
}

fn observation(res: &serde_json::Value, kernel: usize, id: &str, name: &str) -> serde_json::Value {
    res["kernels"][kernel]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record for {id}"))["observations"][name]
        .clone()
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn default_kernel_runs_the_suite_and_writes_a_run_directory() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than -icount.
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--perf-mode",
        "wallclock",
        "--filter",
        "tag:smoke",
    ]);
    r.expect_code(0);
    let run = latest_run(out.path());
    for f in ["plan.json", "results.json", "summary.txt"] {
        assert!(run.join(f).is_file(), "{f} missing in {}", run.display());
    }
    let res = results_json(&run);
    assert_eq!(res["schema"], 1);
    let k = &res["kernels"][0];
    assert_eq!(k["outcome"], "completed");
    assert_eq!(k["identity"]["sha256"].as_str().unwrap().len(), 64);
    let recs = k["records"].as_array().unwrap();
    assert!(recs.len() >= 3, "{recs:?}");
    assert!(recs.iter().all(|r| r["status"] == "pass"), "{recs:?}");
    let console = run.join(k["console_log"].as_str().unwrap());
    let text = std::fs::read_to_string(console).unwrap();
    // Only warnings and worse reach the console (loglevel=5): a clean boot
    // leaves no kernel complaint in it.
    assert!(
        !text.contains("Oops") && !text.contains("Kernel panic"),
        "clean console:\n{text}"
    );
    let summary = r.stdout();
    let splice_row = summary
        .lines()
        .find(|l| l.starts_with("splice "))
        .unwrap_or_default();
    assert!(
        splice_row.contains(" pass"),
        "per-area row for splice:\n{summary}"
    );
}

#[test]
#[ignore = "boots two VMs; ci/test.sh runs it"]
fn whole_suite_passes_on_both_debian_kernels_and_shows_their_differences() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than -icount.
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--perf-mode",
        "wallclock",
        "--kernel",
        K61,
        "--kernel",
        K612,
    ]);
    // Debian's 6.12.107 leaks ERESTARTSYS into the CQE of a cancelled
    // IORING_OP_SPLICE (fixed by upstream commit e1a64bc64897, "io_uring:
    // don't pass restart error codes to userspace", stable 6.12.115): a real kernel bug the
    // suite must report, so the run exits 1.
    r.expect_code(1);
    let s = r.stdout();
    let header = s.lines().find(|l| l.starts_with("AREA")).unwrap();
    assert!(
        header.contains("6.1.0-56-amd64") && header.contains("6.12.107+deb12-amd64"),
        "{s}"
    );
    assert!(
        s.contains("Observations that differ between kernels"),
        "{s}"
    );
    assert!(
        s.contains("splice.from_dev_zero: splice_result *"),
        "difference is marked:\n{s}"
    );
    let res = results_json(&latest_run(out.path()));
    for k in 0..2 {
        assert_eq!(res["kernels"][k]["outcome"], "completed");
        let recs = res["kernels"][k]["records"].as_array().unwrap();
        assert!(
            recs.len() >= 60,
            "the suite has at least 60 tests, got {}",
            recs.len()
        );
        for rec in recs {
            let st = rec["status"].as_str().unwrap();
            if k == 1 && rec["id"] == "io_uring.cancel_blocked_splice" {
                assert_eq!(st, "fail", "{rec}");
                assert!(
                    rec["reason"].as_str().unwrap().contains("ERESTARTSYS"),
                    "{rec}"
                );
                continue;
            }
            assert!(
                st == "pass" || st == "skip",
                "kernel {k}: {} is {st}: {}",
                rec["id"],
                rec["reason"]
            );
            if st == "skip" {
                assert!(
                    rec["reason"].as_str().is_some_and(|r| !r.is_empty()),
                    "skip without a reason: {rec}"
                );
            }
        }
    }
    // Facts of these kernels: 6.1 has no splice_read for /dev/zero and
    // /dev/full, nor splice_write for /dev/zero; 6.12 has all three.
    assert_eq!(
        observation(&res, 0, "splice.from_dev_zero", "splice_result"),
        "EINVAL"
    );
    assert_eq!(
        observation(&res, 1, "splice.from_dev_zero", "splice_result"),
        4096
    );
    assert_eq!(
        observation(&res, 0, "splice.from_dev_full", "splice_result"),
        "EINVAL"
    );
    assert_eq!(
        observation(&res, 1, "splice.from_dev_full", "splice_result"),
        4096
    );
    assert_eq!(
        observation(&res, 0, "splice.to_dev_zero", "splice_result"),
        "EINVAL"
    );
    let last_supported = |k: usize| {
        observation(&res, k, "io_uring.probe", "supported")
            .as_array()
            .and_then(|ops| ops.last().cloned())
    };
    assert_eq!(last_supported(0), Some("SENDMSG_ZC".into()));
    assert_eq!(last_supported(1), Some("LISTEN".into()));
    // Both kernels share the seed 000 behaviour (splice is a mapping):
    // splice.seed000_write_after_splice asserts it and passed above.
}

/// The record of a test in a kernel's column.
fn record<'a>(res: &'a serde_json::Value, kernel: usize, id: &str) -> &'a serde_json::Value {
    res["kernels"][kernel]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record for {id}"))
}

/// A record's boot number (absent means 0).
fn boot_of(res: &serde_json::Value, kernel: usize, id: &str) -> u64 {
    record(res, kernel, id)["boot"].as_u64().unwrap_or(0)
}

/// A crash costs the test that was running, and the tests after it run
/// in a fresh boot: one before (boot 0), the crash, two after (boot 1).
fn crash_then_continue(backend: &str) {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than -icount.
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--backend",
        backend,
        "--perf-mode",
        "wallclock",
        "--kernel",
        K612,
        "--filter",
        "splice.roundtrip_one_byte",
        "--filter",
        "selftest.sysrq_crash",
        "--filter",
        "tee.duplicate_content",
        "--filter",
        "tee.input_left_unconsumed",
    ]);
    r.expect_code(4);
    let run = latest_run(out.path());
    let res = results_json(&run);
    let k = &res["kernels"][0];
    assert_eq!(k["outcome"], "crashed", "{k}");
    assert_eq!(status_of(&res, 0, "splice.roundtrip_one_byte"), "pass");
    let crash = status_of(&res, 0, "selftest.sysrq_crash");
    assert!(crash.starts_with("crashed"), "{crash}");
    assert!(crash.contains("sysrq"), "the console excerpt: {crash}");
    for id in ["tee.duplicate_content", "tee.input_left_unconsumed"] {
        assert_eq!(status_of(&res, 0, id), "pass");
        assert_eq!(boot_of(&res, 0, id), 1, "{id} ran in the second boot");
    }
    assert_eq!(boot_of(&res, 0, "selftest.sysrq_crash"), 0);
    let boots = k["boots"].as_array().unwrap();
    assert_eq!(boots.len(), 2, "{boots:?}");
    assert_eq!(boots[0]["why"]["kind"], "first");
    assert_eq!(boots[0]["outcome"], "crashed");
    assert_eq!(boots[1]["why"]["kind"], "continue");
    assert_eq!(boots[1]["why"]["after"], "selftest.sysrq_crash");
    assert_eq!(boots[1]["outcome"], "completed");
    assert_eq!(boots[1]["tests"], 2);
    for b in boots {
        let console = run.join(b["console_log"].as_str().unwrap());
        assert!(console.is_file(), "{}", console.display());
    }
    assert!(r.stdout().contains("guest crashed"), "{}", r.stdout());
}

#[test]
#[ignore = "boots two VMs, the first panics; ci/test.sh runs it"]
fn a_guest_crash_costs_one_test_and_the_rest_run_in_a_fresh_boot_vng() {
    crash_then_continue("vng");
}

#[test]
#[ignore = "boots two VMs, the first panics; ci/test.sh runs it"]
fn a_guest_crash_costs_one_test_and_the_rest_run_in_a_fresh_boot_qemu() {
    crash_then_continue("qemu");
}

#[test]
#[ignore = "boots a VM that panics; ci/test.sh runs it"]
fn max_boots_bounds_the_fresh_boots_after_a_crash() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than -icount.
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--backend",
        "qemu",
        "--perf-mode",
        "wallclock",
        "--max-boots",
        "1",
        "--kernel",
        K612,
        "--filter",
        "selftest.sysrq_crash",
        "--filter",
        "tee.duplicate_content",
    ]);
    r.expect_code(4);
    let res = results_json(&latest_run(out.path()));
    assert_eq!(res["kernels"][0]["boots"].as_array().unwrap().len(), 1);
    assert!(status_of(&res, 0, "selftest.sysrq_crash").starts_with("crashed"));
    let tee = status_of(&res, 0, "tee.duplicate_content");
    assert!(
        tee.starts_with("error (not run") && tee.contains("--max-boots 1"),
        "{tee}"
    );
}

#[test]
#[ignore = "boots two VMs, the first hangs until stopped; ci/test.sh runs it"]
fn a_hung_guest_is_stopped_and_the_rest_run_in_a_fresh_boot() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    // The guest's own per-test limit is longer than the VM's, so the host
    // has to stop the VM while selftest.hang sleeps. Wall-clock mode: under
    // -icount with sleep=off an idle guest's clock leaps ahead, and the
    // hour-long sleep would end at once.
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--backend",
        "qemu",
        "--perf-mode",
        "wallclock",
        "--kernel",
        K612,
        "--timeout",
        "120s",
        "--test-timeout",
        "3600",
        "--filter",
        "selftest.hang",
        "--filter",
        "tee.duplicate_content",
    ]);
    r.expect_code(4);
    let res = results_json(&latest_run(out.path()));
    let k = &res["kernels"][0];
    assert_eq!(k["outcome"], "hung", "{k}");
    let hang = status_of(&res, 0, "selftest.hang");
    assert!(hang.starts_with("timeout"), "{hang}\n{k}");
    assert_eq!(status_of(&res, 0, "tee.duplicate_content"), "pass");
    assert_eq!(boot_of(&res, 0, "tee.duplicate_content"), 1);
    let boots = k["boots"].as_array().unwrap();
    assert_eq!(boots[0]["outcome"], "hung");
    assert_eq!(boots[1]["why"]["after"], "selftest.hang");
    assert_eq!(boots[1]["why"]["outcome"], "hung");
    // The stopped VM's whole process group is gone.
    let ps = std::process::Command::new("pgrep")
        .args(["-f", &format!("qemu-system-x86_64.*{o}")])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "QEMU left behind: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}

#[test]
#[ignore = "boots four VMs; ci/test.sh runs it"]
fn boots_interleave_kernels_and_pool_their_samples_in_one_column() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--backend",
        "qemu",
        "--kernel",
        K61,
        "--kernel",
        K612,
        "--boots",
        "2",
        "--reps",
        "2",
        "--filter",
        "perf.splice_file_to_pipe",
    ]);
    r.expect_code(0);
    let run = latest_run(out.path());
    let res = results_json(&run);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["boots"], 2);
    let kernels = res["kernels"].as_array().unwrap();
    assert_eq!(kernels.len(), 2);
    let mut starts = Vec::new();
    for k in kernels {
        let boots = k["boots"].as_array().unwrap();
        assert_eq!(boots.len(), 2, "{boots:?}");
        for (i, b) in boots.iter().enumerate() {
            assert_eq!(b["why"]["kind"], "repeat");
            assert_eq!(b["why"]["k"], i + 1);
            assert_eq!(b["why"]["of"], 2);
        }
        let recs = k["records"].as_array().unwrap();
        let mut samples: Vec<(u64, u64)> = recs
            .iter()
            .filter(|r| r["status"] == "pass" && r["metrics"].as_array().is_some())
            .map(|r| {
                (
                    r["boot"].as_u64().unwrap_or(0),
                    r["rep"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        samples.sort();
        assert_eq!(samples, [(0, 0), (0, 1), (1, 0), (1, 1)], "{recs:?}");
        starts.push(
            boots
                .iter()
                .map(|b| b["started"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>(),
        );
    }
    // A B A B: every first boot starts before every second boot (RFC 3339
    // times of one format sort as strings). With VMs side by side (the
    // default --jobs) A's and B's first boots start together, in either
    // order; A A B B would start A's second boot before B's first.
    let firsts = [&starts[0][0], &starts[1][0]];
    let seconds = [&starts[0][1], &starts[1][1]];
    assert!(
        firsts.iter().max() < seconds.iter().min(),
        "first boots {firsts:?}, second boots {seconds:?}"
    );
    // compare pools the four samples a side (kept in --out).
    let rs = run.to_str().unwrap();
    let kept = tempfile::tempdir().unwrap();
    kharness(&["compare", rs, rs, "--out", kept.path().to_str().unwrap()]).expect_code(0);
    let name = format!("compare-{}.json", res["run_id"].as_str().unwrap());
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(kept.path().join(name)).unwrap()).unwrap();
    let metrics = c["pairs"][0]["metrics"].as_array().unwrap();
    assert!(!metrics.is_empty(), "{c}");
    for m in metrics {
        assert_eq!(
            (m["n_a"].as_u64(), m["n_b"].as_u64()),
            (Some(4), Some(4)),
            "{m}"
        );
    }
}

#[test]
#[ignore = "boots a VM with a hanging test; ci/test.sh runs it"]
fn a_hung_test_times_out_inside_the_guest_and_the_suite_goes_on() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--kernel",
        K612,
        // Deterministic mode on purpose: 3 s of guest time for every test,
        // which tee.duplicate_content needs whatever the host's load.
        "--test-timeout",
        "3",
        "--filter",
        "selftest.hang",
        "--filter",
        "tee.duplicate_content",
    ]);
    r.expect_code(1);
    let res = results_json(&latest_run(out.path()));
    assert_eq!(res["kernels"][0]["outcome"], "completed");
    assert!(status_of(&res, 0, "selftest.hang").starts_with("timeout"));
    assert_eq!(status_of(&res, 0, "tee.duplicate_content"), "pass");
}

#[test]
#[ignore = "boots a VM and stops it; ci/test.sh runs it"]
fn a_vm_over_its_time_limit_is_stopped_and_reported_hung() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--kernel",
        K612,
        "--timeout",
        "8s",
        "--filter",
        "tee.*",
    ]);
    r.expect_code(4);
    let res = results_json(&latest_run(out.path()));
    assert_eq!(res["kernels"][0]["outcome"], "hung");
    // Nothing of the VM may survive the stop. Its command line names this
    // test's run directory (the records file), so other runs' VMs on the
    // machine do not count.
    let ps = std::process::Command::new("pgrep")
        .args(["-f", &format!("qemu-system-x86_64.*{o}")])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "QEMU left behind: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn qemu_backend_runs_the_whole_suite_from_an_initramfs() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let r = kharness(&[
        "run",
        "--out",
        o,
        "--backend",
        "qemu",
        "--kernel",
        K612_FIXED,
    ]);
    r.expect_code(0);
    // A Debian kernel has no vmlinux beside it: the bzImage boots, and
    // the boot line says why.
    assert!(
        r.stderr().contains("bzImage (no vmlinux beside it)"),
        "{}",
        r.stderr()
    );
    let run = latest_run(out.path());
    let res = results_json(&run);
    assert_eq!(res["backend"], "qemu");
    // Under TCG the default perf mode counts instructions.
    if res["accel"]["accel"] == "tcg" {
        assert_eq!(res["perf_mode"], "deterministic");
        let cmd = res["kernels"][0]["command"].as_str().unwrap();
        assert!(cmd.contains("-icount shift=4,align=off,sleep=off"), "{cmd}");
    }
    let recs = res["kernels"][0]["records"].as_array().unwrap();
    assert!(recs.len() >= 60, "{}", recs.len());
    for rec in recs {
        let st = rec["status"].as_str().unwrap();
        assert!(
            st == "pass" || st == "skip",
            "{} is {st}: {}",
            rec["id"],
            rec["reason"]
        );
    }
    // Records came over the second serial port into the run directory.
    let records = run.join("kernels/1-6.12.117+deb12-amd64/rw/records.jsonl");
    assert!(
        std::fs::read_to_string(records)
            .unwrap()
            .contains("\"event\":\"done\"")
    );
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn forty_test_ids_reach_the_guest_whatever_the_kernel_command_line_holds() {
    // The selection went on the kernel command line (hex-encoded): about
    // 30 ids overflowed x86's 2048 bytes, and the guest printed nothing
    // until the VM's time limit. It now travels in the initramfs.
    let list = kharness(&["list", "--format", "json"]);
    list.expect_code(0);
    let ids: Vec<String> = list
        .stdout()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .filter(|id| !id.starts_with("selftest.") && !id.starts_with("perf."))
        .take(40)
        .collect();
    assert_eq!(ids.len(), 40, "{ids:?}");
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        "--backend",
        "qemu",
        "--kernel",
        K612,
        "--timeout",
        "10m",
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount.
        "--perf-mode",
        "wallclock",
        "--out",
        out.path().to_str().unwrap(),
    ];
    for id in &ids {
        args.extend(["--filter", id.as_str()]);
    }
    let r = kharness(&args);
    let res = results_json(&latest_run(out.path()));
    assert_eq!(res["kernels"][0]["outcome"], "completed", "{}", r.stderr());
    let got: Vec<&str> = res["kernels"][0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in &ids {
        assert!(got.contains(&id.as_str()), "{id} did not run: {got:?}");
    }
}
