//! `kcidb.json`: the run as KernelCI KCIDB I/O data (schema v5.3, the one
//! the `kcidb-io` package validates as current), ready for `kcidb-submit`.
//!
//! Each kernel is a checkout (no patchset applied: `patchset_hash` is the
//! empty string the schema defines for that), a build (the image booted),
//! a `boot` test, and one test per record with the test id as its path.
//! Metrics become `DONE` subtests `<test id>.<metric>` carrying a `number`,
//! since a KCIDB test holds one number.
//!
//! Kernel complaints (WARN, KASAN, lockdep, UBSAN, oops, taint, ...) are
//! `issues`, one per signature, with an id made of the signature alone so
//! the same bug is the same issue in every run and on every kernel; each
//! place one was seen is an `incident` linking the issue to the test it was
//! charged to (or to the kernel's `boot` test when no test was running).

use kharness_record::{KernelFinding, Status, TestRecord};
use serde_json::{Map, Value, json};

use super::view::{self, View};
use crate::results::{KernelOutcome, KernelRun, RunResults};

/// The origin of every object: KCIDB's name for the CI system.
pub const ORIGIN: &str = "kharness";
/// The schema version written.
pub const KCIDB_MAJOR: u32 = 5;
pub const KCIDB_MINOR: u32 = 3;
/// KCIDB's limit on `log_excerpt`.
const EXCERPT_MAX: usize = 16384;

/// Builds `kcidb.json`.
pub fn kcidb(res: &RunResults) -> Value {
    let v = View::new(res);
    let mut checkouts = Vec::new();
    let mut builds = Vec::new();
    let mut tests = Vec::new();
    let mut issues = Issues::default();
    let environment = environment(res);
    for (k, kr) in res.kernels.iter().enumerate() {
        let id = &kr.identity;
        // A series step is the base tree plus its patches: the checkout
        // is named by the step and carries the patches' hash.
        let (base, patchset_hash, comment) = match &v.steps[k] {
            Some(st) => (
                format!("{ORIGIN}:{}-{}", res.run_id, step_id(st.patches)),
                st.patchset_hash.clone(),
                format!("series step {} on {}", v.titles[k], id.release),
            ),
            None => (
                format!("{ORIGIN}:{}-{}", res.run_id, k + 1),
                String::new(),
                format!("prebuilt kernel {}", id.release),
            ),
        };
        let mut checkout = json!({
            "id": base,
            "origin": ORIGIN,
            "patchset_hash": patchset_hash,
            "start_time": res.started,
            "valid": true,
            "comment": comment,
            "misc": {
                "kernel_release": id.release,
                "kernel_banner": id.banner,
            },
        });
        if let Some(end) = &res.finished {
            checkout["origin_tests_finish_time"] = json!(end);
        }
        checkouts.push(checkout);
        builds.push(json!({
            "id": base,
            "checkout_id": base,
            "origin": ORIGIN,
            "architecture": "x86_64",
            "status": "PASS",
            "comment": id.banner,
            "misc": {
                "image": id.path,
                "image_sha256": id.sha256,
                "image_size": id.size,
            },
        }));
        tests.push(boot_test(&base, kr, &environment));
        // Complaints no test was charged with (boot, shutdown) belong to
        // the boot; a crashed test's fatal one is already its own.
        let charged: Vec<&KernelFinding> =
            kr.records.iter().flat_map(|r| &r.kernel_findings).collect();
        for f in &kr.console_findings {
            if !charged.iter().any(|c| c.excerpt == f.excerpt) {
                issues.seen(f, &base, &format!("{base}:boot"));
            }
        }
        for tid in &v.ids {
            for r in v.records(k, tid) {
                let test_id = if r.rep == 0 && r.boot == 0 {
                    format!("{base}:{tid}")
                } else {
                    format!("{base}:{tid}:{}", r.sample())
                };
                for f in &r.kernel_findings {
                    issues.seen(f, &base, &test_id);
                }
                tests.push(test(&base, &test_id, kr, r, &environment));
                for m in &r.metrics {
                    let mut number = Map::new();
                    number.insert("value".into(), json!(m.value));
                    if !matches!(m.unit.as_str(), "" | "count" | "ratio") {
                        number.insert("unit".into(), json!(m.unit));
                    }
                    let metric = path_part(&m.name);
                    tests.push(json!({
                        "id": format!("{test_id}:{metric}"),
                        "build_id": base,
                        "origin": ORIGIN,
                        "path": format!("{tid}.{metric}"),
                        "status": "DONE",
                        "number": number,
                        "environment": environment,
                        "misc": {"rep": r.rep, "boot": r.boot},
                    }));
                }
            }
        }
    }
    let mut data = json!({
        "version": {"major": KCIDB_MAJOR, "minor": KCIDB_MINOR},
        "checkouts": checkouts,
        "builds": builds,
        "tests": tests,
    });
    if !issues.issues.is_empty() {
        data["issues"] = json!(issues.issues);
        data["incidents"] = json!(issues.incidents);
    }
    data
}

/// The version every issue is written with: an issue is its signature,
/// which never changes, so there is nothing to revise.
const ISSUE_VERSION: u32 = 1;

/// Issues by signature, and where each was seen.
#[derive(Default)]
struct Issues {
    issues: Vec<Value>,
    incidents: Vec<Value>,
}

impl Issues {
    /// Records that `f` was seen in `test_id` (of build `build_id`).
    fn seen(&mut self, f: &KernelFinding, build_id: &str, test_id: &str) {
        let title = title(f);
        let issue_id = issue_id(f);
        if !self.issues.iter().any(|i| i["id"] == issue_id) {
            let mut misc = json!({"kind": f.kind, "fatal": f.fatal});
            if let Some(at) = &f.location {
                misc["location"] = json!(at);
            }
            self.issues.push(json!({
                "id": issue_id,
                "version": ISSUE_VERSION,
                "origin": ORIGIN,
                "report_subject": excerpt(&title),
                // The kernel under test complained, not kharness.
                "culprit": {"code": true, "tool": false, "harness": false},
                "categories": [format!("runtime.{}", path_part(&f.kind))],
                "comment": excerpt(&title),
                "misc": misc,
            }));
        }
        let n = self
            .incidents
            .iter()
            .filter(|i| i["test_id"] == test_id)
            .count();
        let mut incident = json!({
            "id": format!("{test_id}:issue{}", n + 1),
            "origin": ORIGIN,
            "issue_id": issue_id,
            "issue_version": ISSUE_VERSION,
            "build_id": build_id,
            "test_id": test_id,
            "present": true,
            "comment": excerpt(&match &f.location {
                Some(at) => format!("{title} at {at}"),
                None => title.clone(),
            }),
        });
        if !f.excerpt.is_empty() {
            incident["misc"] = json!({"excerpt": excerpt(&f.excerpt)});
        }
        self.incidents.push(incident);
    }
}

/// A complaint's title: its signature, else (results written before
/// signatures) its kind.
fn title(f: &KernelFinding) -> String {
    if f.signature.is_empty() {
        f.kind.clone()
    } else {
        view::one_line(&f.signature)
    }
}

/// `kharness:<signature>`: the signature holds no address, PID or line
/// number, so the same bug gets the same issue id in every run.
fn issue_id(f: &KernelFinding) -> String {
    format!("{ORIGIN}:{}", excerpt(&title(f)))
}

/// The id part of a series step's checkout: `base`, `patch1`, `patch2`...
fn step_id(patches: usize) -> String {
    if patches == 0 {
        "base".to_owned()
    } else {
        format!("patch{patches}")
    }
}

fn environment(res: &RunResults) -> Value {
    let backend = view::backend(res);
    let mut misc = json!({
        "accel": res.accel.accel.as_str(),
        "backend": backend,
        "guest_sha256": res.guest.sha256,
        "tool_version": res.tool_version,
    });
    if let Some(mode) = view::perf_mode(res) {
        misc["perf_mode"] = json!(mode);
    }
    json!({
        "comment": format!("QEMU via {backend}, accelerator {}", res.accel.accel.as_str()),
        "misc": misc,
    })
}

/// Whether the kernel got as far as running the suite.
fn boot_test(base: &str, kr: &KernelRun, environment: &Value) -> Value {
    let started = view::suite_started(kr);
    let status = match kr.outcome {
        KernelOutcome::BootFailed => "FAIL",
        _ if started => "PASS",
        KernelOutcome::Crashed | KernelOutcome::Hung => "FAIL",
        KernelOutcome::Completed => "PASS",
        KernelOutcome::Interrupted | KernelOutcome::Pending => "MISS",
    };
    let mut t = json!({
        "id": format!("{base}:boot"),
        "build_id": base,
        "origin": ORIGIN,
        "path": "boot",
        "status": status,
        "duration": kr.wall_s,
        "environment": environment,
        "misc": {
            "outcome": kr.outcome,
            "command": kr.command,
            "console_log": kr.console_log,
        },
    });
    if let Some(code) = kr.vm_exit {
        t["misc"]["vm_exit"] = json!(code);
    }
    if let Some(d) = &kr.detail {
        t["comment"] = json!(view::one_line(d));
    }
    if status != "PASS" {
        if let Some(d) = &kr.detail {
            t["log_excerpt"] = json!(excerpt(d));
        }
    }
    if !kr.console_findings.is_empty() {
        t["misc"]["console_findings"] = json!(kr.console_findings);
    }
    t
}

fn test(base: &str, id: &str, kr: &KernelRun, r: &TestRecord, environment: &Value) -> Value {
    let status = if view::not_run(kr, r) {
        "MISS"
    } else {
        match r.status {
            // KCIDB has no flaky status: the test passed in the end; the
            // flakiness is in `misc.status`, `misc.attempts` and the comment.
            Status::Pass | Status::Flaky => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::Error | Status::Timeout => "ERROR",
            // The kernel died, or complained, under the test: the tested
            // code is faulty.
            Status::Crashed | Status::Warned => "FAIL",
        }
    };
    let mut t = json!({
        "id": id,
        "build_id": base,
        "origin": ORIGIN,
        "path": r.id,
        "status": status,
        "duration": r.duration_us as f64 / 1e6,
        "environment": environment,
        "misc": {"rep": r.rep, "boot": r.boot, "status": r.status},
    });
    if !r.observations.is_empty() {
        t["misc"]["observations"] = json!(r.observations);
    }
    if let Some(why) = view::why(r) {
        t["comment"] = json!(why);
    }
    if !r.attempts.is_empty() {
        t["misc"]["attempts"] = json!(r.attempts);
    }
    if r.status == Status::Crashed {
        let fatal: Vec<&str> = kr
            .console_findings
            .iter()
            .filter(|f| f.fatal)
            .map(|f| f.excerpt.as_str())
            .collect();
        if !fatal.is_empty() {
            t["log_excerpt"] = json!(excerpt(&fatal.join("\n")));
        }
    } else if !r.kernel_findings.is_empty() {
        let found: Vec<&str> = r
            .kernel_findings
            .iter()
            .map(|f| f.excerpt.as_str())
            .collect();
        t["log_excerpt"] = json!(excerpt(&found.join("\n")));
    } else if r.status.is_bad() {
        if let Some(why) = &r.reason {
            t["log_excerpt"] = json!(excerpt(why));
        }
    }
    t
}

/// A dotted path component: KCIDB allows letters, digits, `_` and `-`.
fn path_part(s: &str) -> String {
    let p: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if p.is_empty() { "_".into() } else { p }
}

/// KCIDB strings hold no NUL, and an excerpt at most 16 KiB.
fn excerpt(s: &str) -> String {
    s.replace('\0', "").chars().take(EXCERPT_MAX).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::tests::{rec, run};

    fn by_path<'a>(data: &'a Value, path: &str) -> Vec<&'a Value> {
        data["tests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["path"] == path)
            .collect()
    }

    #[test]
    fn flaky_tests_pass_with_their_attempts_in_misc() {
        let res = run(&[(
            "6.1",
            "completed",
            &[
                serde_json::json!({"id": "a.flaky", "status": "flaky", "duration_us": 2,
                   "attempts": [{"status": "fail", "reason": "first", "duration_us": 1}]}),
            ],
        )]);
        let data = kcidb(&res);
        let t = by_path(&data, "a.flaky")[0];
        assert_eq!(t["status"], "PASS");
        assert_eq!(t["misc"]["status"], "flaky");
        assert_eq!(t["misc"]["attempts"][0]["status"], "fail");
        assert_eq!(
            t["comment"],
            "passed on attempt 2 after attempt 1 fail: first"
        );
        assert!(t.get("log_excerpt").is_none(), "{t}");
    }

    #[test]
    fn objects_link_up_and_statuses_map() {
        let mut res = run(&[(
            "6.12",
            "crashed",
            &[
                rec("a.pass", "pass"),
                json!({"id": "a.skip", "status": "skip", "reason": "no io_uring", "duration_us": 3}),
                json!({"id": "a.crash", "status": "crashed", "reason": "running when the guest ended: guest crashed", "duration_us": 0}),
                json!({"id": "a.left", "status": "error", "reason": "not run: the guest stopped first (guest crashed)", "duration_us": 0}),
            ],
        )]);
        res.kernels[0].console_findings = vec![crate::vm::console::ConsoleFinding {
            kind: "oops".into(),
            fatal: true,
            excerpt: "Oops: int3\nRIP: 0010:__schedule".into(),
            ..Default::default()
        }];
        let d = kcidb(&res);
        assert_eq!(d["version"], json!({"major": 5, "minor": 3}));
        assert_eq!(d["checkouts"][0]["id"], "kharness:20270101T000000Z-1");
        assert_eq!(d["checkouts"][0]["patchset_hash"], "");
        assert_eq!(d["builds"][0]["checkout_id"], d["checkouts"][0]["id"]);
        let st = |p: &str| by_path(&d, p)[0]["status"].as_str().unwrap().to_owned();
        assert_eq!(st("boot"), "PASS");
        assert_eq!(st("a.pass"), "PASS");
        assert_eq!(st("a.skip"), "SKIP");
        assert_eq!(st("a.crash"), "FAIL");
        assert_eq!(st("a.left"), "MISS");
        assert_eq!(
            by_path(&d, "a.crash")[0]["log_excerpt"],
            "Oops: int3\nRIP: 0010:__schedule"
        );
        assert_eq!(by_path(&d, "a.pass")[0]["duration"], 0.0015);
    }

    #[test]
    fn metrics_are_numbers_of_done_subtests() {
        let m = |rep: u32| {
            json!({"id": "perf.a", "status": "pass", "duration_us": 1, "rep": rep,
                   "metrics": [{"name": "throughput", "value": 10.5, "unit": "MiB/s"},
                               {"name": "calls", "value": 3.0, "unit": "count"}]})
        };
        let d = kcidb(&run(&[("6.1", "completed", &[m(0), m(1)])]));
        let tp = by_path(&d, "perf.a.throughput");
        assert_eq!(tp.len(), 2);
        assert_eq!(tp[0]["status"], "DONE");
        assert_eq!(tp[0]["number"], json!({"value": 10.5, "unit": "MiB/s"}));
        assert_eq!(
            tp[1]["id"],
            "kharness:20270101T000000Z-1:perf.a:rep1:throughput"
        );
        assert_eq!(
            by_path(&d, "perf.a.calls")[0]["number"],
            json!({"value": 3.0})
        );
    }

    #[test]
    fn a_kernel_that_never_ran_the_suite_failed_to_boot() {
        let mut res = run(&[(
            "6.12",
            "boot_failed",
            &[
                json!({"id": "a.one", "status": "error", "reason": "not run: the guest stopped first (boot failed)", "duration_us": 0}),
            ],
        )]);
        res.kernels[0].detail = Some("the suite never started\nconsole tail".into());
        let d = kcidb(&res);
        let boot = by_path(&d, "boot")[0];
        assert_eq!(boot["status"], "FAIL");
        assert_eq!(boot["log_excerpt"], "the suite never started\nconsole tail");
    }

    #[test]
    fn complaints_are_issues_by_signature_with_an_incident_per_test() {
        let warned = |id: &str, rep: u32| {
            json!({"id": id, "status": "warned", "duration_us": 5, "rep": rep,
                "kernel_findings": [{"kind": "kasan", "fatal": false,
                    "excerpt": "BUG: KASAN: slab-use-after-free in pipe_resize_ring+0x1/0x2",
                    "signature": "KASAN: slab-use-after-free Read in pipe_resize_ring"}]})
        };
        let mut res = run(&[
            (
                "6.12",
                "completed",
                &[warned("a.one", 0), warned("a.one", 1)],
            ),
            (
                "6.13",
                "completed",
                &[warned("a.two", 0), rec("a.one", "pass")],
            ),
        ]);
        // A WARN while no test ran (at boot) is the boot's.
        res.kernels[1].console_findings = vec![crate::vm::console::ConsoleFinding {
            kind: "warn".into(),
            excerpt: "WARNING: CPU: 0 PID: 1 at init/main.c:1 start_kernel".into(),
            signature: "WARNING in start_kernel".into(),
            location: Some("init/main.c:1".into()),
            ..Default::default()
        }];
        let d = kcidb(&res);
        let issues = d["issues"].as_array().unwrap();
        let ids: Vec<&str> = issues.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "kharness:KASAN: slab-use-after-free Read in pipe_resize_ring",
                "kharness:WARNING in start_kernel"
            ]
        );
        assert_eq!(issues[0]["culprit"]["code"], true);
        assert_eq!(issues[0]["categories"], json!(["runtime.kasan"]));
        assert_eq!(issues[1]["misc"]["location"], "init/main.c:1");
        let incidents = d["incidents"].as_array().unwrap();
        let links: Vec<(&str, &str)> = incidents
            .iter()
            .map(|i| {
                (
                    i["test_id"].as_str().unwrap(),
                    i["issue_id"].as_str().unwrap(),
                )
            })
            .collect();
        let kasan = ids[0];
        assert_eq!(
            links,
            [
                ("kharness:20270101T000000Z-1:a.one", kasan),
                ("kharness:20270101T000000Z-1:a.one:rep1", kasan),
                ("kharness:20270101T000000Z-2:boot", ids[1]),
                ("kharness:20270101T000000Z-2:a.two", kasan),
            ]
        );
        // Every incident names a test and a build that exist.
        for i in incidents {
            assert!(
                d["tests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["id"] == i["test_id"])
            );
            assert!(
                d["builds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b["id"] == i["build_id"])
            );
        }
        // The same bug in another run is the same issue.
        res.run_id = "20270202T000000Z".into();
        assert_eq!(kcidb(&res)["issues"][0]["id"], ids[0]);
        // No complaint, no issues.
        let clean = kcidb(&run(&[("6.1", "completed", &[rec("a.one", "pass")])]));
        assert!(clean.get("issues").is_none() && clean.get("incidents").is_none());
    }

    #[test]
    fn path_parts_are_plain() {
        assert_eq!(path_part("vmstat_pgfault"), "vmstat_pgfault");
        assert_eq!(path_part("a.b c"), "a_b_c");
        assert_eq!(path_part(""), "_");
    }
}
