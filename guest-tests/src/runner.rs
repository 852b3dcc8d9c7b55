//! Runs selected tests, each in its own process with a time limit, and
//! reports them as KTAP on stdout and JSON events on the results channel.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kharness_record::{Attempt, Event, Metric, SCHEMA_VERSION, Status, TestRecord, Value};
use serde::{Deserialize, Serialize};

use crate::framework::{Ctx, Outcome, Test};
use crate::sys::process::{Forked, exit_child, fork_into_own_group};

pub struct RunOptions {
    pub filters: Vec<String>,
    /// How many times each `perf`-tagged test runs.
    pub reps: u32,
    /// How many more times a test that fails, errors or times out runs;
    /// one that then passes is reported `flaky`.
    pub retries: u32,
    /// Where JSON events go, one per line, each made durable as written
    /// (a file synced, a serial port drained).
    pub results: Option<PathBuf>,
    /// Print JSON events instead of KTAP on stdout.
    pub json: bool,
    pub test_timeout: Duration,
    pub scratch: PathBuf,
    /// Run each test in a forked child (the default); off for debugging.
    pub fork: bool,
    pub scale: f64,
    /// Running in a throwaway VM that kharness started: mark each test on
    /// the kernel log, and allow the selftests that taint, crash or hang
    /// the kernel.
    pub vm: bool,
    /// Skip the selected tests up to and including this one.
    pub after: Option<String>,
}

/// What a test's process sends back to the runner.
#[derive(Serialize, Deserialize)]
struct ChildReport {
    status: Status,
    reason: Option<String>,
    observations: std::collections::BTreeMap<String, Value>,
    #[serde(default)]
    changed_in: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    environment: std::collections::BTreeMap<String, Value>,
    metrics: Vec<Metric>,
}

struct Sink {
    results: Option<File>,
    json: bool,
    n: usize,
}

impl Sink {
    fn emit(&mut self, ev: &Event) -> std::io::Result<()> {
        let line = kharness_record::event_line(ev);
        if let Some(f) = &mut self.results {
            f.write_all(line.as_bytes())?;
            make_durable(f)?;
        }
        let mut out = std::io::stdout().lock();
        if self.json {
            out.write_all(line.as_bytes())?;
        } else if let Event::Environment { test, facts } = ev {
            for (k, v) in facts {
                writeln!(out, "# {test}: environment {k} = {v}")?;
            }
        } else if let Event::Result(rec) = ev {
            self.n += 1;
            for (k, v) in &rec.observations {
                writeln!(out, "# {}: {k} = {v}", rec.id)?;
            }
            for m in &rec.metrics {
                writeln!(out, "# {}: {} = {} {}", rec.id, m.name, m.value, m.unit)?;
            }
            writeln!(out, "{}", kharness_record::ktap_result_line(self.n, rec))?;
        }
        out.flush()
    }
}

/// Makes what was written to the results channel survive the guest dying
/// right after: the host may read it only then. A serial port (the
/// channel under both VM backends, `/dev/ttyS1`) is drained: once the
/// bytes have left the UART, QEMU has written them to the host's file. A
/// file (a run outside kharness's VMs) is synced. Other devices that
/// cannot be synced say EINVAL; their bytes are already on their way.
fn make_durable(f: &File) -> std::io::Result<()> {
    if rustix::termios::isatty(f) {
        return rustix::termios::tcdrain(f).map_err(std::io::Error::from);
    }
    match f.sync_data() {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => other,
    }
}

/// Runs the suite; returns the process exit code (0 all passed or skipped,
/// 1 something failed, 2 nothing selected or bad options).
pub fn run(opts: &RunOptions) -> i32 {
    let tests = crate::registry::select(&opts.filters);
    if tests.is_empty() {
        eprintln!(
            "kharness-guest: no test matches {:?}; see `kharness-guest list`",
            opts.filters
        );
        return 2;
    }
    let tests = match &opts.after {
        None => &tests[..],
        Some(id) => match crate::registry::after(&tests, id) {
            Some(rest) => rest,
            None => {
                eprintln!(
                    "kharness-guest: --after {id}: not among the tests {:?} selects",
                    opts.filters
                );
                return 2;
            }
        },
    };
    let plan: Vec<(&Test, u32)> = tests
        .iter()
        .flat_map(|t| {
            let reps = if t.has_tag("perf") {
                opts.reps.max(1)
            } else {
                1
            };
            (0..reps).map(move |r| (*t, r))
        })
        .collect();

    let results = match &opts.results {
        None => None,
        // O_NOCTTY: a serial port must not become the runner's
        // controlling terminal (it may be a session leader, as PID 1 is).
        Some(p) => match OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_NOCTTY)
            .open(p)
        {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!(
                    "kharness-guest: cannot open results file {}: {e}",
                    p.display()
                );
                return 2;
            }
        },
    };
    if let Err(e) = std::fs::create_dir_all(&opts.scratch) {
        eprintln!(
            "kharness-guest: cannot create scratch dir {}: {e}",
            opts.scratch.display()
        );
        return 2;
    }
    crate::util::ensure_loopback_up();

    let mut sink = Sink {
        results,
        json: opts.json,
        n: 0,
    };
    let release = crate::util::kernel_release();
    if !opts.json {
        println!("KTAP version 1");
        println!(
            "# kharness-guest {} on {release}",
            env!("CARGO_PKG_VERSION")
        );
        println!("1..{}", plan.len());
    }
    let mut bad = false;
    let emit = |sink: &mut Sink, ev: Event| {
        if let Err(e) = sink.emit(&ev) {
            eprintln!("kharness-guest: cannot write results: {e}");
            std::process::exit(3);
        }
    };
    emit(
        &mut sink,
        Event::Suite {
            schema: SCHEMA_VERSION,
            guest_version: env!("CARGO_PKG_VERSION").to_owned(),
            kernel_release: release,
            total: plan.len(),
            uptime_s: uptime_s(),
        },
    );
    for (test, rep) in &plan {
        emit(
            &mut sink,
            Event::Start {
                id: test.id.to_owned(),
            },
        );
        let (rec, environment) = run_with_retries(test, *rep, opts);
        bad |= rec.status.is_bad();
        if !environment.is_empty() {
            emit(
                &mut sink,
                Event::Environment {
                    test: test.id.to_owned(),
                    facts: environment,
                },
            );
        }
        emit(&mut sink, Event::Result(rec));
    }
    emit(&mut sink, Event::Done { total: plan.len() });
    i32::from(bad)
}

/// Runs a test, and again up to `opts.retries` times while it fails,
/// errors or times out. The record is the last attempt's, with the failed
/// ones before it in `attempts`; a pass after a failure becomes `flaky`.
fn run_with_retries(test: &Test, rep: u32, opts: &RunOptions) -> (TestRecord, Environment) {
    let mut attempts = Vec::new();
    let (mut rec, mut env) = run_one(test, rep, opts);
    while rec.status.is_retryable() && attempts.len() < opts.retries as usize {
        attempts.push(Attempt {
            status: rec.status,
            reason: rec.reason.take(),
            duration_us: rec.duration_us,
        });
        (rec, env) = run_one(test, rep, opts);
    }
    if rec.status == Status::Pass && !attempts.is_empty() {
        rec.status = Status::Flaky;
    }
    rec.attempts = attempts;
    (rec, env)
}

/// Environment facts a test reported (see `Ctx::environment`).
type Environment = std::collections::BTreeMap<String, Value>;

fn run_one(test: &Test, rep: u32, opts: &RunOptions) -> (TestRecord, Environment) {
    let scratch = opts.scratch.join(format!("{}-{rep}", test.id));
    let _ = std::fs::remove_dir_all(&scratch);
    if opts.vm {
        crate::watch::kmsg(&kharness_record::marker::begin(test.id, rep));
    }
    let taint_before = crate::watch::tainted();
    let started = Instant::now();
    let report = match std::fs::create_dir_all(&scratch) {
        Err(e) => ChildReport::error(format!(
            "cannot create scratch dir {}: {e}",
            scratch.display()
        )),
        // `host-safe` ones (flaky_once) only need picking by exact id.
        Ok(()) if test.has_tag("destructive") && !test.has_tag("host-safe") && !opts.vm => {
            ChildReport {
                status: Status::Skip,
                reason: Some(
                    "destructive selftest: runs only inside a VM kharness started (--vm)"
                        .to_owned(),
                ),
                observations: Default::default(),
                changed_in: Default::default(),
                environment: Default::default(),
                metrics: Vec::new(),
            }
        }
        Ok(()) if opts.fork => run_forked(test, &scratch, opts),
        Ok(()) => run_inline(test, &scratch, opts.scale),
    };
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let _ = std::fs::remove_dir_all(&scratch);
    let mut rec = TestRecord {
        id: test.id.to_owned(),
        status: report.status,
        reason: report.reason,
        duration_us,
        rep,
        boot: 0,
        observations: report.observations,
        changed_in: report.changed_in,
        metrics: report.metrics,
        kernel_findings: Vec::new(),
        attempts: Vec::new(),
    };
    if let (Some(before), Some(after)) = (taint_before, crate::watch::tainted()) {
        if let Some(f) = crate::watch::taint_finding(before, after) {
            rec.mark(f);
        }
    }
    if opts.vm {
        crate::watch::kmsg(&kharness_record::marker::end(test.id, rep, rec.status));
    }
    (rec, report.environment)
}

impl ChildReport {
    fn error(reason: String) -> Self {
        ChildReport {
            status: Status::Error,
            reason: Some(reason),
            observations: Default::default(),
            changed_in: Default::default(),
            environment: Default::default(),
            metrics: Vec::new(),
        }
    }
}

fn run_inline(test: &Test, scratch: &std::path::Path, scale: f64) -> ChildReport {
    let mut ctx = Ctx::new(scratch.to_owned(), scale);
    let _ = crate::util::take_leaked_errno();
    let outcome = (test.run)(&mut ctx);
    let outcome = internal_errno_verdict(outcome, &ctx.observations);
    let (status, reason) = match outcome {
        Ok(()) => (Status::Pass, None),
        Err(Outcome::Fail(r)) => (Status::Fail, Some(r)),
        Err(Outcome::Skip(r)) => (Status::Skip, Some(r)),
        Err(Outcome::Error(r)) => (Status::Error, Some(r)),
    };
    ChildReport {
        status,
        reason,
        observations: ctx.observations,
        changed_in: ctx.changed_in,
        environment: ctx.environment,
        metrics: ctx.metrics,
    }
}

/// A kernel-internal errno (ERESTARTSYS and the others of 512 and above)
/// that reached userspace in a syscall return or a CQE fails the test,
/// whatever the test itself concluded: the kernel must convert those codes
/// before returning. Noted by `util::note_errno`; an observation holding
/// such a name counts too.
fn internal_errno_verdict(
    outcome: Result<(), Outcome>,
    observations: &std::collections::BTreeMap<String, Value>,
) -> Result<(), Outcome> {
    let leaked = crate::util::take_leaked_errno()
        .and_then(|raw| crate::util::internal_errno_name(raw).map(|n| format!("{n} ({raw})")))
        .or_else(|| {
            observations.iter().find_map(|(k, v)| match v {
                Value::Text(t) if crate::util::is_internal_errno_name(t) => {
                    Some(format!("{t} (observation {k})"))
                }
                _ => None,
            })
        });
    let Some(what) = leaked else {
        return outcome;
    };
    let why = format!(
        "a kernel-internal errno reached userspace: {what}; the kernel must turn it into EINTR or a restart before a syscall returns or a CQE is posted"
    );
    match outcome {
        Err(Outcome::Fail(r)) => Err(Outcome::Fail(format!("{why}; and: {r}"))),
        Ok(()) | Err(Outcome::Skip(_)) | Err(Outcome::Error(_)) => Err(Outcome::Fail(why)),
    }
}

fn run_forked(test: &Test, scratch: &std::path::Path, opts: &RunOptions) -> ChildReport {
    let (rd, wr) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => return ChildReport::error(format!("pipe: {e}")),
    };
    let _ = std::io::stdout().flush();
    match fork_into_own_group() {
        Err(e) => ChildReport::error(format!("fork: {e}")),
        Ok(Forked::Child) => {
            drop(rd);
            let report = run_inline(test, scratch, opts.scale);
            let json = serde_json::to_vec(&report).expect("reports serialise");
            let code = i32::from(crate::util::write_all(&wr, &json).is_err());
            exit_child(code)
        }
        Ok(Forked::Parent(pid)) => {
            drop(wr);
            collect_child(pid, rd, opts.test_timeout)
        }
    }
}

fn collect_child(pid: rustix::process::Pid, rd: OwnedFd, limit: Duration) -> ChildReport {
    use rustix::event::{PollFd, PollFlags, poll};
    let deadline = Instant::now() + limit;
    let mut buf = Vec::new();
    let mut file = File::from(rd);
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let ts = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&file, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return ChildReport::error(format!("poll on test process: {e}")),
        }
        let mut chunk = [0u8; 65536];
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return ChildReport::error(format!("read from test process: {e}")),
        }
    }
    if timed_out {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let wait = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
    // Reap anything else the test left in its group.
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    if timed_out {
        return ChildReport {
            status: Status::Timeout,
            reason: Some(format!(
                "no result after {}s; test process killed",
                limit.as_secs()
            )),
            observations: Default::default(),
            changed_in: Default::default(),
            environment: Default::default(),
            metrics: Vec::new(),
        };
    }
    if let Ok(report) = serde_json::from_slice::<ChildReport>(&buf) {
        return report;
    }
    let how = match wait {
        Ok(Some((_, st))) => match st.terminating_signal() {
            Some(sig) => format!("killed by signal {sig}"),
            None => format!("exited with code {:?}", st.exit_status()),
        },
        Ok(None) => "vanished".to_owned(),
        Err(e) => format!("could not be waited for: {e}"),
    };
    ChildReport::error(format!("test process {how} before reporting"))
}

/// Seconds since boot, from /proc/uptime's first field.
fn uptime_s() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::io::Errno;

    #[test]
    fn a_kernel_internal_errno_fails_any_test() {
        let none = std::collections::BTreeMap::new();
        assert_eq!(internal_errno_verdict(Ok(()), &none), Ok(()));
        assert_eq!(
            crate::util::errno_name(Errno::from_raw_os_error(512)),
            "ERESTARTSYS"
        );
        let v = internal_errno_verdict(Ok(()), &none);
        assert!(
            matches!(&v, Err(Outcome::Fail(r)) if r.contains("ERESTARTSYS (512)")),
            "{v:?}"
        );
        assert_eq!(crate::util::take_leaked_errno(), None, "taken once");
        let obs = std::collections::BTreeMap::from([(
            "cancelled_result".to_owned(),
            Value::from("EIOCBQUEUED"),
        )]);
        let v = internal_errno_verdict(Err(Outcome::Skip("x".into())), &obs);
        assert!(
            matches!(&v, Err(Outcome::Fail(r)) if r.contains("EIOCBQUEUED")),
            "{v:?}"
        );
        assert_eq!(crate::util::errno_name(Errno::INTR), "EINTR");
        assert_eq!(crate::util::take_leaked_errno(), None);
    }

    #[test]
    fn destructive_selftests_skip_outside_a_kharness_vm() {
        let scratch = std::env::temp_dir().join(format!("kharness-runner-{}", std::process::id()));
        let opts = RunOptions {
            filters: vec![],
            reps: 1,
            results: None,
            json: true,
            test_timeout: Duration::from_secs(10),
            scratch: scratch.clone(),
            fork: true,
            scale: 1.0,
            vm: false,
            after: None,
            retries: 0,
        };
        for id in ["selftest.taint_user", "selftest.sysrq_crash"] {
            let t = crate::registry::select(&[id.to_owned()])[0];
            let (rec, _) = run_one(t, 0, &opts);
            assert_eq!(rec.status, Status::Skip, "{id}: {rec:?}");
            assert!(rec.reason.unwrap().contains("--vm"));
        }
        let _ = std::fs::remove_dir_all(scratch);
    }
}
