//! `kharness run`: boot each kernel of a plan, run the guest suite in it,
//! and collect what came back into the run directory.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kharness_record::{Event, Status, TestInfo, TestRecord};

use crate::error::{Error, ExitCode, Result};
use crate::guest::{self, GuestBinary};
use crate::kernel::{self, KernelIdentity};
use crate::plan::Plan;
use crate::results::{Boot, BootReason, KernelOutcome, KernelRun, RunDir, RunResults, write_json};
use crate::shard::{self, Part};
use crate::vm::{self, Accel, AccelVerdict, Backend, BackendChoice, PerfMode, Qemu, Vng};

/// Where the results file lives inside the guest-writable directory.
const RECORDS: &str = "records.jsonl";

/// Options that change how a run talks, not what it does.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub quiet: bool,
    pub verbose: bool,
    pub dry_run: bool,
}

/// What every boot of a run shares.
struct Ctx<'a> {
    plan: &'a Plan,
    out: &'a Output,
    run_dir: RunDir,
    guest: GuestBinary,
    catalogue: Vec<TestInfo>,
    verdict: AccelVerdict,
    backend: Backend,
    perf_mode: PerfMode,
    /// The qemu-direct initramfs, built once per run.
    initramfs: Option<PathBuf>,
    /// With `--shard`: the part of the catalogue each booted kernel runs.
    parts: Option<Vec<Part>>,
}

impl Ctx<'_> {
    /// The part kernel `index` runs, when the plan is sharded.
    fn part(&self, index: usize) -> Option<Part> {
        self.parts
            .as_ref()?
            .iter()
            .find(|p| p.kernel == index)
            .copied()
    }

    /// The tests kernel `index` runs.
    fn tests(&self, index: usize) -> &[TestInfo] {
        match self.part(index) {
            Some(p) => &self.catalogue[p.start..p.end],
            None => &self.catalogue,
        }
    }
}

/// Runs a plan end to end, prints the summary; returns the exit code.
pub fn execute(plan: &Plan, out: &Output) -> Result<ExitCode> {
    let Some((results, run_dir)) = run_plan(plan, out)? else {
        return Ok(ExitCode::Ok);
    };
    let table = crate::report::terminal(&results, out.verbose);
    crate::results::write_atomic(&run_dir.join("summary.txt"), table.as_bytes())
        .map_err(|e| Error::io("failed to write", run_dir.join("summary.txt"), e))?;
    print!("{}", crate::report::for_stdout(&table));
    println!("run directory: {}", run_dir.path.display());
    if results.interrupted {
        return Err(Error::Interrupted);
    }
    Ok(results.exit_code())
}

/// Boots every kernel of the plan and collects the results into a new
/// run directory (results.json and the report files written); `None` for a
/// dry run, which only prints the VM commands.
pub fn run_plan(plan: &Plan, out: &Output) -> Result<Option<(RunResults, RunDir)>> {
    let identities = plan
        .kernels
        .iter()
        .map(|k| kernel::identify(k))
        .collect::<Result<Vec<_>>>()?;
    let guest = guest::locate(plan.guest.as_deref(), out.quiet)?;
    let catalogue = guest::catalogue(&guest, &plan.filters)?;
    let vng_installed = vm::vng::locate(&plan.vng).is_some();
    let backend = Backend::resolve(plan.backend, vng_installed);
    match backend {
        Backend::Vng if !vng_installed => {
            return Err(Error::Infra(format!(
                "{} not found: virtme-ng is not installed; {} (see `kharness doctor`)",
                plan.vng.display(),
                vm::vng::INSTALL_HINT
            )));
        }
        Backend::Qemu if !is_installed(&plan.qemu) => {
            return Err(Error::Infra(format!(
                "{} not found: install it with `apt-get install qemu-system-x86` (see `kharness doctor`)",
                plan.qemu.display()
            )));
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
        .map(|spec| shard::split(identities.len(), catalogue.len(), spec));
    let booted: Vec<(usize, Option<Part>)> = match &parts {
        Some(parts) => parts.iter().map(|p| (p.kernel, Some(*p))).collect(),
        None => (0..identities.len()).map(|i| (i, None)).collect(),
    };
    if out.dry_run {
        let perf_mode = PerfMode::resolve(plan.perf_mode, Accel::Tcg).map_err(Error::Usage)?;
        let rw = Path::new("/tmp/kharness-dry-run");
        for &(i, part) in &booted {
            let id = &identities[i];
            let cmd = match backend {
                Backend::Vng => {
                    let which = Which { part, after: None };
                    vng_for(plan, id, &guest, rw, Accel::Tcg, perf_mode, which).display()
                }
                Backend::Qemu => qemu_for(
                    plan,
                    id,
                    &rw.join("initramfs.cpio"),
                    &rw.join(RECORDS),
                    Accel::Tcg,
                    perf_mode,
                    Which { part, after: None },
                )
                .display(),
            };
            println!("{cmd}");
        }
        return Ok(None);
    }
    let started = SystemTime::now();
    let verdict = vm::resolve_accel(plan.accel, &identities[0].path, cache_dir().as_deref());
    let perf_mode = PerfMode::resolve(plan.perf_mode, verdict.accel).map_err(Error::Usage)?;
    let run_dir = RunDir::create(&plan.out, started)?;
    if !out.quiet {
        let how = if verdict.cached {
            " (cached verdict)"
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
    let plan_hash = shard::plan_hash(
        plan,
        &identities,
        &catalogue,
        &guest.sha256,
        backend,
        perf_mode,
    );
    let shard_info = plan.shard.zip(parts.clone()).map(|(spec, parts)| {
        shard::info(spec, identities.len(), catalogue.len(), parts, out.quiet)
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
        kernels: Vec::new(),
    };
    // One column per kernel; with --boots M each gets M passes, A B A B.
    let mut columns: Vec<Option<KernelRun>> = vec![None; identities.len()];
    for (j, k) in boot_order(booted.len(), plan.boots) {
        if vm::interrupted() {
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
    results.interrupted = vm::interrupted();
    results.finished = Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
    let run_dir = ctx.run_dir;
    write_json(&run_dir.join("results.json"), &results)?;
    crate::report::write_all(&run_dir.path, &results)?;
    crate::recipe::write(&run_dir.path, plan, &results)?;
    Ok(Some((results, run_dir)))
}

fn is_installed(program: &Path) -> bool {
    program.is_file() || vm::resolve_program(&program.to_string_lossy()).is_some()
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

/// `$KHARNESS_CACHE_DIR`, else `$XDG_CACHE_HOME/kharness`, else `~/.cache/kharness`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KHARNESS_CACHE_DIR") {
        return Some(d.into());
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("kharness"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kharness"))
}

/// Which tests of the plan one boot runs: a shard's part of the
/// catalogue, and of that only the tests after `after` (a fresh boot after
/// a crash or hang). Neither grows with the number of tests, so the guest's
/// argv fits the kernel command line (qemu backend).
#[derive(Debug, Clone, Copy, Default)]
struct Which<'a> {
    part: Option<Part>,
    after: Option<&'a str>,
}

/// The guest's `run` arguments, writing results to `results`.
fn guest_run_args(plan: &Plan, results: &str, which: Which<'_>) -> Vec<String> {
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

fn vng_for(
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
        program: vm::vng::locate(&plan.vng).unwrap_or_else(|| plan.vng.clone()),
        kernel: id.path.clone(),
        accel,
        rwdir: rw.to_owned(),
        memory: plan.memory.clone(),
        cpus: plan.cpus.or_else(|| default_cpus(accel)),
        exec,
        qemu_opts: icount_opts(perf_mode),
    }
}

fn qemu_for(
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

/// One vCPU under TCG unless asked otherwise. Debian's 6.12 kernel oopsed
/// with "int3" in __schedule here under multi-vCPU TCG while a perf test
/// flipped static keys (cross-CPU code patching); with one vCPU the same
/// suite passes, and boots faster. KVM keeps vng's default.
fn default_cpus(accel: Accel) -> Option<u32> {
    (accel == Accel::Tcg).then_some(1)
}

/// A name safe for a directory: the release with odd characters replaced.
pub(crate) fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A new, empty column for kernel `index`.
fn column(plan: &Plan, index: usize, id: &KernelIdentity) -> KernelRun {
    KernelRun {
        label: plan.labels.get(index).cloned(),
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

/// One pass of the suite over one kernel: a first boot, then, after a
/// crash or hang that left tests unrun, fresh boots that run the tests
/// after the one that was running, at most `plan.max_boots` boots in all.
/// A boot in which no test started ends the pass, so a kernel that dies at
/// boot is never booted in a loop. Adds the boots and records to `kr`.
fn run_pass(
    ctx: &Ctx<'_>,
    index: usize,
    id: &KernelIdentity,
    kr: &mut KernelRun,
    first: BootReason,
) -> Result<()> {
    let mut why = first;
    let mut after: Option<String> = None;
    let mut left: &[TestInfo] = ctx.tests(index);
    let mut boots = 0u32;
    loop {
        let boot_no = u32::try_from(kr.boots.len()).unwrap_or(u32::MAX);
        let (mut boot, events) = boot_vm(ctx, index, id, boot_no, &why, after.as_deref(), left)?;
        boots += 1;
        let (mut records, last) =
            boot_records(&events, boot.outcome, boot.detail.as_deref(), boot_no);
        // Kernel complaints on this boot's console, charged to the test
        // whose markers surround them.
        let console = std::fs::read(ctx.run_dir.join(&boot.console_log)).unwrap_or_default();
        vm::console::mark_tests(&String::from_utf8_lossy(&console), &mut records);
        // The tests this boot did not reach: those after the last one that
        // started (the guest runs them in the catalogue's order).
        let rest = tests_after(left, last.as_deref());
        let fatal = matches!(boot.outcome, KernelOutcome::Crashed | KernelOutcome::Hung);
        let go_on = fatal && last.is_some() && !rest.is_empty() && boots < ctx.plan.max_boots;
        let outcome = boot.outcome;
        if go_on {
            boot.detail = boot.detail.map(|d| {
                format!(
                    "{d}; the {} test(s) after it ran in a fresh boot",
                    rest.len()
                )
            });
        }
        kr.records.extend(records);
        kr.push_boot(boot);
        if !go_on {
            let why_not = if !fatal || rest.is_empty() {
                String::new()
            } else if last.is_none() {
                "; no test started in this boot, so no fresh boot".to_owned()
            } else {
                format!("; no boots left (--max-boots {})", ctx.plan.max_boots)
            };
            kr.records.extend(rest.iter().map(|t| TestRecord {
                id: t.id.clone(),
                status: Status::Error,
                reason: Some(format!(
                    "not run: the guest stopped first ({}){why_not}",
                    outcome.as_str()
                )),
                duration_us: 0,
                rep: 0,
                boot: boot_no,
                observations: Default::default(),
                metrics: Vec::new(),
                kernel_findings: Vec::new(),
                attempts: Vec::new(),
            }));
            return Ok(());
        }
        why = BootReason::Continue {
            after: last.clone().unwrap_or_default(),
            outcome,
        };
        after = last;
        left = rest;
    }
}

/// The tests of `left` a boot did not reach: those after `last`, the last
/// one that started (the guest runs them in the catalogue's order); all of them
/// when none started.
fn tests_after<'a>(left: &'a [TestInfo], last: Option<&str>) -> &'a [TestInfo] {
    match last {
        Some(l) => left
            .iter()
            .position(|t| t.id == l)
            .map_or(&left[left.len()..], |i| &left[i + 1..]),
        None => left,
    }
}

/// Boots kernel `index` once to run the tests `tests` (those after
/// `after` among the selected ones); returns the boot and the guest's
/// events. The first boot of a kernel writes into the kernel's directory,
/// later ones into `bootN/` under it.
fn boot_vm(
    ctx: &Ctx<'_>,
    index: usize,
    id: &KernelIdentity,
    boot_no: u32,
    why: &BootReason,
    after: Option<&str>,
    tests: &[TestInfo],
) -> Result<(Boot, Vec<Event>)> {
    let (plan, out, run_dir) = (ctx.plan, ctx.out, &ctx.run_dir);
    let kernel_rel = format!("kernels/{}-{}", index + 1, slug(&id.release));
    if boot_no == 0 {
        let dir = run_dir.join(&kernel_rel);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("failed to create", &dir, e))?;
        write_json(&dir.join("kernel.json"), id)?;
    }
    let rel = if boot_no == 0 {
        kernel_rel
    } else {
        format!("{kernel_rel}/boot{}", boot_no + 1)
    };
    let dir = run_dir.join(&rel);
    let guest_rw_dir = dir.join("rw");
    std::fs::create_dir_all(&guest_rw_dir)
        .map_err(|e| Error::io("failed to create", &guest_rw_dir, e))?;
    let console_rel = format!("{rel}/console.log");
    let mut twin = None;
    // Per backend: the command, where the records land, and which of the
    // VM's output streams carries the console.
    let (mut command, display, records_path, guest_rel, stdout_rel, stderr_rel) = match ctx.backend
    {
        Backend::Vng => {
            // vng splits --rwdir at '=' and QEMU at ',': a run directory
            // with such characters gets a plain temporary twin whose
            // records are copied back.
            let canonical_rw = std::fs::canonicalize(&guest_rw_dir).unwrap_or(guest_rw_dir.clone());
            if !vm::is_vng_safe_path(&canonical_rw) {
                twin = Some(
                    tempfile::Builder::new()
                        .prefix("kharness-rw")
                        .tempdir_in("/tmp")
                        .map_err(|e| Error::io("failed to create a directory in", "/tmp", e))?,
                );
            }
            let rw = twin
                .as_ref()
                .map(|t| t.path().to_owned())
                .unwrap_or(canonical_rw);
            let vng = vng_for(
                plan,
                id,
                &ctx.guest,
                &rw,
                ctx.verdict.accel,
                ctx.perf_mode,
                Which {
                    part: ctx.part(index),
                    after,
                },
            );
            let guest_rel = format!("{rel}/guest.log");
            // vng: the guest command's output on stdout, the kernel's on stderr.
            (
                vng.command(),
                vng.display(),
                rw.join(RECORDS),
                guest_rel.clone(),
                guest_rel,
                console_rel.clone(),
            )
        }
        Backend::Qemu => {
            let records = guest_rw_dir.join(RECORDS);
            let initrd = ctx
                .initramfs
                .as_deref()
                .expect("the qemu backend builds an initramfs first");
            let q = qemu_for(
                plan,
                id,
                initrd,
                &records,
                ctx.verdict.accel,
                ctx.perf_mode,
                Which {
                    part: ctx.part(index),
                    after,
                },
            );
            // qemu-direct: the first serial port (stdout) is the console and
            // the guest's KTAP; QEMU's own messages go to stderr.
            (
                q.command(),
                q.display(),
                records,
                console_rel.clone(),
                console_rel.clone(),
                format!("{rel}/qemu.log"),
            )
        }
    };
    crate::results::write_atomic(&dir.join("command.sh"), format!("{display}\n").as_bytes())
        .map_err(|e| Error::io("failed to write", dir.join("command.sh"), e))?;
    if !out.quiet {
        let how = match why {
            BootReason::First => String::new(),
            other => format!(", boot {}: {}", boot_no + 1, other.describe()),
        };
        eprintln!(
            "kharness: [{}/{}] booting {} ({} tests, {}, {}{how})",
            index + 1,
            plan.kernels.len(),
            id.release,
            tests.len(),
            ctx.backend.as_str(),
            ctx.verdict.accel.as_str()
        );
    }
    let started = SystemTime::now();
    let mut progress = crate::progress::TestProgress::new(
        &id.release,
        tests.len(),
        crate::progress::Mode::detect(out.quiet),
    );
    let sup = vm::supervise(
        &mut command,
        &run_dir.join(&stdout_rel),
        &run_dir.join(&stderr_rel),
        plan.timeout,
        || progress.poll(&records_path),
    )
    .map_err(|e| Error::Infra(format!("failed to start {display}: {e}")))?;
    progress.finish();
    let text = std::fs::read(&records_path).unwrap_or_default();
    if twin.is_some() {
        let _ = crate::results::write_atomic(&guest_rw_dir.join(RECORDS), &text);
    }
    let console =
        String::from_utf8_lossy(&std::fs::read(run_dir.join(&console_rel)).unwrap_or_default())
            .into_owned();
    let findings = vm::console::scan(&console);
    let (events, bad_lines) = kharness_record::parse_event_bytes(&text);
    let suite_seen = events.iter().any(|e| matches!(e, Event::Suite { .. }));
    let done = events.iter().any(|e| matches!(e, Event::Done { .. }));
    let fatal = findings.iter().find(|f| f.fatal);
    let (outcome, detail) = if sup.interrupted {
        (
            KernelOutcome::Interrupted,
            Some("interrupted by the user".to_owned()),
        )
    } else if sup.timed_out {
        (
            KernelOutcome::Hung,
            Some(format!(
                "no end after {}; VM stopped",
                humantime::format_duration(plan.timeout)
            )),
        )
    } else if let Some(f) = fatal {
        (
            KernelOutcome::Crashed,
            Some(format!("kernel {}: {}", f.kind, first_line(&f.excerpt))),
        )
    } else if sup.status.code() == Some(255) || (suite_seen && !done) {
        (
            KernelOutcome::Crashed,
            Some(format!(
                "guest died (vm exit {:?}); see {console_rel}",
                sup.status.code(),
            )),
        )
    } else if !suite_seen {
        let tail = guest::tail(&console, 8);
        (
            KernelOutcome::BootFailed,
            Some(format!(
                "the suite never started (vm exit {}); console tail:\n{tail}",
                sup.status
            )),
        )
    } else {
        (KernelOutcome::Completed, None)
    };
    if !bad_lines.is_empty() && !out.quiet {
        eprintln!(
            "kharness: {} unreadable line(s) in the guest's results (torn last write?)",
            bad_lines.len()
        );
    }
    let boot = Boot {
        why: why.clone(),
        started: humantime::format_rfc3339_millis(started).to_string(),
        wall_s: sup.elapsed.as_secs_f64(),
        vm_exit: sup.status.code(),
        outcome,
        detail,
        command: display,
        console_log: console_rel,
        guest_log: guest_rel,
        console_findings: findings,
        tests: tests.len(),
    };
    if !out.quiet {
        let results: Vec<&TestRecord> = events
            .iter()
            .filter_map(|e| match e {
                Event::Result(r) => Some(r),
                _ => None,
            })
            .collect();
        let worst = if outcome == KernelOutcome::Completed {
            let n = |s: Status| results.iter().filter(|r| r.status == s).count();
            format!(
                "{} passed, {} failed, {} skipped",
                n(Status::Pass),
                results.iter().filter(|r| r.status.is_bad()).count(),
                n(Status::Skip)
            )
        } else {
            outcome.as_str().to_owned()
        };
        eprintln!(
            "kharness: [{}/{}] {} done in {:.1}s: {worst}",
            index + 1,
            plan.kernels.len(),
            id.release,
            boot.wall_s
        );
    }
    Ok((boot, events))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The records of one boot, numbered `boot`: what the guest reported, and
/// for a test that started but never reported, a record charging it with
/// the boot's fate. Also returns the last test that started, where a
/// fresh boot would continue.
fn boot_records(
    events: &[Event],
    outcome: KernelOutcome,
    detail: Option<&str>,
    boot: u32,
) -> (Vec<TestRecord>, Option<String>) {
    let mut results: Vec<TestRecord> = Vec::new();
    let mut open: Option<String> = None;
    let mut last: Option<String> = None;
    for ev in events {
        match ev {
            Event::Start { id } => {
                open = Some(id.clone());
                last = Some(id.clone());
            }
            Event::Result(r) => {
                open = None;
                last = Some(r.id.clone());
                results.push(TestRecord { boot, ..r.clone() });
            }
            _ => {}
        }
    }
    if let Some(id) = open {
        let rep = results.iter().filter(|r| r.id == id).count();
        let status = match outcome {
            KernelOutcome::Hung => Status::Timeout,
            KernelOutcome::Interrupted => Status::Error,
            _ => Status::Crashed,
        };
        results.push(TestRecord {
            id,
            status,
            reason: Some(match detail.map(first_line) {
                Some(d) => format!("running when the guest ended: {}: {d}", outcome.as_str()),
                None => format!("running when the guest ended: {}", outcome.as_str()),
            }),
            duration_us: 0,
            rep: u32::try_from(rep).unwrap_or(u32::MAX),
            boot,
            observations: Default::default(),
            metrics: Vec::new(),
            kernel_findings: Vec::new(),
            attempts: Vec::new(),
        });
    }
    (results, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> TestInfo {
        TestInfo {
            id: id.into(),
            tags: vec![],
            about: "x".into(),
            see: String::new(),
        }
    }

    fn result(id: &str) -> Event {
        Event::Result(TestRecord {
            id: id.into(),
            status: Status::Pass,
            reason: None,
            duration_us: 1,
            rep: 0,
            boot: 0,
            observations: Default::default(),
            metrics: vec![],
            kernel_findings: vec![],
            attempts: vec![],
        })
    }

    #[test]
    fn a_crash_charges_the_running_test_and_the_rest_continue_after_it() {
        let cat = [info("a.one"), info("a.two"), info("a.three")];
        let evs = [
            Event::Start { id: "a.one".into() },
            result("a.one"),
            Event::Start { id: "a.two".into() },
        ];
        let (recs, last) = boot_records(
            &evs,
            KernelOutcome::Crashed,
            Some("kernel panic: sysrq triggered crash"),
            1,
        );
        let st: Vec<(&str, Status, u32)> = recs
            .iter()
            .map(|r| (r.id.as_str(), r.status, r.boot))
            .collect();
        assert_eq!(
            st,
            [("a.one", Status::Pass, 1), ("a.two", Status::Crashed, 1)]
        );
        assert!(recs[1].reason.as_deref().unwrap().contains("sysrq"));
        assert_eq!(last.as_deref(), Some("a.two"));
        let rest: Vec<&str> = tests_after(&cat, last.as_deref())
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(rest, ["a.three"]);
        let (hung, _) = boot_records(&evs, KernelOutcome::Hung, None, 0);
        assert_eq!(hung[1].status, Status::Timeout);
        // A boot where nothing started leaves everything to run.
        let (none, last) = boot_records(&[], KernelOutcome::Crashed, None, 0);
        assert!(none.is_empty() && last.is_none());
        assert_eq!(tests_after(&cat, None).len(), 3);
    }

    #[test]
    fn a_crash_in_a_later_rep_is_numbered_after_the_reps_that_ended() {
        let evs = [
            Event::Start { id: "p.x".into() },
            result("p.x"),
            Event::Start { id: "p.x".into() },
        ];
        let (recs, _) = boot_records(&evs, KernelOutcome::Crashed, None, 0);
        assert_eq!((recs[1].status, recs[1].rep), (Status::Crashed, 1));
    }

    #[test]
    fn boots_interleave_kernels() {
        assert_eq!(boot_order(2, 2), [(0, 0), (1, 0), (0, 1), (1, 1)]);
        assert_eq!(boot_order(3, 1), [(0, 0), (1, 0), (2, 0)]);
        assert_eq!(
            boot_order(2, 3),
            [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)]
        );
    }

    #[test]
    fn slugs_are_plain() {
        assert_eq!(slug("6.12.107+deb12-amd64"), "6.12.107+deb12-amd64");
        assert_eq!(slug("a b/c"), "a_b_c");
    }
}
