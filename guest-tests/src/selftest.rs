//! Tests of kharness itself, not of the kernel: they crash or hang the
//! guest on purpose so the host's crash and hang handling can be tested
//! end to end. Tagged `destructive`: they run only when named by exact id.

use crate::framework::{Ctx, OrOutcome, Test, TestResult};

pub const TESTS: &[Test] = &[
    Test {
        id: "selftest.sysrq_crash",
        tags: &["selftest", "destructive"],
        about: "panics the guest kernel through /proc/sysrq-trigger (tests the host's crash handling)",
        see: "",
        run: sysrq_crash,
    },
    Test {
        id: "selftest.hang",
        tags: &["selftest", "destructive"],
        about: "sleeps far beyond any time limit (tests the guest's per-test timeout)",
        see: "",
        run: hang,
    },
];

fn sysrq_crash(_ctx: &mut Ctx) -> TestResult {
    std::fs::write("/proc/sysrq-trigger", b"c").or_error("write /proc/sysrq-trigger")?;
    // Not reached on a kernel with sysrq: the write does not return.
    Err(crate::framework::Outcome::Error(
        "the kernel survived a sysrq crash trigger".into(),
    ))
}

fn hang(_ctx: &mut Ctx) -> TestResult {
    std::thread::sleep(std::time::Duration::from_secs(24 * 3600));
    Err(crate::framework::Outcome::Error(
        "woke up after a day".into(),
    ))
}
