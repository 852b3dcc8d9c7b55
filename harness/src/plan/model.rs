//! A plan: everything a run will do, resolved from flags before anything
//! boots, and stored in the run directory as `plan.json`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::vm::{AccelChoice, BackendChoice, PerfModeChoice};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// Kernel images, in the order given (one result column each).
    pub kernels: Vec<PathBuf>,
    /// Column names for the kernels (series steps: `base`, `+1`, ...);
    /// the release string where absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Which series step each kernel is, when the kernels are the steps
    /// of a series (reports name the columns by them); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<super::StepInfo>,
    /// Test filters (globs, area names, `tag:NAME`); empty means all.
    pub filters: Vec<String>,
    pub accel: AccelChoice,
    pub backend: BackendChoice,
    pub perf_mode: PerfModeChoice,
    /// Host-side limit for one VM, boot included.
    #[serde(with = "humantime_serde_secs")]
    pub timeout: Duration,
    /// Parent of run directories.
    pub out: PathBuf,
    /// Guest binary override.
    pub guest: Option<PathBuf>,
    /// Build the guest with cargo before the run (`--rebuild-guest`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebuild_guest: bool,
    pub memory: String,
    pub cpus: Option<u32>,
    /// Repetitions of perf-tagged tests inside one boot.
    pub reps: u32,
    /// Passes of the suite over each kernel, each in its own boot,
    /// interleaved across kernels (A B A B).
    #[serde(default = "one")]
    pub boots: u32,
    /// Boots one pass may take: the first, then fresh boots continuing
    /// after a test that crashed or hung the guest.
    #[serde(default = "default_max_boots")]
    pub max_boots: u32,
    /// Reruns of a failing test inside the same boot (`flaky` if one passes).
    #[serde(default)]
    pub retries: u32,
    /// Seconds one test may take inside the guest.
    pub test_timeout: u64,
    /// The vng program.
    pub vng: PathBuf,
    /// The QEMU program (qemu-direct backend).
    pub qemu: PathBuf,
    /// Run only this part of the plan (`--shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<super::ShardSpec>,
    /// VMs at once (`--jobs`); none: what the machine can run. Not part
    /// of the plan hash: the results do not depend on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<usize>,
}

impl Plan {
    /// A plan of one kernel and every default, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Plan {
        Plan {
            kernels: vec!["/boot/vmlinuz".into()],
            labels: Vec::new(),
            steps: Vec::new(),
            filters: Vec::new(),
            accel: AccelChoice::Auto,
            backend: BackendChoice::Qemu,
            perf_mode: PerfModeChoice::Auto,
            timeout: Duration::from_secs(1200),
            out: "runs".into(),
            guest: None,
            rebuild_guest: false,
            memory: "1G".into(),
            cpus: None,
            reps: 1,
            boots: 1,
            max_boots: DEFAULT_MAX_BOOTS,
            retries: 0,
            test_timeout: 120,
            vng: "vng".into(),
            qemu: "qemu-system-x86_64".into(),
            shard: None,
            jobs: None,
        }
    }
}

fn one() -> u32 {
    1
}

/// Repetitions of perf-tagged tests when `--reps` is not given: 5 when the
/// run compares (a series, several kernels, several boots): enough a side
/// for the statistics of `compare` (a bootstrap interval and a
/// Mann-Whitney test at p < 0.05; with 5 against 5 its smallest two-sided
/// p is 0.008) to call a clear change; 1 for a lone run, which only
/// reports its figures.
pub fn reps_by_default(compares: bool) -> u32 {
    if compares { 5 } else { 1 }
}

/// Five boots a pass: four crashes or hangs cost four tests, not the run.
pub const DEFAULT_MAX_BOOTS: u32 = 5;

fn default_max_boots() -> u32 {
    DEFAULT_MAX_BOOTS
}

mod humantime_serde_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}
