//! The project's own test runner configuration, `.config/nextest.toml`:
//! every `#[ignore]`d test whose reason says it boots a VM or builds a
//! kernel runs in the `vm` test group (one at a time), and every test the
//! group names still exists. nextest runs the rest in parallel, so a VM
//! test left out would boot beside another one, and a renamed test would
//! leave the group silently.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The filters of the overrides that put tests in the `vm` group, joined.
fn vm_group_filter() -> String {
    let text = std::fs::read_to_string(root().join(".config/nextest.toml")).unwrap();
    let config: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(
        config["test-groups"]["vm"]["max-threads"].as_integer(),
        Some(1),
        "{text}"
    );
    let filters: Vec<&str> = config["profile"]["default"]["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o.get("test-group").and_then(|g| g.as_str()) == Some("vm"))
        .map(|o| o["filter"].as_str().unwrap())
        .collect();
    assert!(!filters.is_empty(), "no override sets test-group = \"vm\"");
    filters.join("\n|")
}

/// The terms `binary_id(kharness::BIN)` (the whole binary) and
/// `(binary_id(kharness::BIN) & test(=NAME))` (one test) of a filter.
fn group_members(filter: &str) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let mut binaries = BTreeSet::new();
    let mut tests = BTreeSet::new();
    for term in filter.split('|').map(str::trim).filter(|t| !t.is_empty()) {
        let term = match term.strip_prefix('(') {
            Some(inner) => inner.strip_suffix(')').unwrap_or(inner),
            None => term,
        };
        let (bin, test) = match term.split_once('&') {
            Some((b, t)) => (b.trim(), Some(t.trim())),
            None => (term, None),
        };
        let bin = bin
            .strip_prefix("binary_id(kharness::")
            .and_then(|b| b.strip_suffix(')'))
            .unwrap_or_else(|| panic!("unexpected term in the vm group's filter: {term}"));
        match test {
            None => {
                binaries.insert(bin.to_owned());
            }
            Some(t) => {
                let name = t
                    .strip_prefix("test(=")
                    .unwrap_or_else(|| panic!("unexpected term in the vm group's filter: {term}"));
                let name = name.strip_suffix(')').unwrap_or(name);
                tests.insert((bin.to_owned(), name.to_owned()));
            }
        }
    }
    (binaries, tests)
}

/// (binary, test, ignore reason) of every `#[ignore = "..."]` test of the
/// host crate's integration tests.
fn ignored_tests() -> Vec<(String, String, String)> {
    let dir = root().join("harness/tests");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let bin = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut reason: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if let Some(r) = line.strip_prefix("#[ignore = \"") {
                reason = Some(r.trim_end_matches("\"]").to_owned());
            } else if let Some(rest) = line.strip_prefix("fn ") {
                if let Some(r) = reason.take() {
                    let name = rest.split('(').next().unwrap().to_owned();
                    out.push((bin.clone(), name, r));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_test_that_boots_or_builds_runs_in_the_serial_vm_group() {
    let (binaries, tests) = group_members(&vm_group_filter());
    let ignored = ignored_tests();
    assert!(ignored.len() >= 30, "{ignored:?}");
    let missing: Vec<_> = ignored
        .iter()
        .filter(|(_, _, why)| why.contains("boot") || why.contains("build"))
        .filter(|(bin, name, _)| {
            !binaries.contains(bin) && !tests.contains(&(bin.clone(), name.clone()))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "tests that boot or build are missing from the vm group of .config/nextest.toml: \
         {missing:#?}"
    );
}

#[test]
fn every_test_the_vm_group_names_exists() {
    let (binaries, tests) = group_members(&vm_group_filter());
    let ignored = ignored_tests();
    for bin in &binaries {
        assert!(
            root().join(format!("harness/tests/{bin}.rs")).is_file(),
            "the vm group names a binary that does not exist: {bin}"
        );
    }
    for (bin, name) in &tests {
        assert!(
            ignored.iter().any(|(b, n, _)| b == bin && n == name),
            "the vm group names {bin}::{name}, which is not an #[ignore]d test"
        );
    }
}

#[test]
fn the_ci_profile_keeps_junit_and_stops_hung_tests() {
    let text = std::fs::read_to_string(root().join(".config/nextest.toml")).unwrap();
    let config: toml::Value = toml::from_str(&text).unwrap();
    let profiles = &config["profile"];
    assert_eq!(profiles["ci"]["junit"]["path"].as_str(), Some("junit.xml"));
    assert!(
        profiles["default"]["slow-timeout"]["terminate-after"]
            .as_integer()
            .is_some()
    );
    for o in profiles["default"]["overrides"].as_array().unwrap() {
        assert!(
            o["slow-timeout"]["terminate-after"].as_integer().is_some(),
            "an override without a time limit: {o}"
        );
    }
    // ci/test.sh runs that profile with the ignored tests, and nextest's
    // summary is its last line.
    let script = std::fs::read_to_string(root().join("ci/test.sh")).unwrap();
    let last = script
        .lines()
        .rfind(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .unwrap();
    // (It may narrow the selection: see the debug-kernel test there.)
    assert!(
        last.starts_with("cargo nextest run --workspace --locked --profile ci --run-ignored all"),
        "ci/test.sh does not end with the nextest run: {last}"
    );
}
