//! Which accelerator really works. `/dev/kvm` existing proves nothing: on
//! some nested hosts it is a paravirtual KVM on which QEMU stops with "KVM
//! internal error". So boot a kernel under KVM once, watch for its first
//! console line, and cache the verdict.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::support::process::Group;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelChoice {
    /// Probe KVM once (cached), fall back to TCG.
    Auto,
    /// Hardware virtualisation; fails if KVM is unusable.
    Kvm,
    /// Software emulation; always works, slower.
    Tcg,
}

/// What the VM will use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// The accelerator chosen and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccelVerdict {
    pub accel: Accel,
    pub reason: String,
    /// True when the verdict came from the cache rather than a new probe.
    #[serde(default)]
    pub cached: bool,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    key: String,
    kvm_works: bool,
    reason: String,
}

/// How long a KVM probe boot may take to print its first line.
const PROBE_LIMIT: Duration = Duration::from_secs(20);
const KVM_DEV: &str = "/dev/kvm";
/// Where the verdict is cached, under the cache directory.
pub const CACHE_FILE: &str = "accel.json";

/// What lets a normal user open /dev/kvm on Debian (the device is
/// root:kvm, mode 0660).
pub const KVM_GROUP_HINT: &str =
    "add yourself to the kvm group (`sudo usermod -aG kvm $USER`, then log in again)";

/// Where and how to probe KVM when `--accel auto` asks.
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    /// The kernel booted under KVM.
    pub kernel: &'a Path,
    /// The QEMU program the run will use (`--qemu`).
    pub qemu: &'a Path,
    /// Where the verdict is cached; `None` probes every time.
    pub cache_dir: Option<&'a Path>,
    /// Probe again even when a cached verdict matches (`doctor --reprobe`).
    pub reprobe: bool,
}

/// Decides the accelerator; under `auto`, probes KVM unless a cached
/// verdict for this host and QEMU binary exists.
pub fn resolve_accel(choice: AccelChoice, probe: Probe<'_>) -> AccelVerdict {
    match choice {
        AccelChoice::Tcg => AccelVerdict {
            accel: Accel::Tcg,
            reason: "TCG requested".into(),
            cached: false,
        },
        AccelChoice::Kvm => AccelVerdict {
            accel: Accel::Kvm,
            reason: "KVM requested".into(),
            cached: false,
        },
        AccelChoice::Auto => auto(probe),
    }
}

/// What a probe found: a verdict it reached, or nothing to go by.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    /// KVM booted the kernel (true) or QEMU said KVM cannot (false).
    Verdict { works: bool, reason: String },
    /// Timed out, interrupted, or could not run: not cached.
    Nothing(String),
}

fn auto(probe: Probe<'_>) -> AccelVerdict {
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(KVM_DEV)
    {
        let fix = if e.kind() == std::io::ErrorKind::PermissionDenied {
            format!(": {KVM_GROUP_HINT}")
        } else {
            String::new()
        };
        return AccelVerdict {
            accel: Accel::Tcg,
            reason: format!("{KVM_DEV} is not usable ({e}){fix}; using TCG"),
            cached: false,
        };
    }
    let qemu = crate::support::paths::resolve_program(probe.qemu);
    let key = cache_key(qemu.as_deref());
    let cache = probe.cache_dir.map(|d| d.join(CACHE_FILE));
    cached_or_probe(&key, cache.as_deref(), probe.reprobe, || match &qemu {
        Some(q) => probe_kvm(q, probe.kernel, PROBE_LIMIT),
        None => Found::Nothing(format!("{} is not installed", probe.qemu.display())),
    })
}

/// The cached verdict for `key`, else what `probe` finds; only a verdict
/// the probe really reached is cached.
fn cached_or_probe(
    key: &str,
    cache: Option<&Path>,
    reprobe: bool,
    probe: impl FnOnce() -> Found,
) -> AccelVerdict {
    if !reprobe {
        if let Some(entry) = cache.and_then(read_cache) {
            if entry.key == key {
                return verdict(entry.kvm_works, entry.reason, true);
            }
        }
    }
    match probe() {
        Found::Verdict { works, reason } => {
            if let Some(f) = cache {
                let entry = CacheEntry {
                    key: key.to_owned(),
                    kvm_works: works,
                    reason: reason.clone(),
                };
                // A cache we cannot write only costs a probe next time.
                let _ = std::fs::create_dir_all(f.parent().unwrap_or(Path::new(".")));
                let _ = crate::support::fs::write_atomic(
                    f,
                    &serde_json::to_vec_pretty(&entry).unwrap_or_default(),
                );
            }
            verdict(works, reason, false)
        }
        Found::Nothing(why) => AccelVerdict {
            accel: Accel::Tcg,
            reason: format!("the KVM probe found nothing ({why}); using TCG, not cached"),
            cached: false,
        },
    }
}

fn verdict(works: bool, reason: String, cached: bool) -> AccelVerdict {
    if works {
        AccelVerdict {
            accel: Accel::Kvm,
            reason,
            cached,
        }
    } else {
        AccelVerdict {
            accel: Accel::Tcg,
            reason: format!("{reason}; using TCG"),
            cached,
        }
    }
}

fn read_cache(path: &Path) -> Option<CacheEntry> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// What the verdict depends on: the host kernel, the QEMU binary used
/// (path and modification time), the KVM device. Any change means a new
/// probe.
fn cache_key(qemu: Option<&Path>) -> String {
    let host = rustix::system::uname();
    let qemu_stamp = qemu
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
        .map(|t| format!("{t:?}"))
        .unwrap_or_default();
    let kvm_stamp = std::fs::metadata(KVM_DEV)
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            format!("{}:{}", m.rdev(), m.ino())
        })
        .unwrap_or_default();
    format!(
        "{}|{}|{qemu_stamp}|{kvm_stamp}",
        host.release().to_string_lossy(),
        qemu.map(|p| p.display().to_string()).unwrap_or_default()
    )
}

/// Boots `kernel` under KVM with `qemu` and no disk, in a process group of
/// its own, and waits for its banner, a KVM error from QEMU, `limit`, or
/// Ctrl-C.
fn probe_kvm(qemu: &Path, kernel: &Path, limit: Duration) -> Found {
    let dir = match tempfile::Builder::new()
        .prefix("kharness-kvm-probe")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => return Found::Nothing(format!("cannot create a probe directory: {e}")),
    };
    let serial = dir.path().join("serial.log");
    let errlog = dir.path().join("stderr.log");
    let Ok(err) = std::fs::File::create(&errlog) else {
        return Found::Nothing("cannot create the probe log".into());
    };
    let mut cmd = Command::new(qemu);
    cmd.args(["-accel", "kvm", "-cpu", "host", "-m", "256", "-smp", "1"])
        .args(["-display", "none", "-monitor", "none", "-no-reboot"])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .arg("-kernel")
        .arg(kernel)
        .args([
            "-append",
            "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
    // Dropped on every return below: the whole group goes.
    let group = match Group::spawn(&mut cmd) {
        Ok(g) => g,
        Err(e) => return Found::Nothing(format!("cannot start {}: {e}", qemu.display())),
    };
    let started = Instant::now();
    loop {
        let console = read_lossy(&serial);
        if console.contains("Linux version") {
            return Found::Verdict {
                works: true,
                reason: format!(
                    "KVM works (probe kernel printed its banner after {:.1}s)",
                    started.elapsed().as_secs_f64()
                ),
            };
        }
        let stderr = read_lossy(&errlog);
        if let Some(line) = stderr.lines().find(|l| {
            l.contains("KVM internal error")
                || l.contains("failed to initialize kvm")
                || l.contains("Could not access KVM")
        }) {
            return Found::Verdict {
                works: false,
                reason: format!("KVM is present but unusable: QEMU said \"{}\"", line.trim()),
            };
        }
        if crate::support::process::interrupted() {
            return Found::Nothing("interrupted".into());
        }
        if group.leader_exited().unwrap_or(true) {
            let first = stderr
                .lines()
                .find(|l| !l.contains("warning"))
                .unwrap_or("")
                .trim()
                .to_owned();
            return Found::Nothing(format!("QEMU with KVM exited early: {first}"));
        }
        if started.elapsed() > limit {
            return Found::Nothing(format!(
                "the probe boot printed nothing in {}s, a loaded machine?",
                limit.as_secs()
            ));
        }
        group.wait_exit(Duration::from_millis(100));
    }
}

fn read_lossy(p: &Path) -> String {
    let mut v = Vec::new();
    if let Ok(mut f) = std::fs::File::open(p) {
        let _ = f.read_to_end(&mut v);
    }
    String::from_utf8_lossy(&v).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    /// A stand-in for QEMU running `body` (sh); `$serial` is the file
    /// behind `-serial file:...`.
    fn fake_qemu(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("fake-qemu");
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\nserial=\nfor a; do case $a in file:*) serial=${{a#file:}};; esac; done\n{body}\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn probe(dir: &Path, body: &str, limit: Duration) -> Found {
        probe_kvm(&fake_qemu(dir, body), Path::new("/boot/vmlinuz"), limit)
    }

    #[test]
    fn the_probe_reaches_a_verdict_only_from_qemu_itself() {
        let d = tempfile::tempdir().unwrap();
        let s = Duration::from_secs(10);
        let works = probe(
            d.path(),
            "echo 'Linux version 6.12' > \"$serial\"; sleep 30",
            s,
        );
        assert!(
            matches!(works, Found::Verdict { works: true, .. }),
            "{works:?}"
        );
        let bad = probe(
            d.path(),
            "echo 'KVM internal error. Suberror: 1' >&2; sleep 30",
            s,
        );
        assert!(
            matches!(bad, Found::Verdict { works: false, .. }),
            "{bad:?}"
        );
        let early = probe(
            d.path(),
            "echo 'qemu: could not load kernel' >&2; exit 1",
            s,
        );
        assert!(
            matches!(&early, Found::Nothing(w) if w.contains("could not load")),
            "{early:?}"
        );
        let slow = probe(d.path(), "exec sleep 30", Duration::from_millis(500));
        assert!(
            matches!(&slow, Found::Nothing(w) if w.contains("printed nothing")),
            "{slow:?}"
        );
    }

    #[test]
    fn a_probe_that_found_nothing_is_not_cached() {
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join(CACHE_FILE);
        let v = cached_or_probe("k", Some(&cache), false, || {
            Found::Nothing("timed out".into())
        });
        assert_eq!(v.accel, Accel::Tcg);
        assert!(v.reason.contains("not cached"), "{}", v.reason);
        assert!(!cache.exists(), "a probe that found nothing was cached");
        // A verdict is cached, and used for the same key only.
        let found = || Found::Verdict {
            works: false,
            reason: "KVM is present but unusable".into(),
        };
        assert!(!cached_or_probe("k", Some(&cache), false, found).cached);
        let again = cached_or_probe("k", Some(&cache), false, || panic!("probed again"));
        assert!(again.cached && again.accel == Accel::Tcg);
        let other_qemu = cached_or_probe("k2", Some(&cache), false, || Found::Verdict {
            works: true,
            reason: "KVM works".into(),
        });
        assert_eq!((other_qemu.accel, other_qemu.cached), (Accel::Kvm, false));
        // --reprobe ignores what is cached.
        let re = cached_or_probe("k2", Some(&cache), true, || Found::Nothing("x".into()));
        assert!(!re.cached);
    }

    #[test]
    fn the_key_names_the_qemu_binary_used() {
        let a = cache_key(Some(Path::new("/usr/bin/qemu-system-x86_64")));
        let b = cache_key(Some(Path::new("/opt/qemu/bin/qemu-system-x86_64")));
        assert_ne!(a, b);
    }
}
