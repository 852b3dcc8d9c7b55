//! `kharness run`: boot each kernel of a plan, run the guest suite in it,
//! and collect what came back into the run directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kharness_record::{Event, Status, TestInfo, TestRecord};

use crate::error::{Error, ExitCode, Result};
use crate::guest::{self, GuestBinary};
use crate::kernel::{self, KernelIdentity};
use crate::plan::Plan;
use crate::results::{KernelOutcome, KernelRun, RunDir, RunResults, write_json};
use crate::shard::{self, Part, PlanKey, ShardInfo};
use crate::vm::{self, Accel, AccelVerdict, Backend, PerfMode, Qemu, Vng};

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
    print!("{table}");
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
    let vng_installed = is_installed(&plan.vng);
    let backend = Backend::resolve(plan.backend, vng_installed);
    match backend {
        Backend::Vng if !vng_installed => {
            return Err(Error::Infra(format!(
                "{} not found: install virtme-ng with `pip install virtme-ng` (see `kharness doctor`)",
                plan.vng.display()
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
    // Kernels this run boots, each with its part of the catalogue when sharded.
    let parts = plan
        .shard
        .map(|spec| shard::split(identities.len(), catalogue.len(), spec));
    let boots: Vec<(usize, Option<Part>)> = match &parts {
        Some(parts) => parts.iter().map(|p| (p.kernel, Some(*p))).collect(),
        None => (0..identities.len()).map(|i| (i, None)).collect(),
    };
    if out.dry_run {
        let perf_mode = PerfMode::resolve(plan.perf_mode, Accel::Tcg).map_err(Error::Usage)?;
        let rw = Path::new("/tmp/kharness-dry-run");
        for &(i, part) in &boots {
            let id = &identities[i];
            let cmd = match backend {
                Backend::Vng => {
                    vng_for(plan, id, &guest, rw, Accel::Tcg, perf_mode, part).display()
                }
                Backend::Qemu => qemu_for(
                    plan,
                    id,
                    &rw.join("initramfs.cpio"),
                    &rw.join(RECORDS),
                    Accel::Tcg,
                    perf_mode,
                    part,
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
    let plan_hash = PlanKey {
        kernels: identities.iter().map(|k| k.sha256.as_str()).collect(),
        labels: &plan.labels,
        filters: &plan.filters,
        tests: catalogue.iter().map(|t| t.id.as_str()).collect(),
        guest_sha256: &guest.sha256,
        reps: plan.reps,
        test_timeout: plan.test_timeout,
        backend: backend.as_str(),
        perf_mode: perf_mode.as_str(),
        memory: &plan.memory,
        cpus: plan.cpus,
    }
    .hash();
    let shard_info = plan.shard.map(|spec| ShardInfo {
        index: spec.index,
        count: spec.count,
        kernels: identities.len(),
        tests: catalogue.len(),
        parts: parts.clone().unwrap_or_default(),
    });
    if let (Some(spec), false) = (plan.shard, out.quiet) {
        eprintln!(
            "kharness: shard {spec}: {} of {} test run(s) on {} kernel(s)",
            parts
                .iter()
                .flatten()
                .map(|p| p.end - p.start)
                .sum::<usize>(),
            identities.len() * catalogue.len(),
            boots.len()
        );
    }
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
    for &(i, _) in &boots {
        if vm::interrupted() {
            break;
        }
        let mut kr = boot_one(&ctx, i, &identities[i])?;
        kr.label = plan.labels.get(i).cloned();
        results.kernels.push(kr);
        // Partial results survive a later crash of the harness itself.
        write_json(&ctx.run_dir.join("results.json"), &results)?;
    }
    results.interrupted = vm::interrupted();
    results.finished = Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
    let run_dir = ctx.run_dir;
    write_json(&run_dir.join("results.json"), &results)?;
    crate::report::write_all(&run_dir.path, &results)?;
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
    let path = dir.join(format!("kharness-guest-{}.cpio", &guest.sha256[..16]));
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

/// The guest's `run` arguments, writing results to `results`.
fn guest_run_args(plan: &Plan, results: &str, part: Option<Part>) -> Vec<String> {
    let mut v = vec![
        "run".to_owned(),
        "--results".to_owned(),
        results.to_owned(),
        "--reps".to_owned(),
        plan.reps.to_string(),
        "--test-timeout".to_owned(),
        plan.test_timeout.to_string(),
    ];
    if let Some(p) = part {
        v.extend(["--slice".to_owned(), format!("{}..{}", p.start, p.end)]);
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
    part: Option<Part>,
) -> Vng {
    let mut exec = vec![guest.path.to_string_lossy().into_owned()];
    exec.extend(guest_run_args(
        plan,
        &rw.join(RECORDS).to_string_lossy(),
        part,
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

fn qemu_for(
    plan: &Plan,
    id: &KernelIdentity,
    initrd: &Path,
    results: &Path,
    accel: Accel,
    perf_mode: PerfMode,
    part: Option<Part>,
) -> Qemu {
    let argv = guest_run_args(plan, "/dev/ttyS1", part);
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

fn boot_one(ctx: &Ctx<'_>, index: usize, id: &KernelIdentity) -> Result<KernelRun> {
    let (plan, out, run_dir) = (ctx.plan, ctx.out, &ctx.run_dir);
    let rel = format!("kernels/{}-{}", index + 1, slug(&id.release));
    let dir = run_dir.join(&rel);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("failed to create", &dir, e))?;
    write_json(&dir.join("kernel.json"), id)?;
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
                ctx.part(index),
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
                ctx.part(index),
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
        eprintln!(
            "kharness: [{}/{}] booting {} ({} tests, {}, {})",
            index + 1,
            plan.kernels.len(),
            id.release,
            ctx.tests(index).len(),
            ctx.backend.as_str(),
            ctx.verdict.accel.as_str()
        );
    }
    let mut progress = Progress::new(ctx.tests(index).len(), out.quiet);
    let sup = vm::supervise(
        &mut command,
        &run_dir.join(&stdout_rel),
        &run_dir.join(&stderr_rel),
        plan.timeout,
        || progress.poll(&records_path),
    )
    .map_err(|e| Error::Infra(format!("failed to start {display}: {e}")))?;
    let text = std::fs::read(&records_path).unwrap_or_default();
    if twin.is_some() {
        let _ = crate::results::write_atomic(&guest_rw_dir.join(RECORDS), &text);
    }
    let console =
        String::from_utf8_lossy(&std::fs::read(run_dir.join(&console_rel)).unwrap_or_default())
            .into_owned();
    let findings = vm::console::scan(&console);
    let (events, bad_lines) = kharness_record::parse_event_bytes(&text);
    let mut kr = KernelRun {
        label: None,
        identity: id.clone(),
        outcome: KernelOutcome::Completed,
        detail: None,
        vm_exit: sup.status.code(),
        wall_s: sup.elapsed.as_secs_f64(),
        command: display,
        console_log: console_rel,
        guest_log: guest_rel,
        console_findings: findings.clone(),
        records: Vec::new(),
    };
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
                "guest died (vm exit {:?}); see {}",
                sup.status.code(),
                kr.console_log
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
    kr.outcome = outcome;
    kr.detail = detail;
    kr.records = collect_records(&events, ctx.tests(index), outcome);
    if !bad_lines.is_empty() && !out.quiet {
        eprintln!(
            "kharness: {} unreadable line(s) in the guest's results (torn last write?)",
            bad_lines.len()
        );
    }
    if !out.quiet {
        let worst = if outcome == KernelOutcome::Completed {
            format!(
                "{} passed, {} failed, {} skipped",
                kr.count(Status::Pass),
                kr.records.iter().filter(|r| r.status.is_bad()).count(),
                kr.count(Status::Skip)
            )
        } else {
            outcome.as_str().to_owned()
        };
        eprintln!(
            "kharness: [{}/{}] {} done in {:.1}s: {worst}",
            index + 1,
            plan.kernels.len(),
            id.release,
            kr.wall_s
        );
    }
    Ok(kr)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Turns the guest's events into one record per catalogue test (and rep):
/// a test that started but never reported is charged with the VM's fate;
/// one that never started says so.
fn collect_records(
    events: &[Event],
    catalogue: &[TestInfo],
    outcome: KernelOutcome,
) -> Vec<TestRecord> {
    let mut results: Vec<TestRecord> = Vec::new();
    let mut open: Option<String> = None;
    for ev in events {
        match ev {
            Event::Start { id } => open = Some(id.clone()),
            Event::Result(r) => {
                open = None;
                results.push(r.clone());
            }
            _ => {}
        }
    }
    let seen: HashMap<&str, ()> = results.iter().map(|r| (r.id.as_str(), ())).collect();
    let mut extra = Vec::new();
    if let Some(id) = &open {
        let status = match outcome {
            KernelOutcome::Hung => Status::Timeout,
            KernelOutcome::Interrupted => Status::Error,
            _ => Status::Crashed,
        };
        extra.push(TestRecord {
            id: id.clone(),
            status,
            reason: Some(format!(
                "running when the guest ended: {}",
                outcome.as_str()
            )),
            duration_us: 0,
            rep: 0,
            observations: Default::default(),
            metrics: Vec::new(),
        });
    }
    for t in catalogue {
        if seen.contains_key(t.id.as_str()) || open.as_deref() == Some(t.id.as_str()) {
            continue;
        }
        extra.push(TestRecord {
            id: t.id.clone(),
            status: Status::Error,
            reason: Some(format!(
                "not run: the guest stopped first ({})",
                outcome.as_str()
            )),
            duration_us: 0,
            rep: 0,
            observations: Default::default(),
            metrics: Vec::new(),
        });
    }
    results.extend(extra);
    results
}

/// Prints each test's result as its record arrives.
struct Progress {
    total: usize,
    seen_bytes: usize,
    done: usize,
    quiet: bool,
}

impl Progress {
    fn new(total: usize, quiet: bool) -> Self {
        Progress {
            total,
            seen_bytes: 0,
            done: 0,
            quiet,
        }
    }

    fn poll(&mut self, records: &Path) {
        let Ok(text) = std::fs::read_to_string(records) else {
            return;
        };
        // Only complete lines: the guest may be mid-write.
        let end = text.rfind('\n').map_or(0, |i| i + 1);
        if end <= self.seen_bytes {
            return;
        }
        let (events, _) = kharness_record::parse_events(&text[self.seen_bytes..end]);
        self.seen_bytes = end;
        for ev in events {
            if let Event::Result(r) = ev {
                self.done += 1;
                if !self.quiet {
                    let why = r
                        .reason
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    eprintln!(
                        "  {:>3}/{:<3} {:<8} {}{why}",
                        self.done,
                        self.total,
                        r.status.as_str(),
                        r.id
                    );
                }
            }
        }
    }
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
            observations: Default::default(),
            metrics: vec![],
        })
    }

    #[test]
    fn crash_charges_the_running_test_and_keeps_the_rest() {
        let cat = [info("a.one"), info("a.two"), info("a.three")];
        let evs = [
            Event::Start { id: "a.one".into() },
            result("a.one"),
            Event::Start { id: "a.two".into() },
        ];
        let recs = collect_records(&evs, &cat, KernelOutcome::Crashed);
        let st: Vec<(&str, Status)> = recs.iter().map(|r| (r.id.as_str(), r.status)).collect();
        assert_eq!(
            st,
            [
                ("a.one", Status::Pass),
                ("a.two", Status::Crashed),
                ("a.three", Status::Error)
            ]
        );
        let hung = collect_records(&evs, &cat, KernelOutcome::Hung);
        assert_eq!(hung[1].status, Status::Timeout);
    }

    #[test]
    fn slugs_are_plain() {
        assert_eq!(slug("6.12.107+deb12-amd64"), "6.12.107+deb12-amd64");
        assert_eq!(slug("a b/c"), "a_b_c");
    }
}
