//! `kharness series` end to end: Debian's real 6.12 source, the project's
//! own series in kernel-patches/, real kernel builds, real boots. The first
//! run builds the base kernel from scratch (minutes); every later step and
//! rerun is incremental or reuses the kept bzImage.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{changes, kharness, latest_run, series_dir, series_json, unmet_expectations};

const TREE: &str = "/usr/src/linux-source-6.12";

#[test]
#[ignore = "builds kernels and boots four VMs; ci/test.sh runs it"]
fn demo_series_names_patch_2_for_the_slowdown_and_patch_3_for_the_break() {
    let out = tempfile::tempdir().unwrap();
    let r = kharness(&[
        "series",
        &series_dir("demo-splice-regression"),
        "--tree",
        TREE,
        "--reps",
        "5",
        "--filter",
        "tee.*",
        "--filter",
        "perf.splice_file_to_pipe",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    // Patch 3 breaks tee: the series makes a test worse.
    r.expect_code(1);
    let s = series_json(&latest_run(out.path()));
    let changes = s["changes"].as_array().unwrap();
    let at = |patch: u64| -> Vec<String> {
        changes
            .iter()
            .filter(|c| c["patch"] == patch)
            .map(|c| {
                format!(
                    "{} {}",
                    c["test"].as_str().unwrap(),
                    c["what"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert!(at(1).is_empty(), "patch 1 changes nothing: {:?}", at(1));
    // Patch 2 moves only the splice metrics (throughput down, time up).
    let two = at(2);
    assert!(
        two.contains(&"perf.splice_file_to_pipe metric throughput".to_owned()),
        "{changes:?}"
    );
    assert!(
        two.iter()
            .all(|c| c.starts_with("perf.splice_file_to_pipe metric ")),
        "{two:?}"
    );
    assert!(
        at(3).contains(&"tee.duplicate_content status".to_owned()),
        "{:?}",
        at(3)
    );
    let unmet = unmet_expectations(&s);
    assert!(
        unmet.is_empty(),
        "every expected effect of series.toml happens: {unmet:?}"
    );
    let stdout = r.stdout();
    assert!(
        stdout.contains("First patch that changed each result:"),
        "{stdout}"
    );
}

#[test]
#[ignore = "builds kernels and boots three VMs; ci/test.sh runs it"]
fn fatal_signal_series_changes_each_signal_observation_at_its_own_patch() {
    let out = tempfile::tempdir().unwrap();
    let r = kharness(&[
        "series",
        &series_dir("splice-fatal-signal"),
        "--tree",
        TREE,
        "--filter",
        "signals.*",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    // An improvement: no test gets worse and every expected effect happens.
    r.expect_code(0);
    let s = series_json(&latest_run(out.path()));
    let changes = changes(&s);
    let expected = [
        (
            1,
            "signals.sendfile_handled_signal observation interrupted_by_handled_signal".to_owned(),
        ),
        (
            2,
            "signals.sendfile_to_socket_handled_signal observation interrupted_by_handled_signal"
                .to_owned(),
        ),
    ];
    assert_eq!(
        changes, expected,
        "each patch changes exactly its own observation"
    );
    let exp = s["expectations"].as_array().unwrap();
    assert!(exp.len() >= 7, "{exp:?}");
    let unmet: Vec<&serde_json::Value> = exp.iter().filter(|c| c["met"] != true).collect();
    assert!(unmet.is_empty(), "unmet expectations: {unmet:?}");
}

/// A unified diff of one file of the tree, made with diff(1) the way a
/// developer's tools would, with `edit` applied to a copy of it.
fn diff_of(path: &str, edit: impl FnOnce(&str) -> String) -> String {
    let orig = std::fs::read_to_string(format!("{TREE}/{path}")).unwrap();
    let changed = edit(&orig);
    assert_ne!(orig, changed, "the edit of {path} changes it");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, &orig).unwrap();
    std::fs::write(&b, &changed).unwrap();
    let out = std::process::Command::new("diff")
        .args([
            "-u",
            "--label",
            &format!("a/{path}"),
            "--label",
            &format!("b/{path}"),
        ])
        .args([&a, &b])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "diff finds the change");
    format!(
        "diff --git a/{path} b/{path}\n{}",
        String::from_utf8(out.stdout).unwrap()
    )
}

/// A series nobody on the team wrote a manifest for: made here from the
/// tree itself, as one mbox of `git format-patch --stdout` messages, with
/// no series.toml. Patch 1 only reflows a comment in fs/pipe.c; patch 2
/// makes vmsplice() answer unknown flags with EOPNOTSUPP instead of EINVAL.
#[test]
#[ignore = "builds two kernel steps and boots three VMs; ci/test.sh runs it"]
fn a_series_made_on_the_fly_gets_its_break_attributed_without_a_manifest() {
    let one = diff_of("fs/pipe.c", |s| {
        s.replacen(
            "long pipe_fcntl(struct file *file, unsigned int cmd, unsigned int arg)\n{",
            "/* F_SETPIPE_SZ and F_GETPIPE_SZ, under the pipe mutex. */\nlong pipe_fcntl(struct file *file, unsigned int cmd, unsigned int arg)\n{",
            1,
        )
    });
    let two = diff_of("fs/splice.c", |s| {
        s.replacen(
            "\tif (unlikely(flags & ~SPLICE_F_ALL))\n\t\treturn -EINVAL;\n\n\tf = fdget(fd);\n\terror = vmsplice_type(f, &type);",
            "\tif (unlikely(flags & ~SPLICE_F_ALL))\n\t\treturn -EOPNOTSUPP;\n\n\tf = fdget(fd);\n\terror = vmsplice_type(f, &type);",
            1,
        )
    });
    let message = |n: u32, subject: &str, body: &str, diff: &str| {
        format!(
            "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n\
             From: Someone Else <someone@example.org>\n\
             Date: Sun, 22 Nov 2026 08:00:0{n} +0000\n\
             Subject: [PATCH {n}/2] {subject}\n\n{body}\n\n\
             Signed-off-by: Someone Else <someone@example.org>\n---\n{diff}--\n2.47.3\n\n"
        )
    };
    let mbox = message(1, "pipe: say what pipe_fcntl() handles", "A comment.", &one)
        + &message(
            2,
            "splice: answer unknown vmsplice() flags with EOPNOTSUPP",
            "Deliberately wrong, to see the harness notice.",
            &two,
        );
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("on-the-fly.mbox");
    std::fs::write(&series, mbox).unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = kharness(&[
        "series",
        series.to_str().unwrap(),
        "--tree",
        TREE,
        "--filter",
        "vmsplice.*",
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount.
        "--perf-mode",
        "wallclock",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    r.expect_code(1);
    let s = series_json(&latest_run(out.path()));
    assert_eq!(s["steps"].as_array().unwrap().len(), 3, "{s}");
    let changes = changes(&s);
    assert!(
        changes.contains(&(2, "vmsplice.errors status".to_owned())),
        "{changes:?}"
    );
    assert!(
        changes.iter().all(|(p, _)| *p == 2),
        "the comment-only patch 1 changes nothing: {changes:?}"
    );
}

#[test]
#[ignore = "builds kernels and boots a VM; ci/test.sh runs it"]
fn a_patch_that_does_not_apply_stops_the_series_with_exit_3_and_keeps_earlier_steps() {
    let out = tempfile::tempdir().unwrap();
    let r = kharness(&[
        "series",
        &series_dir("broken-second-patch"),
        "--tree",
        TREE,
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount.
        "--perf-mode",
        "wallclock",
        "--filter",
        "tee.duplicate_content",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    r.expect_code(3);
    let err = r.stderr();
    assert!(err.contains("patch 2/2"), "names the patch:\n{err}");
    assert!(err.contains("fs/splice.c"), "names the file:\n{err}");
    assert!(err.contains("@@"), "names the hunk:\n{err}");
    let s = series_json(&latest_run(out.path()));
    let steps = s["steps"].as_array().unwrap();
    assert_eq!(
        steps.len(),
        2,
        "base and patch 1 were built and run: {steps:?}"
    );
    assert!(s["stopped"].as_str().unwrap().contains("does not apply"));
}
