//! `--shard K/N`: a plan split into N parts that machines run apart and
//! `kharness merge` joins again.
//!
//! The unit of work is one test on one kernel (all its `--reps` stay in one
//! VM, so their medians compare). Units are laid out kernel by kernel, in
//! plan order, tests in catalogue order, and cut into N contiguous runs
//! whose sizes differ by at most one. Contiguous runs keep boots few: a
//! kernel is booted by at most the shards its tests straddle, so a plan of
//! K kernels costs at most K + N - 1 boots over all shards, and booting
//! dominates a run (about 40 s of a 50 s vng run here; the 114 tests take
//! 8 s of guest time together). Each part reaches the guest as
//! `--slice START..END` over the catalogue the filters select, two numbers
//! whatever the suite's size, so the kernel command line (2 KiB on x86,
//! where both backends pass the guest's argv) never overflows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which part of how many: `K/N`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    pub index: u32,
    pub count: u32,
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (e.g. 2/3)"))?;
        let num = |x: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|e| format!("{x:?} in {s:?} is not a number: {e}"))
        };
        let (index, count) = (num(k)?, num(n)?);
        if count == 0 || index == 0 || index > count {
            return Err(format!(
                "{s:?}: K must be between 1 and N, and N at least 1"
            ));
        }
        Ok(ShardSpec { index, count })
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The tests at positions `start..end` of the catalogue, on the plan's
/// kernel number `kernel` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub kernel: usize,
    pub start: usize,
    pub end: usize,
}

/// What a shard's `results.json` says about its place in the whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
    /// Kernels of the whole plan.
    pub kernels: usize,
    /// Tests in the catalogue the filters select.
    pub tests: usize,
    /// What this shard ran, one part per entry of the run's `kernels`, in
    /// the same order.
    pub parts: Vec<Part>,
}

/// The parts of shard `spec` of a plan of `kernels` x `tests` units.
pub fn split(kernels: usize, tests: usize, spec: ShardSpec) -> Vec<Part> {
    let total = kernels * tests;
    let n = spec.count as usize;
    let k = spec.index as usize - 1;
    // Floor division spreads the remainder: sizes differ by at most one.
    let (lo, hi) = (k * total / n, (k + 1) * total / n);
    let mut parts = Vec::new();
    for kernel in 0..kernels {
        let (first, last) = (kernel * tests, (kernel + 1) * tests);
        let (start, end) = (lo.max(first), hi.min(last));
        if start < end {
            parts.push(Part {
                kernel,
                start: start - first,
                end: end - first,
            });
        }
    }
    parts
}

/// What a shard's results say about it; tells the user what it runs.
pub fn info(
    spec: ShardSpec,
    kernels: usize,
    tests: usize,
    parts: Vec<Part>,
    quiet: bool,
) -> ShardInfo {
    if !quiet {
        eprintln!(
            "kharness: shard {spec}: {} of {} test run(s) on {} kernel(s)",
            parts.iter().map(|p| p.end - p.start).sum::<usize>(),
            kernels * tests,
            parts.len()
        );
    }
    ShardInfo {
        index: spec.index,
        count: spec.count,
        kernels,
        tests,
        parts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(index: u32, count: u32) -> ShardSpec {
        ShardSpec { index, count }
    }

    /// Every (kernel, test) unit of every shard, in order.
    fn units(kernels: usize, tests: usize, n: u32) -> Vec<Vec<(usize, usize)>> {
        (1..=n)
            .map(|k| {
                split(kernels, tests, spec(k, n))
                    .iter()
                    .flat_map(|p| (p.start..p.end).map(move |t| (p.kernel, t)))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_unit_lands_in_exactly_one_shard() {
        for kernels in 0..5 {
            for tests in 0..13 {
                for n in 1..8 {
                    let mut all: Vec<(usize, usize)> =
                        units(kernels, tests, n).into_iter().flatten().collect();
                    let before = all.len();
                    all.sort_unstable();
                    all.dedup();
                    assert_eq!(all.len(), before, "{kernels}x{tests} / {n}: a duplicate");
                    assert_eq!(all.len(), kernels * tests, "{kernels}x{tests} / {n}");
                }
            }
        }
    }

    #[test]
    fn shards_are_balanced_and_boot_few_kernels() {
        for (kernels, tests, n) in [(2, 114, 3), (3, 7, 4), (1, 5, 3), (5, 2, 2), (2, 1, 3)] {
            let sizes: Vec<usize> = units(kernels, tests, n).iter().map(Vec::len).collect();
            let (min, max) = (sizes.iter().min(), sizes.iter().max());
            assert!(
                max.zip(min).is_some_and(|(a, b)| a - b <= 1),
                "{kernels}x{tests} / {n}: {sizes:?}"
            );
            let boots: usize = (1..=n)
                .map(|k| split(kernels, tests, spec(k, n)).len())
                .sum();
            assert!(boots < kernels + n as usize, "{boots} boots");
        }
    }

    #[test]
    fn the_same_plan_always_splits_the_same_way() {
        assert_eq!(
            split(2, 114, spec(2, 3)),
            [
                Part {
                    kernel: 0,
                    start: 76,
                    end: 114
                },
                Part {
                    kernel: 1,
                    start: 0,
                    end: 38
                }
            ]
        );
        assert_eq!(units(3, 7, 4), units(3, 7, 4));
    }

    #[test]
    fn shard_specs_parse_and_refuse_nonsense() {
        assert_eq!("2/3".parse::<ShardSpec>(), Ok(spec(2, 3)));
        assert_eq!(spec(2, 3).to_string(), "2/3");
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "-1/2"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
    }
}
