//! Progress on a real terminal: `script` gives kharness a pseudo-terminal
//! for stderr, and a short qemu-backend run shows the boot spinner and the
//! bar of tests; under CI=true the same run prints plain lines only.

mod common;

use std::process::Command;

const K612: &str = "/boot/vmlinuz-6.12.107+deb12-amd64";

/// Runs kharness under `script` (so its stderr is a terminal) and returns
/// everything the terminal received.
fn on_a_terminal(ci: Option<&str>, args: &[&str]) -> String {
    common::guest();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let typescript = dir.path().join("typescript");
    let mut line = vec![env!("CARGO_BIN_EXE_kharness").to_owned()];
    line.extend(args.iter().map(|a| format!("'{a}'")));
    line.extend([
        "--out".to_owned(),
        dir.path().join("runs").display().to_string(),
    ]);
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line.join(" ")])
        .arg(&typescript)
        .env_remove("CI");
    if let Some(v) = ci {
        cmd.env("CI", v);
    }
    let out = cmd.output().expect("script (util-linux) runs");
    let text =
        String::from_utf8_lossy(&std::fs::read(&typescript).expect("script wrote its typescript"))
            .into_owned();
    assert!(
        out.status.success(),
        "{:?}: {}\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
#[ignore = "boots two VMs; ci/test.sh runs it"]
fn bars_on_a_terminal_and_plain_lines_under_ci() {
    let args = [
        "run",
        "--backend",
        "qemu",
        "--accel",
        "tcg",
        "--kernel",
        K612,
        "--filter",
        "tee.*",
    ];
    let tty = on_a_terminal(None, &args);
    assert!(
        tty.contains("booting 6.12.107+deb12-amd64"),
        "no boot spinner:\n{tty}"
    );
    // How many tee tests there are: the summary says.
    let n: usize = regex::Regex::new(r"tee +(\d+) ")
        .unwrap()
        .captures(&tty)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("no tee row in the summary:\n{tty}"));
    assert!(n >= 2, "{tty}");
    // The bar is redrawn as results come (its last state may be cleared
    // before a draw shows it, so any count past the first result will do).
    let bar = regex::Regex::new(&format!(r"\] [1-9][0-9]*/{n} ")).unwrap();
    assert!(bar.is_match(&tty), "no bar of tests:\n{tty}");
    // Every result still gets its line, above the bar.
    assert!(tty.contains(&format!("{n}/{n}   pass")), "{tty}");
    // The bar is cleared before the summary.
    assert!(tty.contains("\x1b[2K"), "{tty}");

    let plain = on_a_terminal(Some("true"), &args);
    assert!(
        !plain.contains('\x1b'),
        "escape sequences under CI:\n{plain}"
    );
    for i in 1..=n {
        assert!(plain.contains(&format!("  {i}/{n}   pass")), "{plain}");
    }
    assert!(plain.contains(&format!("tee   {n} pass")), "{plain}");
}

#[test]
#[ignore = "boots four VMs, two at a time; ci/test.sh runs it"]
fn two_vms_side_by_side_get_a_bar_each_and_tagged_lines() {
    let args = [
        "run",
        "--backend",
        "qemu",
        "--accel",
        "tcg",
        "--perf-mode",
        "wallclock",
        "--jobs",
        "2",
        "--kernel",
        K612,
        "--kernel",
        "/boot/vmlinuz-6.1.0-56-amd64",
        "--filter",
        "tee.duplicate_content",
        "--filter",
        "tee.input_left_unconsumed",
    ];
    let tty = on_a_terminal(None, &args);
    // One bar per VM, each named by its VM, drawn together.
    for tag in ["[1/2]", "[2/2]"] {
        assert!(
            tty.contains(&format!("{tag} booting ")),
            "no boot spinner for {tag}:\n{tty}"
        );
        // Every result line names its VM, on the terminal too.
        for i in 1..=2 {
            assert!(
                tty.contains(&format!("  {tag} {i:>3}/2   pass")),
                "{tag} {i}:\n{tty}"
            );
        }
    }
    let plain = on_a_terminal(Some("true"), &args);
    assert!(
        !plain.contains('\x1b'),
        "escape sequences under CI:\n{plain}"
    );
    for tag in ["[1/2]", "[2/2]"] {
        for i in 1..=2 {
            // Whole lines: each starts a line of its own.
            assert!(
                plain.contains(&format!("\n  {tag} {i:>3}/2   pass")),
                "{tag} {i}:\n{plain}"
            );
        }
    }
}
