//! Runs a plan: boots each kernel (each pass, each fresh boot after a
//! crash), collects the records into a new run directory, and writes
//! results.json, the reports and the recipe.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::SystemTime;

use super::context::Ctx;
use super::error::EngineError;
use super::launch::{
    RECORDS, VNG_SCRIPT, Which, qemu_for, qemu_guest_argv, vng_for, vng_guest_argv,
};
use super::pass::{PassOf, PassRun, run_pass};
use crate::error::{Error, Result};
use crate::guest::{self, GuestBinary};
use crate::kernel::{self, KernelIdentity};
use crate::plan::{self, Part, Plan};
use crate::results::{BootReason, KernelOutcome, KernelRun, RunDir, RunResults, write_json};
use crate::support::paths::cache_dir;
use crate::support::progress::{Board, Mode};
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
                        &crate::kernel::direct::boot_image(id),
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
    // One column per kernel; with --boots M each gets M passes, A B A B.
    let order = boot_order(booted.len(), plan.boots);
    let jobs = vm_jobs(plan, backend, verdict.accel, order.len(), out);
    let ctx = Ctx {
        plan,
        run_dir,
        guest,
        catalogue,
        verdict,
        backend,
        perf_mode,
        initramfs,
        parts,
        board: Board::new(Mode::detect(out.quiet), jobs > 1),
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
        icount_shift: (perf_mode == PerfMode::Deterministic).then_some(crate::vm::ICOUNT_SHIFT),
        guest: ctx.guest.clone(),
        filters: plan.filters.clone(),
        plan_hash: Some(plan_hash),
        shard: shard_info,
        dir: Some(
            std::path::absolute(&ctx.run_dir.path).unwrap_or_else(|_| ctx.run_dir.path.clone()),
        ),
        kernels: Vec::new(),
    };
    let mut columns: Vec<Option<KernelRun>> = vec![None; identities.len()];
    let passes: Vec<(usize, u32)> = order.iter().map(|&(j, k)| (booted[j].0, k)).collect();
    run_passes(&ctx, &identities, &passes, jobs, |(i, _), pass| {
        let kr = columns[i].get_or_insert_with(|| column(plan, i, &identities[i]));
        pass.add_to(kr);
        results.kernels = columns.iter().flatten().cloned().collect();
        // Partial results survive a later crash of the harness itself.
        write_json(&ctx.run_dir.join("results.json"), &results)
    })?;
    results.interrupted = crate::support::process::interrupted();
    results.finished = Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
    let run_dir = ctx.run_dir;
    write_json(&run_dir.join("results.json"), &results)?;
    crate::report::write_all(&run_dir.path, &results, out.verbose)?;
    crate::results::recipe::write(&run_dir.path, plan, &results)?;
    Ok(Some((results, run_dir)))
}

/// What bounds the VMs this host runs at once for `plan` booted by
/// `backend` under `accel` ([`vm::Capacity::jobs`] is the default
/// `--jobs`).
pub fn capacity(plan: &Plan, backend: Backend, accel: Accel) -> vm::Capacity {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    vm::Capacity::of_host(
        super::launch::vcpus_per_vm(plan, backend, accel, cores),
        &plan.memory,
    )
}

/// How many VMs run at once: --jobs, else what the machine can run
/// ([`vm::Capacity`]); never more than there are passes. Says so when
/// VMs will run side by side, and warns when --jobs asks for more than
/// the machine runs (--jobs used to be make -j, now --build-jobs).
fn vm_jobs(plan: &Plan, backend: Backend, accel: Accel, passes: usize, out: &Output) -> usize {
    let cap = capacity(plan, backend, accel);
    let fits = cap.jobs();
    if let Some(asked) = plan.jobs.filter(|&j| j > fits) {
        eprintln!(
            "kharness: warning: --jobs {asked} runs up to {asked} VMs at once, more than this \
             machine runs ({fits}: {}); they compete for cores and memory, and wall-clock \
             timings suffer. (--jobs counts VMs; make -j for kernel builds is --build-jobs.)",
            cap.describe()
        );
    }
    let jobs = plan.jobs.unwrap_or(fits).clamp(1, passes.max(1));
    if jobs > 1 && !out.quiet {
        let why = match plan.jobs {
            Some(_) => "--jobs".to_owned(),
            None => format!("{}; --jobs N to change", cap.describe()),
        };
        eprintln!("kharness: {jobs} VMs at once ({why})");
    }
    jobs
}

/// Runs `passes` ((kernel, pass) pairs, in boot order) on `jobs` threads,
/// each booting one VM at a time (a VM dies with the thread that
/// started it, see `support::process`, so a thread stays until its VM is
/// reaped). `done` gets every pass in the order of `passes`, whatever
/// order they end in: results, their partial writes and the reports are
/// the same for any `jobs`. After Ctrl-C or an error no new pass starts;
/// those running end (Ctrl-C stops their VMs) and are still handed over
/// up to the first error, which is returned.
fn run_passes(
    ctx: &Ctx<'_>,
    identities: &[KernelIdentity],
    passes: &[(usize, u32)],
    jobs: usize,
    mut done: impl FnMut((usize, u32), PassRun) -> Result<()>,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<PassRun>)>();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            let tx = tx.clone();
            let (next, failed) = (&next, &failed);
            s.spawn(move || {
                while !crate::support::process::interrupted() && !failed.load(Ordering::Relaxed) {
                    let u = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(i, k)) = passes.get(u) else { break };
                    let first = if ctx.plan.boots > 1 {
                        BootReason::Repeat {
                            k: k + 1,
                            of: ctx.plan.boots,
                        }
                    } else {
                        BootReason::First
                    };
                    let tag = if ctx.plan.boots > 1 {
                        format!("[{}/{} pass {}]", i + 1, ctx.plan.kernels.len(), k + 1)
                    } else {
                        format!("[{}/{}]", i + 1, ctx.plan.kernels.len())
                    };
                    let of = PassOf {
                        index: i,
                        id: &identities[i],
                        pass: k,
                        first,
                        tag,
                    };
                    let r = run_pass(ctx, of);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if tx.send((u, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut ended: BTreeMap<usize, Result<PassRun>> = BTreeMap::new();
        let mut cursor = 0;
        let mut error = None;
        for (u, r) in rx {
            ended.insert(u, r);
            while error.is_none() {
                let Some(r) = ended.remove(&cursor) else {
                    break;
                };
                let handed = r.and_then(|p| done(passes[cursor], p));
                if let Err(e) = handed {
                    failed.store(true, Ordering::Relaxed);
                    error = Some(e);
                }
                cursor += 1;
            }
        }
        error.map_or(Ok(()), Err)
    })
}

fn is_installed(program: &Path) -> bool {
    program.is_file() || crate::support::paths::resolve_program(program).is_some()
}

/// The initramfs of this guest binary, cached by its hash.
fn initramfs_for(guest: &GuestBinary, run_dir: &RunDir) -> Result<PathBuf> {
    let dir = cache_dir()
        .map(|d| d.join("initramfs"))
        .unwrap_or_else(|| run_dir.path.clone());
    vm::initramfs::cached(&guest.path, &guest.sha256, &dir)
        .map_err(|e| Error::io("failed to build the initramfs in", &dir, e))
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
