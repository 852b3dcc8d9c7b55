//! Runs a plan: boots each kernel (each pass, each fresh boot after a
//! crash), collects the records into a new run directory, and writes
//! results.json, the reports and the recipe.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::context::Ctx;
use super::error::EngineError;
use super::launch::{
    RECORDS, VNG_SCRIPT, Which, qemu_for, qemu_guest_argv, vng_for, vng_guest_argv,
};
use super::pass::run_pass;
use crate::error::{Error, Result};
use crate::guest::{self, GuestBinary};
use crate::kernel::{self, KernelIdentity};
use crate::plan::{self, Part, Plan};
use crate::results::{BootReason, KernelOutcome, KernelRun, RunDir, RunResults, write_json};
use crate::support::paths::cache_dir;
use crate::vm::{self, Accel, Backend, BackendChoice, PerfMode};

/// Options that change how a run talks, not what it does.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub quiet: bool,
    pub verbose: bool,
    pub dry_run: bool,
}

/// Boots every kernel of the plan and collects the results into a new
/// run directory (results.json and the report files written); `None` for a
/// dry run, which only prints the VM commands.
pub fn run_plan(plan: &Plan, out: &Output) -> Result<Option<(RunResults, RunDir)>> {
    if plan.kernels.is_empty() {
        return Err(EngineError::NoKernel.into());
    }
    let identities = plan
        .kernels
        .iter()
        .map(|k| kernel::identify(k))
        .collect::<Result<Vec<_>>>()?;
    let want = guest::Want {
        given: plan.guest.as_deref(),
        rebuild: plan.rebuild_guest,
    };
    let guest = guest::locate(want, out.quiet)?;
    let catalogue = guest::catalogue(&guest, &plan.filters)?;
    let vng_installed = vm::vng::locate(&plan.vng).is_some();
    let backend = Backend::resolve(plan.backend, vng_installed);
    match backend {
        Backend::Vng if !vng_installed => {
            return Err(vm::VmError::VngMissing {
                vng: plan.vng.clone(),
            }
            .into());
        }
        Backend::Qemu if !is_installed(&plan.qemu) => {
            return Err(vm::VmError::QemuMissing {
                qemu: plan.qemu.clone(),
            }
            .into());
        }
        _ => {}
    }
    if backend == Backend::Qemu && plan.backend == BackendChoice::Auto && !out.quiet {
        eprintln!(
            "kharness: {} not found, so the qemu backend boots the kernels (it needs what the suite uses built in); for vng, {}",
            plan.vng.display(),
            vm::vng::INSTALL_HINT
        );
    }
    // Kernels this run boots, each with its part of the catalogue when sharded.
    let parts = plan
        .shard
        .map(|spec| plan::split(identities.len(), catalogue.len(), spec));
    let booted: Vec<(usize, Option<Part>)> = match &parts {
        Some(parts) => parts.iter().map(|p| (p.kernel, Some(*p))).collect(),
        None => (0..identities.len()).map(|i| (i, None)).collect(),
    };
    if out.dry_run {
        let perf_mode = PerfMode::resolve(plan.perf_mode, Accel::Tcg)?;
        let rw = Path::new("/tmp/kharness-dry-run");
        let mut text = String::new();
        for &(i, part) in &booted {
            let id = &identities[i];
            let which = Which { part, after: None };
            let (cmd, argv) = match backend {
                Backend::Vng => (
                    vng_for(
                        plan,
                        id,
                        &rw.join(VNG_SCRIPT),
                        &rw.join(RECORDS),
                        Accel::Tcg,
                        perf_mode,
                    )
                    .display(),
                    vng_guest_argv(plan, &guest, which),
                ),
                Backend::Qemu => (
                    qemu_for(
                        plan,
                        id,
                        &rw.join("initrd.cpio"),
                        &rw.join(RECORDS),
                        Accel::Tcg,
                        perf_mode,
                    )
                    .display(),
                    qemu_guest_argv(plan, which),
                ),
            };
            // The guest's argv goes in a file (see `launch`), shown here
            // as command.sh shows it.
            text.push_str(&format!(
                "{cmd}\n# guest: {}\n",
                crate::support::quote::sh_join(&argv)
            ));
        }
        crate::support::stdout::print(&text).map_err(Error::stdout)?;
        return Ok(None);
    }
    let started = SystemTime::now();
    let verdict = vm::resolve_accel(
        plan.accel,
        vm::Probe {
            kernel: &identities[0].path,
            qemu: &plan.qemu,
            cache_dir: cache_dir().as_deref(),
            reprobe: false,
        },
    );
    let perf_mode = PerfMode::resolve(plan.perf_mode, verdict.accel)?;
    let run_dir = RunDir::create(&plan.out, started)?;
    if !out.quiet {
        let how = if verdict.cached {
            " (cached verdict; `kharness doctor --reprobe` probes again)"
        } else {
            ""
        };
        eprintln!(
            "kharness: accelerator {}: {}{how}",
            verdict.accel.as_str(),
            verdict.reason
        );
        eprintln!(
            "kharness: backend {}, perf mode {}; run directory {}",
            backend.as_str(),
            perf_mode.as_str(),
            run_dir.path.display()
        );
    }
    write_json(&run_dir.join("plan.json"), plan)?;
    let initramfs = match backend {
        Backend::Qemu => Some(initramfs_for(&guest, &run_dir)?),
        Backend::Vng => None,
    };
    let plan_hash = plan::plan_hash(
        plan,
        &identities,
        &catalogue,
        &guest.sha256,
        backend,
        perf_mode,
    );
    let shard_info = plan.shard.zip(parts.clone()).map(|(spec, parts)| {
        plan::shard_info(spec, identities.len(), catalogue.len(), parts, out.quiet)
    });
    let ctx = Ctx {
        plan,
        out,
        run_dir,
        guest,
        catalogue,
        verdict,
        backend,
        perf_mode,
        initramfs,
        parts,
    };
    let mut results = RunResults {
        schema: crate::results::RESULTS_SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        run_id: ctx.run_dir.id.clone(),
        started: humantime::format_rfc3339_seconds(started).to_string(),
        finished: None,
        interrupted: false,
        accel: ctx.verdict.clone(),
        backend: Some(backend),
        perf_mode: Some(perf_mode),
        guest: ctx.guest.clone(),
        filters: plan.filters.clone(),
        plan_hash: Some(plan_hash),
        shard: shard_info,
        dir: Some(
            std::path::absolute(&ctx.run_dir.path).unwrap_or_else(|_| ctx.run_dir.path.clone()),
        ),
        kernels: Vec::new(),
    };
    // One column per kernel; with --boots M each gets M passes, A B A B.
    let mut columns: Vec<Option<KernelRun>> = vec![None; identities.len()];
    for (j, k) in boot_order(booted.len(), plan.boots) {
        if crate::support::process::interrupted() {
            break;
        }
        let i = booted[j].0;
        let id = &identities[i];
        let why = if plan.boots > 1 {
            BootReason::Repeat {
                k: k + 1,
                of: plan.boots,
            }
        } else {
            BootReason::First
        };
        let kr = columns[i].get_or_insert_with(|| column(plan, i, id));
        run_pass(&ctx, i, id, kr, why)?;
        results.kernels = columns.iter().flatten().cloned().collect();
        // Partial results survive a later crash of the harness itself.
        write_json(&ctx.run_dir.join("results.json"), &results)?;
    }
    results.interrupted = crate::support::process::interrupted();
    results.finished = Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
    let run_dir = ctx.run_dir;
    write_json(&run_dir.join("results.json"), &results)?;
    crate::report::write_all(&run_dir.path, &results, out.verbose)?;
    crate::results::recipe::write(&run_dir.path, plan, &results)?;
    Ok(Some((results, run_dir)))
}

fn is_installed(program: &Path) -> bool {
    program.is_file() || crate::support::paths::resolve_program(program).is_some()
}

/// The initramfs of this guest binary, cached by its hash.
fn initramfs_for(guest: &GuestBinary, run_dir: &RunDir) -> Result<PathBuf> {
    let dir = cache_dir()
        .map(|d| d.join("initramfs"))
        .unwrap_or_else(|| run_dir.path.clone());
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("failed to create", &dir, e))?;
    // "-s": the guest goes in stripped of debug sections (initramfs::build).
    let path = dir.join(format!("kharness-guest-{}-s.cpio", &guest.sha256[..16]));
    if !path.is_file() {
        vm::initramfs::build(&guest.path, &path)
            .map_err(|e| Error::io("failed to build the initramfs", &path, e))?;
    }
    Ok(path)
}

/// A new, empty column for kernel `index`.
fn column(plan: &Plan, index: usize, id: &KernelIdentity) -> KernelRun {
    KernelRun {
        label: plan.labels.get(index).cloned(),
        step: plan.steps.get(index).cloned(),
        identity: id.clone(),
        outcome: KernelOutcome::Pending,
        detail: None,
        vm_exit: None,
        wall_s: 0.0,
        command: String::new(),
        console_log: String::new(),
        guest_log: String::new(),
        console_findings: Vec::new(),
        records: Vec::new(),
        boots: Vec::new(),
    }
}

/// The order of boots for `kernels` kernels run `boots` times each:
/// (kernel, pass) pairs interleaved A B A B, so slow drift of the host
/// spreads over every kernel alike.
pub fn boot_order(kernels: usize, boots: u32) -> Vec<(usize, u32)> {
    (0..boots)
        .flat_map(|k| (0..kernels).map(move |i| (i, k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boots_interleave_kernels() {
        assert_eq!(boot_order(2, 2), [(0, 0), (1, 0), (0, 1), (1, 1)]);
        assert_eq!(boot_order(3, 1), [(0, 0), (1, 0), (2, 0)]);
        assert_eq!(
            boot_order(2, 3),
            [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)]
        );
    }
}
