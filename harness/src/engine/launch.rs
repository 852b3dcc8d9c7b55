//! How one boot is started: the guest's argv, the vng or QEMU command
//! line for it, and where that backend puts the console, the guest's
//! output and its records.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::context::Ctx;
use crate::error::{Error, Result};
use crate::guest::GuestBinary;
use crate::kernel::KernelIdentity;
use crate::plan::{Part, Plan};
use crate::vm::{self, Accel, Backend, PerfMode, Qemu, Vng};

/// Where the results file lives inside the guest-writable directory.
pub(super) const RECORDS: &str = "records.jsonl";

/// Which tests of the plan one boot runs: a shard's part of the
/// catalogue, and of that only the tests after `after` (a fresh boot after
/// a crash or hang).
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
        PerfMode::Deterministic => vec![vm::ICOUNT.join(" ")],
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

pub(super) fn vng_for(
    plan: &Plan,
    id: &KernelIdentity,
    guest: &GuestBinary,
    rw: &Path,
    accel: Accel,
    perf_mode: PerfMode,
    which: Which<'_>,
) -> Vng {
    let mut exec = vec![guest.path.to_string_lossy().into_owned()];
    exec.extend(guest_run_args(
        plan,
        &rw.join(RECORDS).to_string_lossy(),
        which,
    ));
    Vng {
        program: plan.vng.clone(),
        kernel: id.path.clone(),
        accel,
        rwdir: rw.to_owned(),
        memory: plan.memory.clone(),
        cpus: plan.cpus.or_else(|| default_cpus(accel)),
        exec,
        qemu_opts: icount_opts(perf_mode),
    }
}

pub(super) fn qemu_for(
    plan: &Plan,
    id: &KernelIdentity,
    initrd: &Path,
    results: &Path,
    accel: Accel,
    perf_mode: PerfMode,
    which: Which<'_>,
) -> Qemu {
    let argv = guest_run_args(plan, "/dev/ttyS1", which);
    Qemu {
        program: plan.qemu.clone(),
        kernel: id.path.clone(),
        initrd: initrd.to_owned(),
        accel,
        memory: plan.memory.clone(),
        cpus: plan.cpus.or_else(|| default_cpus(accel)).unwrap_or(1),
        results: results.to_owned(),
        append: vec![format!(
            "{}={}",
            kharness_record::PID1_ARGV_PARAM,
            kharness_record::encode_argv(&argv)
        )],
        icount: perf_mode == PerfMode::Deterministic,
    }
}

/// A boot's directory in the run directory: `rel` (relative to the run
/// directory), `dir` (absolute), its guest-writable `rw/`.
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
    /// A plain temporary twin of `rw/` for vng, whose records are copied back.
    pub twin: Option<tempfile::TempDir>,
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
            // vng splits --rwdir at '=' and QEMU at ',': a run directory
            // with such characters gets a plain temporary twin whose
            // records are copied back.
            let canonical_rw = std::fs::canonicalize(&layout.rw).unwrap_or(layout.rw.clone());
            let twin = if vm::is_vng_safe_path(&canonical_rw) {
                None
            } else {
                Some(
                    tempfile::Builder::new()
                        .prefix("kharness-rw")
                        .tempdir_in("/tmp")
                        .map_err(|e| Error::io("failed to create a directory in", "/tmp", e))?,
                )
            };
            let rw = twin
                .as_ref()
                .map(|t| t.path().to_owned())
                .unwrap_or(canonical_rw);
            let vng = vng_for(
                ctx.plan,
                id,
                &ctx.guest,
                &rw,
                ctx.verdict.accel,
                ctx.perf_mode,
                which,
            );
            let guest_rel = format!("{}/guest.log", layout.rel);
            // vng: the guest command's output on stdout, the kernel's on stderr.
            Ok(Launch {
                command: vng.command(),
                display: vng.display(),
                records: rw.join(RECORDS),
                guest_rel: guest_rel.clone(),
                stdout_rel: guest_rel,
                stderr_rel: layout.console_rel.clone(),
                twin,
            })
        }
        Backend::Qemu => {
            let records = layout.rw.join(RECORDS);
            let initrd = ctx
                .initramfs
                .as_deref()
                .expect("the qemu backend builds an initramfs first");
            let q = qemu_for(
                ctx.plan,
                id,
                initrd,
                &records,
                ctx.verdict.accel,
                ctx.perf_mode,
                which,
            );
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
            })
        }
    }
}
