//! Tests of kharness itself, not of the kernel: they crash or hang the
//! guest on purpose so the host's crash and hang handling can be tested
//! end to end, or fail once so retries can be. Tagged `destructive`: they
//! run only when named by exact id.

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
    Test {
        id: "selftest.flaky_once",
        tags: &["selftest", "destructive"],
        about: "fails on its first attempt and passes on the next (tests --retries and flaky reporting)",
        see: "",
        run: flaky_once,
    },
];

/// Each attempt runs in a fresh per-test scratch directory, so the state
/// lives one level up, in the runner's scratch root: the first attempt
/// leaves a marker and fails, the next finds it, removes it and passes.
fn flaky_once(ctx: &mut Ctx) -> TestResult {
    let root = ctx
        .scratch()
        .parent()
        .ok_or_else(|| crate::framework::Outcome::Error("scratch dir has no parent".into()))?;
    let marker = root.join("selftest.flaky_once.marker");
    if marker.exists() {
        std::fs::remove_file(&marker).or_error("remove the marker")?;
        ctx.observe("attempt", "second");
        return Ok(());
    }
    std::fs::write(&marker, b"failed once\n").or_error("write the marker")?;
    Err(crate::framework::Outcome::Fail(
        "first attempt fails on purpose".into(),
    ))
}

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
