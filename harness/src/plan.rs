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
    pub memory: String,
    pub cpus: Option<u32>,
    /// Repetitions of perf-tagged tests inside one boot.
    pub reps: u32,
    /// Seconds one test may take inside the guest.
    pub test_timeout: u64,
    /// The vng program.
    pub vng: PathBuf,
    /// The QEMU program (qemu-direct backend).
    pub qemu: PathBuf,
    /// Run only this part of the plan (`--shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::ShardSpec>,
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
