//! The CI templates users copy (ci/templates): they parse, their matrices
//! expand to the jobs they should, their shards cover 1..N, every kharness
//! flag they pass exists, and the real linters accept them (actionlint,
//! and check-jsonschema with the GitHub workflow and GitLab CI schemas).
//!
//! A linter that is missing skips its test with a message, unless `CI` is
//! set: `ci/test-deps.sh` installs them.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::{have, kharness};

fn template(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ci/templates")
        .join(name)
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(template(name)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
}

/// A scalar as the CI engine sees it in a matrix: numbers and strings alike.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every combination of the axes (a map of axis -> value or list of values),
/// each as (axis, value) pairs sorted by axis.
fn product(axes: &serde_json::Map<String, Value>) -> Vec<Vec<(String, String)>> {
    let mut combos = vec![Vec::new()];
    for (axis, values) in axes {
        let values: Vec<String> = match values {
            Value::Array(a) => a.iter().map(scalar).collect(),
            v => vec![scalar(v)],
        };
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((axis.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    combos
}

/// A GitHub Actions `strategy.matrix`: the product of its axes, less
/// `exclude`, plus `include` entries (as whole jobs).
fn github_jobs(matrix: &Value) -> Vec<Vec<(String, String)>> {
    let m = matrix.as_object().unwrap();
    let axes = m
        .iter()
        .filter(|(k, _)| *k != "include" && *k != "exclude")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let matches = |combo: &[(String, String)], e: &Value| {
        e.as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| combo.iter().any(|(a, x)| a == k && *x == scalar(v)))
    };
    let mut jobs: Vec<_> = product(&axes)
        .into_iter()
        .filter(|c| {
            m.get("exclude")
                .and_then(Value::as_array)
                .is_none_or(|ex| !ex.iter().any(|e| matches(c, e)))
        })
        .collect();
    for inc in m
        .get("include")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        jobs.extend(product(inc.as_object().unwrap()));
    }
    jobs
}

/// A GitLab `parallel:matrix`: the union of each entry's product.
fn gitlab_jobs(matrix: &Value) -> Vec<Vec<(String, String)>> {
    matrix
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| product(entry.as_object().unwrap()))
        .collect()
}

/// The jobs both templates' test matrices must expand to, written out, with
/// each engine's names for the two axes.
fn six_jobs(kernel: &str, shard: &str) -> Vec<Vec<(String, String)>> {
    [
        (K61, "1"),
        (K61, "2"),
        (K61, "3"),
        (K612, "1"),
        (K612, "2"),
        (K612, "3"),
    ]
    .iter()
    .map(|(k, s)| {
        vec![
            (kernel.to_owned(), k.to_string()),
            (shard.to_owned(), s.to_string()),
        ]
    })
    .collect()
}

fn values_of(jobs: &[Vec<(String, String)>], axis: &str) -> BTreeSet<u32> {
    jobs.iter()
        .flatten()
        .filter(|(a, _)| a == axis)
        .map(|(_, v)| v.parse().unwrap())
        .collect()
}

const K61: &str = "6.1.0-56-amd64";
const K612: &str = "6.12.107+deb12-amd64";

#[test]
fn github_matrix_expands_to_every_kernel_and_shard() {
    let wf = load("github-actions.yml");
    let jobs = wf["jobs"].as_object().unwrap();
    assert_eq!(
        jobs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["build", "report", "run", "series"]
    );
    let run = github_jobs(&jobs["run"]["strategy"]["matrix"]);
    assert_eq!(run, six_jobs("kernel", "shard"));
    let n: u32 = scalar(&wf["env"]["SHARDS"]).parse().unwrap();
    assert_eq!(values_of(&run, "shard"), (1..=n).collect());
    assert_eq!(
        github_jobs(&jobs["series"]["strategy"]["matrix"]),
        [vec![("series".to_owned(), "patches/my-series".to_owned())]]
    );
    assert_eq!(jobs["run"]["needs"], "build");
    let report = &jobs["report"];
    assert_eq!(
        report["needs"],
        serde_json::json!(["build", "run", "series"])
    );
    assert_eq!(
        report["if"], "${{ !cancelled() }}",
        "reports even when a test failed"
    );
    let steps = report["steps"].to_string();
    for want in [
        "kharness merge",
        "GITHUB_STEP_SUMMARY",
        "report.md",
        "junit.xml",
    ] {
        assert!(steps.contains(want), "the report job mentions {want}");
    }
}

#[test]
fn gitlab_matrix_expands_to_every_kernel_and_shard() {
    let ci = load("gitlab-ci.yml");
    let run = gitlab_jobs(&ci["run"]["parallel"]["matrix"]);
    assert_eq!(run, six_jobs("KERNEL", "SHARD"));
    let n: u32 = scalar(&ci["variables"]["SHARDS"]).parse().unwrap();
    assert_eq!(values_of(&run, "SHARD"), (1..=n).collect());
    assert_eq!(gitlab_jobs(&ci["series"]["parallel"]["matrix"]).len(), 1);
    assert_eq!(ci["run"]["artifacts"]["when"], "always");
    let report = &ci["report"];
    assert_eq!(report["when"], "always", "reports even when a test failed");
    assert_eq!(
        report["artifacts"]["reports"]["junit"],
        "report/*/junit.xml"
    );
    assert!(report["script"].to_string().contains("kharness merge"));
}

/// Every `--flag` a template passes to `kharness SUB` is one `kharness SUB
/// --help` documents.
#[test]
fn every_kharness_flag_in_the_templates_exists() {
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let text = std::fs::read_to_string(template(name))
            .unwrap()
            .replace("\\\n", " ");
        let mut checked = 0;
        for line in text.lines() {
            let Some((_, rest)) = line.split_once("bin/kharness ") else {
                continue;
            };
            let sub = rest.split_whitespace().next().unwrap();
            if !["run", "series", "merge"].contains(&sub) {
                continue; // chmod +x bin/kharness bin/kharness-guest
            }
            let help = kharness(&[sub, "--help"]);
            help.expect_code(0);
            for flag in rest.split_whitespace().filter(|w| w.starts_with("--")) {
                assert!(
                    help.stdout().contains(&format!("{flag} "))
                        || help.stdout().contains(&format!("{flag}\n")),
                    "{name}: `kharness {sub}` has no {flag}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 8, "{name}: only {checked} flags found");
    }
}

fn tool(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn expect_clean(cmd: &mut Command) {
    let shown = format!("{cmd:?}");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{shown}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn actionlint_accepts_the_github_workflow() {
    if !have(tool("actionlint"), "actionlint") {
        return;
    }
    // With shellcheck on PATH, actionlint checks the run: scripts too.
    if !have(tool("shellcheck"), "shellcheck") {
        return;
    }
    expect_clean(Command::new("actionlint").arg(template("github-actions.yml")));
}

#[test]
fn the_templates_match_the_engines_schemas() {
    if !have(tool("check-jsonschema"), "check-jsonschema") {
        return;
    }
    for (schema, name) in [
        ("vendor.github-workflows", "github-actions.yml"),
        ("vendor.gitlab-ci", "gitlab-ci.yml"),
    ] {
        expect_clean(
            Command::new("check-jsonschema")
                .args(["--builtin-schema", schema])
                .arg(template(name)),
        );
    }
}
