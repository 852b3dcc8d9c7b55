//! Helpers shared by the integration test binaries: run the real CLI and
//! show everything about a run that went wrong.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub argv: Vec<String>,
    pub out: Output,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// Panics with the command, status, stdout and stderr unless the exit
    /// code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        if self.code() != Some(code) {
            panic!(
                "expected exit {code}, got {:?}\ncommand: {}\n--- stdout\n{}\n--- stderr\n{}",
                self.code(),
                self.argv.join(" "),
                self.stdout(),
                self.stderr()
            );
        }
        self
    }
}

pub fn kharness(args: &[&str]) -> Run {
    kharness_in(None, args)
}

pub fn kharness_in(dir: Option<&Path>, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kharness"));
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    run_with(cmd, args)
}

/// Runs `cmd` (the kharness binary, set up by the caller) with `args`.
pub fn run_with(mut cmd: Command, args: &[&str]) -> Run {
    guest();
    cmd.args(args);
    let out = cmd.output().expect("the kharness binary runs");
    Run {
        argv: std::iter::once(cmd.get_program().to_string_lossy().into_owned())
            .chain(args.iter().map(|s| s.to_string()))
            .collect(),
        out,
    }
}

/// The static guest binary of this checkout, built once per test binary
/// (cargo's no-op when it is fresh) where the kharness under test finds it
/// (`target/x86_64-unknown-linux-gnu/release` beside its `target/debug`):
/// kharness no longer builds it itself, and a test run after an edit of
/// guest-tests/ must not boot the guest built before it.
pub fn guest() -> &'static Path {
    static GUEST: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    GUEST.get_or_init(|| {
        let target = Path::new(env!("CARGO_BIN_EXE_kharness"))
            .parent()
            .and_then(Path::parent)
            .expect("the kharness binary lives in target/<profile>");
        let (argv, env) = kharness::guest::build_command();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| argv[0].clone().into());
        expect_clean(
            Command::new(cargo)
                .args(&argv[1..])
                .arg("--quiet")
                .arg("--target-dir")
                .arg(target)
                .envs(env)
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")),
        );
        target
            .join(kharness::guest::GUEST_TARGET)
            .join("release")
            .join(kharness::guest::GUEST_NAME)
    })
}

/// The newest run directory under `out`.
pub fn latest_run(out: &Path) -> PathBuf {
    std::fs::canonicalize(out.join("latest")).expect("a run directory was created")
}

pub fn results_json(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("results.json")).expect("results.json exists");
    serde_json::from_str(&text).expect("results.json is valid JSON")
}

pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// True when the tool is there. Otherwise skips the test with a message,
/// or fails it under CI, where every tool must be installed.
pub fn have(tool_ok: bool, what: &str) -> bool {
    if tool_ok {
        return true;
    }
    let msg = format!("{what} is not installed: run ci/test-deps.sh");
    assert!(!under_ci(), "{msg} (CI is set, so this is a failure)");
    // Straight to stderr: libtest would swallow eprintln! of a passing test.
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {msg}");
    false
}

/// Property-test settings: `KHARNESS_FUZZ_CASES` cases (else `default`),
/// and no failure files: what a property finds is kept as a named
/// regression test.
pub fn fuzz_config(default: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("KHARNESS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    proptest::test_runner::Config {
        cases,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Off)),
        ..proptest::test_runner::Config::default()
    }
}

/// Runs `cmd` and panics with it, its status and its output unless it
/// succeeds.
#[track_caller]
pub fn expect_clean(cmd: &mut Command) {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A series this project ships, under kernel-patches/.
pub fn series_dir(name: &str) -> String {
    format!("{}/../kernel-patches/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A series run's series.json.
pub fn series_json(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("series.json")).expect("series.json exists");
    serde_json::from_str(&text).expect("series.json is valid JSON")
}

/// The expectations of series.toml a series run found unmet.
pub fn unmet_expectations(series: &serde_json::Value) -> Vec<serde_json::Value> {
    series["expectations"]
        .as_array()
        .expect("series.json has expectations")
        .iter()
        .filter(|c| c["met"] != true)
        .cloned()
        .collect()
}

/// The kernel run of a series step (`base`, `+1`) in a results.json.
pub fn step<'a>(res: &'a serde_json::Value, label: &str) -> &'a serde_json::Value {
    res["kernels"]
        .as_array()
        .expect("results.json has kernels")
        .iter()
        .find(|k| k["label"] == label)
        .unwrap_or_else(|| panic!("no step {label}: {res}"))
}

/// A series run's changes as (step, "test what"), in report order.
pub fn changes(series: &serde_json::Value) -> Vec<(u64, String)> {
    series["changes"]
        .as_array()
        .expect("series.json has changes")
        .iter()
        .map(|c| {
            (
                c["patch"].as_u64().expect("a step number"),
                format!(
                    "{} {}",
                    c["test"].as_str().expect("a test id"),
                    c["what"].as_str().expect("what changed")
                ),
            )
        })
        .collect()
}

/// Debian's 6.12 source, which `ci/setup.sh` unpacks.
pub const DEBIAN_SRC: &str = "/usr/src/linux-source-6.12";
/// The tag of the Debian source's commit in [`debian_git_tree`].
pub const DEBIAN_BASE_TAG: &str = "kharness-e2e-base";

/// Runs git in `tree` as the e2e tests' fixed author at a fixed date (the
/// same tree makes the same commit ids in every run, so a rerun and the
/// benchmarks reuse kept images); returns stdout, failing on an error.
pub fn git_fixed(
    tree: &Path,
    env: &[(&str, &Path)],
    args: &[&str],
    stdin: Option<&[u8]>,
) -> String {
    use std::io::Write;
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(tree)
        .args([
            "-c",
            "user.name=kharness",
            "-c",
            "user.email=kharness@localhost",
        ])
        .args(["-c", "commit.gpgsign=false"])
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("git runs");
    let mut pipe = child.stdin.take().expect("stdin was piped");
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).expect("git reads its stdin");
    }
    drop(pipe);
    let out = child.wait_with_output().expect("git ends");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A git repository of Debian's 6.12 source, its one commit tagged
/// [`DEBIAN_BASE_TAG`], at a fixed path under the target directory and
/// kept between runs (and between the tests that use it: tree_e2e,
/// bisect_e2e): kharness keys its scratch worktree and build directory by
/// the tree's path, so every later build there is incremental. Made with
/// `cp -al` (files are replaced, never written in place, by git and by
/// the tests) when missing.
pub fn debian_git_tree() -> PathBuf {
    let tree = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tree-e2e/linux");
    let reusable = tree.join(".git").exists()
        && Command::new("git")
            .arg("-C")
            .arg(&tree)
            .args(["rev-parse", "--verify", "-q", DEBIAN_BASE_TAG])
            .output()
            .expect("git runs")
            .status
            .success();
    if reusable {
        return tree;
    }
    if tree.exists() {
        std::fs::remove_dir_all(&tree).expect("an old copy can be removed");
    }
    std::fs::create_dir_all(tree.parent().expect("a parent"))
        .expect("the target directory is writable");
    let ok = Command::new("cp")
        .arg("-al")
        .arg(DEBIAN_SRC)
        .arg(&tree)
        .status()
        .expect("cp runs")
        .success();
    assert!(ok, "cp -al {DEBIAN_SRC}");
    git_fixed(&tree, &[], &["init", "-q", "-b", "main"], None);
    // Debian's tree ignores what a release should not hold: -f.
    git_fixed(&tree, &[], &["add", "-f", "-A", "."], None);
    git_fixed(&tree, &[], &["commit", "-q", "-m", "base"], None);
    git_fixed(&tree, &[], &["tag", DEBIAN_BASE_TAG], None);
    tree
}
