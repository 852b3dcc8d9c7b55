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

/// Every file under `dir` with its size and modification time.
#[expect(clippy::unwrap_used, reason = "a panic is the test failing")]
fn listing(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (e.path(), m.len(), m.modified().unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn report_and_compare_leave_the_run_directories_alone() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    for (dir, name) in [(&a, "clean-one-kernel"), (&b, "crash-two-kernels")] {
        std::fs::create_dir(dir).unwrap();
        std::fs::copy(
            fixtures.join(format!("{name}.json")),
            dir.join("results.json"),
        )
        .unwrap();
    }
    let before = (listing(&a), listing(&b));
    let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());
    kharness(&["report", sa]).expect_code(0);
    kharness(&["compare", sa, sb]);
    assert_eq!(
        (listing(&a), listing(&b)),
        before,
        "a read wrote into a run"
    );
    // Asked for, the files go where they are asked to.
    let out = d.path().join("out");
    let so = out.to_str().unwrap();
    kharness(&["report", sa, "--out", so]).expect_code(0);
    kharness(&["compare", sa, sb, "--out", so]);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.contains(&"report.html".to_owned()), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("compare-") && n.ends_with(".json")),
        "{names:?}"
    );
    assert_eq!((listing(&a), listing(&b)), before);
    kharness(&["report", sa, "--write"]).expect_code(0);
    assert!(
        a.join("junit.xml").is_file(),
        "--write regenerates in place"
    );
}

/// Runs kharness with its stdout a pipe whose reader is already gone
/// (`kharness list | head -1` once head has exited).
#[expect(clippy::unwrap_used, reason = "a panic is the test failing")]
fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    common::guest();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kharness"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    // A run whose exit code would be 4 (a crash): a closed pipe still ends 0.
    let d = crash_run_dir();
    for args in [
        vec!["list"],
        vec!["report", d.path().to_str().unwrap()],
        vec!["man"],
    ] {
        let (code, stderr) = into_closed_pipe(&args);
        assert_eq!(code, Some(0), "kharness {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "kharness {args:?}: {stderr}");
        assert!(!stderr.contains("error"), "kharness {args:?}: {stderr}");
    }
}

/// `kharness series SERIES --tree T --dry-run` with T an empty tree made
/// under `d`, the cache and runs under `d` too.
#[expect(clippy::unwrap_used, reason = "a panic is the test failing")]
fn series_dry_run(d: &std::path::Path, series: &str) -> common::Run {
    // What a kernel tree needs to look like to be accepted as one.
    let tree = d.join("linux");
    for f in [
        "Makefile",
        "Kconfig",
        "arch/x86/Kconfig",
        "scripts/kconfig/Makefile",
    ] {
        let p = tree.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "").unwrap();
    }
    common::run_with(
        {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kharness"));
            cmd.env("KHARNESS_CACHE_DIR", d.join("cache"));
            cmd
        },
        &[
            "series",
            series,
            "--tree",
            tree.to_str().unwrap(),
            "--out",
            d.join("runs").to_str().unwrap(),
            "--dry-run",
        ],
    )
}

#[test]
fn series_dry_run_prints_the_steps_and_builds_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (cache, out) = (d.path().join("cache"), d.path().join("runs"));
    let r = series_dry_run(d.path(), &common::series_dir("demo-splice-regression"));
    r.expect_code(0);
    let text = r.stdout();
    for step in ["step base:", "step   +1:", "step   +2:", "step   +3:"] {
        assert!(text.contains(step), "{text}");
    }
    assert!(text.contains("backend qemu"), "{text}");
    assert!(!cache.exists(), "a dry run made a scratch tree or a build");
    assert!(!out.exists(), "a dry run made a run directory");
}

#[test]
fn color_follows_the_flag_and_the_conventions() {
    let d = crash_run_dir();
    let run = d.path().to_str().unwrap();
    let report = |env: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kharness"));
        for k in [
            "NO_COLOR",
            "CLICOLOR",
            "CLICOLOR_FORCE",
            "CI",
            "KHARNESS_COLOR",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().copied());
        let mut args = vec!["report", run];
        args.extend(extra);
        common::run_with(cmd, &args).stdout()
    };
    let colored = |s: &str| s.contains("\x1b[");
    // stdout is a pipe here: auto is plain, unless forced.
    assert!(!colored(&report(&[], &[])));
    assert!(colored(&report(&[], &["--color", "always"])));
    assert!(colored(&report(&[("CLICOLOR_FORCE", "1")], &[])));
    assert!(!colored(&report(
        &[("CLICOLOR_FORCE", "1")],
        &["--color", "never"]
    )));
    assert!(colored(&report(
        &[("NO_COLOR", "1")],
        &["--color", "always"]
    )));
    assert!(colored(&report(&[("KHARNESS_COLOR", "always")], &[])));
    // The words are the same either way.
    let plain = report(&[], &[]);
    let painted = report(&[], &["--color", "always"]);
    let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(&painted, "")
        .into_owned();
    assert_eq!(stripped, plain);
}

/// A run directory holding the two-kernel crash fixture as its results.json.
fn crash_run_dir() -> tempfile::TempDir {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let d = tempfile::tempdir().expect("a temporary directory");
    std::fs::copy(
        fixtures.join("crash-two-kernels.json"),
        d.path().join("results.json"),
    )
    .expect("the fixture copies");
    d
}

/// `b4 mbox` writes the thread gzipped (t.mbox.gz): the same steps as the
/// mbox it holds.
#[test]
fn a_gzipped_mbox_gives_the_steps_of_the_mbox() {
    let fixture = |f: &str| format!("{}/tests/fixtures/series/{f}", env!("CARGO_MANIFEST_DIR"));
    let d = tempfile::tempdir().unwrap();
    let plain = series_dry_run(d.path(), &fixture("fatal-signal.mbox"));
    let gz = series_dry_run(d.path(), &fixture("fatal-signal.mbox.gz"));
    plain.expect_code(0);
    gz.expect_code(0);
    assert!(gz.stdout().contains("step   +2:"), "{}", gz.stdout());
    assert_eq!(
        gz.stdout()
            .replace("fatal-signal.mbox.gz", "fatal-signal.mbox"),
        plain.stdout()
    );
}
