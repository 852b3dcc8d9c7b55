//! The real `kharness` binary, driven without booting anything: help, bad
//! input, and the catalogue.

mod common;

use common::kharness;

#[test]
fn help_teaches_commands_and_exit_codes() {
    let r = kharness(&["--help"]);
    r.expect_code(0);
    let s = r.stdout();
    for needle in [
        "run",
        "list",
        "doctor",
        "Exit codes",
        "4  the guest kernel crashed or hung",
    ] {
        assert!(s.contains(needle), "--help lacks {needle:?}:\n{s}");
    }
    let r = kharness(&["run", "--help"]);
    r.expect_code(0);
    assert!(r.stdout().contains("Examples:"), "{}", r.stdout());
    assert!(
        r.stdout().contains("--kernel <PATH|RELEASE>"),
        "{}",
        r.stdout()
    );
}

#[test]
fn missing_kernel_path_is_bad_input() {
    let r = kharness(&["run", "--kernel", "/nonexistent/bzImage"]);
    r.expect_code(2);
    let e = r.stderr();
    assert!(e.contains("/nonexistent/bzImage: no such file"), "{e}");
    assert_eq!(e.lines().count(), 1, "one line, no trace:\n{e}");
}

#[test]
fn unknown_release_lists_what_is_available() {
    let r = kharness(&["run", "--kernel", "9.9.9-nope"]);
    r.expect_code(2);
    assert!(r.stderr().contains("9.9.9-nope"), "{}", r.stderr());
}

#[test]
fn a_file_that_is_not_a_kernel_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("not a kernel; $(id)");
    std::fs::write(&f, vec![0x41u8; 8192]).unwrap();
    let r = kharness(&["run", "--kernel", f.to_str().unwrap()]);
    r.expect_code(2);
    let e = r.stderr();
    assert!(e.contains("not an x86 bzImage"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn bad_durations_and_accels_are_usage_errors() {
    kharness(&["run", "--timeout", "soon"]).expect_code(2);
    kharness(&["run", "--timeout", "0s"]).expect_code(2);
    kharness(&["run", "--accel", "warp"]).expect_code(2);
    kharness(&["run", "--reps", "0"]).expect_code(2);
}

#[test]
fn a_filter_that_matches_nothing_is_bad_input() {
    let r = kharness(&["run", "--filter", "no.such.test*", "--dry-run"]);
    r.expect_code(2);
    assert!(
        r.stderr()
            .contains("no test matches filter 'no.such.test*'"),
        "{}",
        r.stderr()
    );
}

#[test]
fn unwritable_out_is_bad_input() {
    let r = kharness(&["run", "--out", "/proc/kharness/out", "--filter", "tee.*"]);
    r.expect_code(2);
    assert!(
        r.stderr().contains("cannot write to /proc/kharness/out"),
        "{}",
        r.stderr()
    );
}

#[test]
fn list_shows_the_catalogue_in_three_formats() {
    let r = kharness(&["list"]);
    r.expect_code(0);
    for id in [
        "splice.file_pipe_file_roundtrip",
        "tee.duplicate_content",
        "io_uring.probe",
    ] {
        assert!(r.stdout().contains(id), "{}", r.stdout());
    }
    let r = kharness(&["list", "--format", "json", "tee.*"]);
    r.expect_code(0);
    for line in r.stdout().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["id"].as_str().unwrap().starts_with("tee."));
    }
    let r = kharness(&["list", "--format", "md"]);
    r.expect_code(0);
    assert!(r.stdout().starts_with("# kharness guest test catalogue"));
}

#[test]
fn dry_run_prints_a_quoted_vng_command_and_boots_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::kharness_in(
        Some(dir.path()),
        &["run", "--dry-run", "--filter", "*zero*", "--accel", "tcg"],
    );
    r.expect_code(0);
    let s = r.stdout();
    // vng from PATH, or from kharness's own environment with its
    // directory put on PATH for virtme-ng's helpers.
    let cmd = s.strip_prefix("PATH=").map_or(s.as_str(), |rest| {
        rest.split_once("\"$PATH\" ").map_or(rest, |(_, c)| c)
    });
    let (program, rest) = cmd.split_once(' ').unwrap_or((cmd, ""));
    assert!(program == "vng" || program.ends_with("/bin/vng"), "{s}");
    assert!(rest.starts_with("--run /boot/vmlinuz-"), "{s}");
    assert!(s.contains("--disable-kvm"), "{s}");
    assert!(s.contains("'*zero*'"), "{s}");
    assert!(
        !dir.path().join("kharness-runs").exists(),
        "a dry run writes no run directory"
    );
}

#[test]
fn checked_in_catalogue_is_current() {
    let r = kharness(&["list", "--format", "md"]);
    r.expect_code(0);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-tests/CATALOGUE.md");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == r.stdout(),
        "guest-tests/CATALOGUE.md is stale: regenerate it with \
         `target/release/kharness list --format md > guest-tests/CATALOGUE.md`"
    );
}

#[test]
fn doctor_reports_tools_kernels_and_the_accelerator() {
    // ci/test.sh runs setup first, so everything required is present.
    let r = kharness(&["doctor"]);
    r.expect_code(0);
    let s = r.stdout();
    for needle in [
        "qemu-system-x86_64",
        "vng",
        "kernel 6.12.107+deb12-amd64",
        "accelerator",
        "guest binary",
        "Ready",
    ] {
        assert!(s.contains(needle), "doctor output lacks {needle:?}:\n{s}");
    }
}
