//! What became of a boot, decided from what it left behind: how the VM
//! process ended, its console, and the guest's events. Pure functions, so
//! every outcome is unit-tested over recorded consoles and events without
//! booting anything.

use std::collections::BTreeMap;
use std::time::Duration;

use kharness_record::{Event, Status, TestInfo, TestRecord, Value};

use crate::results::KernelOutcome;
use crate::support::text::first_line;
use crate::vm::console::{self, ConsoleFinding};

/// What a finished boot left: everything [`classify`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Stopped because the user interrupted kharness.
    pub interrupted: bool,
    /// Stopped at the VM time limit, `limit`.
    pub timed_out: bool,
    pub limit: Duration,
    /// The VM process's exit code (`None` when a signal ended it).
    pub exit: Option<i32>,
    /// How the VM process ended, for messages (`exit status: 1`).
    pub status: &'a str,
    /// The kernel console.
    pub console: &'a str,
    /// Where the console is, relative to the run directory (for messages).
    pub console_rel: &'a str,
    /// The guest's results channel.
    pub events: &'a [Event],
}

/// A boot's outcome, why (for anything but a completed boot), and the
/// kernel complaints on its console.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub outcome: KernelOutcome,
    pub detail: Option<String>,
    pub findings: Vec<ConsoleFinding>,
}

/// What the kernel prints when init powers the machine off (KERN_EMERG, so
/// on every console): the end of a guest that did not die.
const POWER_DOWN: &str = "reboot: Power down";

/// The outcome of one boot. In order: the user's interrupt, the time
/// limit, a fatal complaint on the console (panic, oops), a guest that
/// died (vng's 255, or a suite that started and never said done), a
/// suite that never started; else the boot completed.
///
/// vng's 255 says only that vng got no exit status from the guest. When
/// the suite said done and the kernel then powered off, the guest did not
/// die: virtme-ng's init ran the command on the console instead of its
/// virtio ports, whose status port it then lacked. Seen under `-icount`,
/// where udev's 300 s settle timeout can pass in a moment of warped guest
/// time before the ports appear ("Failed to wait for daemon to reply").
pub fn classify(o: &Observed<'_>) -> Classified {
    let findings = console::scan(o.console);
    let suite_seen = o.events.iter().any(|e| matches!(e, Event::Suite { .. }));
    let done = o.events.iter().any(|e| matches!(e, Event::Done { .. }));
    let fatal = findings.iter().find(|f| f.fatal);
    let status_lost = o.exit == Some(255) && done && o.console.contains(POWER_DOWN);
    let (outcome, detail) = if o.interrupted {
        (
            KernelOutcome::Interrupted,
            Some("interrupted by the user".to_owned()),
        )
    } else if o.timed_out {
        (
            KernelOutcome::Hung,
            Some(format!(
                "no end after {}; VM stopped",
                humantime::format_duration(o.limit)
            )),
        )
    } else if let Some(f) = fatal {
        (
            KernelOutcome::Crashed,
            Some(format!("kernel {}: {}", f.kind, first_line(&f.excerpt))),
        )
    } else if (o.exit == Some(255) && !status_lost) || (suite_seen && !done) {
        (
            KernelOutcome::Crashed,
            Some(format!(
                "guest died (vm exit {:?}); see {}",
                o.exit, o.console_rel
            )),
        )
    } else if !suite_seen {
        (
            KernelOutcome::BootFailed,
            Some(format!(
                "the suite never started (vm exit {}); console tail:\n{}",
                o.status,
                crate::support::text::tail(o.console, 8)
            )),
        )
    } else {
        (KernelOutcome::Completed, None)
    };
    Classified {
        outcome,
        detail,
        findings,
    }
}

/// The environment facts the guest reported in one boot, per test (a
/// test repeated keeps its last report).
pub fn environment_of(events: &[Event]) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut env: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for e in events {
        if let Event::Environment { test, facts } = e {
            env.entry(test.clone()).or_default().extend(facts.clone());
        }
    }
    env
}

/// The records of one boot, numbered `boot`: what the guest reported, and
/// for a test that started but never reported, a record charging it with
/// the boot's fate. Also returns the last test that started, where a
/// fresh boot would continue.
pub fn boot_records(
    events: &[Event],
    outcome: KernelOutcome,
    detail: Option<&str>,
    boot: u32,
) -> (Vec<TestRecord>, Option<String>) {
    let mut results: Vec<TestRecord> = Vec::new();
    let mut open: Option<String> = None;
    let mut last: Option<String> = None;
    for ev in events {
        match ev {
            Event::Start { id } => {
                open = Some(id.clone());
                last = Some(id.clone());
            }
            Event::Result(r) => {
                open = None;
                last = Some(r.id.clone());
                results.push(TestRecord { boot, ..r.clone() });
            }
            _ => {}
        }
    }
    if let Some(id) = open {
        let rep = results.iter().filter(|r| r.id == id).count();
        let status = match outcome {
            KernelOutcome::Hung => Status::Timeout,
            KernelOutcome::Interrupted => Status::Error,
            _ => Status::Crashed,
        };
        results.push(TestRecord {
            id,
            status,
            reason: Some(match detail.map(first_line) {
                Some(d) => format!("running when the guest ended: {}: {d}", outcome.as_str()),
                None => format!("running when the guest ended: {}", outcome.as_str()),
            }),
            duration_us: 0,
            rep: u32::try_from(rep).unwrap_or(u32::MAX),
            boot,
            observations: Default::default(),
            changed_in: Default::default(),
            metrics: Vec::new(),
            kernel_findings: Vec::new(),
            attempts: Vec::new(),
        });
    }
    (results, last)
}

/// The tests of `left` a boot did not reach: those after `last`, the last
/// one that started (the guest runs them in the catalogue's order); all of
/// them when none started.
pub fn tests_after<'a>(left: &'a [TestInfo], last: Option<&str>) -> &'a [TestInfo] {
    match last {
        Some(l) => left
            .iter()
            .position(|t| t.id == l)
            .map_or(&left[left.len()..], |i| &left[i + 1..]),
        None => left,
    }
}

/// Records for the tests a pass never ran, saying why.
pub fn not_run(
    rest: &[TestInfo],
    outcome: KernelOutcome,
    why_not: &str,
    boot: u32,
) -> Vec<TestRecord> {
    rest.iter()
        .map(|t| TestRecord {
            id: t.id.clone(),
            status: Status::Error,
            reason: Some(format!(
                "not run: the guest stopped first ({}){why_not}",
                outcome.as_str()
            )),
            duration_us: 0,
            rep: 0,
            boot,
            observations: Default::default(),
            changed_in: Default::default(),
            metrics: Vec::new(),
            kernel_findings: Vec::new(),
            attempts: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded consoles and results channels, trimmed to what matters.
    const PANIC_CONSOLE: &str = include_str!("../../tests/fixtures/consoles/sysrq-panic.console");
    const PANIC_EVENTS: &str = include_str!("../../tests/fixtures/consoles/sysrq-panic.jsonl");
    const CLEAN_CONSOLE: &str = include_str!("../../tests/fixtures/consoles/clean.console");
    const CLEAN_EVENTS: &str = include_str!("../../tests/fixtures/consoles/clean.jsonl");
    const NO_INIT_CONSOLE: &str = include_str!("../../tests/fixtures/consoles/no-init.console");

    fn events(text: &str) -> Vec<Event> {
        let (evs, bad) = kharness_record::parse_events(text);
        assert!(bad.is_empty(), "{bad:?}");
        evs
    }

    fn observed<'a>(console: &'a str, events: &'a [Event]) -> Observed<'a> {
        Observed {
            interrupted: false,
            timed_out: false,
            limit: Duration::from_secs(1200),
            exit: Some(0),
            status: "exit status: 0",
            console,
            console_rel: "kernels/1-6.12/console.log",
            events,
        }
    }

    fn info(id: &str) -> TestInfo {
        TestInfo {
            id: id.into(),
            tags: vec![],
            about: "x".into(),
            see: String::new(),
        }
    }

    fn result(id: &str) -> Event {
        Event::Result(TestRecord {
            id: id.into(),
            status: Status::Pass,
            reason: None,
            duration_us: 1,
            rep: 0,
            boot: 0,
            observations: Default::default(),
            changed_in: Default::default(),
            metrics: vec![],
            kernel_findings: vec![],
            attempts: vec![],
        })
    }

    #[test]
    fn a_clean_boot_completes() {
        let evs = events(CLEAN_EVENTS);
        let c = classify(&observed(CLEAN_CONSOLE, &evs));
        assert_eq!((c.outcome, c.detail), (KernelOutcome::Completed, None));
        assert!(c.findings.is_empty());
    }

    #[test]
    fn a_panic_on_the_console_is_a_crash_naming_it() {
        let evs = events(PANIC_EVENTS);
        let c = classify(&observed(PANIC_CONSOLE, &evs));
        assert_eq!(c.outcome, KernelOutcome::Crashed);
        let d = c.detail.unwrap();
        assert!(d.starts_with("kernel panic: "), "{d}");
        assert!(d.contains("sysrq triggered crash"), "{d}");
        assert!(c.findings.iter().any(|f| f.fatal));
    }

    #[test]
    fn a_suite_that_never_says_done_is_a_guest_that_died() {
        let evs = events(PANIC_EVENTS);
        // The same events with a console that shows nothing (vng's
        // console can miss the panic): the missing `done` decides.
        let c = classify(&observed(CLEAN_CONSOLE, &evs));
        assert_eq!(c.outcome, KernelOutcome::Crashed);
        assert!(c.detail.unwrap().contains("see kernels/1-6.12/console.log"));
        // vng's 255 with a complete channel and no power-off: the guest
        // died after its last record.
        let evs = events(CLEAN_EVENTS);
        let died = CLEAN_CONSOLE.replace(POWER_DOWN, "");
        let mut o = observed(&died, &evs);
        o.exit = Some(255);
        assert_eq!(classify(&o).outcome, KernelOutcome::Crashed);
    }

    #[test]
    fn a_lost_exit_status_after_a_clean_power_off_is_a_completed_boot() {
        // virtme-ng's console fallback: every record, then the power-off,
        // and vng's 255 for want of the guest's status.
        let evs = events(CLEAN_EVENTS);
        let mut o = observed(CLEAN_CONSOLE, &evs);
        o.exit = Some(255);
        assert_eq!(
            (classify(&o).outcome, classify(&o).detail),
            (KernelOutcome::Completed, None)
        );
        // Not when the suite never said done.
        let evs = events(PANIC_EVENTS);
        let mut o = observed(CLEAN_CONSOLE, &evs);
        o.exit = Some(255);
        assert_eq!(classify(&o).outcome, KernelOutcome::Crashed);
    }

    #[test]
    fn no_suite_is_a_failed_boot_with_the_console_tail() {
        let c = classify(&observed(NO_INIT_CONSOLE, &[]));
        assert_eq!(c.outcome, KernelOutcome::BootFailed);
        let d = c.detail.unwrap();
        assert!(d.contains("the suite never started"), "{d}");
        assert!(
            d.contains("kharness-guest: not found"),
            "the tail shows why: {d}"
        );
    }

    #[test]
    fn interrupt_and_time_limit_come_before_what_the_console_says() {
        let evs = events(PANIC_EVENTS);
        let mut o = observed(PANIC_CONSOLE, &evs);
        o.timed_out = true;
        o.limit = Duration::from_secs(90);
        let c = classify(&o);
        assert_eq!(c.outcome, KernelOutcome::Hung);
        assert_eq!(c.detail.as_deref(), Some("no end after 1m 30s; VM stopped"));
        o.interrupted = true;
        assert_eq!(classify(&o).outcome, KernelOutcome::Interrupted);
    }

    #[test]
    fn a_crash_charges_the_running_test_and_the_rest_continue_after_it() {
        let cat = [info("a.one"), info("a.two"), info("a.three")];
        let evs = [
            Event::Start { id: "a.one".into() },
            result("a.one"),
            Event::Start { id: "a.two".into() },
        ];
        let (recs, last) = boot_records(
            &evs,
            KernelOutcome::Crashed,
            Some("kernel panic: sysrq triggered crash"),
            1,
        );
        let st: Vec<(&str, Status, u32)> = recs
            .iter()
            .map(|r| (r.id.as_str(), r.status, r.boot))
            .collect();
        assert_eq!(
            st,
            [("a.one", Status::Pass, 1), ("a.two", Status::Crashed, 1)]
        );
        assert!(recs[1].reason.as_deref().unwrap().contains("sysrq"));
        assert_eq!(last.as_deref(), Some("a.two"));
        let rest: Vec<&str> = tests_after(&cat, last.as_deref())
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(rest, ["a.three"]);
        let (hung, _) = boot_records(&evs, KernelOutcome::Hung, None, 0);
        assert_eq!(hung[1].status, Status::Timeout);
        // A boot where nothing started leaves everything to run.
        let (none, last) = boot_records(&[], KernelOutcome::Crashed, None, 0);
        assert!(none.is_empty() && last.is_none());
        assert_eq!(tests_after(&cat, None).len(), 3);
        let nr = not_run(&cat[2..], KernelOutcome::Crashed, "; no boots left", 1);
        assert_eq!(nr[0].status, Status::Error);
        assert_eq!(
            nr[0].reason.as_deref(),
            Some("not run: the guest stopped first (guest crashed); no boots left")
        );
    }

    #[test]
    fn a_crash_in_a_later_rep_is_numbered_after_the_reps_that_ended() {
        let evs = [
            Event::Start { id: "p.x".into() },
            result("p.x"),
            Event::Start { id: "p.x".into() },
        ];
        let (recs, _) = boot_records(&evs, KernelOutcome::Crashed, None, 0);
        assert_eq!((recs[1].status, recs[1].rep), (Status::Crashed, 1));
    }

    #[test]
    fn environment_facts_are_kept_per_test_apart_from_records() {
        let facts = |k: &str, v: &str| {
            let mut m = BTreeMap::new();
            m.insert(k.to_owned(), Value::from(v));
            m
        };
        let evs = vec![
            Event::Start { id: "a.one".into() },
            Event::Environment {
                test: "a.one".into(),
                facts: facts("scratch_fs", "tmpfs"),
            },
            Event::Environment {
                test: "a.one".into(),
                facts: facts("o_direct", "EINVAL"),
            },
            Event::Start { id: "a.two".into() },
        ];
        let env = environment_of(&evs);
        assert_eq!(env.len(), 1);
        assert_eq!(env["a.one"].len(), 2);
        assert_eq!(env["a.one"]["scratch_fs"], Value::from("tmpfs"));
        assert!(environment_of(&[]).is_empty());
    }
}
