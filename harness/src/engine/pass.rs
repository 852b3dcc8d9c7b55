//! One pass of the suite over one kernel: a first boot, then, after a
//! crash or hang that left tests unrun, fresh boots that run the tests
//! after the one that was running, at most `plan.max_boots` boots in all.

use kharness_record::{TestInfo, TestRecord};

use super::boot::{BootSlot, boot_vm};
use super::classify::{boot_records, not_run, tests_after};
use super::context::Ctx;
use crate::error::Result;
use crate::kernel::KernelIdentity;
use crate::results::{Boot, BootReason, KernelOutcome, KernelRun};

/// What one pass left: its boots in order, and its records, whose `boot`
/// counts from this pass's first boot ([`PassRun::add_to`] renumbers
/// them into the column). A pass does not touch its column while it
/// runs, so passes can run side by side (`--jobs`).
#[derive(Debug, Default)]
pub(super) struct PassRun {
    pub boots: Vec<Boot>,
    pub records: Vec<TestRecord>,
}

impl PassRun {
    /// Appends the pass to kernel column `kr`: records renumbered after
    /// the boots already there, then the boots.
    pub fn add_to(self, kr: &mut KernelRun) {
        let before = u32::try_from(kr.boots.len()).unwrap_or(u32::MAX);
        kr.records
            .extend(self.records.into_iter().map(|r| TestRecord {
                boot: r.boot.saturating_add(before),
                ..r
            }));
        for b in self.boots {
            kr.push_boot(b);
        }
    }
}

/// Which pass: kernel `index` (`id`), pass `pass` of the plan's
/// `--boots`, started for `first`; `tag` names it in progress lines.
pub(super) struct PassOf<'a> {
    pub index: usize,
    pub id: &'a KernelIdentity,
    pub pass: u32,
    pub first: BootReason,
    pub tag: String,
}

/// Runs one pass. A boot in which no test started ends the pass, so a
/// kernel that dies at boot is never booted in a loop.
pub(super) fn run_pass(ctx: &Ctx<'_>, p: PassOf<'_>) -> Result<PassRun> {
    let mut run = PassRun::default();
    let mut why = p.first;
    let mut after: Option<String> = None;
    let mut left: &[TestInfo] = ctx.tests(p.index);
    loop {
        let boot_no = u32::try_from(run.boots.len()).unwrap_or(u32::MAX);
        let slot = BootSlot {
            index: p.index,
            dir: directory_number(p.pass, boot_no, ctx.plan.boots),
            tag: &p.tag,
        };
        let (mut boot, events) = boot_vm(ctx, &slot, p.id, &why, after.as_deref(), left)?;
        let (mut records, last) =
            boot_records(&events, boot.outcome, boot.detail.as_deref(), boot_no);
        // Kernel complaints on this boot's console, charged to the test
        // whose markers surround them.
        let console = std::fs::read(ctx.run_dir.join(&boot.console_log)).unwrap_or_default();
        crate::vm::console::mark_tests(&String::from_utf8_lossy(&console), &mut records);
        let rest = tests_after(left, last.as_deref());
        let fatal = matches!(boot.outcome, KernelOutcome::Crashed | KernelOutcome::Hung);
        let go_on = fatal && last.is_some() && !rest.is_empty() && boot_no + 1 < ctx.plan.max_boots;
        let outcome = boot.outcome;
        if go_on {
            boot.detail = boot.detail.map(|d| {
                format!(
                    "{d}; the {} test(s) after it ran in a fresh boot",
                    rest.len()
                )
            });
        }
        run.records.extend(records);
        run.boots.push(boot);
        if !go_on {
            let why_not = if !fatal || rest.is_empty() {
                String::new()
            } else if last.is_none() {
                "; no test started in this boot, so no fresh boot".to_owned()
            } else {
                format!("; no boots left (--max-boots {})", ctx.plan.max_boots)
            };
            run.records
                .extend(not_run(rest, outcome, &why_not, boot_no));
            return Ok(run);
        }
        why = BootReason::Continue {
            after: last.clone().unwrap_or_default(),
            outcome,
        };
        after = last;
        left = rest;
    }
}

/// The number of the directory of boot `boot_no` of pass `pass` of
/// `boots` (0: the kernel's own directory, n: `boot{n+1}/`): the first
/// boots of the passes take 0..boots, fresh boots after a crash follow,
/// `boots` apart. Fixed before the boot, whatever the other passes do, so
/// passes running side by side lay the run directory out as one after the
/// other would; with one pass, fresh boots are `boot2/`, `boot3/`, ...
fn directory_number(pass: u32, boot_no: u32, boots: u32) -> u32 {
    pass.saturating_add(boot_no.saturating_mul(boots.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_directories_are_fixed_per_pass_and_never_shared() {
        // One pass: the kernel's directory, then boot2/, boot3/.
        assert_eq!(
            (0..3)
                .map(|b| directory_number(0, b, 1))
                .collect::<Vec<_>>(),
            [0, 1, 2]
        );
        // Three passes, no crash: 0, 1, 2 as before.
        assert_eq!(
            (0..3)
                .map(|p| directory_number(p, 0, 3))
                .collect::<Vec<_>>(),
            [0, 1, 2]
        );
        // Fresh boots of each pass, never one another's.
        let mut all: Vec<u32> = (0..3)
            .flat_map(|p| (0..4).map(move |b| directory_number(p, b, 3)))
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 12);
    }

    #[test]
    fn a_pass_renumbers_its_records_after_the_boots_of_the_column() {
        let rec = |boot: u32| TestRecord {
            boot,
            ..serde_json::from_str(r#"{"id":"a.b","status":"pass","duration_us":1}"#).unwrap()
        };
        let boot = |outcome| Boot {
            outcome,
            ..serde_json::from_value(serde_json::json!({
                "why": {"kind": "first"}, "started": "", "wall_s": 1.0, "vm_exit": 0,
                "outcome": "completed", "command": "", "console_log": "c",
                "guest_log": "g", "tests": 1
            }))
            .unwrap()
        };
        let mut kr: KernelRun = serde_json::from_value(serde_json::json!({
            "identity": {"release": "6.12", "banner": "", "path": "/k", "sha256": "", "size": 1},
            "outcome": "pending", "wall_s": 0.0, "command": "", "console_log": "",
            "guest_log": "", "records": []
        }))
        .unwrap();
        let first = PassRun {
            boots: vec![boot(KernelOutcome::Crashed), boot(KernelOutcome::Completed)],
            records: vec![rec(0), rec(1)],
        };
        first.add_to(&mut kr);
        let second = PassRun {
            boots: vec![boot(KernelOutcome::Completed)],
            records: vec![rec(0)],
        };
        second.add_to(&mut kr);
        let boots: Vec<u32> = kr.records.iter().map(|r| r.boot).collect();
        assert_eq!(boots, [0, 1, 2]);
        assert_eq!(kr.boots.len(), 3);
        assert_eq!(kr.outcome, KernelOutcome::Crashed, "the crash stands");
    }
}
