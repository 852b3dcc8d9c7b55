//! What a test is, what it may report, and the helpers tests use to say so.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};

use kharness_record::{Metric, Value};

/// One registered test.
pub struct Test {
    /// Stable id `area.name`; never reuse an id for a different check.
    pub id: &'static str,
    /// Free-form tags; `perf` marks tests that `--reps` repeats.
    pub tags: &'static [&'static str],
    /// What the test checks, one sentence (the catalogue prints it).
    pub about: &'static str,
    /// The thread or commit behind the test, or "".
    pub see: &'static str,
    pub run: fn(&mut Ctx) -> TestResult,
}

impl Test {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.contains(&tag)
    }
}

/// Why a test did not pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// An assertion about the kernel failed.
    Fail(String),
    /// The kernel lacks the feature under test.
    Skip(String),
    /// The test could not be set up.
    Error(String),
}

pub type TestResult = Result<(), Outcome>;

impl From<std::io::Error> for Outcome {
    fn from(e: std::io::Error) -> Self {
        Outcome::Error(e.to_string())
    }
}

impl From<rustix::io::Errno> for Outcome {
    fn from(e: rustix::io::Errno) -> Self {
        Outcome::Error(format!("{} ({})", crate::util::errno_name(e), e))
    }
}

/// Turns any error into a failing or erroring outcome with context.
pub trait OrOutcome<T> {
    /// The kernel did something the test forbids: `Fail`.
    fn or_fail(self, what: &str) -> Result<T, Outcome>;
    /// Setup went wrong: `Error`.
    fn or_error(self, what: &str) -> Result<T, Outcome>;
}

impl<T, E: Display> OrOutcome<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> Result<T, Outcome> {
        self.map_err(|e| Outcome::Fail(format!("{what}: {e}")))
    }
    fn or_error(self, what: &str) -> Result<T, Outcome> {
        self.map_err(|e| Outcome::Error(format!("{what}: {e}")))
    }
}

/// Fails the test with a message unless the condition holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::framework::Outcome::Fail(format!($($msg)+)));
        }
    };
}

/// Fails the test unless both sides are equal, showing both.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    return Err($crate::framework::Outcome::Fail(format!(
                        "{}: got {:?}, expected {:?}",
                        format!($($msg)+),
                        l,
                        r
                    )));
                }
            }
        }
    };
}

/// Ends the test as skipped with a reason.
#[macro_export]
macro_rules! skip {
    ($($msg:tt)+) => {
        return Err($crate::framework::Outcome::Skip(format!($($msg)+)))
    };
}

/// What a running test reports besides its status.
pub struct Ctx {
    pub observations: BTreeMap<String, Value>,
    /// For an observation, the release or commit where it changed (see
    /// [`Ctx::observe_changed`]).
    pub changed_in: BTreeMap<String, String>,
    /// Facts about the machine and setup, not the kernel (see
    /// [`Ctx::environment`]).
    pub environment: BTreeMap<String, Value>,
    pub metrics: Vec<Metric>,
    /// Scratch directory private to this test, removed afterwards.
    scratch: PathBuf,
    /// Size hint for perf tests: 1 normally, smaller under `--quick`.
    pub scale: f64,
}

impl Ctx {
    pub fn new(scratch: PathBuf, scale: f64) -> Self {
        Ctx {
            observations: BTreeMap::new(),
            changed_in: BTreeMap::new(),
            environment: BTreeMap::new(),
            metrics: Vec::new(),
            scratch,
            scale,
        }
    }

    /// Records a fact about kernel semantics.
    pub fn observe(&mut self, name: &str, value: impl Into<Value>) {
        self.observations.insert(name.to_owned(), value.into());
    }

    /// Records a fact that legitimately differs between kernels, with what
    /// changed it (a release, a commit): reports show that beside a
    /// difference, so a reader sees why two kernels disagree.
    pub fn observe_changed(&mut self, name: &str, value: impl Into<Value>, changed_in: &str) {
        self.observe(name, value);
        self.changed_in
            .insert(name.to_owned(), changed_in.to_owned());
    }

    /// Records a fact about the test environment (the scratch filesystem,
    /// hardware counters, a source the test chose): it goes into the boot's
    /// environment, never among the kernel observations that are compared
    /// across kernels.
    pub fn environment(&mut self, name: &str, value: impl Into<Value>) {
        self.environment.insert(name.to_owned(), value.into());
    }

    /// Records the outcome of a syscall as an observation: the byte count on
    /// success, the errno name on failure.
    pub fn observe_result(&mut self, name: &str, res: &rustix::io::Result<usize>) {
        match res {
            Ok(n) => self.observe(name, *n),
            Err(e) => self.observe(name, crate::util::errno_name(*e)),
        }
    }

    /// [`Ctx::observe_result`] of a behaviour that `change` changed.
    pub fn observe_result_changed(
        &mut self,
        name: &str,
        res: &rustix::io::Result<usize>,
        change: &crate::util::Change,
    ) {
        self.observe_result(name, res);
        self.changed_in.insert(name.to_owned(), change.describe());
    }

    /// Records a measured figure.
    pub fn metric(&mut self, name: &str, value: f64, unit: &str) {
        self.metrics.push(Metric {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
        });
    }

    /// This test's scratch directory (created by the runner).
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }
}
