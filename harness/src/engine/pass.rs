//! One pass of the suite over one kernel: a first boot, then, after a
//! crash or hang that left tests unrun, fresh boots that run the tests
//! after the one that was running, at most `plan.max_boots` boots in all.

use kharness_record::TestInfo;

use super::boot::boot_vm;
use super::classify::{boot_records, not_run, tests_after};
use super::context::Ctx;
use crate::error::Result;
use crate::kernel::KernelIdentity;
use crate::results::{BootReason, KernelOutcome, KernelRun};

/// Runs one pass and adds its boots and records to `kr`. A boot in which
/// no test started ends the pass, so a kernel that dies at boot is never
/// booted in a loop.
pub(super) fn run_pass(
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
        crate::vm::console::mark_tests(&String::from_utf8_lossy(&console), &mut records);
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
            kr.records.extend(not_run(rest, outcome, &why_not, boot_no));
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
