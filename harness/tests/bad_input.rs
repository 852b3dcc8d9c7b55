//! The bad-input corpus: each case of `tests/fixtures/bad-input/cases.toml`
//! runs the real `kharness` binary on a bad input and checks that it exits
//! with the expected code and says what went wrong, and where, on one line,
//! without a panic; and that it failed before building or booting anything.
//!
//! A case is a `[[case]]` table:
//!
//! ```toml
//! [[case]]
//! name = "manifest-bad-change-value"    # unique, kebab-case
//! about = "why this case is here"        # optional
//! setup = [                              # optional: files made first
//!   { path = "{tmp}/s", copy = "{repo}/kernel-patches/splice-fatal-signal" },
//!   { path = "{tmp}/s/series.toml", text = "..." },
//! ]
//! env = { KHARNESS_TIMEOUT = "never" }  # optional: extra environment
//! cwd = "{tmp}"                          # optional: working directory
//! args = ["series", "{tmp}/s", "--tree", "{fixtures}/tree"]
//! exit = 2
//! message = "{tmp}/s/series.toml:4: unknown variant `explode`"
//! absent = ["{tmp}/s/out"]               # optional: must not exist after
//! ```
//!
//! A setup entry names a `path` and one of: `text` (file contents), `copy`
//! (a file or directory to copy; `bytes` keeps only the first N bytes of a
//! file), `dir = true` (an empty directory) or `socket = true` (a listening
//! Unix socket: a path nobody can open, root included). Parent directories
//! are made as needed.
//!
//! Placeholders, replaced in every string: `{tmp}` (a fresh directory per
//! case), `{fixtures}` (this corpus's directory), `{series}` (the series
//! fixtures) and `{repo}` (the checkout).
//!
//! What every case checks besides its own fields: stdout is empty; stderr
//! holds exactly one error line (`kharness: error: ...`, or clap's
//! `error: ...` followed only by clap's hints), and for kharness's own
//! errors it is the last line; nothing says "panicked" or "RUST_BACKTRACE";
//! `{tmp}/pwned` (the marker hostile names try to create) does not exist;
//! and `{tmp}/cache` (the cache directory every case gets through
//! `KHARNESS_CACHE_DIR`) was never created, so no scratch tree was made,
//! nothing was built and no accelerator probe booted; nor was the default
//! `kharness-runs` in the working directory (`{tmp}`). vng and QEMU are
//! pointed at programs that do not exist, so no case can boot a VM.
//!
//! Configuration cases (`kharness.toml`) are added the same way: a setup
//! entry writes `{tmp}/kharness.toml` (or any path), and `cwd = "{tmp}"`
//! or the config flag in `args` makes kharness read it; `message` holds the
//! expected `file:line`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// A case that takes longer than this is itself a failure: bad input must
/// be refused before anything slow starts.
const CASE_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for the reader of cases.toml")]
    about: Option<String>,
    #[serde(default)]
    setup: Vec<Setup>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<String>,
    args: Vec<String>,
    exit: i32,
    message: String,
    #[serde(default)]
    absent: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setup {
    path: String,
    text: Option<String>,
    copy: Option<String>,
    bytes: Option<usize>,
    #[serde(default)]
    dir: bool,
    #[serde(default)]
    socket: bool,
    /// Makes `path` (made by an earlier entry) a git repository: the first
    /// message commits what it holds, each further one an empty commit,
    /// and `"merge"` a side branch merged with --no-ff.
    #[serde(default)]
    git: Vec<String>,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    manifest_dir().join("tests/fixtures/bad-input")
}

fn load() -> Corpus {
    let path = fixtures().join("cases.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Subst {
    pairs: Vec<(&'static str, String)>,
}

impl Subst {
    fn new(tmp: &Path) -> Self {
        let s = |p: PathBuf| p.to_str().unwrap().to_owned();
        let repo = manifest_dir().parent().unwrap().to_owned();
        Subst {
            pairs: vec![
                ("{tmp}", s(tmp.to_owned())),
                ("{fixtures}", s(fixtures())),
                ("{series}", s(manifest_dir().join("tests/fixtures/series"))),
                ("{repo}", s(repo)),
            ],
        }
    }

    fn apply(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (k, v) in &self.pairs {
            out = out.replace(k, v);
        }
        out
    }
}

fn copy_tree(from: &Path, to: &Path, bytes: Option<usize>) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()), bytes);
        }
    } else {
        let mut data = std::fs::read(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        if let Some(n) = bytes {
            assert!(data.len() > n, "{} is not longer than {n}", from.display());
            data.truncate(n);
        }
        std::fs::write(to, data).unwrap();
    }
}

/// Makes the case's files; returns the sockets, which must stay open.
fn setup(case: &Case, sub: &Subst) -> Vec<std::os::unix::net::UnixListener> {
    let mut sockets = Vec::new();
    for s in &case.setup {
        let path = PathBuf::from(sub.apply(&s.path));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        if !s.git.is_empty() {
            make_git_repo(&path, &s.git);
            continue;
        }
        match (&s.text, &s.copy, s.dir, s.socket) {
            (Some(t), None, false, false) => std::fs::write(&path, sub.apply(t)).unwrap(),
            (None, Some(c), false, false) => copy_tree(Path::new(&sub.apply(c)), &path, s.bytes),
            (None, None, true, false) => std::fs::create_dir_all(&path).unwrap(),
            (None, None, false, true) => {
                sockets.push(std::os::unix::net::UnixListener::bind(&path).unwrap());
            }
            _ => panic!(
                "case {}: setup of {} needs exactly one of text, copy, dir, socket",
                case.name, s.path
            ),
        }
    }
    sockets
}

fn make_git_repo(path: &Path, messages: &[String]) {
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(path)
            .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .unwrap();
        assert!(ok.status.success(), "git {args:?}: {ok:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-f", "-A", "."]);
    for (i, m) in messages.iter().enumerate() {
        if i > 0 && m == "merge" {
            git(&["checkout", "-q", "-b", "side", "HEAD"]);
            git(&["commit", "-q", "--allow-empty", "-m", "side"]);
            git(&["checkout", "-q", "main"]);
            git(&["commit", "-q", "--allow-empty", "-m", "main"]);
            git(&["merge", "-q", "--no-ff", "-m", "merge side", "side"]);
        } else {
            git(&["commit", "-q", "--allow-empty", "-m", m]);
        }
    }
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn run_case(case: &Case, tmp: &Path, sub: &Subst) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kharness"));
    cmd.args(case.args.iter().map(|a| sub.apply(a)));
    // Only what the case sets: no KHARNESS_* of the caller leaks in.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KHARNESS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("RUST_BACKTRACE")
        .env("KHARNESS_CACHE_DIR", tmp.join("cache"))
        .env("KHARNESS_VNG", tmp.join("no-vng"))
        .env("KHARNESS_QEMU", tmp.join("no-qemu"));
    cmd.env("KHARNESS_GUEST", common::guest());
    for (k, v) in &case.env {
        cmd.env(k, sub.apply(v));
    }
    cmd.current_dir(
        case.cwd
            .as_deref()
            .map_or(tmp.to_owned(), |c| sub.apply(c).into()),
    );
    let started = Instant::now();
    let stdout = tempfile::tempfile().unwrap();
    let stderr = tempfile::tempfile().unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().unwrap())
        .stderr(stderr.try_clone().unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if started.elapsed() > CASE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut s = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut s).unwrap();
        String::from_utf8_lossy(&s).into_owned()
    };
    Outcome {
        code: status.and_then(|s| s.code()),
        stdout: read(stdout),
        stderr: read(stderr),
        elapsed: started.elapsed(),
    }
}

/// Clap's lines after its `error:` line.
fn is_clap_hint(line: &str) -> bool {
    line.trim().is_empty()
        || line.starts_with("For more information")
        || line.starts_with("Usage:")
        || line.starts_with("  tip:")
        || line.starts_with("  [possible values:")
        || line.starts_with("  ")
}

/// Everything wrong with one case's outcome (empty when it is right).
fn judge(case: &Case, tmp: &Path, sub: &Subst, o: &Outcome) -> Vec<String> {
    let mut bad = Vec::new();
    if o.code != Some(case.exit) {
        bad.push(format!("exit code {:?}, expected {}", o.code, case.exit));
    }
    for needle in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        if o.stderr.contains(needle) || o.stdout.contains(needle) {
            bad.push(format!("output mentions {needle:?}"));
        }
    }
    if !o.stdout.is_empty() {
        bad.push("stdout is not empty (errors belong on stderr)".into());
    }
    let lines: Vec<&str> = o.stderr.lines().collect();
    let errors: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("kharness: error: ") || lines[i].starts_with("error: "))
        .collect();
    match errors.as_slice() {
        [i] => {
            let line = lines[*i];
            let want = sub.apply(&case.message);
            if !line.contains(&want) {
                bad.push(format!(
                    "the error line does not hold the message\n   want: {want}\n   line: {line}"
                ));
            }
            let after = &lines[i + 1..];
            if line.starts_with("kharness: ") {
                if !after.is_empty() {
                    bad.push(format!("{} line(s) after the error line", after.len()));
                }
            } else if let Some(l) = after.iter().find(|l| !is_clap_hint(l)) {
                bad.push(format!("unexpected line after clap's error: {l:?}"));
            }
        }
        _ => bad.push(format!("{} error lines, expected one", errors.len())),
    }
    let mut absent: Vec<String> = case.absent.iter().map(|a| sub.apply(a)).collect();
    absent.push(tmp.join("pwned").to_str().unwrap().to_owned());
    for a in &absent {
        if Path::new(a).exists() {
            bad.push(format!("{a} exists"));
        }
    }
    if tmp.join("kharness-runs").exists() {
        bad.push("a run directory was created in the working directory".into());
    }
    if tmp.join("cache").exists() {
        bad.push("the cache directory was created: something was built, copied or probed".into());
    }
    if o.code.is_none() {
        bad.push(format!("killed after {:?}", o.elapsed));
    }
    bad
}

#[test]
fn corpus_is_big_enough_and_names_are_unique() {
    let corpus = load();
    assert!(
        corpus.case.len() >= 40,
        "{} cases; the corpus keeps at least 40",
        corpus.case.len()
    );
    let mut seen = BTreeSet::new();
    for c in &corpus.case {
        assert!(seen.insert(&c.name), "case name {} repeats", c.name);
        assert!(!c.message.is_empty(), "case {} has no message", c.name);
    }
}

#[test]
fn every_bad_input_is_refused_clearly_and_early() {
    let corpus = load();
    let only = std::env::var("KHARNESS_CORPUS_CASE").ok();
    let mut failures = Vec::new();
    let mut ran = 0;
    let started = Instant::now();
    for case in &corpus.case {
        if only.as_deref().is_some_and(|n| n != case.name) {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let sub = Subst::new(tmp.path());
        let _sockets = setup(case, &sub);
        let o = run_case(case, tmp.path(), &sub);
        let bad = judge(case, tmp.path(), &sub, &o);
        ran += 1;
        if !bad.is_empty() {
            failures.push(format!(
                "case {}: {}\n  command: kharness {}\n  --- stderr\n{}",
                case.name,
                bad.join("; "),
                case.args
                    .iter()
                    .map(|a| format!("{:?}", sub.apply(a)))
                    .collect::<Vec<_>>()
                    .join(" "),
                o.stderr
            ));
        }
    }
    eprintln!("{ran} bad-input cases in {:.1?}", started.elapsed());
    assert!(ran > 0, "no case named {only:?}");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases went wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
