//! The report files of a run directory, rendered from real runs
//! (`tests/fixtures/*.json` are `results.json` files of runs on Debian's
//! 6.1 and 6.12 kernels) and checked by the tools that read them:
//! KernelCI's `kcidb-io` validator, an XML Schema check of the JUnit file,
//! the kernel's own KTAP parser (`tools/testing/kunit`), and headless
//! Chromium for the HTML page and its charts.
//!
//! A test whose tool is missing skips with a message, unless `CI` is set:
//! there a missing tool fails. `ci/test-deps.sh` installs them all.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::have;
use kharness::report;
use kharness::results::RunResults;

const FIXTURES: [&str; 4] = [
    "crash-two-kernels",
    "perf-reps-two-kernels",
    "clean-one-kernel",
    // Written by series-four-steps.py: a series with a perf and a
    // functional regression, five reps.
    "series-four-steps",
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> RunResults {
    let path = fixtures_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Renders every report of a fixture into a fresh run directory.
fn rendered(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("kharness-reports")
        .tempdir()
        .expect("temporary directory");
    let written =
        report::write_all(dir.path(), &fixture(name), false).expect("reports are written");
    assert_eq!(written.len(), report::REPORT_FILES.len());
    dir
}

/// Runs a command with a time limit; stdout and stderr go to files so a
/// chatty tool cannot fill a pipe and stall.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let out = tempfile::tempfile().expect("temporary file");
    let err = tempfile::tempfile().expect("temporary file");
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(err.try_clone().expect("dup"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} still running after {limit:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |mut f: std::fs::File| {
        use std::io::Seek;
        let mut v = Vec::new();
        f.seek(std::io::SeekFrom::Start(0)).expect("seek");
        f.read_to_end(&mut v).expect("read");
        v
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

fn expect_success(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {}\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------- report.md

#[test]
fn report_md_snapshots() {
    for name in FIXTURES {
        let md = report::markdown(&fixture(name));
        insta::with_settings!({
            snapshot_path => fixtures_dir().join("snapshots"),
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(format!("{name}.report.md"), md);
        });
    }
}

#[test]
fn report_md_is_what_write_all_writes() {
    let dir = rendered("crash-two-kernels");
    let on_disk = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
    assert_eq!(on_disk, report::markdown(&fixture("crash-two-kernels")));
}

/// The acceptance of issue #17: a reviewer reading only the top of the
/// mail learns which patches broke what, the evidence, and how to rerun it.
#[test]
fn a_series_report_md_leads_with_both_regressions_and_the_reproducer() {
    let md = report::markdown(&fixture("series-four-steps"));
    let top: Vec<&str> = md.lines().take(20).collect();
    let top = top.join("\n");
    for want in [
        "kharness: regressions in +2, +3 of a 3-patch series",
        "+2 splice: settle the page cache before splicing to a pipe",
        // The perf change with its interval and p-value.
        "perf.splice_file_to_pipe throughput: 4983 -> 4220 MiB/s, -15.3% (95%",
        "CI -16.2% to -14.2%, p=0.01, n=5), regression",
        "+3 signals: let splice restart after a SIGSTOP",
        // The functional change with its reason.
        "signals.splice_sa_restart: pass -> fail (regression): expected 4096",
        "bytes after SIGSTOP/SIGCONT, got EINTR",
        "kharness repro kharness-runs/20270301T100000Z",
        "--filter signals.splice_sa_restart",
        "kharness bundle kharness-runs/20270301T100000Z",
    ] {
        assert!(
            top.contains(want),
            "{want:?} not in the first 20 lines:\n{top}"
        );
    }
}

/// A change the statistics do not call significant is never a number.
#[test]
fn no_report_shows_a_percentage_the_statistics_do_not_back() {
    for (name, md) in FIXTURES.iter().flat_map(|name| {
        let res = fixture(name);
        [
            (*name, report::markdown(&res)),
            (*name, report::markdown_verbose(&res)),
        ]
    }) {
        for line in md.lines().filter(|l| l.contains('%')) {
            let backed = line.contains(" worse")
                || line.contains(" better")
                // The verdict's evidence, wrapped after "(95%".
                || line.contains("CI ")
                || line.ends_with("(95%")
                || line.contains("p < 0.05")
                || line.contains("by 2% or more");
            assert!(
                backed,
                "{name}: a bare percentage in report.md: {line:?}\n{md}"
            );
        }
        let html = report::html(&fixture(name));
        assert!(
            !html.contains("%</td>"),
            "{name}: a percentage cell in report.html"
        );
    }
    let md = report::markdown(&fixture("series-four-steps"));
    assert!(
        md.contains(
            "    latency (ns)        720   718   725   727   no change   no change     no change"
        ),
        "{md}"
    );
}

/// Every file names a series step by its patch, not by the release all
/// steps share.
#[test]
fn every_report_file_names_series_steps_by_their_patches() {
    let dir = rendered("series-four-steps");
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).expect(f);
    let junit = read("junit.xml");
    assert!(junit.contains("<testsuite name=\"base\""), "{junit}");
    assert!(
        junit.contains(
            "<testsuite name=\"+2 splice: settle the page cache before splicing to a pipe\""
        ),
        "{junit}"
    );
    let ktap = read("results.ktap");
    assert!(ktap.contains("  # Subtest: base\n"), "{ktap}");
    assert!(
        ktap.contains("  # Subtest: +3 signals: let splice restart after a SIGSTOP\n"),
        "{ktap}"
    );
    assert!(
        ktap.contains("not ok 4 +3 signals: let splice restart after a SIGSTOP # FAIL"),
        "{ktap}"
    );
    let kcidb: serde_json::Value = serde_json::from_str(&read("kcidb.json")).expect("JSON");
    let ids: Vec<&str> = kcidb["checkouts"]
        .as_array()
        .expect("checkouts")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "kharness:20270301T100000Z-base",
            "kharness:20270301T100000Z-patch1",
            "kharness:20270301T100000Z-patch2",
            "kharness:20270301T100000Z-patch3",
        ]
    );
    assert_eq!(kcidb["checkouts"][0]["patchset_hash"], "");
    assert_eq!(kcidb["checkouts"][2]["patchset_hash"], "b2".repeat(32));
    assert_eq!(kcidb["builds"][2]["id"], ids[2]);
    let html = read("report.html");
    assert!(html.contains("+2 splice: settle the page cache before splicing to a pipe"));
    let md = read("report.md");
    assert!(!md.contains("[2]"), "{md}");
    assert!(!md.contains("6.12.117 (2)"), "{md}");
}

// --------------------------------------------------------------- kcidb.json

const KCIDB_CHECK: &str = r#"
import json, sys
import kcidb_io
data = json.load(open(sys.argv[1]))
latest = kcidb_io.schema.LATEST
latest.validate(data)
assert latest.is_compatible(data), "not compatible with the latest schema"
v = data["version"]
ids = {t["id"] for t in data["tests"]} | {b["id"] for b in data["builds"]}
issues = {i["id"] for i in data.get("issues", [])}
for i in data.get("incidents", []):
    assert i["issue_id"] in issues, f"incident {i['id']} names no issue"
    assert i["test_id"] in ids and i["build_id"] in ids, f"incident {i['id']} names no test or build"
print(f"valid kcidb v{v['major']}.{v['minor']} (kcidb-io latest v{latest.major}.{latest.minor}):",
      len(data["checkouts"]), "checkouts,", len(data["builds"]), "builds,", len(data["tests"]), "tests,",
      len(data.get("issues", [])), "issues,", len(data.get("incidents", [])), "incidents")
"#;

/// A series step with a KASAN complaint charged to a test and a WARN at
/// boot: what kcidb.json turns into issues and incidents.
const COMPLAINTS: &str = "complaints-debug-series";

#[test]
fn kcidb_json_passes_the_kcidb_io_validator() {
    if !have(python_has("kcidb_io"), "python3 with kcidb-io (PyPI)") {
        return;
    }
    for name in FIXTURES.iter().chain([&COMPLAINTS]) {
        let dir = rendered(name);
        let file = dir.path().join("kcidb.json");
        let out = run(
            Command::new("python3").args(["-c", KCIDB_CHECK]).arg(&file),
            Duration::from_secs(120),
        );
        let said = expect_success(&format!("kcidb-io validation of {name}"), &out);
        eprintln!("{name}: {said}");
        assert!(said.starts_with("valid kcidb v5."), "{said}");
        if *name == COMPLAINTS {
            assert!(
                said.trim_end().ends_with(" 2 issues, 2 incidents"),
                "{said}"
            );
        }
    }
}

#[test]
fn the_kcidb_validator_rejects_a_broken_incident() {
    if !have(python_has("kcidb_io"), "python3 with kcidb-io (PyPI)") {
        return;
    }
    let dir = rendered(COMPLAINTS);
    let file = dir.path().join("kcidb.json");
    let mut data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("kcidb.json")).expect("JSON");
    // An incident must say which issue (and which version of it) it is.
    data["incidents"][0]
        .as_object_mut()
        .expect("an incident")
        .remove("issue_version");
    std::fs::write(&file, data.to_string()).expect("write");
    let out = run(
        Command::new("python3").args(["-c", KCIDB_CHECK]).arg(&file),
        Duration::from_secs(120),
    );
    assert!(
        !out.status.success(),
        "an incident without issue_version passed"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("issue_version"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_kcidb_validator_rejects_a_broken_file() {
    if !have(python_has("kcidb_io"), "python3 with kcidb-io (PyPI)") {
        return;
    }
    let dir = rendered("crash-two-kernels");
    let file = dir.path().join("kcidb.json");
    let mut data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("kcidb.json")).expect("JSON");
    data["tests"][0]["status"] = "CRASHED".into();
    std::fs::write(&file, data.to_string()).expect("write");
    let out = run(
        Command::new("python3").args(["-c", KCIDB_CHECK]).arg(&file),
        Duration::from_secs(120),
    );
    assert!(!out.status.success(), "a bad status passed validation");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CRASHED"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------- junit.xml

const JUNIT_CHECK: &str = r#"
import sys
import xml.etree.ElementTree as ET
import xmlschema
schema = xmlschema.XMLSchema(sys.argv[2])
schema.validate(sys.argv[1])
root = ET.parse(sys.argv[1]).getroot()
total = 0
for suite in root.findall("testsuite"):
    cases = suite.findall("testcase")
    got = {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "errors": sum(1 for c in cases if c.find("error") is not None),
        "disabled": sum(1 for c in cases if c.find("skipped") is not None),
    }
    for key, n in got.items():
        assert int(suite.get(key)) == n, f"{suite.get('name')}: {key}={suite.get(key)} but {n} cases"
    total += len(cases)
assert int(root.get("tests")) == total, f"testsuites tests={root.get('tests')} but {total} cases"
print("valid junit:", len(root.findall("testsuite")), "suites,", total, "cases")
"#;

#[test]
fn junit_xml_passes_the_schema_check() {
    if !have(python_has("xmlschema"), "python3 with xmlschema (PyPI)") {
        return;
    }
    let xsd = fixtures_dir().join("junit.xsd");
    for name in FIXTURES {
        let dir = rendered(name);
        let out = run(
            Command::new("python3")
                .args(["-c", JUNIT_CHECK])
                .arg(dir.path().join("junit.xml"))
                .arg(&xsd),
            Duration::from_secs(120),
        );
        let said = expect_success(&format!("JUnit schema check of {name}"), &out);
        eprintln!("{name}: {said}");
        assert!(said.starts_with("valid junit:"), "{said}");
    }
}

#[test]
fn the_junit_schema_rejects_a_nameless_test() {
    if !have(python_has("xmlschema"), "python3 with xmlschema (PyPI)") {
        return;
    }
    let dir = rendered("clean-one-kernel");
    let file = dir.path().join("junit.xml");
    let xml = std::fs::read_to_string(&file).expect("junit.xml");
    std::fs::write(
        &file,
        xml.replacen("<testcase name=\"", "<testcase nome=\"", 1),
    )
    .expect("write");
    let out = run(
        Command::new("python3")
            .args(["-c", JUNIT_CHECK])
            .arg(&file)
            .arg(fixtures_dir().join("junit.xsd")),
        Duration::from_secs(120),
    );
    assert!(
        !out.status.success(),
        "a nameless testcase passed the schema"
    );
}

// ------------------------------------------------------------- results.ktap

/// The kernel's KTAP parser: `$KHARNESS_KUNIT_DIR`, else the one in the
/// source tree the setup installs.
fn kunit_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KHARNESS_KUNIT_DIR").map_or_else(
        || PathBuf::from("/usr/src/linux-source-6.12/tools/testing/kunit"),
        PathBuf::from,
    );
    dir.join("kunit_parser.py").is_file().then_some(dir)
}

const KTAP_CHECK: &str = r#"
import sys
sys.path.insert(0, sys.argv[1])
import kunit_parser
lines = open(sys.argv[2]).read().splitlines()
test = kunit_parser.parse_run_tests(lines)
c = test.counts
print(f"RESULT passed={c.passed} failed={c.failed} crashed={c.crashed} skipped={c.skipped} errors={c.errors} subtests={len(test.subtests)}")
"#;

fn ktap_counts(kunit: &Path, file: &Path) -> String {
    let out = run(
        Command::new("python3")
            .args(["-c", KTAP_CHECK])
            .arg(kunit)
            .arg(file),
        Duration::from_secs(120),
    );
    let said = expect_success("kunit_parser", &out);
    said.lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{said}"))
        .to_owned()
}

#[test]
fn results_ktap_parses_with_the_kernels_ktap_parser() {
    let kunit = kunit_dir();
    if !have(
        kunit.is_some() && python_has("sys"),
        "python3 and the kernel's KTAP parser (Debian linux-source-6.12, tools/testing/kunit)",
    ) {
        return;
    }
    let kunit = kunit.expect("checked above");
    // Leaf results, as the parser counts them: every test and repetition.
    let expected = [
        (
            "crash-two-kernels",
            // 6.1: 111 pass, 3 skip; 6.12: 106 pass, 2 skip, 1 crashed and
            // 5 not run (both "not ok", so failures to KTAP readers).
            "passed=217 failed=6 crashed=0 skipped=5 errors=0 subtests=2",
        ),
        (
            "perf-reps-two-kernels",
            "passed=48 failed=0 crashed=0 skipped=0 errors=0 subtests=2",
        ),
        (
            "clean-one-kernel",
            "passed=112 failed=0 crashed=0 skipped=2 errors=0 subtests=1",
        ),
        (
            "series-four-steps",
            // 12 or 13 leaves a step; +3 fails one.
            "passed=50 failed=1 crashed=0 skipped=9 errors=0 subtests=4",
        ),
    ];
    for (name, want) in expected {
        let dir = rendered(name);
        let got = ktap_counts(&kunit, &dir.path().join("results.ktap"));
        assert_eq!(got, want, "{name}");
    }
}

// -------------------------------------------------------------- report.html

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KHARNESS_CHROMIUM") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
}

/// Headless Chromium with the flags that keep it off the network and
/// away from the user's profile.
/// A fixture's report.html rendered for headless Chromium: the browser,
/// the rendered directory, the page's URL and a fresh profile. `None`
/// (the test reports the skip) when Chromium is missing.
struct ChromiumPage {
    bin: PathBuf,
    dir: tempfile::TempDir,
    url: String,
    profile: tempfile::TempDir,
}

impl ChromiumPage {
    fn of(fixture_name: &str) -> Option<ChromiumPage> {
        let bin = chromium();
        if !have(bin.is_some(), "chromium (Debian package `chromium`)") {
            return None;
        }
        let dir = rendered(fixture_name);
        let url = format!("file://{}", dir.path().join("report.html").display());
        Some(ChromiumPage {
            bin: bin.expect("checked above"),
            dir,
            url,
            profile: tempfile::tempdir().expect("profile dir"),
        })
    }

    /// The DOM Chromium builds from the page (SVG parsed as SVG).
    fn dom(&self) -> String {
        let out = run(
            chromium_cmd(&self.bin, self.profile.path())
                .arg("--dump-dom")
                .arg(&self.url),
            Duration::from_secs(120),
        );
        expect_success("chromium --dump-dom", &out)
    }
}

fn chromium_cmd(bin: &Path, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Pixels of an RGB(A) screenshot within 8 of `rgb` on every channel.
fn count_colour(png_path: &Path, rgb: [u8; 3]) -> (usize, u32, u32) {
    let file = std::fs::File::open(png_path).expect("screenshot");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "screenshot is not RGB: {:?}",
        info.color_type
    );
    let n = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .filter(|p| (0..3).all(|i| p[i].abs_diff(rgb[i]) <= 8))
        .count();
    (n, info.width, info.height)
}

fn hex_rgb(s: &str) -> [u8; 3] {
    let h = s.trim_start_matches('#');
    let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).expect("hex colour");
    [byte(0), byte(2), byte(4)]
}

#[test]
fn report_html_charts_render_in_headless_chromium() {
    let Some(page) = ChromiumPage::of("perf-reps-two-kernels") else {
        return;
    };
    let res = fixture("perf-reps-two-kernels");

    // What the page should hold: a strip plot for every headline metric
    // (throughput, latency) that is not zero everywhere, a dot for each
    // of its samples and a median line for each kernel.
    let primary =
        |m: &kharness_record::Metric| kharness::results::compare::is_primary(&m.name, &m.unit);
    let mut metrics: Vec<(String, String)> = Vec::new();
    for k in &res.kernels {
        for r in &k.records {
            for m in r.metrics.iter().filter(|m| primary(m)) {
                let key = (r.id.clone(), m.name.clone());
                if !metrics.contains(&key) {
                    metrics.push(key);
                }
            }
        }
    }
    let samples = |k: &kharness::results::KernelRun, id: &str, name: &str| -> Vec<f64> {
        k.records
            .iter()
            .filter(|r| r.id == id)
            .flat_map(|r| &r.metrics)
            .filter(|m| m.name == name)
            .map(|m| m.value)
            .collect()
    };
    let charted: Vec<&(String, String)> = metrics
        .iter()
        .filter(|(id, name)| {
            res.kernels
                .iter()
                .any(|k| samples(k, id, name).iter().any(|v| *v != 0.0))
        })
        .collect();
    assert!(charted.len() > 10, "the fixture has metrics to chart");

    // The DOM Chromium built from the page: SVG parsed as SVG, every
    // sample there.
    let dom = page.dom();
    assert_eq!(
        dom.matches("<svg class=\"chart\"").count(),
        charted.len(),
        "charts"
    );
    for (k, kr) in res.kernels.iter().enumerate() {
        let dots: usize = charted
            .iter()
            .map(|(id, name)| samples(kr, id, name).len())
            .sum();
        assert_eq!(
            dom.matches(&format!("<circle class=\"pt k{k}\"")).count(),
            dots,
            "dots of kernel {k}"
        );
        assert_eq!(
            dom.matches(&format!("<line class=\"med k{k}\"")).count(),
            charted.len(),
            "medians of kernel {k}"
        );
    }

    // What Chromium painted: each kernel's colour covers more pixels than
    // its 12x12 swatches could, by what its median lines (3 units thick)
    // and dots (3.5 in radius) take at the least.
    let shot = page.dir.path().join("shot.png");
    screenshot(&page.bin, page.profile.path(), &page.url, &shot);
    for (k, colour) in report::PALETTE.iter().take(res.kernels.len()).enumerate() {
        let (n, w, h) = count_colour(&shot, hex_rgb(colour));
        let swatches = dom.matches(&format!("background:{colour}")).count();
        let dots = dom.matches(&format!("<circle class=\"pt k{k}\"")).count();
        let least = swatches * 144 + charted.len() * 40 + dots * 15;
        eprintln!(
            "kernel {k}: {n} pixels of {colour} in a {w}x{h} screenshot, {swatches} swatches, at least {least} wanted"
        );
        assert!(
            n > least,
            "kernel {k}'s samples ({colour}) are not painted: {n} pixels"
        );
    }
}

fn screenshot(bin: &Path, profile: &Path, url: &str, shot: &Path) {
    let out = run(
        chromium_cmd(bin, profile)
            .arg("--window-size=1280,3000")
            .arg(format!("--screenshot={}", shot.display()))
            .arg(url),
        Duration::from_secs(120),
    );
    expect_success("chromium --screenshot", &out);
}

/// What a reviewer sees of a series in report.html: the steps by their
/// patches, and the regressed step's column shaded in its chart.
#[test]
fn report_html_of_a_series_shows_step_names_and_the_regression_in_chromium() {
    let Some(page) = ChromiumPage::of("series-four-steps") else {
        return;
    };
    let dom = page.dom();
    for step in [
        "+1 pipe: account pipe buffers in whole pages",
        "+2 splice: settle the page cache before splicing to a pipe",
        "+3 signals: let splice restart after a SIGSTOP",
    ] {
        assert!(dom.contains(step), "{step:?} not in the page");
    }
    // Two headline metrics; only +2's throughput moved.
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), 2);
    assert_eq!(dom.matches("<rect class=\"regressed\"").count(), 1);
    assert!(
        dom.contains(">worse -15.3%</text>"),
        "the regression is not labelled"
    );
    let shot = page.dir.path().join("shot.png");
    screenshot(&page.bin, page.profile.path(), &page.url, &shot);
    // The shaded column (about 56x130 units) is painted.
    let (n, w, h) = count_colour(&shot, [0xf4, 0xa3, 0xa3]);
    eprintln!("{n} pixels of the regression shade in a {w}x{h} screenshot");
    assert!(n > 3_000, "the regression is not shaded: {n} pixels");
}
