//! `kharness bisect` end to end on a real git history: Debian's 6.12
//! source as the root commit, then 16 commits, one of which breaks a
//! test's status (a mutant from kernel-patches/mutants) and another slows
//! a perf metric (the demo series' extra pass over spliced pages). Two
//! bisections, real builds and boots: each must name its commit, with at
//! most ceil(log2(16)) + 2 = 6 kernels tested (the two ends included).
//!
//! The history is made with git plumbing in a side index, on a branch of
//! the repository tree_e2e uses (common::debian_git_tree), at fixed
//! dates: the same commit ids every run, so a rerun reuses every image
//! and only boots. The runs are kept under the target directory for
//! ci/bench-bisect.sh, which prints their figures.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{DEBIAN_BASE_TAG, git_fixed, kharness};

const BRANCH: &str = "kharness-bisect-e2e";
/// Position (1-based) of the commit that breaks `tee.non_pipe_einval`.
const STATUS_CULPRIT: usize = 5;
/// Position of the commit that slows `perf.splice_file_to_pipe`.
const PERF_CULPRIT: usize = 11;
const COMMITS: usize = 16;

/// Files a harmless commit adds a comment to (at the end, so no line of
/// code moves and no object but the file's changes): built into every
/// kernel of images/kharness.config, none of them fs/splice.c.
const HARMLESS: [&str; 14] = [
    "fs/pipe.c",
    "fs/read_write.c",
    "fs/open.c",
    "fs/file.c",
    "fs/namei.c",
    "fs/stat.c",
    "fs/fcntl.c",
    "fs/ioctl.c",
    "fs/readdir.c",
    "fs/select.c",
    "fs/sync.c",
    "fs/filesystems.c",
    "fs/attr.c",
    "fs/libfs.c",
];

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Makes (or remakes, identically) the branch: `COMMITS` commits on the
/// Debian base; returns their ids, oldest first. The work tree and the
/// repository's own index are not touched.
fn make_history(tree: &Path, scratch: &Path) -> Vec<String> {
    let index = scratch.join("bisect-index");
    let _ = std::fs::remove_file(&index);
    let env = [("GIT_INDEX_FILE", index.as_path())];
    let git = |args: &[&str], stdin: Option<&[u8]>| git_fixed(tree, &env, args, stdin);
    git(&["read-tree", DEBIAN_BASE_TAG], None);
    let mut parent = git(&["rev-parse", DEBIAN_BASE_TAG], None).trim().to_owned();
    let mut ids = Vec::new();
    let mut harmless = HARMLESS.iter();
    for i in 1..=COMMITS {
        let subject = match i {
            STATUS_CULPRIT => {
                let patch = repo_file(
                    "kernel-patches/mutants/15-tee-non-pipe-ebadf/0001-splice-fail-tee-on-a-non-pipe-with-EBADF-instead-of.patch",
                );
                git(&["apply", "--cached", patch.to_str().unwrap()], None);
                "splice: fail tee() on a non-pipe with EBADF".to_owned()
            }
            PERF_CULPRIT => {
                let patch = repo_file(
                    "kernel-patches/demo-splice-regression/0002-splice-touch-every-cache-line-of-the-pages-spliced-f.patch",
                );
                git(&["apply", "--cached", patch.to_str().unwrap()], None);
                "splice: touch every cache line of the pages spliced from a file".to_owned()
            }
            _ => {
                let file = harmless.next().unwrap();
                let mut text = git(&["cat-file", "blob", &format!(":{file}")], None).into_bytes();
                text.extend_from_slice(
                    format!("/* kharness bisect e2e: harmless change {i} */\n").as_bytes(),
                );
                let blob = git(&["hash-object", "-w", "--stdin"], Some(&text));
                git(
                    &[
                        "update-index",
                        "--cacheinfo",
                        &format!("100644,{},{file}", blob.trim()),
                    ],
                    None,
                );
                format!("{}: note harmless change {i}", file.trim_end_matches(".c"))
            }
        };
        let tree_id = git(&["write-tree"], None);
        let commit = git(
            &["commit-tree", tree_id.trim(), "-p", &parent, "-m", &subject],
            None,
        );
        parent = commit.trim().to_owned();
        ids.push(parent.clone());
    }
    git(
        &["update-ref", &format!("refs/heads/{BRANCH}"), &parent],
        None,
    );
    ids
}

fn bisect_json(run: &Path) -> serde_json::Value {
    let p = run.join("bisect.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The most kernels a bisection of `n` commits may test: ceil(log2(n))
/// steps between the ends, and the two ends.
fn bound(n: usize) -> usize {
    (n as f64).log2().ceil() as usize + 2
}

/// Checks a bisection named `want` (0-based in `ids`) within the bound,
/// with a replayable log; prints its figures for ci/bench-bisect.sh.
fn check(run: &Path, ids: &[String], want: usize, what: &str) {
    let b = bisect_json(run);
    let culprit = b["culprits"][0][0].as_str().unwrap();
    assert_eq!(
        b["outcome"]["kind"],
        "found",
        "{what}: {}",
        serde_json::to_string_pretty(&b).unwrap()
    );
    assert_eq!(
        culprit,
        ids[want],
        "{what}: named commit {} of {COMMITS}, not {}",
        ids.iter().position(|i| i == culprit).map_or(0, |p| p + 1),
        want + 1
    );
    let kernels = b["kernels"].as_u64().unwrap() as usize;
    assert!(
        kernels <= bound(COMMITS),
        "{what}: {kernels} kernels tested, more than ceil(log2({COMMITS})) + 2"
    );
    // Every step's verdict agrees with where the culprit is.
    for st in b["steps"].as_array().unwrap() {
        let i = st["index"].as_u64().unwrap() as usize;
        let want_verdict = if i > want { "bad" } else { "good" };
        assert_eq!(st["verdict"], want_verdict, "{what}: step {st}");
    }
    let log = std::fs::read_to_string(run.join("bisect.log")).unwrap();
    assert!(
        log.starts_with("git bisect start\n")
            && log.ends_with(&format!("# first bad commit: [{}] {}\n", ids[want], {
                b["culprits"][0][1].as_str().unwrap()
            })),
        "{log}"
    );
    let summary = std::fs::read_to_string(run.join("summary.txt")).unwrap();
    assert!(
        summary.contains(&format!("First bad commit: {}", &ids[want][..12])),
        "{summary}"
    );
    println!(
        "{what}: N={COMMITS} kernels={kernels} built={} boots={} wall={:.0}s",
        b["builds"],
        b["boots"],
        b["wall_s"].as_f64().unwrap()
    );
}

#[test]
#[ignore = "builds kernels and boots VMs: a git history of Debian's 6.12 source bisected twice; ci/test.sh runs it"]
fn bisect_names_the_commit_that_broke_a_test_and_the_one_that_slowed_a_metric() {
    let tree = common::debian_git_tree();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bisect-e2e");
    let out = work.join("runs");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&work).unwrap();
    let ids = make_history(&tree, &work);
    let t = tree.to_str().unwrap();
    let bisect = |test: &str, more: &[&str], runs: &Path| {
        let o = runs.to_str().unwrap();
        let args = [
            "bisect",
            "--tree",
            t,
            "--good",
            DEBIAN_BASE_TAG,
            "--bad",
            BRANCH,
            "--test",
            test,
            "--out",
            o,
        ];
        kharness(&[&args[..], more].concat())
    };

    // 1. The status: tee() on a non-pipe fails with EBADF from commit 5.
    let r = bisect(
        "tee.non_pipe_einval",
        &["--perf-mode", "wallclock"],
        &out.join("status"),
    );
    r.expect_code(0);
    assert!(
        r.stdout().contains(&format!(
            "First bad commit: {}",
            &ids[STATUS_CULPRIT - 1][..12]
        )),
        "{}",
        r.stdout()
    );
    check(
        &common::latest_run(&out.join("status")),
        &ids,
        STATUS_CULPRIT - 1,
        "status",
    );

    // 2. The metric: throughput of splice from a file drops from commit 11
    // (deterministic timing under TCG; 5 samples a step by default).
    let r = bisect(
        "perf.splice_file_to_pipe",
        &["--metric", "throughput"],
        &out.join("metric"),
    );
    r.expect_code(0);
    check(
        &common::latest_run(&out.join("metric")),
        &ids,
        PERF_CULPRIT - 1,
        "metric",
    );

    // 3. A --good where the test already fails is refused, on one line,
    // after its two boots (two incremental builds the first time).
    let r = kharness(&[
        "bisect",
        "--tree",
        t,
        "--good",
        &format!("{BRANCH}~1"),
        "--bad",
        BRANCH,
        "--test",
        "tee.non_pipe_einval",
        "--perf-mode",
        "wallclock",
        "--out",
        out.join("refused").to_str().unwrap(),
    ]);
    r.expect_code(2);
    let last = r.stderr().lines().last().unwrap_or_default().to_owned();
    assert_eq!(
        last,
        format!(
            "kharness: error: --good {BRANCH}~1: tee.non_pipe_einval already fails there \
             (fail: file_in: failed with EBADF, expected EINVAL); --good must be a revision \
             where it does not"
        )
    );
}
