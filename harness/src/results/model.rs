//! What a run produced, as written to `results.json` (schema in
//! `harness/RESULTS.md`).

use kharness_record::{Status, TestRecord};
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
    pub guest: GuestBinary,
    pub filters: Vec<String>,
    /// SHA-256 over what defines the plan (`shard::PlanKey`): the shards of
    /// one plan share it, and only those merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// Which part of the plan this run is (`--shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::ShardInfo>,
    pub kernels: Vec<KernelRun>,
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
}

impl KernelRun {
    /// What reports call this kernel: its label, else its release.
    pub fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.identity.release)
    }

    pub fn count(&self, s: Status) -> usize {
        self.records.iter().filter(|r| r.status == s).count()
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
