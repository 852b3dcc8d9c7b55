//! `kharness run --tree` and `kharness series BASE..TIP --tree` end to end
//! on a git repository made from Debian's 6.12 source: real builds, real
//! boots. One test walks a developer's day, so the costly git copy and
//! the base build happen once: edit, run against HEAD; edit again, run
//! again (incremental, base image reused); commit both edits and run the
//! range as a series.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{Run, changes, kharness, latest_run, series_json};

const FILTERS: [&str; 4] = [
    "--filter",
    "tee.non_pipe_einval",
    "--filter",
    "vmsplice.errors",
];

fn git(tree: &Path, args: &[&str]) -> String {
    common::git_fixed(tree, &[], args, None)
}

/// Replaces `old` (exactly once) in fs/splice.c by writing a new file and
/// renaming it into place, as editors do: the hard-linked original in SRC
/// is never written.
fn edit_splice(tree: &Path, old: &str, new: &str) {
    let p = tree.join("fs/splice.c");
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.matches(old).count(), 1, "{old:?} in fs/splice.c");
    let tmp = tree.join("fs/splice.c.edit");
    std::fs::write(&tmp, text.replace(old, new)).unwrap();
    std::fs::rename(&tmp, &p).unwrap();
}

/// The kbuild steps of the build kharness reported for `label`.
fn kbuild_steps(r: &Run, label: &str) -> Option<usize> {
    let stderr = r.stderr();
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("kharness: [{label}] built in ")))?;
    let n = line.split('(').nth(1)?.split_whitespace().next()?;
    n.parse().ok()
}

const BASE_TAG: &str = common::DEBIAN_BASE_TAG;
const TEE_OLD: &str = "\tssize_t ret = -EINVAL;\n";
const TEE_NEW: &str = "\tssize_t ret = -EBADF;\n";
const VMSPLICE_OLD: &str = "\tif (!iov_iter_count(&iter))\n\t\terror = 0;\n";
const VMSPLICE_NEW: &str = "\tif (!iov_iter_count(&iter))\n\t\terror = -EINVAL;\n";

#[test]
#[ignore = "makes a git copy of the kernel source, builds kernels and boots six VMs; ci/test.sh runs it"]
fn a_working_tree_and_then_its_commits_are_reported_against_their_base() {
    let tmp = tempfile::tempdir().unwrap();
    // A fixed path (ci/bench-tree.sh uses it too), the repository kept
    // between runs: kharness keys the mirror and the scratch worktree by
    // the tree's path (and the worktree by the repository), so a rerun
    // builds incrementally instead of filling two build directories anew.
    let tree = common::debian_git_tree();
    let out = tmp.path().join("runs");
    // Back to the base commit, the last run's edits and commits gone.
    git(&tree, &["checkout", "-q", "-f", "-B", "main", BASE_TAG]);
    git(&tree, &["stash", "clear"]);
    let (t, o) = (tree.to_str().unwrap(), out.to_str().unwrap());
    let run_tree = || {
        kharness(
            &[
                &["run", "--tree", t, "--base", "HEAD", "--out", o][..],
                &FILTERS[..],
            ]
            .concat(),
        )
    };

    // 1. One edit, run against HEAD: tee() on a non-pipe now fails with
    // EBADF, and the report says the working tree did it.
    edit_splice(&tree, TEE_OLD, TEE_NEW);
    let r = run_tree();
    r.expect_code(1);
    let first = latest_run(&out);
    assert_eq!(
        changes(&series_json(&first)),
        [(1, "tee.non_pipe_einval status".to_owned())],
        "{}",
        r.stdout()
    );
    assert!(r.stdout().contains("working tree "), "{}", r.stdout());
    // Both kernels kharness built boot their vmlinux directly: the base
    // from the build cache (vmlinux kept beside the bzImage), the working
    // tree from its build directory (vmlinux at its top).
    assert_eq!(
        r.stderr().matches("qemu, tcg, vmlinux via PVH").count()
            + r.stderr().matches("qemu, kvm, vmlinux via PVH").count(),
        2,
        "{}",
        r.stderr()
    );
    // Nothing was written into the tree: no .config, no objects, no
    // worktree files; only the edit shows.
    assert_eq!(
        git(&tree, &["status", "--porcelain", "--ignored"]),
        " M fs/splice.c\n"
    );

    // 2. Another edit: the base image is reused (cached by commit id) and
    // the working tree rebuilds incrementally.
    edit_splice(&tree, VMSPLICE_OLD, VMSPLICE_NEW);
    let r = run_tree();
    r.expect_code(1);
    assert!(
        r.stderr().contains("kharness: [base] reusing "),
        "{}",
        r.stderr()
    );
    let steps = kbuild_steps(&r, "+1").unwrap_or_else(|| panic!("{}", r.stderr()));
    assert!(
        steps < 200,
        "a one-file edit rebuilds a few objects and the image, not {steps} steps"
    );
    let second = latest_run(&out);
    assert_eq!(
        changes(&series_json(&second)),
        [
            (1, "tee.non_pipe_einval status".to_owned()),
            (1, "vmsplice.errors status".to_owned())
        ]
    );
    assert_eq!(
        git(&tree, &["status", "--porcelain", "--ignored"]),
        " M fs/splice.c\n"
    );

    // 3. Both edits committed one by one: the range is a series whose
    // steps are the commits, named by id and subject.
    git(&tree, &["stash", "-q"]);
    edit_splice(&tree, TEE_OLD, TEE_NEW);
    git(&tree, &["commit", "-q", "-am", "splice: tee EBADF"]);
    edit_splice(&tree, VMSPLICE_OLD, VMSPLICE_NEW);
    git(&tree, &["commit", "-q", "-am", "splice: vmsplice EINVAL"]);
    let ids: Vec<String> = git(&tree, &["log", "--format=%H", "--reverse", "HEAD~2..HEAD"])
        .lines()
        .map(|l| l[..12].to_owned())
        .collect();
    let r = kharness(
        &[
            &["series", "HEAD~2..HEAD", "--tree", t, "--out", o][..],
            &FILTERS[..],
        ]
        .concat(),
    );
    r.expect_code(1);
    let run = latest_run(&out);
    assert_eq!(
        changes(&series_json(&run)),
        [
            (1, "tee.non_pipe_einval status".to_owned()),
            (2, "vmsplice.errors status".to_owned())
        ]
    );
    // The base is the commit `run --tree --base HEAD` built before.
    assert!(
        r.stderr().contains("kharness: [base] reusing "),
        "{}",
        r.stderr()
    );
    let s = series_json(&run);
    let subjects: Vec<&str> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|st| st["subject"].as_str())
        .collect();
    assert_eq!(
        subjects,
        [
            format!("{} splice: tee EBADF", ids[0]),
            format!("{} splice: vmsplice EINVAL", ids[1])
        ]
    );
    let summary = std::fs::read_to_string(run.join("summary.txt")).unwrap();
    for id in &ids {
        assert!(
            summary.contains(id.as_str()),
            "{id} in summary.txt:\n{summary}"
        );
    }
    let junit = std::fs::read_to_string(run.join("junit.xml")).unwrap_or_default();
    assert!(junit.contains(&ids[1]), "{junit}");
}
