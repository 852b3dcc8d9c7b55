//! Which way a kernel is booted, and how guest time is measured.

use serde::{Deserialize, Serialize};

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendChoice {
    /// vng where virtme-ng is installed, qemu-direct otherwise.
    Auto,
    /// virtme-ng: the host root shared read-only; works with distro kernels
    /// whose modules live under the host's /lib/modules.
    Vng,
    /// QEMU with the kernel and an initramfs whose /init is the guest:
    /// hermetic, fastest boot; the kernel needs what the suite uses built in.
    Qemu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    Vng,
    Qemu,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Vng => "vng",
            Backend::Qemu => "qemu",
        }
    }

    pub fn resolve(choice: BackendChoice, vng_installed: bool) -> Backend {
        match choice {
            BackendChoice::Vng => Backend::Vng,
            BackendChoice::Qemu => Backend::Qemu,
            BackendChoice::Auto if vng_installed => Backend::Vng,
            BackendChoice::Auto => Backend::Qemu,
        }
    }
}

/// `--perf-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PerfModeChoice {
    /// Deterministic under TCG, wall clock under KVM.
    Auto,
    /// TCG with -icount: guest time is a function of executed instructions.
    Deterministic,
    /// Real time; noisy on a shared host.
    Wallclock,
}

/// How metrics of a run were measured; runs in different modes do not
/// compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PerfMode {
    Deterministic,
    Wallclock,
}

impl PerfMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PerfMode::Deterministic => "deterministic",
            PerfMode::Wallclock => "wallclock",
        }
    }

    /// icount exists only under TCG: asking for it under KVM is an error
    /// the caller reports.
    pub fn resolve(
        choice: PerfModeChoice,
        accel: super::Accel,
    ) -> Result<PerfMode, super::VmError> {
        use super::Accel;
        match (choice, accel) {
            (PerfModeChoice::Wallclock, _) | (PerfModeChoice::Auto, Accel::Kvm) => {
                Ok(PerfMode::Wallclock)
            }
            (PerfModeChoice::Deterministic, Accel::Tcg) | (PerfModeChoice::Auto, Accel::Tcg) => {
                Ok(PerfMode::Deterministic)
            }
            (PerfModeChoice::Deterministic, Accel::Kvm) => {
                Err(super::VmError::DeterministicNeedsTcg)
            }
        }
    }
}

/// Kernel parameter for every boot: skip the IO-APIC timer check. Under
/// TCG on a loaded host the vCPU can miss the ticks that check waits for
/// during its calibration loop, and the kernel then panics at boot with
/// "IO-APIC + timer doesn't work!" (seen here: a mutant step of
/// ci/bench-mutants.sh, wall-clock mode, load 6-10). The check is for
/// broken real boards; QEMU's timer is wired as the kernel expects.
pub const NO_TIMER_CHECK: &str = "no_timer_check";

/// The `-icount` arguments of deterministic mode.
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0,align=off,sleep=off"];
