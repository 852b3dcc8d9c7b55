//! `kharness doctor` and the KVM probe through the real binary, with a
//! stand-in QEMU (a shell script) so a probe can hang, fail or succeed on
//! demand: only a verdict QEMU really gave is cached, the probe uses the
//! QEMU a run would (`--qemu`, or the one on PATH), and Ctrl-C stops it.
//! The probe only runs where /dev/kvm opens (as it does here, a KVM that
//! cannot run kernels); elsewhere these tests say so and pass.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn kvm_opens() -> bool {
    let ok = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !ok {
        eprintln!("/dev/kvm does not open here: doctor never probes, nothing to check");
    }
    ok
}

/// `dir/qemu-system-x86_64`, a script that writes its pid to `dir/pid`
/// and then runs `body`.
fn fake_qemu(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("qemu-system-x86_64");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\ncase \"$1\" in --version) echo 'QEMU emulator version 0 (fake)'; exit 0;; esac\necho $$ > {}/pid\n{body}\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// kharness with the cache in `cache` and `bin` first on PATH.
fn doctor(cache: &Path, bin: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kharness"));
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.arg("doctor")
        .args(args)
        .env("KHARNESS_CACHE_DIR", cache)
        .env("PATH", format!("{}:{path}", bin.display()))
        .env_remove("KHARNESS_QEMU");
    cmd
}

fn cached(cache: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(cache.join("accel.json")).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

#[test]
fn a_probe_that_reached_no_verdict_is_not_cached() {
    if !kvm_opens() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    // QEMU stops for a reason that says nothing about KVM.
    fake_qemu(d.path(), "echo 'qemu: could not load kernel' >&2; exit 1");
    let r = common::run_with(doctor(&cache, d.path(), &[]), &[]);
    assert!(
        r.stdout().contains("the KVM probe found nothing"),
        "{}",
        r.stdout()
    );
    assert_eq!(cached(&cache), None, "a failed probe was cached");
}

#[test]
fn a_verdict_is_cached_for_the_qemu_given_and_reprobe_probes_again() {
    if !kvm_opens() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let other = d.path().join("other");
    std::fs::create_dir(&other).unwrap();
    // The QEMU on PATH would hang; the one given with --qemu answers.
    fake_qemu(d.path(), "exec sleep 300");
    let given = fake_qemu(
        &other,
        "echo 'KVM internal error. Suberror: 1' >&2; exec sleep 300",
    );
    let q = given.to_str().unwrap();
    let r = common::run_with(doctor(&cache, d.path(), &["--qemu", q]), &[]);
    assert!(
        r.stdout().contains("KVM is present but unusable"),
        "{}",
        r.stdout()
    );
    let entry = cached(&cache).expect("a verdict QEMU gave is cached");
    assert!(entry["key"].as_str().unwrap().contains(q), "{entry}");
    // The cached verdict is used, and says how to probe again.
    std::fs::remove_file(other.join("pid")).unwrap();
    let r = common::run_with(doctor(&cache, d.path(), &["--qemu", q]), &[]);
    assert!(r.stdout().contains("cached"), "{}", r.stdout());
    assert!(r.stdout().contains("--reprobe"), "{}", r.stdout());
    assert!(!other.join("pid").exists(), "probed in spite of the cache");
    common::run_with(doctor(&cache, d.path(), &["--qemu", q, "--reprobe"]), &[]);
    assert!(other.join("pid").exists(), "--reprobe did not probe");
}

#[test]
fn ctrl_c_stops_the_kvm_probe_and_its_qemu() {
    if !kvm_opens() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    fake_qemu(d.path(), "exec sleep 300");
    let mut child = doctor(&cache, d.path(), &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pidfile = d.path().join("pid");
    let end = Instant::now() + Duration::from_secs(60);
    while !pidfile.exists() {
        assert!(Instant::now() < end, "the probe never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let qemu: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let started = Instant::now();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit code after Ctrl-C");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    let stat = std::fs::read_to_string(format!("/proc/{qemu}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "the probe's QEMU {qemu} outlived the interrupt: {stat}"
    );
    assert_eq!(cached(&cache), None, "an interrupted probe was cached");
}

#[test]
fn vng_is_not_required_when_the_qemu_backend_works() {
    let d = tempfile::tempdir().unwrap();
    let r = common::run_with(
        doctor(
            d.path(),
            d.path(),
            &["--vng", "/nonexistent/vng", "--accel", "tcg"],
        ),
        &[],
    );
    let out = r.stdout();
    assert!(
        out.lines()
            .any(|l| l.starts_with("missing  /nonexistent/vng")),
        "{out}"
    );
    assert!(out.contains("backend") && out.contains("qemu"), "{out}");
    let r = common::run_with(
        doctor(
            d.path(),
            d.path(),
            &[
                "--vng",
                "/nonexistent/vng",
                "--backend",
                "vng",
                "--accel",
                "tcg",
            ],
        ),
        &[],
    );
    r.expect_code(3);
    assert!(
        r.stdout()
            .lines()
            .any(|l| l.starts_with("MISSING  /nonexistent/vng")),
        "{}",
        r.stdout()
    );
}

/// The `guest binary` line of doctor's output.
fn guest_line(r: &common::Run) -> String {
    let out = r.stdout();
    out.lines()
        .find(|l| l.contains("guest binary"))
        .unwrap_or_else(|| panic!("no guest binary line in:\n{out}"))
        .to_owned()
}

#[test]
fn doctor_says_which_guest_binary_a_run_uses_and_which_rule_chose_it() {
    let d = tempfile::tempdir().unwrap();
    let guest = std::fs::canonicalize(common::guest()).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = doctor(d.path(), d.path(), &["--accel", "tcg"]);
        cmd.env_remove("KHARNESS_GUEST");
        common::run_with(cmd, args)
    };
    // target/debug/kharness: the checkout's static release build.
    let line = guest_line(&run(&[]));
    assert!(line.starts_with("ok "), "{line}");
    assert!(line.contains(&guest.display().to_string()), "{line}");
    assert!(line.contains("the checkout's static build"), "{line}");

    let copy = d.path().join("my guest");
    std::fs::copy(&guest, &copy).unwrap();
    let line = guest_line(&run(&["--guest", copy.to_str().unwrap()]));
    assert!(line.contains(copy.to_str().unwrap()), "{line}");
    assert!(line.contains("given by --guest"), "{line}");

    // Doctor builds nothing; it says where a run would.
    let line = guest_line(&run(&["--rebuild-guest"]));
    let sources = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .unwrap()
        .display()
        .to_string();
    assert!(line.contains("a run builds it with cargo in"), "{line}");
    assert!(line.contains(&sources), "{line}");
}
