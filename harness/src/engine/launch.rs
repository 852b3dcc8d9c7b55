//! How one boot is started: the guest's argv, the vng or QEMU command
//! line for it, and where that backend puts the console, the guest's
//! output and its records.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::context::Ctx;
use super::error::EngineError;
use crate::error::{Error, Result};
use crate::guest::GuestBinary;
use crate::kernel::KernelIdentity;
use crate::kernel::direct::BootImage;
use crate::plan::{Part, Plan};
use crate::vm::{self, Accel, Backend, PerfMode, Qemu, Vng};

/// Where the results file lives inside the boot's `rw/` directory.
pub(super) const RECORDS: &str = "records.jsonl";

/// The guest's results channel under both backends: its second serial
/// port, whose output QEMU writes to the boot's records file on the host.
const RESULTS_PORT: &str = "/dev/ttyS1";

/// Which tests of the plan one boot runs: a shard's part of the
/// catalogue, and of that only the tests after `after` (a fresh boot after
/// a crash or hang). With the filters it goes to the guest in a file
/// (vng: a script in the boot's directory, which the guest reads
/// through the host root vng shares; qemu: the initramfs), never on
/// the kernel command line, which x86 cuts at 2048 bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Which<'a> {
    pub part: Option<Part>,
    pub after: Option<&'a str>,
}

/// The guest's `run` arguments, writing results to `results`.
pub(super) fn guest_run_args(plan: &Plan, results: &str, which: Which<'_>) -> Vec<String> {
    let mut v = vec![
        "run".to_owned(),
        "--results".to_owned(),
        results.to_owned(),
        "--reps".to_owned(),
        plan.reps.to_string(),
        "--test-timeout".to_owned(),
        plan.test_timeout.to_string(),
        "--vm".to_owned(),
    ];
    if plan.retries > 0 {
        v.extend(["--retries".to_owned(), plan.retries.to_string()]);
    }
    if let Some(p) = which.part {
        v.extend(["--slice".to_owned(), format!("{}..{}", p.start, p.end)]);
    }
    if let Some(id) = which.after {
        v.extend(["--after".to_owned(), id.to_owned()]);
    }
    v.push("--".to_owned());
    v.extend(plan.filters.iter().cloned());
    v
}

fn icount_opts(perf_mode: PerfMode) -> Vec<String> {
    match perf_mode {
        PerfMode::Deterministic => vec![vm::icount_args(true).join(" ")],
        PerfMode::Wallclock => Vec::new(),
    }
}

/// One vCPU under TCG unless asked otherwise. Debian's 6.12 kernel oopsed
/// with "int3" in __schedule here under multi-vCPU TCG while a perf test
/// flipped static keys (cross-CPU code patching); with one vCPU the same
/// suite passes, and boots faster. KVM keeps vng's default.
fn default_cpus(accel: Accel) -> Option<u32> {
    (accel == Accel::Tcg).then_some(1)
}

/// The vCPUs one VM gets: --cpus, else 1 under TCG; under KVM vng's
/// default (every core: it passes `--cpus $(nproc)`) and QEMU's (1).
pub(super) fn vcpus_per_vm(plan: &Plan, backend: Backend, accel: Accel, cores: usize) -> u32 {
    match (plan.cpus.or_else(|| default_cpus(accel)), backend) {
        (Some(n), _) => n,
        (None, Backend::Vng) => u32::try_from(cores).unwrap_or(u32::MAX),
        (None, Backend::Qemu) => 1,
    }
}

/// A vng boot whose guest command is the script `script` (a host file the
/// guest reads through the shared host root) and whose records arrive in
/// `results`: vng's `--exec` travels on the kernel command line, the
/// script (any length) does not.
pub(super) fn vng_for(
    plan: &Plan,
    id: &KernelIdentity,
    script: &Path,
    results: &Path,
    accel: Accel,
    perf_mode: PerfMode,
) -> Vng {
    let program = crate::vm::vng::locate(&plan.vng).unwrap_or_else(|| plan.vng.clone());
    let force_9p = crate::vm::virtiofsd::vng_uses_9p(program.parent());
    Vng {
        program,
        kernel: id.path.clone(),
        accel,
        results: Some(results.to_owned()),
        memory: plan.memory.clone(),
        cpus: plan.cpus.or_else(|| default_cpus(accel)),
        exec: vec!["sh".to_owned(), script.to_string_lossy().into_owned()],
        qemu_opts: icount_opts(perf_mode),
        force_9p,
    }
}

/// The guest's argv under vng: the binary (the host's, shared read-only)
/// and its `run` arguments, records on the second serial port.
pub(super) fn vng_guest_argv(plan: &Plan, guest: &GuestBinary, which: Which<'_>) -> Vec<String> {
    let mut argv = vec![guest.path.to_string_lossy().into_owned()];
    argv.extend(guest_run_args(plan, RESULTS_PORT, which));
    argv
}

/// The script vng runs: `exec` of the guest's argv, every word quoted.
pub(super) fn vng_script(argv: &[String]) -> String {
    format!("exec {}\n", crate::support::quote::sh_join(argv))
}

/// Where the vng guest command is written, in the boot's directory.
pub(super) const VNG_SCRIPT: &str = "kharness-run.sh";

/// The guest's argv under qemu-direct (PID 1 of the initramfs; records
/// on the second serial port).
pub(super) fn qemu_guest_argv(plan: &Plan, which: Which<'_>) -> Vec<String> {
    guest_run_args(plan, RESULTS_PORT, which)
}

/// A qemu-direct boot of `initrd`, which holds the guest and its argv
/// ([`crate::vm::initramfs::with_argv`]): nothing of the selection goes on
/// the kernel command line. The kernel is `image`: the bzImage's own
/// vmlinux when it can boot directly ([`crate::kernel::direct`]).
pub(super) fn qemu_for(
    plan: &Plan,
    id: &KernelIdentity,
    image: &BootImage,
    initrd: &Path,
    results: &Path,
    accel: Accel,
    perf_mode: PerfMode,
) -> Qemu {
    Qemu {
        program: plan.qemu.clone(),
        kernel: match image {
            BootImage::Direct(vmlinux) => vmlinux.clone(),
            BootImage::BzImage(_) => id.path.clone(),
        },
        initrd: initrd.to_owned(),
        accel,
        memory: plan.memory.clone(),
        cpus: plan.cpus.or_else(|| default_cpus(accel)).unwrap_or(1),
        results: results.to_owned(),
        append: Vec::new(),
        icount: perf_mode == PerfMode::Deterministic,
    }
}

/// A boot's directory in the run directory: `rel` (relative to the run
/// directory), `dir` (absolute), its `rw/` for what the guest writes.
pub(super) struct Layout {
    pub rel: String,
    pub dir: PathBuf,
    pub rw: PathBuf,
    pub console_rel: String,
}

/// One boot, ready to start.
pub(super) struct Launch {
    pub command: Command,
    /// The command as a person would type it (command.sh, messages).
    pub display: String,
    /// Where the guest's records land while it runs.
    pub records: PathBuf,
    /// The guest's KTAP output, relative to the run directory.
    pub guest_rel: String,
    /// Where the VM's stdout and stderr go, relative to the run directory.
    pub stdout_rel: String,
    pub stderr_rel: String,
    /// For vng, a plain temporary directory standing in for the boot's
    /// directory (see [`prepare`]); its records are copied back.
    pub twin: Option<tempfile::TempDir>,
    /// The guest's argv, quoted (for command.sh: it is in a file, not on
    /// the command line).
    pub guest_argv: String,
    /// A per-boot file to remove once the VM is gone (the qemu initramfs).
    pub scratch: Option<PathBuf>,
    /// What the qemu backend boots (vmlinux or bzImage, and why).
    pub image: Option<BootImage>,
}

/// The command for one boot of kernel `index`, per backend.
pub(super) fn prepare(
    ctx: &Ctx<'_>,
    index: usize,
    id: &KernelIdentity,
    layout: &Layout,
    after: Option<&str>,
) -> Result<Launch> {
    let which = Which {
        part: ctx.part(index),
        after,
    };
    match ctx.backend {
        Backend::Vng => {
            // The records file goes to QEMU through vng's host shell and
            // QEMU's option parser, and the guest reads the script through
            // the host root: a boot directory with characters either would
            // take apart, or one the guest does not see, gets a plain
            // temporary stand-in in /tmp whose records are copied back.
            let dir = std::fs::canonicalize(&layout.dir).unwrap_or(layout.dir.clone());
            let twin = if vm::is_vng_safe_path(&dir) && vm::vng::guest_sees(&dir) {
                None
            } else {
                Some(
                    tempfile::Builder::new()
                        .prefix("kharness-boot")
                        .tempdir_in("/tmp")
                        .map_err(|e| Error::io("failed to create a directory in", "/tmp", e))?,
                )
            };
            let (script, records) = match &twin {
                Some(t) => (t.path().join(VNG_SCRIPT), t.path().join(RECORDS)),
                None => (dir.join(VNG_SCRIPT), dir.join("rw").join(RECORDS)),
            };
            let argv = vng_guest_argv(ctx.plan, &ctx.guest, which);
            crate::support::fs::write_atomic(&script, vng_script(&argv).as_bytes())
                .map_err(|e| Error::io("failed to write", &script, e))?;
            let vng = vng_for(
                ctx.plan,
                id,
                &script,
                &records,
                ctx.verdict.accel,
                ctx.perf_mode,
            );
            vng.check_cmdline().map_err(|source| EngineError::Kernel {
                release: id.release.clone(),
                source,
            })?;
            let guest_rel = format!("{}/guest.log", layout.rel);
            // vng: the guest command's output on stdout, the kernel's on stderr.
            Ok(Launch {
                command: vng.command(),
                display: vng.display(),
                records,
                guest_rel: guest_rel.clone(),
                stdout_rel: guest_rel,
                stderr_rel: layout.console_rel.clone(),
                twin,
                guest_argv: crate::support::quote::sh_join(&argv),
                scratch: None,
                image: None,
            })
        }
        Backend::Qemu => {
            let records = layout.rw.join(RECORDS);
            let base = ctx
                .initramfs
                .as_deref()
                .expect("the qemu backend builds an initramfs first");
            let argv = qemu_guest_argv(ctx.plan, which);
            let initrd = layout.dir.join("initrd.cpio");
            crate::vm::initramfs::with_argv(base, &argv, &initrd)
                .map_err(|e| Error::io("failed to write", &initrd, e))?;
            let image = crate::kernel::direct::boot_image(id);
            let q = qemu_for(
                ctx.plan,
                id,
                &image,
                &initrd,
                &records,
                ctx.verdict.accel,
                ctx.perf_mode,
            );
            q.check_cmdline().map_err(|source| EngineError::Kernel {
                release: id.release.clone(),
                source,
            })?;
            // qemu-direct: the first serial port (stdout) is the console and
            // the guest's KTAP; QEMU's own messages go to stderr.
            Ok(Launch {
                command: q.command(),
                display: q.display(),
                records,
                guest_rel: layout.console_rel.clone(),
                stdout_rel: layout.console_rel.clone(),
                stderr_rel: format!("{}/qemu.log", layout.rel),
                twin: None,
                guest_argv: crate::support::quote::sh_join(&argv),
                scratch: Some(initrd),
                image: Some(image),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deterministic_vng_boot_lets_idle_guest_time_pass_at_the_hosts_pace() {
        // vng's guest waits on the host's 9p/virtiofs root: no sleep=off.
        assert_eq!(
            icount_opts(PerfMode::Deterministic),
            ["-icount shift=4,align=off,sleep=on"]
        );
        assert!(icount_opts(PerfMode::Wallclock).is_empty());
    }

    fn plan(filters: Vec<String>) -> Plan {
        Plan {
            filters,
            ..Plan::for_tests()
        }
    }

    fn identity() -> KernelIdentity {
        KernelIdentity {
            release: "6.12".into(),
            banner: String::new(),
            path: "/boot/vmlinuz".into(),
            sha256: String::new(),
            size: 1,
        }
    }

    /// 60 test ids, as `kharness repro` passes them: about 30 overflowed
    /// the kernel command line when the argv travelled on it.
    fn many_ids() -> Vec<String> {
        (0..60)
            .map(|i| format!("signals.splice_sigkill_zero_to_null_{i}"))
            .collect()
    }

    #[test]
    fn a_long_selection_stays_off_the_kernel_command_line() {
        let p = plan(many_ids());
        let which = Which {
            part: None,
            after: Some("signals.splice_sigkill_zero_to_null_3"),
        };
        let q = qemu_for(
            &p,
            &identity(),
            &BootImage::BzImage("a test".into()),
            Path::new("/tmp/i.cpio"),
            Path::new("/tmp/r"),
            Accel::Tcg,
            PerfMode::Deterministic,
        );
        assert!(q.check_cmdline().is_ok(), "{}", q.cmdline());
        assert!(q.cmdline().len() < 200, "{}", q.cmdline());
        // Everything is in the argv that goes into the initramfs.
        let argv = qemu_guest_argv(&p, which);
        for id in many_ids() {
            assert!(argv.contains(&id), "{id}");
        }
        let v = vng_for(
            &p,
            &identity(),
            Path::new("/tmp/run/kharness-run.sh"),
            Path::new("/tmp/run/rw/records.jsonl"),
            Accel::Tcg,
            PerfMode::Deterministic,
        );
        assert!(v.check_cmdline().is_ok(), "{}", v.exec_string());
        assert_eq!(v.exec_string(), "sh /tmp/run/kharness-run.sh");
    }

    #[test]
    fn the_vng_script_execs_the_guest_with_every_word_quoted() {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join(VNG_SCRIPT);
        let argv: Vec<String> = ["printf", "%s|", "it's", "$(id)", "a b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        std::fs::write(&script, vng_script(&argv)).unwrap();
        let out = std::process::Command::new("sh")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's|$(id)|a b|");
    }
}
