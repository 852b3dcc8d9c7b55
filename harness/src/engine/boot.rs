//! One boot: lay out its directory, launch the VM, supervise it with
//! progress, and classify what it left ([`super::classify`]).

use std::time::SystemTime;

use kharness_record::{Event, Status, TestInfo, TestRecord};

use super::classify::{Observed, classify, environment_of};
use super::context::Ctx;
use super::launch::{self, Layout, RECORDS};
use crate::error::{Error, Result};
use crate::kernel::KernelIdentity;
use crate::results::{Boot, BootReason, KernelOutcome, write_json};
use crate::support::fs::write_atomic;
use crate::support::text::slug;

/// The directories of boot directory number `dir_no` of kernel `index`:
/// 0 is the kernel's own directory (with kernel.json), n is `boot{n+1}/`
/// under it.
fn layout(ctx: &Ctx<'_>, index: usize, id: &KernelIdentity, dir_no: u32) -> Result<Layout> {
    let kernel_rel = format!("kernels/{}-{}", index + 1, slug(&id.release));
    if dir_no == 0 {
        let dir = ctx.run_dir.join(&kernel_rel);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("failed to create", &dir, e))?;
        write_json(&dir.join("kernel.json"), id)?;
    }
    let rel = if dir_no == 0 {
        kernel_rel
    } else {
        format!("{kernel_rel}/boot{}", dir_no + 1)
    };
    let dir = ctx.run_dir.join(&rel);
    let rw = dir.join("rw");
    std::fs::create_dir_all(&rw).map_err(|e| Error::io("failed to create", &rw, e))?;
    Ok(Layout {
        console_rel: format!("{rel}/console.log"),
        rel,
        dir,
        rw,
    })
}

/// Which boot: of kernel `index`, into directory number `dir` (see
/// [`layout`]), named `tag` in progress lines.
pub(super) struct BootSlot<'a> {
    pub index: usize,
    pub dir: u32,
    pub tag: &'a str,
}

/// Boots kernel `slot.index` once to run the tests `tests` (those after
/// `after` among the selected ones); returns the boot and the guest's
/// events.
pub(super) fn boot_vm(
    ctx: &Ctx<'_>,
    slot: &BootSlot<'_>,
    id: &KernelIdentity,
    why: &BootReason,
    after: Option<&str>,
    tests: &[TestInfo],
) -> Result<(Boot, Vec<Event>)> {
    let (plan, run_dir) = (ctx.plan, &ctx.run_dir);
    let index = slot.index;
    let layout = layout(ctx, index, id, slot.dir)?;
    let mut launch = launch::prepare(ctx, index, id, &layout, after)?;
    let command_sh = layout.dir.join("command.sh");
    let script = format!("{}\n# guest: {}\n", launch.display, launch.guest_argv);
    write_atomic(&command_sh, script.as_bytes())
        .map_err(|e| Error::io("failed to write", &command_sh, e))?;
    let how = match why {
        BootReason::First => String::new(),
        other => format!(", boot {}: {}", slot.dir + 1, other.describe()),
    };
    let image = launch
        .image
        .as_ref()
        .map(|i| format!(", {}", i.describe()))
        .unwrap_or_default();
    ctx.board.say(&format!(
        "kharness: [{}/{}] booting {} ({} tests, {}, {}{image}{how})",
        index + 1,
        plan.kernels.len(),
        id.release,
        tests.len(),
        ctx.backend.as_str(),
        ctx.verdict.accel.as_str()
    ));
    let started = SystemTime::now();
    let mut progress = ctx.board.tests(&id.release, slot.tag, tests.len());
    let sup = crate::vm::supervise(
        &mut launch.command,
        &run_dir.join(&launch.stdout_rel),
        &run_dir.join(&launch.stderr_rel),
        plan.timeout,
        || progress.poll(&launch.records),
    )
    .map_err(|source| crate::vm::VmError::Start {
        what: launch.display.clone(),
        source,
    })?;
    progress.finish();
    if let Some(f) = &launch.scratch {
        // Best effort: a leftover copy of the initramfs only costs space.
        let _ = std::fs::remove_file(f);
    }

    let text = std::fs::read(&launch.records).unwrap_or_default();
    if launch.twin.is_some() {
        let _ = write_atomic(&layout.rw.join(RECORDS), &text);
    }
    let console = String::from_utf8_lossy(
        &std::fs::read(run_dir.join(&layout.console_rel)).unwrap_or_default(),
    )
    .into_owned();
    let (events, bad_lines) = kharness_record::parse_event_bytes(&text);
    let status = sup.status.to_string();
    let c = classify(&Observed {
        interrupted: sup.interrupted,
        timed_out: sup.timed_out,
        limit: plan.timeout,
        exit: sup.status.code(),
        status: &status,
        console: &console,
        console_rel: &layout.console_rel,
        events: &events,
    });
    if !bad_lines.is_empty() {
        ctx.board.say(&format!(
            "kharness: {}{} unreadable line(s) in the guest's results (torn last write?)",
            slot.tag,
            bad_lines.len()
        ));
    }
    let boot = Boot {
        why: why.clone(),
        started: humantime::format_rfc3339_millis(started).to_string(),
        wall_s: sup.elapsed.as_secs_f64(),
        vm_exit: sup.status.code(),
        outcome: c.outcome,
        detail: c.detail,
        command: launch.display,
        console_log: layout.console_rel,
        guest_log: launch.guest_rel,
        console_findings: c.findings,
        tests: tests.len(),
        environment: environment_of(&events),
    };
    ctx.board.say(&format!(
        "kharness: [{}/{}] {} done in {:.1}s: {}",
        index + 1,
        plan.kernels.len(),
        id.release,
        boot.wall_s,
        summary(&boot, &events)
    ));
    Ok((boot, events))
}

/// "3 passed, 1 failed, 0 skipped" for a completed boot, else its outcome.
fn summary(boot: &Boot, events: &[Event]) -> String {
    if boot.outcome != KernelOutcome::Completed {
        return boot.outcome.as_str().to_owned();
    }
    let results: Vec<&TestRecord> = events
        .iter()
        .filter_map(|e| match e {
            Event::Result(r) => Some(r),
            _ => None,
        })
        .collect();
    let n = |s: Status| results.iter().filter(|r| r.status == s).count();
    format!(
        "{} passed, {} failed, {} skipped",
        n(Status::Pass),
        results.iter().filter(|r| r.status.is_bad()).count(),
        n(Status::Skip)
    )
}
