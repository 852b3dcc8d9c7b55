//! Property tests of what the host reads from and writes about a guest:
//! console crash detection finds a planted BUG, WARN or panic line in
//! noise and never panics; `results.ktap` is well-formed KTAP for any
//! results, whatever their names, reasons and console excerpts hold.
//!
//! Each property runs `KHARNESS_FUZZ_CASES` cases (default 128 or 256, a
//! few seconds each); set it higher for a longer hunt.

#![allow(clippy::unwrap_used)]

mod common;

use kharness::results::{KernelOutcome, RunResults};
use kharness::vm::console::{self, ConsoleFinding};
use kharness_record::{Status, TestRecord};
use proptest::prelude::*;

// --------------------------------------------------------------- console

/// A console line that is no kernel complaint: boot chatter, with or
/// without a timestamp, lower case only (every marker has capitals).
fn noise_line() -> impl Strategy<Value = String> {
    (
        proptest::option::of((0u32..100_000, 0u32..1_000_000)),
        "[a-z0-9 .,:;=()<>/_+#-]{0,50}",
        prop::sample::select(vec!["", "\r"]),
    )
        .prop_map(|(ts, text, cr)| match ts {
            Some((s, us)) => format!("[{s:>5}.{us:06}] {text}{cr}"),
            None => format!("{text}{cr}"),
        })
}

/// (line, kind, fatal) of a kernel complaint as the kernel prints it.
fn marker() -> impl Strategy<Value = (String, &'static str, bool)> {
    let tail = "[a-z0-9_ ,:+/]{0,40}";
    prop_oneof![
        tail.prop_map(|t| (format!("Kernel panic - not syncing: {t}"), "panic", true)),
        tail.prop_map(|t| (
            format!("BUG: kernel NULL pointer dereference, address: {t}"),
            "oops",
            true
        )),
        tail.prop_map(|t| (
            format!("BUG: unable to handle page fault {t}"),
            "oops",
            true
        )),
        tail.prop_map(|t| (format!("Oops: 0000 [#1] PREEMPT SMP {t}"), "oops", true)),
        tail.prop_map(|t| (format!("kernel BUG at fs/splice.c:{t}"), "bug", true)),
        tail.prop_map(|t| (
            format!("WARNING: CPU: 0 PID: 1 at fs/splice.c:100 {t}"),
            "warn",
            false
        )),
        tail.prop_map(|t| (format!("BUG: KASAN: use-after-free in {t}"), "kasan", false)),
        tail.prop_map(|t| (
            format!("INFO: task kworker:{t} blocked for more than 120 seconds."),
            "hung_task",
            false
        )),
    ]
}

fn find<'a>(fs: &'a [ConsoleFinding], kind: &str) -> Option<&'a ConsoleFinding> {
    fs.iter().find(|f| f.kind == kind)
}

proptest! {
    #![proptest_config(common::fuzz_config(256))]

    /// Any text at all (serial garbage, cut UTF-8 turned lossy, brackets
    /// without ends) is scanned without a panic.
    #[test]
    fn console_scan_never_panics(text in ".*", bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = console::scan(&text);
        let _ = console::scan(&String::from_utf8_lossy(&bytes));
    }
}

proptest! {
    #![proptest_config(common::fuzz_config(128))]

    /// Noise alone is a clean boot.
    #[test]
    fn noise_has_no_findings(lines in prop::collection::vec(noise_line(), 0..40)) {
        let fs = console::scan(&lines.join("\n"));
        prop_assert!(fs.is_empty(), "{:?}", fs);
    }

    /// A complaint planted anywhere in noise, with or without a timestamp
    /// and a carriage return, is found with its kind, its severity and its
    /// own line first in the excerpt.
    #[test]
    fn a_planted_complaint_is_found(
        before in prop::collection::vec(noise_line(), 0..20),
        after in prop::collection::vec(noise_line(), 0..20),
        (line, kind, fatal) in marker(),
        ts in proptest::option::of(0u32..100_000),
        cr in any::<bool>(),
    ) {
        let stamped = match ts {
            Some(s) => format!("[{s:>5}.123456] {line}"),
            None => line.clone(),
        };
        let text = format!(
            "{}\n{stamped}{}\n{}",
            before.join("\n"),
            if cr { "\r" } else { "" },
            after.join("\n")
        );
        let fs = console::scan(&text);
        let f = find(&fs, kind);
        prop_assert!(f.is_some(), "{} not found in {:?}", kind, fs);
        let f = f.unwrap();
        prop_assert_eq!(f.fatal, fatal);
        prop_assert_eq!(f.excerpt.lines().next(), Some(line.trim()));
    }
}

// --------------------------------------------------------------- KTAP

/// A run to render: the checked-in one-kernel run with its kernels
/// replaced.
fn base_run() -> RunResults {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/clean-one-kernel.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Text as hostile as a test reason or a path can be.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![".*", "[a-z #\\n\\r\\t\u{b}\u{c}\u{85}\u{2028}:]{0,30}",]
}

fn record() -> impl Strategy<Value = TestRecord> {
    (
        prop::sample::select(vec!["a.one", "a.two", "b.three", "perf.four"]),
        prop::sample::select(Status::ALL.to_vec()),
        proptest::option::of(hostile()),
        0u32..3,
        prop::collection::btree_map(
            "[a-z]{1,5}",
            hostile().prop_map(kharness_record::Value::Text),
            0..2,
        ),
    )
        .prop_map(|(id, status, reason, rep, observations)| TestRecord {
            id: id.into(),
            status,
            reason,
            duration_us: 1,
            rep,
            boot: 0,
            kernel_findings: vec![],
            attempts: vec![],
            // Kernel-side text too: every renderer must take it as it is.
            changed_in: observations
                .keys()
                .map(|k| (k.clone(), format!("v6.7 <{k}> & \"{k}\"")))
                .collect(),
            observations,
            metrics: vec![],
        })
}

#[derive(Debug, Clone)]
struct GenKernel {
    label: Option<String>,
    /// A series step's patch subject; the column is a step when set.
    subject: Option<String>,
    banner: String,
    path: String,
    outcome: KernelOutcome,
    detail: Option<String>,
    excerpts: Vec<String>,
    records: Vec<TestRecord>,
}

fn kernel() -> impl Strategy<Value = GenKernel> {
    (
        (
            proptest::option::of(hostile()),
            proptest::option::of(hostile()),
        ),
        hostile(),
        hostile(),
        prop::sample::select(vec![
            KernelOutcome::Completed,
            KernelOutcome::Crashed,
            KernelOutcome::Hung,
            KernelOutcome::BootFailed,
            KernelOutcome::Interrupted,
        ]),
        proptest::option::of(hostile()),
        prop::collection::vec(hostile(), 0..2),
        prop::collection::vec(record(), 0..8),
    )
        .prop_map(
            |((label, subject), banner, path, outcome, detail, excerpts, records)| GenKernel {
                label,
                subject,
                banner,
                path,
                outcome,
                detail,
                excerpts,
                records,
            },
        )
}

fn run_of(kernels: &[GenKernel]) -> RunResults {
    let mut res = base_run();
    let template = res.kernels[0].clone();
    res.kernels = kernels
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut k = template.clone();
            k.label = g.label.clone();
            k.step = g.subject.as_ref().map(|s| kharness::plan::StepInfo {
                patches: i,
                subject: Some(s.clone()),
                patchset_hash: String::new(),
            });
            k.identity.banner = g.banner.clone();
            k.identity.path = g.path.clone().into();
            k.outcome = g.outcome;
            k.detail = g.detail.clone();
            k.console_findings = g
                .excerpts
                .iter()
                .map(|e| ConsoleFinding {
                    kind: "warn".into(),
                    fatal: false,
                    excerpt: e.clone(),
                    ..Default::default()
                })
                .collect();
            k.records = g.records.clone();
            k
        })
        .collect();
    res
}

/// Checks a KTAP version 1 document (Documentation/dev-tools/ktap.rst):
/// every line is a version line, a plan, a result or a diagnostic, at an
/// indentation of two spaces per level; each level's results are numbered
/// 1, 2, ... and match its plan. Returns the top-level results as (ok,
/// description) pairs.
fn check_ktap(doc: &str) -> Result<Vec<(bool, String)>, String> {
    // What a KTAP reader splits lines at (Python's str.splitlines too).
    if let Some(c) = doc.chars().find(|c| {
        matches!(
            c,
            '\r' | '\u{b}' | '\u{c}' | '\u{1c}'..='\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        )
    }) {
        return Err(format!("a line break other than \\n: {c:?}"));
    }
    // Per open level: (plan, results so far).
    let mut levels: Vec<(Option<usize>, usize)> = Vec::new();
    let mut top = Vec::new();
    for (n, raw) in doc.lines().enumerate() {
        let at = |why: String| format!("line {}: {why}: {raw:?}", n + 1);
        let body = raw.trim_start_matches(' ');
        let indent = raw.len() - body.len();
        if indent % 2 != 0 {
            return Err(at("odd indentation".into()));
        }
        let depth = indent / 2;
        if body == "KTAP version 1" {
            if depth != levels.len() {
                return Err(at(format!(
                    "version line at depth {depth}, {} open",
                    levels.len()
                )));
            }
            levels.push((None, 0));
            continue;
        }
        if body.starts_with('#') {
            continue;
        }
        if depth + 1 != levels.len()
            && !(depth + 2 == levels.len()
                && (body.starts_with("ok ") || body.starts_with("not ok ")))
        {
            return Err(at(format!(
                "depth {depth} with {} levels open",
                levels.len()
            )));
        }
        if let Some(p) = body.strip_prefix("1..") {
            let plan = p.parse().map_err(|_| at("bad plan".into()))?;
            let Some(level) = levels.last_mut() else {
                return Err(at("plan before version".into()));
            };
            level.0 = Some(plan);
            continue;
        }
        let (ok, rest) = if let Some(r) = body.strip_prefix("ok ") {
            (true, r)
        } else if let Some(r) = body.strip_prefix("not ok ") {
            (false, r)
        } else {
            return Err(at("not a KTAP line".into()));
        };
        // A result one level up closes the subtest below it.
        if depth + 2 == levels.len() {
            let (plan, seen) = levels.pop().unwrap_or_default();
            if plan != Some(seen) {
                return Err(at(format!("subtest planned {plan:?}, had {seen}")));
            }
        }
        let (num, desc) = rest
            .split_once(' ')
            .ok_or_else(|| at("no description".into()))?;
        let level = levels
            .last_mut()
            .ok_or_else(|| at("result outside a test".into()))?;
        level.1 += 1;
        if num.parse::<usize>() != Ok(level.1) {
            return Err(at(format!("result numbered {num}, expected {}", level.1)));
        }
        let desc = desc.split(" # ").next().unwrap_or(desc);
        if desc.is_empty() || desc.contains('#') {
            return Err(at("a description that is empty or holds '#'".into()));
        }
        if depth == 0 {
            top.push((ok, desc.to_owned()));
        }
    }
    match levels.as_slice() {
        [(plan, seen)] if *plan == Some(*seen) => Ok(top),
        other => Err(format!("at the end, open levels {other:?}")),
    }
}

proptest! {
    #![proptest_config(common::fuzz_config(128))]

    /// results.ktap is valid KTAP, one top-level result per kernel, `ok`
    /// exactly for a completed kernel with no bad record, whatever the
    /// labels, banners, paths, reasons and excerpts hold.
    #[test]
    fn results_ktap_is_valid_for_any_results(kernels in prop::collection::vec(kernel(), 1..4)) {
        let res = run_of(&kernels);
        // The other renderers take the same text without panicking.
        let _ = (
            kharness::report::markdown(&res),
            kharness::report::html(&res),
            kharness::report::kcidb(&res),
        );
        kharness::report::junit(&res).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let doc = kharness::report::ktap(&res);
        let top = check_ktap(&doc).map_err(|e| TestCaseError::fail(format!("{e}\n{doc}")))?;
        prop_assert_eq!(top.len(), kernels.len());
        for ((ok, _), k) in top.iter().zip(&kernels) {
            let good = k.outcome == KernelOutcome::Completed && !k.records.iter().any(|r| r.status.is_bad());
            prop_assert_eq!(*ok, good, "{}", doc);
        }
    }
}

#[test]
fn the_ktap_checker_can_fail() {
    assert!(check_ktap("KTAP version 1\n1..1\nok 1 a\n").is_ok());
    assert!(check_ktap("KTAP version 1\n1..2\nok 1 a\n").is_err());
    assert!(check_ktap("KTAP version 1\n1..1\nok 2 a\n").is_err());
    assert!(check_ktap("KTAP version 1\n1..1\nok 1 a\nb\n").is_err());
    assert!(
        check_ktap("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  ok 1 x\nok 1 a\n").is_ok()
    );
    assert!(
        check_ktap("KTAP version 1\n1..1\n  KTAP version 1\n  1..2\n  ok 1 x\nok 1 a\n").is_err()
    );
    assert!(check_ktap("KTAP version 1\n1..1\nok 1 a\r\n").is_err());
}
