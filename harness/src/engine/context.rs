//! What every boot of a run shares: the plan, the run directory, the
//! guest and its catalogue, the accelerator and backend chosen. A pass
//! and a boot both take it, so neither imports the other for it.

use std::path::PathBuf;

use kharness_record::TestInfo;

use crate::guest::GuestBinary;
use crate::plan::{Part, Plan};
use crate::results::RunDir;
use crate::support::progress::Board;
use crate::vm::{AccelVerdict, Backend, PerfMode};

pub(super) struct Ctx<'a> {
    pub plan: &'a Plan,
    pub run_dir: RunDir,
    pub guest: GuestBinary,
    pub catalogue: Vec<TestInfo>,
    pub verdict: AccelVerdict,
    pub backend: Backend,
    pub perf_mode: PerfMode,
    /// The qemu-direct initramfs, built once per run.
    pub initramfs: Option<PathBuf>,
    /// With `--shard`: the part of the catalogue each booted kernel runs.
    pub parts: Option<Vec<Part>>,
    /// Where the boots' progress goes (several VMs may run at once).
    pub board: Board,
}

impl Ctx<'_> {
    /// The part kernel `index` runs, when the plan is sharded.
    pub fn part(&self, index: usize) -> Option<Part> {
        self.parts
            .as_ref()?
            .iter()
            .find(|p| p.kernel == index)
            .copied()
    }

    /// The tests kernel `index` runs.
    pub fn tests(&self, index: usize) -> &[TestInfo] {
        match self.part(index) {
            Some(p) => &self.catalogue[p.start..p.end],
            None => &self.catalogue,
        }
    }
}
