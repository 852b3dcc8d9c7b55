//! What a run produced, as written to `results.json` (schema in
//! `harness/RESULTS.md`).

use std::collections::BTreeMap;

use kharness_record::{Status, TestRecord, Value};
use serde::{Deserialize, Serialize};

use crate::error::ExitCode;
use crate::guest::GuestBinary;
use crate::kernel::KernelIdentity;
use crate::vm::console::ConsoleFinding;
use crate::vm::{AccelVerdict, Backend, PerfMode};

/// Bumped when a field changes meaning or disappears.
pub const RESULTS_SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    pub schema: u32,
    pub tool_version: String,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// The user stopped the run; what finished is still here.
    pub interrupted: bool,
    pub accel: AccelVerdict,
    /// How the kernels were booted (absent in results of kharness 0.1.0
    /// before the qemu backend existed: vng).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// How metrics were measured; metrics of different modes never compare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf_mode: Option<PerfMode>,
    /// The `-icount` shift of a deterministic run: guest time per
    /// instruction is 2^shift ns, so metrics of different shifts do not
    /// compare. Absent in deterministic results before it was recorded,
    /// which all ran at shift 0 ([`RunResults::icount_shift_or_old`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icount_shift: Option<u8>,
    pub guest: GuestBinary,
    pub filters: Vec<String>,
    /// SHA-256 over what defines the plan (`shard::PlanKey`): the shards of
    /// one plan share it, and only those merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// Which part of the plan this run is (`--shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::plan::ShardInfo>,
    /// The run directory as it was made (absolute), for the reproducer
    /// commands the reports print; absent in older results, which name
    /// `kharness-runs/RUN_ID` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<std::path::PathBuf>,
    pub kernels: Vec<KernelRun>,
}

impl RunResults {
    /// The icount shift a deterministic run measured at: the recorded
    /// one, else 0 (what kharness used before it recorded the shift).
    /// None for other modes.
    pub fn icount_shift_or_old(&self) -> Option<u8> {
        (self.perf_mode == Some(PerfMode::Deterministic)).then(|| self.icount_shift.unwrap_or(0))
    }

    /// The run directory to name in a command a reader can paste.
    pub fn dir_shown(&self) -> String {
        match &self.dir {
            Some(d) => d.display().to_string(),
            None => format!("kharness-runs/{}", self.run_id),
        }
    }
}

/// How one kernel's boot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelOutcome {
    /// The suite ran to its end.
    Completed,
    /// The guest kernel died (panic, oops, vng exit 255).
    Crashed,
    /// The VM did not finish within the time limit.
    Hung,
    /// The VM never ran the suite (boot failure, missing tool).
    BootFailed,
    /// The user stopped the run.
    Interrupted,
    /// Not booted yet (only in partial results).
    Pending,
}

impl KernelOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            KernelOutcome::Completed => "completed",
            KernelOutcome::Crashed => "guest crashed",
            KernelOutcome::Hung => "guest hung",
            KernelOutcome::BootFailed => "boot failed",
            KernelOutcome::Interrupted => "interrupted",
            KernelOutcome::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelRun {
    /// The column name (a series step such as `+2`), when not the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The series step this column is (absent outside series, and in
    /// results written before steps were recorded: the label stands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<crate::plan::StepInfo>,
    pub identity: KernelIdentity,
    pub outcome: KernelOutcome,
    /// Why the outcome is not `completed`, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// vng's exit code (the guest command's, or 255 when the guest died).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_exit: Option<i32>,
    /// Wall time from spawning vng to its exit.
    pub wall_s: f64,
    /// The VM command line, as a person would type it.
    pub command: String,
    /// Paths relative to the run directory.
    pub console_log: String,
    pub guest_log: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub console_findings: Vec<ConsoleFinding>,
    pub records: Vec<TestRecord>,
    /// Every boot behind this column, in the order they ran; a record's
    /// `boot` indexes this list. The fields above summarise them: the
    /// worst outcome, the first boot's command and logs, the summed wall
    /// time, every boot's findings. Empty in results written before boots
    /// were recorded (one boot, described by the fields above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boots: Vec<Boot>,
}

/// Why a boot was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BootReason {
    /// The kernel's only pass over the suite.
    First,
    /// A fresh boot running the tests after `after`, which crashed or hung
    /// the previous boot (`outcome`).
    Continue {
        after: String,
        outcome: KernelOutcome,
    },
    /// The first boot of pass `k` of `of` (`--boots`), from 1.
    Repeat { k: u32, of: u32 },
}

impl BootReason {
    /// A few words for people: `first`, `repeat 2 of 3`, `continue after
    /// selftest.hang (guest hung)`.
    pub fn describe(&self) -> String {
        match self {
            BootReason::First => "first".to_owned(),
            BootReason::Continue { after, outcome } => {
                format!("continue after {after} ({})", outcome.as_str())
            }
            BootReason::Repeat { k, of } => format!("repeat {k} of {of}"),
        }
    }
}

/// One VM boot of a kernel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Boot {
    pub why: BootReason,
    /// When the VM was started, RFC 3339 (UTC, milliseconds).
    pub started: String,
    /// Wall time from spawning the VM to its exit.
    pub wall_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_exit: Option<i32>,
    pub outcome: KernelOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub command: String,
    /// Paths relative to the run directory.
    pub console_log: String,
    pub guest_log: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub console_findings: Vec<ConsoleFinding>,
    /// Tests this boot was asked to run (reps not counted).
    pub tests: usize,
    /// Facts about this boot's machine and setup that tests found (the
    /// scratch filesystem, perf counters, ...), per test id: never kernel
    /// observations, so never compared across kernels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, BTreeMap<String, Value>>,
}

impl KernelRun {
    /// What reports call this kernel: its label, else its release.
    pub fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.identity.release)
    }

    /// The series step this column is: recorded, or read back from a
    /// step label (`base`, `+2`) of results written before steps were.
    pub fn series_step(&self) -> Option<crate::plan::StepInfo> {
        if let Some(s) = &self.step {
            return Some(s.clone());
        }
        let label = self.label.as_deref()?;
        let patches = match label {
            "base" => 0,
            l => l.strip_prefix('+')?.parse().ok()?,
        };
        Some(crate::plan::StepInfo {
            patches,
            subject: None,
            patchset_hash: String::new(),
        })
    }

    pub fn count(&self, s: Status) -> usize {
        self.records.iter().filter(|r| r.status == s).count()
    }

    /// Adds a boot and refreshes the summary fields from all boots: the
    /// first crash or hang stands for the column (its tests were charged
    /// with it), else the last boot's outcome.
    pub fn push_boot(&mut self, b: Boot) {
        if self.boots.is_empty() {
            self.command = b.command.clone();
            self.console_log = b.console_log.clone();
            self.guest_log = b.guest_log.clone();
        }
        self.wall_s += b.wall_s;
        self.console_findings
            .extend(b.console_findings.iter().cloned());
        self.boots.push(b);
        let fatal = self
            .boots
            .iter()
            .find(|b| matches!(b.outcome, KernelOutcome::Crashed | KernelOutcome::Hung));
        let stands = fatal.or(self.boots.last()).expect("a boot was just pushed");
        self.outcome = stands.outcome;
        self.vm_exit = stands.vm_exit;
        self.detail = stands.detail.clone();
    }
}

impl RunResults {
    /// The run's exit code: guest crashes and hangs first, then
    /// infrastructure, then failing tests.
    pub fn exit_code(&self) -> ExitCode {
        let mut code = ExitCode::Ok;
        for k in &self.kernels {
            let c = match k.outcome {
                KernelOutcome::Crashed | KernelOutcome::Hung => ExitCode::GuestCrashed,
                KernelOutcome::BootFailed | KernelOutcome::Interrupted => ExitCode::Infra,
                KernelOutcome::Pending => ExitCode::Infra,
                KernelOutcome::Completed if k.records.iter().any(|r| r.status.is_bad()) => {
                    ExitCode::TestsFailed
                }
                KernelOutcome::Completed => ExitCode::Ok,
            };
            // Codes are ordered by severity: crashed > infra > failed > ok.
            code = code.max(c);
        }
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(why: BootReason, outcome: KernelOutcome, console: &str) -> Boot {
        Boot {
            why,
            started: "2026-11-22T04:16:59.123Z".into(),
            wall_s: 10.0,
            vm_exit: Some(0),
            outcome,
            detail: (outcome != KernelOutcome::Completed).then(|| outcome.as_str().to_owned()),
            command: format!("qemu {console}"),
            console_log: console.into(),
            guest_log: console.into(),
            console_findings: Vec::new(),
            tests: 3,
            environment: BTreeMap::new(),
        }
    }

    fn column_json() -> serde_json::Value {
        serde_json::json!({
            "identity": {"release": "6.12", "banner": "b", "path": "/k", "sha256": "0", "size": 1},
            "outcome": "pending", "wall_s": 0.0, "command": "", "console_log": "",
            "guest_log": "", "records": [{"id": "a.b", "status": "pass", "duration_us": 1}]
        })
    }

    #[test]
    fn a_column_without_boots_still_loads_and_its_records_are_boot_0() {
        let kr: KernelRun = serde_json::from_value(column_json()).unwrap();
        assert!(kr.boots.is_empty());
        assert_eq!(kr.records[0].boot, 0);
    }

    #[test]
    fn a_column_names_its_series_step_even_from_an_old_label() {
        let mut json = column_json();
        json["label"] = "+2".into();
        let kr: KernelRun = serde_json::from_value(json.clone()).unwrap();
        let st = kr.series_step().unwrap();
        assert_eq!((st.patches, st.title()), (2, "+2".to_owned()));
        json["step"] =
            serde_json::json!({"patches": 2, "subject": "splice:\nsettle", "patchset_hash": "ab"});
        let kr: KernelRun = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(kr.series_step().unwrap().title(), "+2 splice: settle");
        json["label"] = "6.12-rc1".into();
        json.as_object_mut().unwrap().remove("step");
        let kr: KernelRun = serde_json::from_value(json).unwrap();
        assert_eq!(kr.series_step(), None);
        assert_eq!(crate::plan::step_label(0), "base");
    }

    #[test]
    fn reproducers_name_the_run_directory_where_it_was_made() {
        let mut res: RunResults = serde_json::from_value(serde_json::json!({
            "schema": 1, "tool_version": "0.1.0", "run_id": "20270101T000000Z",
            "started": "2027-01-01T00:00:00Z", "interrupted": false,
            "accel": {"accel": "tcg", "reason": "t"}, "guest": {"path": "/g", "sha256": "00"},
            "filters": [], "kernels": [],
        }))
        .unwrap();
        assert_eq!(
            res.dir_shown(),
            "kharness-runs/20270101T000000Z",
            "older results"
        );
        res.dir = Some("/tmp/demo/20270101T000000Z".into());
        assert_eq!(res.dir_shown(), "/tmp/demo/20270101T000000Z");
    }

    #[test]
    fn the_first_crash_stands_for_the_column() {
        let mut kr: KernelRun = serde_json::from_value(column_json()).unwrap();
        kr.push_boot(boot(BootReason::First, KernelOutcome::Crashed, "c1"));
        let cont = BootReason::Continue {
            after: "a.b".into(),
            outcome: KernelOutcome::Crashed,
        };
        kr.push_boot(boot(cont.clone(), KernelOutcome::Completed, "c2"));
        assert_eq!(kr.outcome, KernelOutcome::Crashed);
        assert_eq!(kr.detail.as_deref(), Some("guest crashed"));
        assert_eq!(kr.console_log, "c1");
        assert!((kr.wall_s - 20.0).abs() < 1e-9);
        let json = serde_json::to_value(&kr).unwrap();
        assert_eq!(
            json["boots"][1]["why"],
            serde_json::json!({"kind": "continue", "after": "a.b", "outcome": "crashed"})
        );
        assert_eq!(cont.describe(), "continue after a.b (guest crashed)");
        let back: KernelRun = serde_json::from_value(json).unwrap();
        assert_eq!(back.boots[1].why, cont);
    }
}
