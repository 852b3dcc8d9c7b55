//! The plan hash stored in `results.json`: shards of one plan carry the
//! same hash, so `kharness merge` can refuse shards of different plans.

use kharness_record::TestInfo;
use serde::Serialize;

use super::Plan;
use crate::kernel::KernelIdentity;
use crate::vm::{Backend, PerfMode};

/// The plan hash of `results.json`: see [`PlanKey`].
pub fn plan_hash(
    plan: &Plan,
    kernels: &[KernelIdentity],
    tests: &[TestInfo],
    guest_sha256: &str,
    backend: Backend,
    perf_mode: PerfMode,
) -> String {
    PlanKey {
        kernels: kernels.iter().map(|k| k.sha256.as_str()).collect(),
        labels: &plan.labels,
        filters: &plan.filters,
        tests: tests.iter().map(|t| t.id.as_str()).collect(),
        guest_sha256,
        reps: plan.reps,
        test_timeout: plan.test_timeout,
        boots: plan.boots,
        max_boots: plan.max_boots,
        retries: plan.retries,
        timeout: &humantime::format_duration(plan.timeout).to_string(),
        backend: backend.as_str(),
        perf_mode: perf_mode.as_str(),
        memory: &plan.memory,
        cpus: plan.cpus,
    }
    .hash()
}

/// Everything that defines a plan's results, apart from where it runs and
/// which shard of it: shards merge only when these agree.
#[derive(Debug, Serialize)]
pub(super) struct PlanKey<'a> {
    /// SHA-256 of each kernel image, in plan order.
    pub kernels: Vec<&'a str>,
    pub labels: &'a [String],
    pub filters: &'a [String],
    /// The test ids the filters selected, in catalogue order.
    pub tests: Vec<&'a str>,
    pub guest_sha256: &'a str,
    pub reps: u32,
    pub test_timeout: u64,
    /// How many passes, how many boots a pass may take, how many reruns
    /// a failing test gets, and the VM's time limit: shards that differ
    /// in these ran different experiments.
    pub boots: u32,
    pub max_boots: u32,
    pub retries: u32,
    pub timeout: &'a str,
    pub backend: &'a str,
    pub perf_mode: &'a str,
    pub memory: &'a str,
    pub cpus: Option<u32>,
}

impl PlanKey<'_> {
    /// SHA-256 of the key's JSON, 64 lowercase hex digits.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("plan keys serialise");
        crate::support::hash::sha256_hex(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            filters: vec!["splice.*".into()],
            ..Plan::for_tests()
        }
    }

    fn hash(p: &Plan) -> String {
        let id = KernelIdentity {
            release: "6.12".into(),
            banner: String::new(),
            path: "/boot/vmlinuz".into(),
            sha256: "aa".into(),
            size: 1,
        };
        plan_hash(p, &[id], &[], "cc", Backend::Qemu, PerfMode::Deterministic)
    }

    #[test]
    fn plan_hashes_change_with_what_defines_the_plan() {
        let base = hash(&plan());
        assert_eq!(base, hash(&plan()));
        assert_eq!(base.len(), 64);
        type Change = (&'static str, fn(&mut Plan));
        let changes: [Change; 7] = [
            ("reps", |p| p.reps = 2),
            ("test timeout", |p| p.test_timeout = 60),
            ("boots", |p| p.boots = 2),
            ("max boots", |p| p.max_boots = 1),
            ("retries", |p| p.retries = 2),
            ("timeout", |p| {
                p.timeout = std::time::Duration::from_secs(60)
            }),
            ("filters", |p| p.filters.push("tee.*".into())),
        ];
        for (what, change) in changes {
            let mut p = plan();
            change(&mut p);
            assert_ne!(hash(&p), base, "{what} must change the plan hash");
        }
        // Where a shard writes its results is not part of the plan.
        let mut p = plan();
        p.out = "elsewhere".into();
        assert_eq!(hash(&p), base);
        // Nor how many VMs run at once: shards run with different --jobs
        // merge.
        p.jobs = Some(3);
        assert_eq!(hash(&p), base);
    }
}
