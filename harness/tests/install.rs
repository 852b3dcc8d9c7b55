//! Install anywhere: `ci/install.sh PREFIX` gives a kharness that works
//! from any directory with no checkout and no cargo: it takes the static
//! guest from PREFIX/lib/kharness, says so in `doctor`, and never builds.
//!
//! The checkout cannot be moved away under a running test, so it is made
//! unreachable instead: the installed kharness runs in a private mount
//! namespace (`unshare --mount`; as a user, inside a user namespace of
//! its own, `-r`) where an empty tmpfs lies over the checkout and over
//! cargo's home, so nothing of the sources, the target directory or the
//! toolchain can be read or built. It runs the way a machine without a
//! checkout would run it: from `/`, with PATH holding only Debian's
//! directories, no KHARNESS_* settings and no kharness.toml to find.
//! Where namespaces are refused (a sandbox without the capability), the
//! tests skip with the reason, and fail under CI. install.sh reuses the
//! release binaries ci/setup.sh built (cargo's no-op); it never builds
//! into a target directory of its own.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, have, results_json, run_with};

/// The target directory the binaries under test live in.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_kharness"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_owned()
}

/// `ci/install.sh PREFIX` into a new temporary prefix, reusing the release
/// build; `None` (a skip, or a failure under CI) when ci/setup.sh has not
/// built it here.
fn install() -> Option<tempfile::TempDir> {
    let target = target_dir();
    let built = target.join("release/kharness").is_file()
        && target
            .join("x86_64-unknown-linux-gnu/release/kharness-guest")
            .is_file();
    if !have(built, "the release build of ci/setup.sh") {
        return None;
    }
    let prefix = tempfile::Builder::new()
        .prefix("kharness-prefix")
        .tempdir()
        .unwrap();
    let started = std::time::Instant::now();
    let mut cmd = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../ci/install.sh"));
    cmd.arg(prefix.path())
        // The release build of this checkout, whatever cargo test's own
        // flags: a RUSTFLAGS of the caller would rebuild everything.
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    common::expect_clean(&mut cmd);
    eprintln!("ci/install.sh took {:.1?}", started.elapsed());
    for f in ["bin/kharness", "lib/kharness/kharness-guest"] {
        assert!(prefix.path().join(f).is_file(), "{f} was not installed");
    }
    Some(prefix)
}

/// The checkout (this workspace) and cargo's home: what an installed
/// kharness must not need.
fn hidden_dirs() -> Vec<PathBuf> {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    [Some(checkout.to_owned()), cargo_home]
        .into_iter()
        .flatten()
        .filter(|d| d.is_dir())
        .map(|d| std::fs::canonicalize(d).unwrap())
        .collect()
}

/// Mounts an empty tmpfs over each of its first N arguments (N is `$1`),
/// then runs the rest.
const HIDE: &str = r#"n=$1; shift
while [ "$n" -gt 0 ]; do
  mount -t tmpfs -o size=64k,mode=0555 kharness-hidden "$1" || exit 97
  shift; n=$((n - 1))
done
exec "$@""#;

/// `unshare`'s flags for a private mount namespace (inside a user
/// namespace of our own when not root), once checked to let a tmpfs be
/// mounted; else why not.
fn namespace() -> Result<Vec<&'static str>, String> {
    let mut flags = vec!["--mount", "--propagation", "private"];
    if !rustix::process::geteuid().is_root() {
        flags.insert(0, "--map-root-user");
    }
    let probe = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args(&flags)
        .args(["--", "sh", "-c", HIDE, "sh", "1"])
        .arg(probe.path())
        .arg("true")
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(flags),
        Ok(o) => Err(format!(
            "unshare {} cannot mount a tmpfs here ({}): {}",
            flags.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("unshare (util-linux) cannot run: {e}")),
    }
}

/// `PREFIX/bin/kharness ARGS` from `/`, with no cargo on PATH, the
/// checkout and cargo's home hidden under empty file systems, and none
/// of the caller's settings to lean on. `None` (a skip, or a failure
/// under CI) where mount namespaces are refused.
fn installed(prefix: &Path, args: &[&str]) -> Option<Run> {
    let flags = match namespace() {
        Ok(f) => f,
        Err(why) => {
            have(
                false,
                &format!("a mount namespace to hide the checkout in: {why}"),
            );
            return None;
        }
    };
    let hidden = hidden_dirs();
    let mut cmd = Command::new("unshare");
    cmd.args(&flags)
        .args(["--", "sh", "-c", HIDE, "sh"])
        .arg(hidden.len().to_string())
        .args(&hidden)
        .arg(prefix.join("bin/kharness"));
    cmd.current_dir("/").env("PATH", "/usr/bin:/bin");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("KHARNESS_") || k.starts_with("CARGO") || k.starts_with("RUST") {
            cmd.env_remove(k);
        }
    }
    let mut r = run_with(cmd, args);
    // Failures name the installed kharness, not unshare.
    r.argv[0] = format!(
        "{} (from /, {} hidden)",
        prefix.join("bin/kharness").display(),
        hidden
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    );
    assert_ne!(
        r.code(),
        Some(97),
        "could not hide {hidden:?}: {}",
        r.stderr()
    );
    Some(r)
}

fn guest_of(prefix: &Path) -> String {
    std::fs::canonicalize(prefix.join("lib/kharness/kharness-guest"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn an_installed_kharness_uses_its_own_guest_from_anywhere_without_cargo() {
    let Some(prefix) = install() else { return };
    let p = prefix.path();

    // --accel tcg: doctor need not probe KVM for this.
    // The checkout is out of reach in there: its own guest build cannot
    // be found (a check that the hiding works, so the passes below mean
    // something).
    let checkout_guest = target_dir().join("x86_64-unknown-linux-gnu/release/kharness-guest");
    assert!(checkout_guest.is_file());
    let Some(r) = installed(p, &["list", "--guest", checkout_guest.to_str().unwrap()]) else {
        return;
    };
    r.expect_code(2);
    assert!(
        r.stderr().contains(&checkout_guest.display().to_string()),
        "{}",
        r.stderr()
    );

    let r = installed(p, &["doctor", "--accel", "tcg"]).unwrap();
    let doctor = r.stdout();
    let line = doctor
        .lines()
        .find(|l| l.contains("guest binary"))
        .unwrap_or_else(|| panic!("no guest line in:\n{doctor}"));
    assert!(line.starts_with("ok "), "{line}");
    assert!(line.contains(&guest_of(p)), "{line}");
    assert!(line.contains("installed with kharness"), "{line}");
    let cargo = doctor.lines().find(|l| l.contains(" cargo ")).unwrap();
    assert!(
        cargo.starts_with("missing"),
        "cargo must not be reachable: {cargo}"
    );

    let r = installed(p, &["list", "tee.*"]).unwrap();
    r.expect_code(0);
    assert!(
        r.stdout().contains("tee.duplicate_content"),
        "{}",
        r.stdout()
    );
    assert!(!r.stderr().contains("building"), "{}", r.stderr());

    // Taken apart from its guest, it says where it looked and what to do
    // (exit 3), and builds nothing.
    let lone = tempfile::tempdir().unwrap();
    std::fs::create_dir(lone.path().join("bin")).unwrap();
    std::fs::copy(p.join("bin/kharness"), lone.path().join("bin/kharness")).unwrap();
    let r = installed(lone.path(), &["list"]).unwrap();
    r.expect_code(3);
    let lone_dir = std::fs::canonicalize(lone.path()).unwrap();
    for want in [
        lone_dir
            .join("lib/kharness/kharness-guest")
            .display()
            .to_string(),
        lone_dir.join("bin/kharness-guest").display().to_string(),
        "ci/install.sh PREFIX".into(),
        "--rebuild-guest".into(),
    ] {
        assert!(r.stderr().contains(&want), "{want} not in: {}", r.stderr());
    }
}

/// The acceptance run: Debian's 6.12 kernel booted by the installed
/// kharness, from `/`, without cargo, one test, passing.
#[test]
#[ignore = "boots a VM (about 20 s under TCG, qemu backend)"]
fn an_installed_kharness_boots_debian_612_and_passes_from_anywhere() {
    let Some(prefix) = install() else { return };
    let p = prefix.path();
    let kernel = "6.12.117+deb12-amd64";
    if !have(
        Path::new("/boot/vmlinuz-6.12.117+deb12-amd64").is_file(),
        "linux-image-6.12.117+deb12-amd64-unsigned",
    ) {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().display().to_string();
    let Some(r) = installed(
        p,
        &[
            "run",
            "--kernel",
            kernel,
            "--backend",
            "qemu",
            // Checks no metric: wall-clock mode, 2.5-3x faster under TCG
            // than -icount.
            "--perf-mode",
            "wallclock",
            "--filter",
            "tee.duplicate_content",
            "--out",
            &out_dir,
        ],
    ) else {
        return;
    };
    r.expect_code(0);
    let res = results_json(&common::latest_run(out.path()));
    assert_eq!(res["guest"]["path"], guest_of(p).as_str());
    assert!(
        res["guest"].get("build_command").is_none(),
        "{}",
        res["guest"]
    );
    let recs = res["kernels"][0]["records"].as_array().unwrap();
    let statuses: Vec<_> = recs.iter().map(|r| (&r["id"], &r["status"])).collect();
    assert_eq!(
        statuses,
        [(&"tee.duplicate_content".into(), &"pass".into())],
        "{}",
        r.stdout()
    );
}
