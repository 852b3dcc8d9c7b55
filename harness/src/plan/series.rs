//! What `kharness series` (and a `repro` of a series step) asks for
//! beyond an ordinary run plan.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Plan;

/// How a series step's kernel is built.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Extra config fragments merged after the embedded one.
    pub fragments: Vec<PathBuf>,
    /// Checkers to build in (`--debug`), merged after the embedded
    /// fragment and before `fragments`.
    pub debug: Vec<crate::kernel::debug::DebugChoice>,
    /// make -j (all cores when `None`).
    pub jobs: Option<usize>,
}

/// What `kharness series` was asked to do, beyond an ordinary run plan.
pub struct SeriesPlan {
    /// A series file or directory, or (when no such path exists and the
    /// tree is a git tree) a git range `BASE..TIP`.
    pub series: PathBuf,
    pub tree: PathBuf,
    /// Build and boot only the base and the whole series.
    pub final_only: bool,
    /// Print the steps, build and boot nothing.
    pub dry_run: bool,
    /// How each step's kernel is built.
    pub build: BuildOptions,
    /// Smallest relative metric change that counts (0.02 = 2%).
    pub threshold: f64,
    /// How the steps are booted (kernels field filled in here).
    pub run: Plan,
}

/// What `kharness run --tree` was asked to do.
pub struct TreeRunPlan {
    /// The working tree, built as it is.
    pub tree: PathBuf,
    /// A revision of the tree to build too and compare against.
    pub base: Option<String>,
    /// Check the tree and the base, print what would be built, stop.
    pub dry_run: bool,
    pub build: BuildOptions,
    /// Smallest relative metric change that counts (0.02 = 2%).
    pub threshold: f64,
    /// How the kernels are booted (kernels filled in as they are built).
    pub run: Plan,
}

/// Which step of a series a kernel column is: what reports name it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInfo {
    /// 0 for the base, k for base + patches 1..=k.
    pub patches: usize,
    /// The subject of patch `patches` (none for the base).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// sha256 over the applied patches' sha256 ("" for the base).
    #[serde(default)]
    pub patchset_hash: String,
}

impl StepInfo {
    /// The step's short name, the column heading: `base`, `+1`, `+2`...
    pub fn label(&self) -> String {
        step_label(self.patches)
    }

    /// The step's full name, as a reviewer reads it: `base`, or `+2`
    /// followed by the patch subject.
    pub fn title(&self) -> String {
        match &self.subject {
            Some(s) if self.patches > 0 => {
                format!("{} {}", self.label(), crate::support::text::one_line(s))
            }
            _ => self.label(),
        }
    }
}

/// The short name of the step with `k` patches applied: `base` for 0,
/// else `+k`. Every place that names a step calls this.
pub fn step_label(k: usize) -> String {
    if k == 0 {
        "base".to_owned()
    } else {
        format!("+{k}")
    }
}
