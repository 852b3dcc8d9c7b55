//! Which accelerator really works. `/dev/kvm` existing proves nothing: on
//! some nested hosts it is a paravirtual KVM on which QEMU stops with "KVM
//! internal error". So boot a kernel under KVM once, watch for its first
//! console line, and cache the verdict.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

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

/// What lets a normal user open /dev/kvm on Debian (the device is
/// root:kvm, mode 0660).
pub const KVM_GROUP_HINT: &str =
    "add yourself to the kvm group (`sudo usermod -aG kvm $USER`, then log in again)";

/// Decides the accelerator. `probe_kernel` is booted under KVM when no
/// cached verdict matches this host.
pub fn resolve_accel(
    choice: AccelChoice,
    probe_kernel: &Path,
    cache_dir: Option<&Path>,
) -> AccelVerdict {
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
        AccelChoice::Auto => auto(probe_kernel, cache_dir),
    }
}

fn auto(probe_kernel: &Path, cache_dir: Option<&Path>) -> AccelVerdict {
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
    let key = cache_key();
    let cache_file = cache_dir.map(|d| d.join("accel.json"));
    if let Some(entry) = cache_file.as_deref().and_then(read_cache) {
        if entry.key == key {
            return verdict(entry.kvm_works, entry.reason, true);
        }
    }
    let (works, reason) = probe_kvm(probe_kernel);
    if let Some(f) = &cache_file {
        let entry = CacheEntry {
            key,
            kvm_works: works,
            reason: reason.clone(),
        };
        // A cache we cannot write only costs a probe next time.
        let _ = std::fs::create_dir_all(f.parent().unwrap_or(Path::new(".")));
        let _ =
            crate::results::write_atomic(f, &serde_json::to_vec_pretty(&entry).unwrap_or_default());
    }
    verdict(works, reason, false)
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

/// What the verdict depends on: the host kernel, the QEMU binary, the KVM
/// device. Any change means a new probe.
fn cache_key() -> String {
    let host = rustix::system::uname();
    let qemu = which("qemu-system-x86_64");
    let qemu_stamp = qemu
        .as_deref()
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

/// Finds a program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Boots `kernel` under KVM with no disk and waits for its banner.
fn probe_kvm(kernel: &Path) -> (bool, String) {
    let Some(qemu) = which("qemu-system-x86_64") else {
        return (false, "qemu-system-x86_64 is not installed".into());
    };
    let dir = match tempfile::Builder::new()
        .prefix("kharness-kvm-probe")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => return (false, format!("cannot create a probe directory: {e}")),
    };
    let serial = dir.path().join("serial.log");
    let errlog = dir.path().join("stderr.log");
    let Ok(err) = std::fs::File::create(&errlog) else {
        return (false, "cannot create the probe log".into());
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
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (false, format!("cannot start qemu for the KVM probe: {e}")),
    };
    let started = Instant::now();
    let result = loop {
        let console = read_lossy(&serial);
        if console.contains("Linux version") {
            break (
                true,
                format!(
                    "KVM works (probe kernel printed its banner after {:.1}s)",
                    started.elapsed().as_secs_f64()
                ),
            );
        }
        let stderr = read_lossy(&errlog);
        if let Some(line) = stderr.lines().find(|l| {
            l.contains("KVM internal error")
                || l.contains("failed to initialize kvm")
                || l.contains("Could not access KVM")
        }) {
            break (
                false,
                format!("KVM is present but unusable: QEMU said \"{}\"", line.trim()),
            );
        }
        if let Ok(Some(st)) = child.try_wait() {
            let first = stderr
                .lines()
                .find(|l| !l.contains("warning"))
                .unwrap_or("")
                .trim()
                .to_owned();
            break (false, format!("QEMU with KVM exited early ({st}): {first}"));
        }
        if started.elapsed() > PROBE_LIMIT {
            break (
                false,
                format!(
                    "a KVM probe boot printed nothing in {}s",
                    PROBE_LIMIT.as_secs()
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn read_lossy(p: &Path) -> String {
    let mut v = Vec::new();
    if let Ok(mut f) = std::fs::File::open(p) {
        let _ = f.read_to_end(&mut v);
    }
    String::from_utf8_lossy(&v).into_owned()
}
