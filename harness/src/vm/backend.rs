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

/// Kernel parameter for deterministic boots: no local APIC timer (the
/// HPET drives the tick). Without it the kernel calibrates the APIC timer
/// by spinning for 25 ticks of guest time: 216 M instructions at shift 0,
/// 2 s of a 2.7 s one-test boot under TCG (6 M at shift 4). Only under
/// -icount: in wall-clock mode on a loaded host, boots without the APIC
/// timer measured guest uptimes 3-5x the real time (11.4-14.6 s in 2-5 s),
/// a clock no metric can use, and under KVM the TSC-deadline timer needs
/// no calibration.
pub const NO_LAPIC_TIMER: &str = "nolapic_timer";

/// The kernel parameters every boot gets after the backend's own console
/// setup; `icount`: deterministic mode.
pub fn boot_params(icount: bool) -> Vec<&'static str> {
    let mut v = vec![NO_TIMER_CHECK];
    if icount {
        v.push(NO_LAPIC_TIMER);
    }
    v
}

/// The icount shift of deterministic mode: each guest instruction is
/// 2^ICOUNT_SHIFT ns of guest time (4: 62.5 M instructions per guest
/// second, about what TCG executes per real second here). Work costs the
/// same instructions at any shift, so a regression in work has the same
/// size at every shift (measured: perf.splice_file_to_pipe of the demo
/// series' patch 2, -38.6% at shifts 0, 2, 3 and 4); what a larger shift
/// makes cheap is the guest spinning for a span of time (calibration,
/// udelay, the jitter-entropy loop behind /dev/urandom, a test waiting
/// for its signal), which at shift 0 costs 1 G instructions per guest
/// second. The whole suite: 37-45 s at shift 0, 13-16 s at shift 3,
/// 6-15 s at shift 4, against 13-19 s in wall-clock mode (load 10-12).
/// Metrics measured at different shifts do not compare.
pub const ICOUNT_SHIFT: u8 = 4;

/// The `-icount` arguments of deterministic mode. `host_io`: the guest
/// waits on the host while the suite runs (vng shares the host's root over
/// 9p or virtiofs; a shell waits on its user).
///
/// `sleep=off` makes an idle guest's clock jump to its next timer at once:
/// free idle time for a guest that only waits on its own timers (the qemu
/// backend, everything in an initramfs). But a guest idle while the host
/// serves a 9p read sees its clock race ahead: under vng, boots reached
/// 200-1200 s of guest uptime in 15-25 s, virtme-ng-init's `udevadm
/// settle --timeout=300` expired, a SIGKILLed child took 8.8 s to be
/// reaped, and tests hit their 120 s timeout at host load 7 (2026-12-07).
/// `sleep=on` lets idle guest time pass at the host's pace: the whole
/// suite through vng took 1.05x its `sleep=off` time (one alternating
/// round, load 3), and work still costs only its instructions.
pub fn icount_args(host_io: bool) -> [String; 2] {
    let sleep = if host_io { "on" } else { "off" };
    [
        "-icount".to_owned(),
        format!("shift={ICOUNT_SHIFT},align=off,sleep={sleep}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_guest_time_jumps_only_where_the_guest_never_waits_on_the_host() {
        assert_eq!(
            icount_args(false),
            ["-icount", "shift=4,align=off,sleep=off"]
        );
        assert_eq!(icount_args(true), ["-icount", "shift=4,align=off,sleep=on"]);
    }
}
