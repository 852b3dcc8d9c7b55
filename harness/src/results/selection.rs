//! Which results a `repro` or a `bundle` is about.

use kharness_record::{Status, TestRecord, filter};

use super::{KernelRun, RunResults};
use crate::error::Result;

/// Why a `--test` or `--filter` cannot select from a run: the user's
/// mistake (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    #[error("--test {test}: the run has no result for it")]
    NoResult { test: String },
    #[error(
        "--filter {filter}: a run stores test ids, not tags; select by id glob or area \
         (e.g. --filter 'splice.*' or --filter io_uring)"
    )]
    Tag { filter: String },
    #[error("--filter {filter}: selects none of the run's results")]
    SelectsNone { filter: String },
}

impl crate::error::OpError for SelectionError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::Usage
    }
}

/// The (kernel index, test id) pairs a repro or bundle is about: of the
/// tests asked (`tests` by exact id, `filters` as globs or area names in
/// [`kharness_record::filter`]'s grammar; all when both are empty), the
/// results that did not pass; when every one of them passed, all of them.
///
/// A `--test` id the run has no result for, or a `--filter` that selects
/// none of its results, is bad input. `tag:` filters are refused: a run
/// stores ids, not the catalogue's tags.
pub fn select(
    res: &RunResults,
    tests: &[String],
    filters: &[String],
) -> Result<Vec<(usize, String)>> {
    let has = |pred: &dyn Fn(&str) -> bool| {
        res.kernels
            .iter()
            .any(|k| k.records.iter().any(|r| pred(&r.id)))
    };
    for t in tests {
        if !has(&|id| id == t) {
            return Err(SelectionError::NoResult { test: t.clone() }.into());
        }
    }
    for f in filters {
        if f.starts_with("tag:") {
            return Err(SelectionError::Tag { filter: f.clone() }.into());
        }
        if !has(&|id| filter::id_matches(f, id)) {
            return Err(SelectionError::SelectsNone { filter: f.clone() }.into());
        }
    }
    let wanted = |id: &str| {
        (tests.is_empty() && filters.is_empty())
            || tests.iter().any(|t| t == id)
            || filters.iter().any(|f| filter::id_matches(f, id))
    };
    let mut all = Vec::new();
    let mut bad = Vec::new();
    for (k, kr) in res.kernels.iter().enumerate() {
        for r in kr.records.iter().filter(|r| wanted(&r.id)) {
            let pair = (k, r.id.clone());
            if r.status != Status::Pass && r.status != Status::Skip && !bad.contains(&pair) {
                bad.push(pair.clone());
            }
            if !all.contains(&pair) {
                all.push(pair);
            }
        }
    }
    Ok(if bad.is_empty() { all } else { bad })
}

/// The test ids of some pairs, each once, in order.
pub fn test_ids(pairs: &[(usize, String)]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (_, t) in pairs {
        if !ids.contains(t) {
            ids.push(t.clone());
        }
    }
    ids
}

/// The record standing for a test on a kernel: its worst repetition.
pub fn worst<'a>(kr: &'a KernelRun, id: &str) -> Option<&'a TestRecord> {
    kr.records
        .iter()
        .filter(|r| r.id == id)
        .min_by_key(|r| Status::ALL.iter().position(|s| *s == r.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;
    use serde_json::json;

    fn res() -> RunResults {
        let rec = |id: &str, st: &str| json!({"id": id, "status": st, "duration_us": 1});
        let k = |label: &str, recs: Vec<serde_json::Value>| {
            json!({"label": label, "identity": {"release": "6.12", "banner": "b", "path": "/k", "sha256": "00", "size": 1},
                   "outcome": "completed", "wall_s": 1.0, "command": "c", "console_log": "c", "guest_log": "g",
                   "records": recs})
        };
        serde_json::from_value(json!({
            "schema": 1, "tool_version": "0.1.0", "run_id": "r", "started": "s", "interrupted": false,
            "accel": {"accel": "tcg", "reason": "t"}, "guest": {"path": "/g", "sha256": "00"}, "filters": [],
            "kernels": [k("base", vec![rec("tee.a", "pass"), rec("tee.b", "pass")]),
                        k("+3", vec![rec("tee.a", "fail"), rec("tee.b", "pass")])],
        }))
        .unwrap()
    }

    #[test]
    fn selection_is_what_did_not_pass_else_everything_asked() {
        let r = res();
        assert_eq!(select(&r, &[], &[]).unwrap(), [(1, "tee.a".to_owned())]);
        assert_eq!(
            select(&r, &["tee.b".into()], &[]).unwrap(),
            [(0, "tee.b".to_owned()), (1, "tee.b".to_owned())]
        );
        let e = select(&r, &["no.such".into()], &[]).unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Usage);
    }

    #[test]
    fn filters_select_by_glob_and_area_and_refuse_what_they_cannot_mean() {
        let r = res();
        // Every tee result passed on base and tee.a failed on +3: a filter
        // over both keeps the "did not pass" rule.
        assert_eq!(
            select(&r, &[], &["tee.*".into()]).unwrap(),
            [(1, "tee.a".to_owned())]
        );
        assert_eq!(
            select(&r, &[], &["tee.?".into()]).unwrap(),
            [(1, "tee.a".to_owned())]
        );
        assert_eq!(
            select(&r, &[], &["*b".into()]).unwrap(),
            [(0, "tee.b".to_owned()), (1, "tee.b".to_owned())]
        );
        // The area name alone, and --test beside --filter (union).
        assert_eq!(select(&r, &[], &["tee".into()]).unwrap().len(), 1);
        assert_eq!(
            select(&r, &["tee.b".into()], &["tee.a".into()]).unwrap(),
            [(1, "tee.a".to_owned())]
        );
        for f in ["splice.*", "tag:perf"] {
            let e = select(&r, &[], &[f.into()]).unwrap_err();
            assert_eq!(e.exit_code(), ExitCode::Usage, "{f}");
            assert!(e.to_string().contains(f), "{e}");
        }
    }
}
