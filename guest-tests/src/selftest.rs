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
        about: "under vng the host's root is read-only to the guest: creating a file beside the guest binary or in / fails",
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
