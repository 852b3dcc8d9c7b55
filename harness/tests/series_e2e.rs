//! `kharness series` end to end: Debian's real 6.12 source, the project's
//! own series in kernel-patches/, real kernel builds, real boots. The first
//! run builds the base kernel from scratch (minutes); every later step and
//! rerun is incremental or reuses the kept bzImage.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{kharness, latest_run, series_dir, series_json, unmet_expectations};

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
#[ignore = "builds kernels and boots a VM; ci/test.sh runs it"]
fn a_patch_that_does_not_apply_stops_the_series_with_exit_3_and_keeps_earlier_steps() {
    let out = tempfile::tempdir().unwrap();
    let r = kharness(&[
        "series",
        &series_dir("broken-second-patch"),
        "--tree",
        TREE,
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
