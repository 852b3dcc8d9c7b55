//! `--shard K/N` and `kharness merge` through the real CLI: shards booted in
//! QEMU, merged, and compared with the same plan run in one piece.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{expect_clean, kharness, latest_run, results_json};

const K61: &str = "/boot/vmlinuz-6.1.0-56-amd64";
const K612: &str = "/boot/vmlinuz-6.12.107+deb12-amd64";
const BOTH_KERNELS: [&str; 4] = ["--kernel", K61, "--kernel", K612];

/// Per kernel release: test id -> status, for every record.
fn statuses(res: &serde_json::Value) -> BTreeMap<String, BTreeMap<String, String>> {
    res["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let recs = k["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["id"].as_str().unwrap().to_owned(),
                        r["status"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (k["identity"]["release"].as_str().unwrap().to_owned(), recs)
        })
        .collect()
}

fn run_in(out: &Path, extra: &[&str]) -> PathBuf {
    let o = out.to_str().unwrap();
    // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than -icount.
    let mut args = vec![
        "run",
        "--backend",
        "qemu",
        "--perf-mode",
        "wallclock",
        "--out",
        o,
    ];
    args.extend(BOTH_KERNELS);
    args.extend(["--filter", "tee", "--filter", "vmsplice.*"]);
    args.extend(extra);
    kharness(&args).expect_code(0);
    latest_run(out)
}

#[test]
#[ignore = "boots six VMs; ci/test.sh runs it"]
fn three_shards_merged_match_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = run_in(&tmp.path().join("whole"), &[]);
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| {
            run_in(
                &tmp.path().join(format!("s{k}")),
                &["--shard", &format!("{k}/3")],
            )
        })
        .collect();
    let whole_res = results_json(&whole);
    let hash = whole_res["plan_hash"].as_str().unwrap();
    let mut per_shard = Vec::new();
    for s in &shards {
        let r = results_json(s);
        assert_eq!(r["plan_hash"], hash, "a shard hashes the same plan");
        per_shard.push(r["kernels"].as_array().unwrap().len());
        // The guest ran only its slice: no record outside the shard's parts.
        let parts = r["shard"]["parts"].as_array().unwrap();
        for (p, k) in parts.iter().zip(r["kernels"].as_array().unwrap()) {
            let n = p["end"].as_u64().unwrap() - p["start"].as_u64().unwrap();
            assert_eq!(k["records"].as_array().unwrap().len() as u64, n, "{p}");
        }
    }
    // 2 kernels x (tee + vmsplice) tests cut in three nearly equal runs:
    // only the middle shard boots both.
    assert_eq!(per_shard, [1, 2, 1]);

    let dirs: Vec<&str> = shards.iter().map(|p| p.to_str().unwrap()).collect();
    let merged_out = tmp.path().join("merged");
    let mo = merged_out.to_str().unwrap();
    let mut args = vec!["merge", "--out", mo];
    args.extend(dirs.iter().rev());
    kharness(&args).expect_code(0);
    let merged = latest_run(&merged_out);
    let merged_res = results_json(&merged);
    assert_eq!(statuses(&merged_res), statuses(&whole_res));
    assert_eq!(merged_res["plan_hash"], hash);
    for f in [
        "junit.xml",
        "results.ktap",
        "kcidb.json",
        "report.md",
        "report.html",
    ] {
        assert!(merged.join(f).is_file(), "{f} regenerated");
    }
    for k in merged_res["kernels"].as_array().unwrap() {
        let log = merged.join(k["console_log"].as_str().unwrap());
        assert!(log.is_file(), "{} exists", log.display());
    }
    let junit = std::fs::read_to_string(merged.join("junit.xml")).unwrap();
    let units: usize = whole_res["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["records"].as_array().unwrap().len())
        .sum();
    assert_eq!(junit.matches("<testcase").count(), units, "{junit}");

    // Refusals, exit 2 each: a shard twice, a shard missing, another plan.
    let e = kharness(&["merge", "--out", mo, dirs[0], dirs[0], dirs[1], dirs[2]]);
    e.expect_code(2);
    assert!(e.stderr().contains("given twice"), "{}", e.stderr());
    let e = kharness(&["merge", "--out", mo, dirs[0], dirs[2]]);
    e.expect_code(2);
    assert!(e.stderr().contains("2/3 missing"), "{}", e.stderr());
    kharness(&["merge", "--allow-missing", "--out", mo, dirs[0], dirs[2]]).expect_code(0);
    let partial = results_json(&latest_run(&merged_out));
    let n: usize = statuses(&partial).values().map(BTreeMap::len).sum();
    let shard2: usize = results_json(&shards[1])["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["records"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, units - shard2, "shard 2's tests are absent");

    templates_merge_these(&shards, tmp.path());

    let other = tmp.path().join("other");
    copy_dir(&shards[1], &other);
    let mut r = results_json(&other);
    r["plan_hash"] = "0".repeat(64).into();
    std::fs::write(other.join("results.json"), r.to_string()).unwrap();
    let e = kharness(&[
        "merge",
        "--out",
        mo,
        dirs[0],
        other.to_str().unwrap(),
        dirs[2],
    ]);
    e.expect_code(2);
    assert!(e.stderr().contains("different plans"), "{}", e.stderr());
}

/// The report jobs of ci/templates, run as the engines would run them on
/// these shards' artifacts: each must merge them and exit 0, leaving the
/// JUnit file where it publishes it from (and, on GitHub, the job summary).
fn templates_merge_these(shards: &[PathBuf], tmp: &Path) {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/templates");
    let yaml = |name: &str| -> serde_json::Value {
        serde_saphyr::from_str(&std::fs::read_to_string(templates.join(name)).unwrap()).unwrap()
    };
    let job_dir = |name: &str, layout: &dyn Fn(usize) -> String| {
        let d = tmp.join(name);
        std::fs::create_dir_all(d.join("bin")).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kharness"), d.join("bin/kharness")).unwrap();
        for (i, s) in shards.iter().enumerate() {
            copy_dir(s, &d.join(layout(i + 1)));
        }
        d
    };
    let bash = |dir: &Path, script: &str, env: &[(&str, &Path)]| {
        expect_clean(
            std::process::Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
                .current_dir(dir)
                .envs(env.iter().copied()),
        );
    };

    let gh = yaml("github-actions.yml");
    let dir = job_dir("github", &|k| format!("shards/run-both-shard-{k}"));
    let summary = tmp.join("github-summary.md");
    for step in gh["jobs"]["report"]["steps"].as_array().unwrap() {
        if let Some(script) = step["run"].as_str() {
            bash(&dir, script, &[("GITHUB_STEP_SUMMARY", &summary)]);
        }
    }
    assert!(dir.join("merged/both/latest/junit.xml").is_file());
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("kharness results: 2 kernels"), "{text}");

    let gl = yaml("gitlab-ci.yml");
    let dir = job_dir("gitlab", &|k| format!("shards/both/{k}"));
    let script: Vec<&str> = gl["report"]["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    bash(&dir, &script.join("\n"), &[]);
    assert!(dir.join("report/both/junit.xml").is_file());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn bad_shard_specs_are_usage_errors() {
    for bad in ["0/3", "4/3", "3"] {
        let r = kharness(&["run", "--shard", bad, "--dry-run"]);
        r.expect_code(2);
        assert!(r.stderr().contains("--shard"), "{}", r.stderr());
    }
}

#[test]
fn merge_refuses_a_directory_that_is_not_a_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let r = kharness(&[
        "merge",
        "--out",
        tmp.path().to_str().unwrap(),
        tmp.path().to_str().unwrap(),
    ]);
    r.expect_code(2);
    assert!(r.stderr().contains("results.json"), "{}", r.stderr());
}

#[test]
#[ignore = "needs the prebuilt kernels; ci/test.sh runs it"]
fn a_dry_run_shard_passes_its_slice_to_the_guest() {
    let mut args = vec!["run", "--dry-run", "--backend", "vng", "--shard", "2/3"];
    args.extend(BOTH_KERNELS);
    args.extend(["--filter", "tee"]);
    let r = kharness(&args);
    r.expect_code(0);
    // 2 kernels x n tee tests: 2n units cut at floor(k * 2n / 3); shard 2
    // is units a..b, which lie in 6.1 from a to n and in 6.12 from 0 to b - n.
    let list = kharness(&["list", "tee"]);
    list.expect_code(0);
    let n = list
        .stdout()
        .lines()
        .filter(|l| l.starts_with("tee."))
        .count();
    let (a, b) = (2 * n / 3, 4 * n / 3);
    assert!(
        a < n && b > n,
        "shard 2 of {n} tee tests straddles the kernels"
    );
    let out = r.stdout();
    // Per boot: the vng command, then the guest's argv (it goes in a file).
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].contains("6.1.0") && lines[1].contains(&format!("--slice {a}..{n}")),
        "{out}"
    );
    assert!(
        lines[2].contains("6.12") && lines[3].contains(&format!("--slice 0..{}", b - n)),
        "{out}"
    );
}
