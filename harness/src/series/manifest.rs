//! `series.toml`: a series' name, what base it needs, and what each patch
//! is expected to change in the suite's results.
//!
//! ```toml
//! name = "demo-splice-regression"
//! summary = "one harmless patch, one slowdown, one break"
//!
//! [base]
//! kernel = ">=6.12, <6.13"
//! source = "Debian linux-source-6.12"
//!
//! [[expect]]
//! patch = 2
//! test = "perf.splice_file_to_pipe"
//! change = "metric-regression"
//! metric = "throughput"
//! min-percent = 15
//!
//! [[expect]]
//! patch = 3
//! test = "tee.duplicate_content"
//! change = "status"
//! from = "pass"
//! to = "fail"
//! ```

use std::path::Path;

use kharness_record::{Status, Value};
use serde::Deserialize;

use super::SeriesError;

/// The whole `series.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// Overrides the name taken from the directory or cover letter.
    pub name: Option<String>,
    /// One paragraph: what the series is for.
    pub summary: Option<String>,
    #[serde(default)]
    pub base: Base,
    /// What should change, patch by patch. Tests not named are expected
    /// not to change.
    #[serde(default)]
    pub expect: Vec<Expectation>,
}

/// What the series must be applied to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Base {
    /// Kernel versions the series applies to: comma-separated comparisons,
    /// e.g. `">=6.12, <6.13"`.
    pub kernel: Option<VersionReq>,
    /// Free text naming the tree it was written against.
    pub source: Option<String>,
}

/// One expected effect: at patch `patch`, test `test` changes as `change`
/// says, compared with the step before.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Expectation {
    /// 1-based patch index.
    pub patch: usize,
    /// Test id, e.g. `tee.duplicate_content`.
    pub test: String,
    /// What kind of change.
    pub change: ChangeKind,
    /// `status`: the status before (optional) and after.
    /// `observation`: the value before (optional) and after.
    pub from: Option<Value>,
    pub to: Option<Value>,
    /// `observation` and `unchanged`: the observation's name.
    pub observation: Option<String>,
    /// `metric-regression`: the metric's name.
    pub metric: Option<String>,
    /// `metric-regression`: whether higher values are better (throughput)
    /// or lower ones (latency). Default: higher.
    #[serde(default)]
    pub better: Better,
    /// `metric-regression`: the smallest and largest expected worsening,
    /// in percent of the step before.
    pub min_percent: Option<f64>,
    pub max_percent: Option<f64>,
    /// Why: shown when the expectation is not met.
    pub why: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// The test's status changes (`from` -> `to`, each a status of
    /// `harness/RESULTS.md`: pass, fail, skip, error, timeout, crashed, warned).
    Status,
    /// An observation's value changes (`observation`, `from` -> `to`).
    Observation,
    /// A metric gets worse by at least `min-percent`.
    MetricRegression,
    /// The test (or its `observation`) must stay as it was: an effect the
    /// patch must not have.
    Unchanged,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Better {
    #[default]
    Higher,
    Lower,
}

impl Expectation {
    /// The status change, for `change = "status"`.
    pub fn status_change(&self) -> Option<(Option<Status>, Status)> {
        if self.change != ChangeKind::Status {
            return None;
        }
        let to = status_of(self.to.as_ref()?)?;
        let from = match &self.from {
            Some(v) => Some(status_of(v)?),
            None => None,
        };
        Some((from, to))
    }
}

fn status_of(v: &Value) -> Option<Status> {
    match v {
        Value::Text(t) => serde_json::from_value(serde_json::Value::String(t.clone())).ok(),
        _ => None,
    }
}

/// A kernel version requirement: comparisons that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(into = "String")]
pub struct VersionReq {
    text: String,
    parts: Vec<(Op, Vec<u64>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

impl From<VersionReq> for String {
    fn from(v: VersionReq) -> String {
        v.text
    }
}

impl std::str::FromStr for VersionReq {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        for piece in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("==", Op::Eq),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(t, op)| piece.strip_prefix(t).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, piece));
            let v = parse_version(rest.trim()).ok_or_else(|| {
                format!("`{piece}` is not a version comparison like `>=6.12` or `<6.13`")
            })?;
            parts.push((op, v));
        }
        if parts.is_empty() {
            return Err("an empty version requirement".into());
        }
        Ok(VersionReq {
            text: s.to_owned(),
            parts,
        })
    }
}

impl<'de> Deserialize<'de> for VersionReq {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn parse_version(s: &str) -> Option<Vec<u64>> {
    // `6.12.117+deb13-amd64` -> 6.12.117.
    let numeric: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: Option<Vec<u64>> = numeric
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect();
    v.filter(|v| !v.is_empty())
}

impl VersionReq {
    /// Does a kernel release (`6.12.117`, `6.12.117+deb13-amd64`) satisfy
    /// every comparison? Missing components compare as 0 on the release
    /// side only up to the requirement's length: `6.12.117` is `=6.12`.
    pub fn matches(&self, release: &str) -> bool {
        let Some(v) = parse_version(release) else {
            return false;
        };
        self.parts.iter().all(|(op, want)| {
            let have: Vec<u64> = (0..want.len())
                .map(|i| v.get(i).copied().unwrap_or(0))
                .collect();
            let ord = have.cmp(want);
            match op {
                Op::Ge => ord.is_ge(),
                Op::Gt => ord.is_gt(),
                Op::Le => ord.is_le(),
                Op::Lt => ord.is_lt(),
                Op::Eq => ord.is_eq(),
            }
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Reads and checks `series.toml`; `patches` is the series length, to
/// check the patch indices.
pub fn load(path: &Path, patches: usize) -> Result<Manifest, SeriesError> {
    let text = std::fs::read_to_string(path).map_err(|e| SeriesError::io(path, e))?;
    parse(path, &text, patches)
}

pub(crate) fn parse(path: &Path, text: &str, patches: usize) -> Result<Manifest, SeriesError> {
    let err = |offset: usize, why: String| SeriesError::Manifest {
        path: path.to_path_buf(),
        line: line_of(text, offset),
        why,
    };
    // Spans first, to name the line of a table that fails the checks below.
    let spans: toml::Spanned<RawSpans> = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        err(offset, e.message().to_owned())
    })?;
    let manifest: Manifest = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        err(offset, e.message().to_owned())
    })?;
    let spans = spans.into_inner();
    for (k, e) in manifest.expect.iter().enumerate() {
        let at = spans.expect.get(k).map_or(0, |s| s.span().start);
        check_expectation(e, patches)
            .map_err(|why| err(at, format!("[[expect]] #{}: {why}", k + 1)))?;
    }
    Ok(manifest)
}

/// Only the spans of the `[[expect]]` tables.
#[derive(Deserialize)]
struct RawSpans {
    #[serde(default)]
    expect: Vec<toml::Spanned<toml::Table>>,
}

fn check_expectation(e: &Expectation, patches: usize) -> Result<(), String> {
    if e.patch == 0 || e.patch > patches {
        return Err(format!(
            "patch = {} is outside the series (patches 1 to {patches})",
            e.patch
        ));
    }
    if e.test.trim().is_empty() {
        return Err("test is empty".into());
    }
    let needs = |field: &str, present: bool| {
        if present {
            Ok(())
        } else {
            Err(format!(
                "change = \"{}\" needs `{field}`",
                kind_name(e.change)
            ))
        }
    };
    match e.change {
        ChangeKind::Status => {
            needs("to", e.to.is_some())?;
            if e.status_change().is_none() {
                return Err(
                    "`from` and `to` of a status change are pass, fail, skip or error".into(),
                );
            }
        }
        ChangeKind::Observation => {
            needs("observation", e.observation.is_some())?;
            needs("to", e.to.is_some())?;
        }
        ChangeKind::MetricRegression => {
            needs("metric", e.metric.is_some())?;
            needs("min-percent", e.min_percent.is_some())?;
            if let (Some(lo), Some(hi)) = (e.min_percent, e.max_percent)
                && lo > hi
            {
                return Err(format!("min-percent {lo} is above max-percent {hi}"));
            }
        }
        ChangeKind::Unchanged => {}
    }
    Ok(())
}

fn kind_name(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Status => "status",
        ChangeKind::Observation => "observation",
        ChangeKind::MetricRegression => "metric-regression",
        ChangeKind::Unchanged => "unchanged",
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "demo"

[base]
kernel = ">=6.12, <6.13"

[[expect]]
patch = 1
test = "signals.sendfile_handled_signal"
change = "observation"
observation = "interrupted_by_handled_signal"
from = true
to = false

[[expect]]
patch = 2
test = "perf.splice_file_to_pipe"
change = "metric-regression"
metric = "throughput"
min-percent = 15

[[expect]]
patch = 2
test = "tee.duplicate_content"
change = "status"
from = "pass"
to = "fail"
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = parse(Path::new("series.toml"), GOOD, 2).expect("valid");
        assert_eq!(m.name.as_deref(), Some("demo"));
        assert_eq!(m.expect.len(), 3);
        assert_eq!(m.expect[0].to, Some(Value::Bool(false)));
        assert_eq!(m.expect[1].min_percent, Some(15.0));
        assert_eq!(m.expect[1].better, Better::Higher);
        assert_eq!(
            m.expect[2].status_change(),
            Some((Some(Status::Pass), Status::Fail))
        );
        let k = m.base.kernel.expect("a kernel requirement");
        assert!(k.matches("6.12.117"));
        assert!(k.matches("6.12.107+deb12-amd64"));
        assert!(!k.matches("6.1.0-56-amd64"));
        assert!(!k.matches("6.13"));
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse(Path::new("s.toml"), GOOD, 1).expect_err("patch 2 of 1");
        assert_eq!(
            err.to_string(),
            "s.toml:15: [[expect]] #2: patch = 2 is outside the series (patches 1 to 1)"
        );
        let bad = GOOD.replace("min-percent = 15", "min-percent = 15\nspeed = 1");
        let err = parse(Path::new("s.toml"), &bad, 2).expect_err("unknown key");
        assert!(err.to_string().starts_with("s.toml:2"), "{err}");
        assert!(err.to_string().contains("speed"), "{err}");
        let bad = GOOD.replace("to = \"fail\"", "to = \"broken\"");
        let err = parse(Path::new("s.toml"), &bad, 2).expect_err("bad status");
        assert!(
            err.to_string().starts_with("s.toml:22: [[expect]] #3"),
            "{err}"
        );
        let bad = GOOD.replace("observation = \"interrupted_by_handled_signal\"\n", "");
        let err = parse(Path::new("s.toml"), &bad, 2).expect_err("missing observation");
        assert_eq!(
            err.to_string(),
            "s.toml:7: [[expect]] #1: change = \"observation\" needs `observation`"
        );
        let bad = GOOD.replace("\"observation\"\nobs", "\"observation\"\nxobs");
        let err = parse(Path::new("s.toml"), &bad, 2).expect_err("unknown key");
        assert!(
            err.to_string()
                .starts_with("s.toml:11: unknown field `xobservation`"),
            "{err}"
        );
        let bad = GOOD.replace(">=6.12, <6.13", "six");
        let err = parse(Path::new("s.toml"), &bad, 2).expect_err("bad version");
        assert!(err.to_string().starts_with("s.toml:5:"), "{err}");
    }
}
