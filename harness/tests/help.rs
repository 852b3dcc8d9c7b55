//! What people read: `--help` of every command and the terminal summary
//! (insta snapshots under tests/snapshots), shell completions and the man
//! pages, all through the real binary.
//!
//! A changed help text or summary fails here until its snapshot is
//! reviewed: `INSTA_UPDATE=always cargo test -p kharness --test help`,
//! then read the diff of tests/snapshots.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::CommandFactory;
use common::Run;

/// kharness with a fixed width and none of the caller's KHARNESS_*
/// variables (clap shows a set variable's value in --help).
fn kharness(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kharness"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("KHARNESS_") {
            cmd.env_remove(&*k);
        }
    }
    cmd.env("COLUMNS", "100").env_remove("CI");
    common::run_with(cmd, args)
}

/// Every command path: [], [run], [config], [config, show], ...
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(prefix.clone());
        for sub in cmd.get_subcommands() {
            let mut p = prefix.clone();
            p.push(sub.get_name().to_owned());
            walk(sub, p, out);
        }
    }
    let mut out = Vec::new();
    walk(&kharness::cli::Cli::command(), Vec::new(), &mut out);
    out
}

fn snapshot_name(path: &[String]) -> String {
    if path.is_empty() {
        "help-kharness".to_owned()
    } else {
        format!("help-{}", path.join("-"))
    }
}

#[test]
fn help_of_every_command_is_snapshotted_and_teaches_by_example() {
    let paths = command_paths();
    assert!(paths.len() >= 10, "{paths:?}");
    for path in paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let r = kharness(&args);
        r.expect_code(0);
        let text = r.stdout();
        // Every command but the generated `help` shows how it is used.
        if path.last().map(String::as_str) != Some("help") {
            assert!(
                text.contains("Examples:"),
                "{args:?} has no examples:\n{text}"
            );
        }
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        insta::assert_snapshot!(snapshot_name(&path), text);
    }
}

#[test]
fn bash_completion_knows_every_command() {
    let r = kharness(&["completions", "bash"]);
    r.expect_code(0);
    let script = r.stdout();
    for path in command_paths().iter().filter(|p| p.len() == 1) {
        let name = &path[0];
        assert!(
            script.contains(&format!("kharness,{name})")),
            "bash completion lacks {name}"
        );
    }
    assert!(script.contains("--profile"), "global flags complete too");
    // bash itself accepts it.
    let out = Command::new("bash")
        .args(["-n", "-c", &script])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shell in ["zsh", "fish"] {
        let r = kharness(&["completions", shell]);
        r.expect_code(0);
        assert!(r.stdout().contains("series"), "{shell}");
    }
    let r = kharness(&["completions", "tcsh"]);
    r.expect_code(2);
    assert!(
        r.stderr().contains("invalid value 'tcsh'"),
        "{}",
        r.stderr()
    );
}

fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

#[test]
fn man_pages_render_without_roff_warnings() {
    let (man, groff) = (on_path("man"), on_path("groff"));
    if !common::have(man.is_some() || groff.is_some(), "man (man-db) or groff") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut pages = vec![("kharness".to_owned(), None)];
    for path in command_paths()
        .iter()
        .filter(|p| p.len() == 1 && p[0] != "help")
    {
        pages.push((format!("kharness-{}", path[0]), Some(path[0].clone())));
    }
    for (title, sub) in pages {
        let mut args = vec!["man"];
        args.extend(sub.as_deref());
        let r = kharness(&args);
        r.expect_code(0);
        let file = dir.path().join(format!("{title}.1"));
        std::fs::write(&file, r.stdout()).unwrap();
        let mut cmd = match &man {
            Some(m) => {
                let mut c = Command::new(m);
                c.arg("-l")
                    .arg(&file)
                    .env("MANWIDTH", "80")
                    .env("MAN_KEEP_FORMATTING", "0");
                c
            }
            None => {
                let mut c = Command::new(groff.as_ref().unwrap());
                c.args(["-man", "-Tutf8"]).arg(&file);
                c
            }
        };
        let out = cmd
            .env("PAGER", "cat")
            .env("MANPAGER", "cat")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        // Bold and underline come as overstrikes (c BACKSPACE c).
        let raw = String::from_utf8_lossy(&out.stdout);
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{title}: {err}");
        assert!(err.trim().is_empty(), "{title}: roff complained:\n{err}");
        assert!(
            text.contains("NAME") && text.contains("OPTIONS"),
            "{title}:\n{text}"
        );
        assert!(text.contains(&title), "{title}:\n{text}");
        if let Some(g) = &groff {
            // -ww: every warning; -z: no output, only the check.
            let out = Command::new(g)
                .args(["-man", "-ww", "-z"])
                .arg(&file)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.trim().is_empty(), "{title}: groff warns:\n{err}");
        }
    }
    let r = kharness(&["man", "nope"]);
    r.expect_code(2);
    assert!(
        r.stderr()
            .starts_with("kharness: error: man: no command 'nope'; commands: run, series"),
        "{}",
        r.stderr()
    );
}

/// The summary `kharness report` prints for a stored run, plain and
/// verbose.
#[test]
fn terminal_summary_snapshots() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for name in [
        "clean-one-kernel",
        "crash-two-kernels",
        "perf-reps-two-kernels",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            fixtures.join(format!("{name}.json")),
            dir.path().join("results.json"),
        )
        .unwrap();
        let run = dir.path().to_str().unwrap();
        for (suffix, extra) in [("", None), ("-verbose", Some("--verbose"))] {
            let mut args = vec!["report", run];
            args.extend(extra);
            let r = kharness(&args);
            let text = r.stdout();
            assert!(!text.contains(run), "no temporary paths in the summary");
            insta::assert_snapshot!(format!("summary-{name}{suffix}"), text);
        }
    }
}
