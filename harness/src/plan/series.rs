//! What `kharness series` (and a `repro` of a series step) asks for
//! beyond an ordinary run plan.

use std::path::PathBuf;

use super::Plan;

/// How a series step's kernel is built.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Extra config fragments merged after the embedded one.
    pub fragments: Vec<PathBuf>,
    /// make -j (all cores when `None`).
    pub jobs: Option<usize>,
}

/// What `kharness series` was asked to do, beyond an ordinary run plan.
pub struct SeriesPlan {
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
