//! Tests of kharness itself, not of the kernel: they crash, hang, taint or
//! warn the guest kernel on purpose so the host's handling of each can be
//! tested end to end, or fail once so retries can be. Tagged
//! `destructive`: they run only when named by exact id, and only inside a
//! VM kharness started (`--vm`), except those also tagged `host-safe`
//! (sleeping, failing once), which run natively too.
//!
//! The `kernel_*` ones need the debugging trigger of the series
//! `kernel-patches/guest-crash-and-hang` (`tee()` with magic flags); other
//! kernels refuse those flags with EINVAL and the tests skip.

use std::path::{Path, PathBuf};

use crate::framework::{Ctx, OrOutcome, Outcome, Test, TestResult};

pub const TESTS: &[Test] = &[
    Test {
        id: "selftest.sysrq_crash",
        tags: &["selftest", "destructive"],
        about: "panics the guest kernel through /proc/sysrq-trigger (tests the host's crash handling)",
        see: "",
        run: sysrq_crash,
    },
    Test {
        id: "selftest.hang",
        tags: &["selftest", "destructive", "host-safe"],
        about: "sleeps far beyond any time limit (tests the guest's per-test timeout)",
        see: "",
        run: hang,
    },
    Test {
        id: "selftest.flaky_once",
        tags: &["selftest", "destructive", "host-safe"],
        about: "fails on its first attempt and passes on the next (tests --retries and flaky reporting)",
        see: "",
        run: flaky_once,
    },
    Test {
        id: "selftest.host_root_read_only",
        tags: &["selftest"],
        about: "under vng the host's root is read-only to the guest (EROFS in / and in a directory no overlay covers), and a file created beside the guest binary lands in vng's in-memory overlay, never on the host",
        see: "",
        run: host_root_read_only,
    },
    Test {
        id: "selftest.taint_user",
        tags: &["selftest", "destructive"],
        about: "adds the U taint flag through /proc/sys/kernel/tainted and passes (tests that a taint change marks the test)",
        see: "",
        run: taint_user,
    },
    Test {
        id: "selftest.kernel_panic",
        tags: &["selftest", "destructive"],
        about: "makes the patched kernel panic() (tests crash handling and the fresh boot after it)",
        see: "kernel-patches/guest-crash-and-hang",
        run: kernel_panic,
    },
    Test {
        id: "selftest.kernel_hang",
        tags: &["selftest", "destructive"],
        about: "makes the patched kernel spin with interrupts off: the whole guest freezes (tests the host's VM time limit)",
        see: "kernel-patches/guest-crash-and-hang",
        run: kernel_hang,
    },
    Test {
        id: "selftest.kernel_warn",
        tags: &["selftest", "destructive"],
        about: "makes the patched kernel WARN and carry on, and passes (tests that a console WARN marks the test)",
        see: "kernel-patches/guest-crash-and-hang",
        run: kernel_warn,
    },
];

/// The flags of `tee()` that the patch of `kernel-patches/guest-crash-and-hang`
/// takes as a request to misbehave: this in the upper 24 bits, the action
/// in the low 8.
const TRIGGER: u32 = 0x6b68_0000;
const TRIGGER_WARN: u32 = 1;
const TRIGGER_PANIC: u32 = 2;
const TRIGGER_HANG: u32 = 3;

/// Calls the trigger; returns only when the kernel survived it.
fn trigger(action: u32) -> TestResult {
    use rustix::pipe::{SpliceFlags, pipe, tee};
    let (r, w) = pipe().or_error("pipe")?;
    match tee(&r, &w, 1, SpliceFlags::from_bits_retain(TRIGGER | action)) {
        Ok(_) => Ok(()),
        Err(rustix::io::Errno::INVAL) => Err(Outcome::Skip(
            "the kernel has no kharness debugging trigger (tee flags 0x6b68xxxx);              build it with kernel-patches/guest-crash-and-hang"
                .into(),
        )),
        Err(e) => Err(Outcome::Error(format!("tee with the trigger flags: {e}"))),
    }
}

fn taint_user(_ctx: &mut Ctx) -> TestResult {
    const USER: u64 = 1 << 6;
    let before = crate::watch::tainted()
        .ok_or_else(|| Outcome::Skip("cannot read /proc/sys/kernel/tainted".into()))?;
    if before & USER != 0 {
        return Err(Outcome::Error(
            "the kernel already has the U taint flag: no change to show".into(),
        ));
    }
    // The kernel ORs what is written into its mask (proc_taint).
    std::fs::write("/proc/sys/kernel/tainted", USER.to_string())
        .or_error("write /proc/sys/kernel/tainted")?;
    Ok(())
}

fn kernel_panic(_ctx: &mut Ctx) -> TestResult {
    trigger(TRIGGER_PANIC)?;
    Err(Outcome::Error(
        "the kernel returned from its panic trigger".into(),
    ))
}

fn kernel_hang(_ctx: &mut Ctx) -> TestResult {
    trigger(TRIGGER_HANG)?;
    Err(Outcome::Error(
        "the kernel returned from its hang trigger".into(),
    ))
}

fn kernel_warn(_ctx: &mut Ctx) -> TestResult {
    trigger(TRIGGER_WARN)
}

/// Each attempt runs in a fresh per-test scratch directory, so the state
/// lives one level up, in the runner's scratch root: the first attempt
/// leaves a marker and fails, the next finds it, removes it and passes.
fn flaky_once(ctx: &mut Ctx) -> TestResult {
    let root = ctx
        .scratch()
        .parent()
        .ok_or_else(|| crate::framework::Outcome::Error("scratch dir has no parent".into()))?;
    let marker = root.join("selftest.flaky_once.marker");
    if marker.exists() {
        std::fs::remove_file(&marker).or_error("remove the marker")?;
        ctx.observe("attempt", "second");
        return Ok(());
    }
    std::fs::write(&marker, b"failed once\n").or_error("write the marker")?;
    Err(crate::framework::Outcome::Fail(
        "first attempt fails on purpose".into(),
    ))
}

fn sysrq_crash(_ctx: &mut Ctx) -> TestResult {
    std::fs::write("/proc/sysrq-trigger", b"c").or_error("write /proc/sysrq-trigger")?;
    // Not reached on a kernel with sysrq: the write does not return.
    Err(Outcome::Error(
        "the kernel survived a sysrq crash trigger".into(),
    ))
}

fn hang(_ctx: &mut Ctx) -> TestResult {
    std::thread::sleep(std::time::Duration::from_secs(24 * 3600));
    Err(Outcome::Error("woke up after a day".into()))
}

/// Under vng the guest sees the host's root through 9p or virtiofs, read
/// only, with virtme-ng's overlays on top of some directories (/etc, /home,
/// /opt, /srv, /tmp, /usr, /var in virtme-ng 1.42): a write there goes to
/// the overlay's upper layer in guest memory and the host never sees it.
/// So: `/` and a directory of the shared root that no overlay covers must
/// refuse a new file with EROFS; beside the guest binary, which may be
/// under /home or /tmp, the new file must land in an overlay whose upper
/// layer is in guest memory (or be refused, where no overlay covers it).
/// The probe left there, [`OVERLAY_PROBE`], must not exist on the host
/// after the VM: the host-side tests check that. Skips where the root is
/// not a host directory (the qemu backend's initramfs, a native run).
fn host_root_read_only(_ctx: &mut Ctx) -> TestResult {
    let text = std::fs::read_to_string("/proc/self/mounts").or_error("read /proc/self/mounts")?;
    let mounts = parse_mounts(&text);
    let root = covering(&mounts, Path::new("/"))
        .ok_or_else(|| Outcome::Error("no mount on / in /proc/self/mounts".into()))?;
    if !matches!(root.fstype.as_str(), "9p" | "virtiofs") {
        crate::skip!(
            "the root is {:?}, not a host directory shared by vng",
            root.fstype
        );
    }
    // `/` itself, and one more directory of the shared root no overlay covers.
    let mut read_only = vec![PathBuf::from("/")];
    if let Some(dir) = shared_root_dir(&mounts) {
        read_only.push(dir);
    }
    for dir in &read_only {
        let probe = dir.join(format!(".kharness-ro-probe-{}", std::process::id()));
        match create(&probe) {
            Ok(()) => {
                let _ = std::fs::remove_file(&probe);
                return Err(Outcome::Fail(format!(
                    "the guest created {} on the host's shared root ({}), which vng shares read-only: expected EROFS",
                    probe.display(),
                    root.fstype
                )));
            }
            Err(errno) => crate::check!(
                errno == "EROFS",
                "creating {} on the host's shared root failed with {errno}, expected EROFS",
                probe.display()
            ),
        }
    }
    let exe = std::env::current_exe().or_error("find the guest binary")?;
    let beside = exe.parent().unwrap_or(Path::new("/"));
    let probe = beside.join(OVERLAY_PROBE);
    let mount = covering(&mounts, beside)
        .ok_or_else(|| Outcome::Error("no mount covers the guest binary".into()))?;
    match mount.fstype.as_str() {
        "overlay" => {
            let upper = mount
                .option("upperdir")
                .ok_or_else(|| Outcome::Error("an overlay without upperdir".into()))?;
            let upper_fs = covering(&mounts, Path::new(upper))
                .map(|m| m.fstype.clone())
                .unwrap_or_default();
            crate::check!(
                matches!(upper_fs.as_str(), "tmpfs" | "ramfs"),
                "{} is covered by an overlay whose upper layer {upper} is on {upper_fs:?}, not in guest memory",
                beside.display()
            );
            create(&probe).map_err(|errno| {
                Outcome::Error(format!(
                    "creating {} in vng's overlay failed with {errno}",
                    probe.display()
                ))
            })?;
            // The file is in the upper layer: the write went to guest memory.
            let rel = probe.strip_prefix(&mount.point).unwrap_or(&probe);
            let in_upper = Path::new(upper).join(rel);
            crate::check!(
                in_upper.exists(),
                "{} was created but is not in the overlay's upper layer ({})",
                probe.display(),
                in_upper.display()
            );
        }
        "9p" | "virtiofs" if mount.point == Path::new("/") => match create(&probe) {
            Ok(()) => {
                let _ = std::fs::remove_file(&probe);
                return Err(Outcome::Fail(format!(
                    "the guest created {} beside the guest binary on the host's shared root: expected EROFS",
                    probe.display()
                )));
            }
            Err(errno) => crate::check!(
                errno == "EROFS",
                "creating {} beside the guest binary failed with {errno}, expected EROFS",
                probe.display()
            ),
        },
        // Another share (e.g. vng's --rwdir): writable by design.
        _ => {}
    }
    Ok(())
}

/// The file `selftest.host_root_read_only` leaves in vng's overlay beside
/// the guest binary; it must never appear on the host.
pub const OVERLAY_PROBE: &str = ".kharness-overlay-probe";

struct Mount {
    point: PathBuf,
    fstype: String,
    options: String,
}

impl Mount {
    fn option(&self, key: &str) -> Option<&str> {
        self.options
            .split(',')
            .find_map(|o| o.strip_prefix(key)?.strip_prefix('='))
    }
}

/// /proc/self/mounts, with the kernel's octal escapes (`\040` for a
/// space, ...) undone in mount points.
fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            Some(Mount {
                point: PathBuf::from(unescape_octal(f.get(1)?)),
                fstype: (*f.get(2)?).to_owned(),
                options: unescape_octal(f.get(3)?),
            })
        })
        .collect()
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount in effect at `path`: the longest mount point above it, the
/// last one mounted where several share a point.
fn covering<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| path.starts_with(&m.point))
        .max_by_key(|(i, m)| (m.point.components().count(), *i))
        .map(|(_, m)| m)
}

/// A top-level directory (not a symbolic link) of the shared root that
/// no other mount covers.
fn shared_root_dir(mounts: &[Mount]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/")
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs.into_iter().find(|d| {
        covering(mounts, d).is_some_and(|m| m.point == Path::new("/"))
            && !mounts.iter().any(|m| m.point.starts_with(d))
    })
}

/// Creates (or truncates) a file; the errno name when that fails.
fn create(path: &Path) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map(drop)
        .map_err(|e| {
            e.raw_os_error().map_or_else(
                || e.to_string(),
                |n| crate::util::errno_name(rustix::io::Errno::from_raw_os_error(n)),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VNG_MOUNTS: &str = "\
/dev/root / 9p ro,relatime,access=any,trans=virtio 0 0
run /run tmpfs rw,relatime,mode=755,inode64 0 0
virtme_rw_overlay2 /home overlay rw,relatime,lowerdir=/home,upperdir=/run/tmp/virtme_rw_overlay2/upper,workdir=/run/tmp/virtme_rw_overlay2/work,uuid=on 0 0
virtme_rw_overlay7 /tmp overlay rw,relatime,lowerdir=/tmp,upperdir=/run/tmp/virtme_rw_overlay7/upper,workdir=/run/tmp/virtme_rw_overlay7/work,uuid=on 0 0
kharness /tmp/run\\040dir/k1 9p rw,relatime,trans=virtio 0 0
";

    #[test]
    fn the_covering_mount_is_the_deepest_and_escapes_are_undone() {
        let m = parse_mounts(VNG_MOUNTS);
        let at = |p: &str| covering(&m, Path::new(p)).map(|m| m.fstype.as_str());
        assert_eq!(at("/"), Some("9p"));
        assert_eq!(at("/work/main/target"), Some("9p"));
        assert_eq!(at("/home/me/kharness/target"), Some("overlay"));
        assert_eq!(at("/tmp/x"), Some("overlay"));
        assert_eq!(at("/tmp/run dir/k1/rw"), Some("9p"));
        assert_eq!(at("/run/tmp/virtme_rw_overlay7/upper"), Some("tmpfs"));
        // "/homeless" is not under "/home".
        assert_eq!(at("/homeless"), Some("9p"));
        let home = covering(&m, Path::new("/home/me")).unwrap();
        assert_eq!(
            home.option("upperdir"),
            Some("/run/tmp/virtme_rw_overlay2/upper")
        );
        assert_eq!(home.option("work"), None);
    }
}
