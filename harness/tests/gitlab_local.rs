//! ci/templates/gitlab-ci.yml on a real CI engine: gitlab-ci-local (npm)
//! runs the pipeline with its shell executor, each job in a directory of
//! its own (`--shell-isolation`), so the shards' results reach the report
//! job only as artifacts. The matrix is cut to one kernel x two shards and
//! two tests, in wall-clock mode; the jobs boot real VMs.
//!
//! A passing pipeline: every job succeeds, the report job got both shards
//! and wrote the merged JUnit and report.md, which hold both tests. A
//! pipeline whose guest crashes: that shard's job fails, the other
//! passes, and the report job still runs, merges and fails, as the
//! template promises.
//!
//! gitlab-ci-local comes from ci/test-deps.sh (a kharness-owned npm
//! prefix); without it the test skips, unless `CI` is set.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::have;

const KERNEL: &str = "6.12.117+deb12-amd64";

/// gitlab-ci-local on PATH, else where ci/test-deps.sh installs it.
fn gitlab_ci_local() -> Option<PathBuf> {
    if let Some(p) = kharness::support::paths::resolve_program(Path::new("gitlab-ci-local")) {
        return Some(p);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))?;
    let p = data.join("kharness/test-node/node_modules/.bin/gitlab-ci-local");
    p.is_file().then_some(p)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The template with its matrix cut to one kernel and two shards, and
/// `edit` applied (a replacement that must match).
fn template(edit: Option<(&str, &str)>) -> String {
    let mut s = std::fs::read_to_string(root().join("ci/templates/gitlab-ci.yml")).unwrap();
    let mut replace = |from: &str, to: &str| {
        assert!(s.contains(from), "the template no longer holds {from:?}");
        s = s.replace(from, to);
    };
    replace(
        "      - KERNEL: [\"6.1.0-56-amd64\", \"6.12.107+deb12-amd64\"]\n        SHARD: [\"1\", \"2\", \"3\"]",
        &format!("      - KERNEL: [\"{KERNEL}\"]\n        SHARD: [\"1\", \"2\"]"),
    );
    if let Some((from, to)) = edit {
        replace(from, to);
    }
    s
}

struct Pipeline {
    dir: tempfile::TempDir,
    output: String,
    /// Job name -> passed.
    jobs: BTreeMap<String, bool>,
}

impl Pipeline {
    fn project(&self) -> &Path {
        self.dir.path()
    }

    /// A file the report job left in its isolated directory.
    fn report_file(&self, rel: &str) -> PathBuf {
        self.project()
            .join(".gitlab-ci-local/builds/report")
            .join(rel)
    }

    fn status(&self, job: &str) -> bool {
        *self
            .jobs
            .get(job)
            .unwrap_or_else(|| panic!("no job {job:?} in the summary\n{}", self.output))
    }
}

/// Runs the pipeline of `yaml` in a fresh git project with `filters`,
/// kharness and its guest being the ones under test.
fn pipeline(gcl: &Path, yaml: &str, filters: &str) -> Pipeline {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join(".gitlab-ci.yml"), yaml).unwrap();
    let git = |args: &[&str]| {
        common::expect_clean(Command::new("git").args(args).current_dir(p));
    };
    git(&["init", "-q"]);
    git(&["add", ".gitlab-ci.yml"]);
    git(&[
        "-c",
        "user.name=kharness",
        "-c",
        "user.email=kharness@localhost",
        "commit",
        "-q",
        "-m",
        "pipeline",
    ]);
    // A "built checkout" for KHARNESS_BUILT: the binaries under test.
    let built = tempfile::tempdir().unwrap();
    let host = built.path().join("target/release");
    let guest = built.path().join("target/x86_64-unknown-linux-gnu/release");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::create_dir_all(&guest).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_kharness"), host.join("kharness")).unwrap();
    std::fs::copy(common::guest(), guest.join("kharness-guest")).unwrap();

    let var = |k: &str, v: &str| ["--variable".to_owned(), format!("{k}={v}")];
    let mut cmd = Command::new(gcl);
    cmd.current_dir(p)
        .args([
            "--force-shell-executor",
            "--shell-isolation",
            // Artifacts go from job to job only, never into the project
            // directory, where a later job could find them without them.
            "--no-artifacts-to-source",
            "--no-color",
            "--home",
        ])
        .arg(p.join(".gcl-home"))
        .args(var("KHARNESS_BUILT", built.path().to_str().unwrap()))
        .args(var("RUN_SERIES", "0"))
        .args(var("SHARDS", "2"))
        .args(var("FILTERS", filters))
        // Checks no metric: wall-clock timing, 2.5-3x faster under TCG.
        .args(var("KHARNESS_PERF_MODE", "wallclock"))
        .env_remove("CI");
    let out = cmd.output().unwrap();
    let output = format!(
        "gitlab-ci-local: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs = summary(&String::from_utf8_lossy(&out.stdout));
    drop(built);
    Pipeline { dir, output, jobs }
}

/// The job statuses of gitlab-ci-local's closing summary: `PASS  job` and
/// `FAIL  job` lines.
fn summary(stdout: &str) -> BTreeMap<String, bool> {
    let mut jobs = BTreeMap::new();
    for line in stdout.lines() {
        let line = line.trim_start();
        let (passed, rest) = if let Some(r) = line.strip_prefix("PASS ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("FAIL ") {
            (false, r)
        } else {
            continue;
        };
        let name = rest.trim();
        let name = name.split("  ").next().unwrap_or(name).trim();
        jobs.insert(name.to_owned(), passed);
    }
    jobs
}

fn shard_job(k: u32) -> String {
    format!("run: [{KERNEL},{k}]")
}

#[test]
#[ignore = "runs the GitLab template with gitlab-ci-local, booting VMs; ci/test.sh runs it"]
fn the_gitlab_template_runs_its_matrix_and_merges_on_a_real_engine() {
    let Some(gcl) = gitlab_ci_local() else {
        have(false, "gitlab-ci-local");
        return;
    };
    common::guest();
    let yaml = template(None);

    // Everything passes.
    let ok = pipeline(
        &gcl,
        &yaml,
        "tee.duplicate_content tee.input_left_unconsumed",
    );
    for job in ["build", &shard_job(1), &shard_job(2), "report"] {
        assert!(ok.status(job), "{job} failed\n{}", ok.output);
    }
    // The shards reached the report job as artifacts, nothing else.
    for k in 1..=2 {
        let shard = ok.report_file(&format!("shards/{KERNEL}/{k}/results.json"));
        assert!(
            shard.is_file(),
            "{} missing\n{}",
            shard.display(),
            ok.output
        );
    }
    let junit = std::fs::read_to_string(ok.report_file(&format!("report/{KERNEL}/junit.xml")))
        .unwrap_or_else(|e| panic!("no merged junit.xml: {e}\n{}", ok.output));
    let md = std::fs::read_to_string(ok.report_file(&format!("report/{KERNEL}/report.md")))
        .unwrap_or_else(|e| panic!("no merged report.md: {e}\n{}", ok.output));
    for id in ["tee.duplicate_content", "tee.input_left_unconsumed"] {
        assert_eq!(
            junit.matches(&format!("name=\"{id}\"")).count(),
            1,
            "{id} once in the merged JUnit:\n{junit}"
        );
    }
    // The Markdown report tells the same: both tests, both passed.
    assert!(md.contains("2 tests") && md.contains(": 2 pass"), "{md}");
    assert!(!junit.contains("<failure"), "{junit}");
    let merged: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ok.report_file(&format!("report/{KERNEL}/results.json"))).unwrap(),
    )
    .unwrap();
    let records = merged["kernels"][0]["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "both shards' tests merged: {merged}");

    // A guest crash in one shard: its job fails, the other passes, the
    // report job runs anyway, merges what there is and fails.
    let crash = pipeline(&gcl, &yaml, "selftest.sysrq_crash tee.duplicate_content");
    let shards = [crash.status(&shard_job(1)), crash.status(&shard_job(2))];
    assert_eq!(
        shards.iter().filter(|ok| !**ok).count(),
        1,
        "one shard job fails\n{}",
        crash.output
    );
    assert!(
        !crash.status("report"),
        "the report fails\n{}",
        crash.output
    );
    let junit = std::fs::read_to_string(crash.report_file(&format!("report/{KERNEL}/junit.xml")))
        .unwrap_or_else(|e| panic!("no merged junit.xml after a crash: {e}\n{}", crash.output));
    assert!(junit.contains("selftest.sysrq_crash"), "{junit}");
    assert!(junit.contains("tee.duplicate_content"), "{junit}");
}
