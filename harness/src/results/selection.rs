//! Which results a `repro` or a `bundle` is about.

use kharness_record::{Status, TestRecord};

use super::{KernelRun, RunResults};
use crate::error::{Error, Result};

/// The (kernel index, test id) pairs a repro or bundle is about: of the
/// tests asked (all when none), the results that did not pass; when every
/// one of them passed, all of them.
pub fn select(res: &RunResults, tests: &[String]) -> Result<Vec<(usize, String)>> {
    for t in tests {
        if !res
            .kernels
            .iter()
            .any(|k| k.records.iter().any(|r| &r.id == t))
        {
            return Err(Error::Usage(format!(
                "--test {t}: the run has no result for it"
            )));
        }
    }
    let wanted = |id: &str| tests.is_empty() || tests.iter().any(|t| t == id);
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
        assert_eq!(select(&r, &[]).unwrap(), [(1, "tee.a".to_owned())]);
        assert_eq!(
            select(&r, &["tee.b".into()]).unwrap(),
            [(0, "tee.b".to_owned()), (1, "tee.b".to_owned())]
        );
        let e = select(&r, &["no.such".into()]).unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Usage);
    }
}
