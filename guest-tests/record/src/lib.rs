//! The results channel between `kharness-guest` and the `kharness` host.
//!
//! The guest appends one JSON object per line ([`Event`]) to its results
//! file and flushes it to stable storage before moving on, so a guest that
//! dies mid-suite loses nothing that had finished. The host reads the same
//! lines back with [`parse_events`]. Both sides use only this crate, so the
//! format is defined exactly once.

#![deny(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub mod filter;
pub mod marker;

/// Bumped whenever a field changes meaning or disappears. Adding an optional
/// field does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// The outcome of one test.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every assertion held.
    Pass,
    /// An assertion about the kernel failed.
    Fail,
    /// The kernel lacks what the test needs; `reason` says what.
    Skip,
    /// The test could not run (setup failed, unexpected environment).
    Error,
    /// The test did not end within its time limit.
    Timeout,
    /// The guest kernel died while the test ran.
    Crashed,
    /// The test's own checks held (or it skipped), but the kernel complained
    /// while it ran: a WARN, KASAN or lockdep report, or a new taint flag.
    /// `kernel_findings` says what.
    Warned,
    /// Failed, then passed on a retry (`--retries`); `attempts` holds the
    /// attempts that failed. Not a failure of the run, but never a pass.
    Flaky,
}

impl Status {
    /// Every status, in the order reports list them.
    pub const ALL: [Status; 8] = [
        Status::Fail,
        Status::Crashed,
        Status::Timeout,
        Status::Error,
        Status::Warned,
        Status::Flaky,
        Status::Skip,
        Status::Pass,
    ];

    /// A lowercase word for tables and KTAP directives.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Crashed => "crashed",
            Status::Warned => "warned",
            Status::Flaky => "flaky",
        }
    }

    /// True for outcomes that make a run fail (exit code 1 or worse).
    pub fn is_bad(self) -> bool {
        !matches!(self, Status::Pass | Status::Skip | Status::Flaky)
    }

    /// True for outcomes `--retries` runs a test again after: an
    /// assertion failed, the test errored or timed out.
    pub fn is_retryable(self) -> bool {
        matches!(self, Status::Fail | Status::Error | Status::Timeout)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed fact about kernel semantics, which may legitimately differ
/// between kernels and which the host diffs across kernels.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Text(String),
    List(Vec<String>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Text(s) => f.write_str(s),
            Value::List(v) => write!(f, "[{}]", v.join(",")),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Value::List(v)
    }
}

/// A measured figure with its unit (`MiB/s`, `ns`, `count`, ...).
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct Metric {
    pub name: String,
    /// JSON has no NaN or infinity: a value that is not a finite number (a
    /// rate over a zero duration) is written as `null` and read back as
    /// NaN, so the record it belongs to is not lost.
    #[serde(deserialize_with = "number_or_null")]
    pub value: f64,
    pub unit: String,
}

fn number_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Option::<f64>::deserialize(d).map(|v| v.unwrap_or(f64::NAN))
}

/// Everything one test reported.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct TestRecord {
    pub id: String,
    pub status: Status,
    /// Why it failed, skipped or errored; absent on a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Wall time of the test inside the guest.
    pub duration_us: u64,
    /// Repetition index for tests run several times (`--reps`), from 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rep: u32,
    /// Which boot of its kernel produced it, from 0: an index into the
    /// kernel's `boots` in the host's results (a fresh boot continues the
    /// suite after a crash or hang; `--boots M` repeats it). The guest
    /// always writes 0; the host sets it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub boot: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub observations: BTreeMap<String, Value>,
    /// Why an observation may differ between kernels: for an observation
    /// name, the release or commit where that behaviour changed, as the
    /// test knows it. Reports show it beside a difference.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub changed_in: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// What the kernel complained about while the test ran: a change of
    /// `/proc/sys/kernel/tainted` (seen by the guest) and WARN, KASAN,
    /// lockdep or BUG reports on the console between the test's markers
    /// (seen by the host). See [`TestRecord::mark`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_findings: Vec<KernelFinding>,
    /// Earlier attempts of this test that failed (`--retries`), oldest
    /// first; the record itself is the last attempt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

impl TestRecord {
    /// Attaches a kernel complaint to the test. A pass or skip becomes
    /// [`Status::Warned`] with the complaint's first line as the reason: the
    /// kernel misbehaved while the test ran even if userspace saw nothing
    /// wrong. Worse statuses stay as they are.
    ///
    /// A test already `warned` lists each further complaint in its reason
    /// too (the guest's taint first, then the console's WARN).
    pub fn mark(&mut self, finding: KernelFinding) {
        if self.kernel_findings.contains(&finding) {
            return;
        }
        let what = format!("kernel {}: {}", finding.kind, finding.title());
        match (self.status, &self.reason) {
            (Status::Pass | Status::Skip, reason) => {
                let was = match (self.status, reason) {
                    (Status::Skip, Some(r)) => format!(" (the test itself skipped: {r})"),
                    _ => String::new(),
                };
                self.reason = Some(format!("{what}{was}"));
                self.status = Status::Warned;
            }
            (Status::Warned, Some(r)) => self.reason = Some(format!("{r}; {what}")),
            _ => {}
        }
        self.kernel_findings.push(finding);
    }
}

/// A complaint of the kernel: a panic, oops, BUG, WARN, sanitizer or
/// lockdep report read from the console, or a new taint flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelFinding {
    /// `panic`, `oops`, `bug`, `warn`, `kasan`, `kfence`, `lockdep`,
    /// `sleep_in_atomic`, `hung_task`, `soft_lockup`, `ubsan`, `taint`.
    pub kind: String,
    /// True when the kernel could not have carried on normally after it.
    pub fatal: bool,
    /// The first line, RIP and the head of the call trace (for `taint`:
    /// the old and new value and the new flags).
    pub excerpt: String,
    /// A stable title in the style syzbot gives bugs (`WARNING in do_tee`,
    /// `kernel BUG in do_sendfile`, `KASAN: use-after-free Read in
    /// pipe_read`, `taint W`): the same complaint has the same signature on
    /// any boot, step or kernel, so a series charges it to the first step
    /// that shows it. Empty when it could not be told (and in results
    /// written before it existed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signature: String,
    /// `file:line` (UBSAN: `file:line:col`) when the kernel printed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl KernelFinding {
    /// How the complaint is named in a reason: its signature and location
    /// when known, else the first line of its excerpt (always for a taint
    /// change, whose excerpt says more than its letters).
    pub fn title(&self) -> String {
        let first = self.excerpt.lines().next().unwrap_or("").trim();
        match (self.signature.as_str(), &self.location) {
            _ if self.kind == "taint" => first.to_owned(),
            ("", _) => first.to_owned(),
            (sig, Some(at)) => format!("{sig} at {at}"),
            (sig, None) => sig.to_owned(),
        }
    }
}

impl TestRecord {
    /// Names this sample among a test's records: `rep2`, or `boot1.rep2`
    /// when it came from a later boot of the same kernel.
    pub fn sample(&self) -> String {
        if self.boot == 0 {
            format!("rep{}", self.rep)
        } else {
            format!("boot{}.rep{}", self.boot, self.rep)
        }
    }
}

/// One failed attempt of a retried test.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct Attempt {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub duration_us: u64,
}

impl TestRecord {
    /// How the earlier attempts went, in one line:
    /// `attempt 1 fail: short write; attempt 2 timeout`.
    pub fn attempts_summary(&self) -> String {
        self.attempts
            .iter()
            .enumerate()
            .map(|(i, a)| match &a.reason {
                Some(r) => format!("attempt {} {}: {}", i + 1, a.status, one_line(r)),
                None => format!("attempt {} {}", i + 1, a.status),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// For a retried test, how the retries went, in one line: `passed on
    /// attempt 2 after attempt 1 fail: short write` (flaky) or `fail on
    /// attempt 3 after ...`; `None` for a test that ran once.
    pub fn retry_note(&self) -> Option<String> {
        if self.attempts.is_empty() {
            return None;
        }
        let last = match self.status {
            Status::Flaky => "passed",
            other => other.as_str(),
        };
        Some(format!(
            "{last} on attempt {} after {}",
            self.attempts.len() + 1,
            self.attempts_summary()
        ))
    }
}

/// One line of the results channel.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// First line: who is writing and how many tests follow.
    Suite {
        schema: u32,
        guest_version: String,
        kernel_release: String,
        total: usize,
        /// Seconds since the guest kernel booted (/proc/uptime) when the
        /// suite started: boot-to-first-test as the guest's clock saw it
        /// (instructions executed, under QEMU's -icount).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uptime_s: Option<f64>,
    },
    /// A test is about to run. A `start` with no matching `result` names the
    /// test that was running when the guest died.
    Start { id: String },
    /// Facts about the test environment that a test found: the scratch
    /// filesystem and its O_DIRECT support, whether hardware perf counters
    /// exist, which source a signal test chose. They belong to this boot's
    /// machine and setup, not to the kernel's semantics: a host shows them
    /// as the boot's environment and never compares them as observations.
    /// Written just before the `result` of the test that found them.
    Environment {
        test: String,
        facts: BTreeMap<String, Value>,
    },
    /// A test ended.
    Result(TestRecord),
    /// Last line: the suite ran to its end.
    Done { total: usize },
}

/// Static facts about a test, for `list` and catalogues.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct TestInfo {
    pub id: String,
    pub tags: Vec<String>,
    /// What the test checks, one sentence.
    pub about: String,
    /// The thread or commit behind it, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub see: String,
}

/// A line of the results channel that is not a valid [`Event`].
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses a results channel. A torn last line (the guest died while writing
/// it) is reported in the second element, not treated as fatal, so every
/// complete record survives.
pub fn parse_events(text: &str) -> (Vec<Event>, Vec<BadLine>) {
    let mut events = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(line) {
            Ok(ev) => events.push(ev),
            Err(e) => bad.push(BadLine {
                line: i + 1,
                message: e.to_string(),
            }),
        }
    }
    (events, bad)
}

/// [`parse_events`] over the raw bytes of a results file: a guest that
/// died in the middle of a character leaves bytes that are not UTF-8, and
/// that must not cost the lines before them.
pub fn parse_event_bytes(bytes: &[u8]) -> (Vec<Event>, Vec<BadLine>) {
    parse_events(&String::from_utf8_lossy(bytes))
}

/// Serialises one event as a single line, newline included.
pub fn event_line(ev: &Event) -> String {
    let mut s = serde_json::to_string(ev).expect("events hold only strings, numbers and maps");
    s.push('\n');
    s
}

/// The kernel parameter carrying the guest's argv when it runs as PID 1
/// of an initramfs. No dot in the name: the kernel hands such unknown
/// `key=value` words to init as environment variables.
pub const PID1_ARGV_PARAM: &str = "kharness_argv";

/// Where the host puts the guest's argv ([`encode_argv`]) in the
/// initramfs instead: a selection of many tests does not fit on x86's
/// 2048-byte kernel command line, a file has no such limit. PID 1 reads
/// it first and falls back to [`PID1_ARGV_PARAM`].
pub const PID1_ARGV_FILE: &str = "/kharness/argv";

/// Encodes an argv for the kernel command line: JSON, then hex, so no
/// character of a filter can be taken apart by the kernel's parser.
pub fn encode_argv(argv: &[String]) -> String {
    let json = serde_json::to_vec(argv).expect("strings serialise");
    json.iter().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`encode_argv`].
pub fn decode_argv(hex: &str) -> Result<Vec<String>, String> {
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return Err("not an even number of hex digits".into());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| format!("bad hex at {i}: {e}")))
        .collect::<Result<Vec<u8>, String>>()?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not a JSON argv: {e}"))
}

/// KTAP v1 result line for test number `n` (1-based).
///
/// Skips carry the `# SKIP` directive; other non-pass outcomes put their
/// status and reason after `#` so a KTAP reader still sees why. A flaky
/// test passed in the end, so its line is `ok`: KTAP knows only the SKIP
/// and TODO directives, and the lowercase `# flaky: ...` is diagnostic
/// text that no KTAP parser takes for one, naming the failed attempts.
pub fn ktap_result_line(n: usize, rec: &TestRecord) -> String {
    let ok = if matches!(rec.status, Status::Pass | Status::Skip | Status::Flaky) {
        "ok"
    } else {
        "not ok"
    };
    let reason = rec.reason.as_deref().map(one_line).unwrap_or_default();
    match rec.status {
        Status::Pass => format!("{ok} {n} {}", rec.id),
        Status::Skip => format!("{ok} {n} {} # SKIP {reason}", rec.id),
        Status::Flaky => match rec.retry_note() {
            Some(note) => format!("{ok} {n} {} # flaky: {note}", rec.id),
            None => format!("{ok} {n} {} # flaky", rec.id),
        },
        other => format!(
            "{ok} {n} {} # {} {reason}",
            rec.id,
            other.as_str().to_uppercase()
        ),
    }
    .trim_end()
    .to_owned()
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Runs of whitespace and control characters (some readers break lines at
/// `\x1c`) become one space.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(status: Status, reason: Option<&str>) -> TestRecord {
        TestRecord {
            id: "splice.x".into(),
            status,
            reason: reason.map(Into::into),
            duration_us: 5,
            rep: 0,
            boot: 0,
            observations: BTreeMap::from([
                ("errno".into(), Value::from("EINVAL")),
                ("bytes".into(), Value::from(4096i64)),
                ("visible".into(), Value::from(true)),
                ("ops".into(), Value::from(vec!["a".to_owned()])),
            ]),
            changed_in: BTreeMap::from([("errno".into(), "v6.7, 1b057bd800c3".into())]),
            metrics: vec![Metric {
                name: "throughput".into(),
                value: 1.5,
                unit: "MiB/s".into(),
            }],
            kernel_findings: vec![],
            attempts: Vec::new(),
        }
    }

    #[test]
    fn a_kernel_complaint_turns_pass_and_skip_into_warned_only() {
        let warn = KernelFinding {
            kind: "warn".into(),
            fatal: false,
            excerpt: "WARNING: CPU: 0 PID: 1 at fs/splice.c:1 x\nRIP: 0010:x".into(),
            ..Default::default()
        };
        let mut r = rec(Status::Pass, None);
        r.mark(warn.clone());
        r.mark(warn.clone());
        assert_eq!(r.status, Status::Warned);
        assert_eq!(
            r.reason.as_deref(),
            Some("kernel warn: WARNING: CPU: 0 PID: 1 at fs/splice.c:1 x")
        );
        assert_eq!(
            r.kernel_findings,
            std::slice::from_ref(&warn),
            "the same finding once"
        );
        let taint = KernelFinding {
            kind: "taint".into(),
            fatal: false,
            excerpt: "tainted during the test: 0 -> 512, new: W (a WARN fired)".into(),
            ..Default::default()
        };
        r.mark(taint);
        assert_eq!(
            r.reason.as_deref(),
            Some(
                "kernel warn: WARNING: CPU: 0 PID: 1 at fs/splice.c:1 x; \
                 kernel taint: tainted during the test: 0 -> 512, new: W (a WARN fired)"
            )
        );
        let mut s = rec(Status::Skip, Some("no io_uring"));
        s.mark(warn.clone());
        assert_eq!(s.status, Status::Warned);
        assert!(
            s.reason
                .unwrap()
                .ends_with("(the test itself skipped: no io_uring)")
        );
        let mut f = rec(Status::Fail, Some("short write"));
        f.mark(warn);
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.reason.as_deref(), Some("short write"));
        assert_eq!(f.kernel_findings.len(), 1);
        assert!(Status::Warned.is_bad());
    }

    #[test]
    fn events_round_trip_and_torn_line_is_kept_apart() {
        let evs = [
            Event::Suite {
                schema: SCHEMA_VERSION,
                guest_version: "0.1.0".into(),
                kernel_release: "6.12".into(),
                total: 1,
                uptime_s: Some(1.25),
            },
            Event::Start {
                id: "splice.x".into(),
            },
            Event::Environment {
                test: "splice.x".into(),
                facts: BTreeMap::from([("scratch_fs".into(), Value::from("tmpfs"))]),
            },
            Event::Result(rec(Status::Fail, Some("short\nwrite"))),
            Event::Done { total: 1 },
        ];
        let mut text: String = evs.iter().map(event_line).collect();
        text.push_str("{\"event\":\"resu");
        let (back, bad) = parse_events(&text);
        assert_eq!(back, evs);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 6);
    }

    #[test]
    fn observation_values_keep_their_types() {
        let r = rec(Status::Pass, None);
        let json = serde_json::to_string(&r).unwrap();
        let back: TestRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.observations["bytes"], Value::Int(4096));
        assert_eq!(back.observations["visible"], Value::Bool(true));
        assert_eq!(back.observations["errno"], Value::Text("EINVAL".into()));
    }

    #[test]
    fn argv_survives_the_kernel_command_line_encoding() {
        let argv: Vec<String> = [
            "run", "--", "splice.*", "a b", "q'uote\"", "$(x);y", "ünï\n",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let hex = encode_argv(&argv);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(decode_argv(&hex).unwrap(), argv);
        assert!(decode_argv("abc").is_err());
        assert!(decode_argv("zz").is_err());
        assert!(decode_argv("é1").is_err());
    }

    #[test]
    fn ktap_lines() {
        assert_eq!(
            ktap_result_line(1, &rec(Status::Pass, None)),
            "ok 1 splice.x"
        );
        assert_eq!(
            ktap_result_line(2, &rec(Status::Skip, Some("no io_uring"))),
            "ok 2 splice.x # SKIP no io_uring"
        );
        assert_eq!(
            ktap_result_line(3, &rec(Status::Fail, Some("short\nwrite"))),
            "not ok 3 splice.x # FAIL short write"
        );
        let mut flaky = rec(Status::Flaky, None);
        flaky.attempts.push(Attempt {
            status: Status::Fail,
            reason: Some("short\nwrite".into()),
            duration_us: 3,
        });
        assert_eq!(
            ktap_result_line(4, &flaky),
            "ok 4 splice.x # flaky: passed on attempt 2 after attempt 1 fail: short write"
        );
    }

    #[test]
    fn flaky_is_neither_pass_nor_failure_and_attempts_round_trip() {
        assert!(!Status::Flaky.is_bad());
        assert!(!Status::Flaky.is_retryable());
        assert!(Status::Timeout.is_retryable() && !Status::Crashed.is_retryable());
        let mut r = rec(Status::Flaky, None);
        r.attempts.push(Attempt {
            status: Status::Timeout,
            reason: None,
            duration_us: 9,
        });
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""status":"flaky""#), "{json}");
        assert_eq!(serde_json::from_str::<TestRecord>(&json).unwrap(), r);
        let plain = serde_json::to_string(&rec(Status::Pass, None)).unwrap();
        assert!(!plain.contains("attempts"), "{plain}");
    }
}
