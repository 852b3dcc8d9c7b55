//! Tests of kharness itself, not of the kernel: they crash or hang the
//! guest on purpose so the host's crash and hang handling can be tested
//! end to end. Tagged `destructive`: they run only when named by exact id.

use crate::framework::{Ctx, OrOutcome, Test, TestResult};

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
        tags: &["selftest", "destructive"],
        about: "sleeps far beyond any time limit (tests the guest's per-test timeout)",
        see: "",
        run: hang,
    },
    Test {
        id: "selftest.host_root_read_only",
        tags: &["selftest"],
        about: "under vng the host's root is read-only to the guest: creating a file beside the guest binary or in / fails",
        see: "",
        run: host_root_read_only,
    },
];

fn sysrq_crash(_ctx: &mut Ctx) -> TestResult {
    std::fs::write("/proc/sysrq-trigger", b"c").or_error("write /proc/sysrq-trigger")?;
    // Not reached on a kernel with sysrq: the write does not return.
    Err(crate::framework::Outcome::Error(
        "the kernel survived a sysrq crash trigger".into(),
    ))
}

fn hang(_ctx: &mut Ctx) -> TestResult {
    std::thread::sleep(std::time::Duration::from_secs(24 * 3600));
    Err(crate::framework::Outcome::Error(
        "woke up after a day".into(),
    ))
}

/// The guest shares the host's root (vng); only the results directory may
/// be writable. Skips where the root is not the host's (the qemu backend's
/// initramfs, or a native run).
fn host_root_read_only(ctx: &mut Ctx) -> TestResult {
    let mounts = std::fs::read_to_string("/proc/self/mounts").or_error("read /proc/self/mounts")?;
    // The last mount on / is the one in effect.
    let root_fs = mounts
        .lines()
        .rev()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&"/")).then(|| f.get(2).copied().unwrap_or(""))
        })
        .unwrap_or("");
    ctx.observe("root_fs", root_fs);
    if !matches!(root_fs, "9p" | "virtiofs") {
        crate::skip!("the root is {root_fs:?}, not a host directory shared by vng");
    }
    let exe = std::env::current_exe().or_error("find the guest binary")?;
    let beside = exe.parent().unwrap_or(std::path::Path::new("/"));
    for (name, dir) in [
        ("guest_binary_dir", beside),
        ("root", std::path::Path::new("/")),
    ] {
        let probe = dir.join(format!(".kharness-ro-probe-{}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
        {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
                return Err(crate::framework::Outcome::Fail(format!(
                    "the guest created {} on the host",
                    probe.display()
                )));
            }
            Err(e) => {
                let errno = e.raw_os_error().map_or_else(
                    || e.to_string(),
                    |n| crate::util::errno_name(rustix::io::Errno::from_raw_os_error(n)),
                );
                ctx.observe(&format!("{name}_errno"), errno.as_str());
                crate::check!(
                    matches!(errno.as_str(), "EROFS" | "EACCES" | "EPERM"),
                    "creating {} failed with {errno}, not as a read-only file system",
                    probe.display()
                );
            }
        }
    }
    Ok(())
}
