//! `--jobs`: VMs side by side. The same run with `--jobs 1` and
//! `--jobs 2` gives the same results in the same order and the same run
//! directory, and with `--jobs 2` the VMs really ran at the same time (by
//! each boot's start time and duration in results.json, not by a timing
//! threshold).

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{kharness, latest_run, results_json};
use serde_json::{Value, json};

const K61: &str = "/boot/vmlinuz-6.1.0-56-amd64";
const K612: &str = "/boot/vmlinuz-6.12.107+deb12-amd64";
const K612_FIXED: &str = "/boot/vmlinuz-6.12.117+deb12-amd64";

struct Run {
    _out: tempfile::TempDir,
    dir: PathBuf,
    res: Value,
    stderr: String,
}

/// `kharness run ARGS --jobs JOBS` (qemu backend; checks no metric, so
/// wall-clock mode), expecting exit `code`.
fn run(jobs: &str, args: &[&str], code: i32) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut all = vec![
        "run",
        "--out",
        out.path().to_str().unwrap(),
        "--backend",
        "qemu",
        "--accel",
        "tcg",
        "--perf-mode",
        "wallclock",
        "--jobs",
        jobs,
    ];
    all.extend(args);
    let r = kharness(&all);
    r.expect_code(code);
    let dir = latest_run(out.path());
    let res = results_json(&dir);
    Run {
        _out: out,
        dir,
        res,
        stderr: r.stderr(),
    }
}

/// What must not depend on --jobs: per kernel its identity, outcome and
/// logs, per boot why it ran, how it ended, its logs and command (run
/// directory cut out), per record its test, status, boot and repetition,
/// all in order.
fn shape(run: &Run) -> Value {
    let dir = run.dir.to_str().unwrap();
    let name = run.dir.file_name().unwrap().to_str().unwrap();
    let text = |v: &Value| {
        v.as_str()
            .unwrap_or_default()
            .replace(dir, "RUN")
            .replace(name, "RUN")
    };
    let kernels: Vec<Value> = run.res["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            json!({
                "release": k["identity"]["release"],
                "outcome": k["outcome"],
                "vm_exit": k["vm_exit"],
                "console_log": k["console_log"],
                "guest_log": k["guest_log"],
                "boots": k["boots"].as_array().unwrap().iter().map(|b| json!({
                    "why": b["why"],
                    "outcome": b["outcome"],
                    "vm_exit": b["vm_exit"],
                    "console_log": b["console_log"],
                    "guest_log": b["guest_log"],
                    "tests": b["tests"],
                    "command": text(&b["command"]),
                })).collect::<Vec<_>>(),
                "records": k["records"].as_array().unwrap().iter().map(|r| json!([
                    r["id"], r["status"], r["boot"], r["rep"],
                ])).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "plan_hash": run.res["plan_hash"],
        "interrupted": run.res["interrupted"],
        "kernels": kernels,
    })
}

/// Every file and directory of a run directory, relative to it.
fn listing(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            into.insert(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                walk(root, &p, into);
            }
        }
    }
    let mut set = BTreeSet::new();
    walk(dir, dir, &mut set);
    set
}

/// Each boot of the run as (kernel column, pass boot index, start, end).
fn boot_spans(res: &Value) -> Vec<(usize, usize, SystemTime, SystemTime)> {
    let mut v = Vec::new();
    for (k, kr) in res["kernels"].as_array().unwrap().iter().enumerate() {
        for (b, boot) in kr["boots"].as_array().unwrap().iter().enumerate() {
            let start = humantime::parse_rfc3339(boot["started"].as_str().unwrap()).unwrap();
            let end = start + Duration::from_secs_f64(boot["wall_s"].as_f64().unwrap());
            v.push((k, b, start, end));
        }
    }
    v
}

/// Pairs of boots whose VMs ran at the same time.
fn overlapping(res: &Value) -> Vec<((usize, usize), (usize, usize))> {
    let spans = boot_spans(res);
    let mut pairs = Vec::new();
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            if a.2 < b.3 && b.2 < a.3 {
                pairs.push(((a.0, a.1), (b.0, b.1)));
            }
        }
    }
    pairs
}

/// Runs `args` with --jobs 1, then --jobs 2, and checks the two agree
/// and only the second overlapped VMs; returns the --jobs 2 run.
fn side_by_side_matches_one_at_a_time(args: &[&str], code: i32) -> Run {
    let one = run("1", args, code);
    let two = run("2", args, code);
    assert_eq!(
        serde_json::to_string_pretty(&shape(&one)).unwrap(),
        serde_json::to_string_pretty(&shape(&two)).unwrap(),
        "--jobs 2 gave other results than --jobs 1\n--- jobs 2 stderr:\n{}",
        two.stderr
    );
    assert_eq!(listing(&one.dir), listing(&two.dir), "run directories");
    assert!(
        overlapping(&one.res).is_empty(),
        "--jobs 1 ran VMs at once: {:?}",
        boot_spans(&one.res)
    );
    assert!(
        !overlapping(&two.res).is_empty(),
        "--jobs 2 never ran two VMs at once: {:?}\n{}",
        boot_spans(&two.res),
        two.stderr
    );
    assert!(two.stderr.contains("2 VMs at once"), "{}", two.stderr);
    two
}

#[test]
#[ignore = "boots four VMs, two at a time; ci/test.sh runs it"]
fn two_kernels_boot_side_by_side_with_the_results_of_one_at_a_time() {
    let two = side_by_side_matches_one_at_a_time(
        &[
            "--kernel",
            K61,
            "--kernel",
            K612_FIXED,
            "--filter",
            "tee.duplicate_content",
            "--filter",
            "tee.input_left_unconsumed",
        ],
        0,
    );
    let pairs = overlapping(&two.res);
    assert!(pairs.contains(&((0, 0), (1, 0))), "{pairs:?}");
    // Lines of VMs side by side name their VM.
    assert!(
        two.stderr.contains("  [2/2]   1/2   pass"),
        "{}",
        two.stderr
    );
}

#[test]
#[ignore = "boots eight VMs, two at a time, two of them panic; ci/test.sh runs it"]
fn boots_of_one_kernel_side_by_side_crash_and_continue_as_one_at_a_time() {
    // Each pass crashes in its first boot and continues in a fresh one:
    // the passes' boot directories must not depend on which ends first.
    let two = side_by_side_matches_one_at_a_time(
        &[
            "--kernel",
            K612,
            "--boots",
            "2",
            "--filter",
            "selftest.sysrq_crash",
            "--filter",
            "tee.duplicate_content",
        ],
        4,
    );
    let boots: Vec<&str> = two.res["kernels"][0]["boots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["console_log"].as_str().unwrap())
        .collect();
    let k = "kernels/1-6.12.107+deb12-amd64";
    assert_eq!(
        boots,
        [
            format!("{k}/console.log"),
            format!("{k}/boot3/console.log"),
            format!("{k}/boot2/console.log"),
            format!("{k}/boot4/console.log"),
        ],
        "pass 1: the kernel's directory and boot3/, pass 2: boot2/ and boot4/"
    );
    let pairs = overlapping(&two.res);
    assert!(
        pairs.contains(&((0, 0), (0, 2))),
        "the passes' first boots: {pairs:?}"
    );
}
