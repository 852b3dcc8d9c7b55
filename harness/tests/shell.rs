//! `kharness shell` for real: scripted sessions (commands on stdin, the
//! shell's exit status back) under both backends, an interactive session
//! on a pseudo-terminal, the gdb stub answering the remote protocol, a
//! session on what a test of a stored run ran on, and SIGTERM leaving no
//! QEMU behind.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Run, kharness, latest_run, results_json};

/// Debian's 6.12: boots under both backends (vng uses its modules).
const K612: &str = "/boot/vmlinuz-6.12.117+deb12-amd64";
const RELEASE: &str = "6.12.117+deb12-amd64";
/// Every session's time limit: a session that hangs fails the test.
const LIMIT: &str = "4m";
/// A qemu session on Debian's 6.12; no test here checks a metric.
const QEMU_612: [&str; 8] = [
    "--kernel",
    K612,
    "--backend",
    "qemu",
    "--perf-mode",
    "wallclock",
    "--timeout",
    LIMIT,
];

fn shell_cmd(args: &[&str]) -> Command {
    common::guest();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kharness"));
    cmd.arg("shell").args(args);
    cmd
}

/// `kharness shell ARGS` with `script` on stdin, to the end.
fn scripted(args: &[&str], script: &str) -> Run {
    let mut cmd = shell_cmd(args);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        argv: std::iter::once("kharness shell".to_owned())
            .chain(args.iter().map(|s| s.to_string()))
            .collect(),
        out,
    }
}

const SCRIPT: &str = "uname -r\necho marker-$((6*7))\nkharness-guest list tee.duplicate_content\n\
     echo modules: $(cut -d' ' -f1 /proc/modules)\nexit 7\n";

/// Runs [`SCRIPT`] under `backend`; returns the names of the modules the
/// guest had loaded when it ran.
fn check_scripted(backend: &str) -> Vec<String> {
    let r = scripted(
        &[
            "--kernel",
            K612,
            "--backend",
            backend,
            "--perf-mode",
            "wallclock",
            "--timeout",
            LIMIT,
        ],
        SCRIPT,
    );
    // The shell's own exit status is kharness's.
    r.expect_code(7);
    let out = r.stdout();
    for want in [RELEASE, "marker-42", "tee.duplicate_content", "[tee,smoke]"] {
        assert!(out.contains(want), "{want} missing\n{out}\n{}", r.stderr());
    }
    // The script ran, not its echo: the expansion happened in the guest.
    assert!(!out.contains("$((6*7))"), "{out}");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("modules:"))
        .unwrap_or_else(|| panic!("no module list\n{out}"));
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn a_scripted_session_under_qemu_runs_the_commands_and_returns_the_shell_status() {
    check_scripted("qemu");
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn a_scripted_session_under_vng_runs_the_commands_and_returns_the_shell_status() {
    let loaded = check_scripted("vng");
    // vng's root over 9p needs its modules, and udev's coldplug loaded
    // none of the drivers kharness keeps out of vng boots.
    assert!(loaded.iter().any(|m| m == "9p"), "{loaded:?}");
    let kept_out: Vec<&String> = loaded
        .iter()
        .filter(|m| kharness::vm::vng::UNUSED_DRIVERS.contains(&m.as_str()))
        .collect();
    assert!(kept_out.is_empty(), "loaded: {kept_out:?}");
}

/// Reads `reader` on a thread, sending chunks, so a test can wait for
/// text with a deadline.
fn reader_thread(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Collects from `rx` into `seen` until it holds `want`.
fn wait_for(rx: &mpsc::Receiver<Vec<u8>>, seen: &mut String, want: &str, limit: Duration) {
    let until = Instant::now() + limit;
    while !seen.contains(want) {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(b) => seen.push_str(&String::from_utf8_lossy(&b)),
            Err(_) => panic!("no {want:?} within {limit:?}; so far:\n{seen}"),
        }
    }
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn an_interactive_session_gets_the_terminal() {
    // script(1) gives kharness a pseudo-terminal: the interactive path,
    // where QEMU gets the terminal and the guest's shell a tty.
    common::guest();
    let kharness_cmd = format!(
        "{} shell --kernel {K612} --backend qemu --perf-mode wallclock --timeout {LIMIT}",
        env!("CARGO_BIN_EXE_kharness")
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-f", "-c", &kharness_cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = reader_thread(child.stdout.take().unwrap());
    let mut seen = String::new();
    wait_for(
        &rx,
        &mut seen,
        "leave with `exit`",
        Duration::from_secs(240),
    );
    wait_for(&rx, &mut seen, "# ", Duration::from_secs(60));
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"echo marker-$((6*7)); tty; exit 5\r")
        .unwrap();
    wait_for(&rx, &mut seen, "marker-42", Duration::from_secs(60));
    let status = child.wait().unwrap();
    while let Ok(b) = rx.recv_timeout(Duration::from_secs(5)) {
        seen.push_str(&String::from_utf8_lossy(&b));
    }
    drop(stdin);
    // The shell's controlling terminal is the console, and its status is
    // kharness's (script -e passes it on).
    assert!(seen.contains("/dev/ttyS0"), "{seen}");
    assert_eq!(status.code(), Some(5), "{seen}");
}

/// A free TCP port on the loopback address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One gdb remote-protocol packet with its checksum.
fn packet(body: &str) -> Vec<u8> {
    let sum = body.bytes().fold(0u8, |a, b| a.wrapping_add(b));
    format!("${body}#{sum:02x}").into_bytes()
}

/// Reads one reply packet's body (acks before it skipped).
fn read_packet(s: &mut TcpStream) -> String {
    let mut body = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        s.read_exact(&mut byte).unwrap();
        if byte[0] == b'$' {
            break;
        }
    }
    loop {
        s.read_exact(&mut byte).unwrap();
        if byte[0] == b'#' {
            break;
        }
        body.push(byte[0]);
    }
    let mut sum = [0u8; 2];
    s.read_exact(&mut sum).unwrap();
    s.write_all(b"+").unwrap();
    String::from_utf8_lossy(&body).into_owned()
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn the_gdb_stub_answers_on_the_printed_port() {
    let port = free_port().to_string();
    let mut child = shell_cmd(&[&QEMU_612[..], &["--gdb", &port, "--gdb-wait"]].concat())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The whole script first: the qemu backend reads it before booting.
    drop(child.stdin.take().unwrap().write_all(b"uname -r\nexit 0\n"));
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut printed = String::new();
    while !printed.contains("gdb stub on") {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "{printed}");
        printed.push_str(&line);
    }
    let rest = reader_thread(err);
    // The exact command that attaches, and where Debian's symbols come
    // from (its -dbg package is not installed here).
    assert!(
        printed.contains(&format!("gdb -ex 'target remote :{port}'")),
        "{printed}"
    );
    // With --gdb-wait the CPU waits for the debugger: connect, ask why it
    // stopped (`?`), then detach (`D`), which lets it run.
    let mut s = None;
    let until = Instant::now() + Duration::from_secs(60);
    while s.is_none() && Instant::now() < until {
        s = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).ok();
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut s = s.expect("the gdb stub listens on the printed port");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(&packet("?")).unwrap();
    let stop = read_packet(&mut s);
    assert!(
        stop.starts_with('T') || stop.starts_with('S'),
        "a stop reply, got {stop:?}"
    );
    s.write_all(&packet("D")).unwrap();
    assert_eq!(read_packet(&mut s), "OK");
    drop(s);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    let mut tail = String::new();
    while let Ok(b) = rest.recv_timeout(Duration::from_secs(1)) {
        tail.push_str(&String::from_utf8_lossy(&b));
    }
    assert_eq!(status.code(), Some(0), "{out}\n{printed}{tail}");
    assert!(out.contains(RELEASE), "{out}");
    assert!(
        tail.contains(&format!("apt-get install linux-image-{RELEASE}-dbg")),
        "{printed}{tail}"
    );
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn a_shell_on_what_a_test_of_a_run_ran_on_runs_it_again() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let id = "tee.duplicate_content";
    kharness(&[
        "run",
        "--out",
        o,
        "--backend",
        "qemu",
        "--perf-mode",
        "wallclock",
        "--kernel",
        K612,
        "--filter",
        id,
    ])
    .expect_code(0);
    let run = latest_run(out.path());
    assert_eq!(results_json(&run)["backend"], "qemu");
    let run_s = run.to_str().unwrap();
    // The dry run names the VM (the run's kernel, backend and perf mode)
    // and the guest command that runs the test as the run did.
    let dry = kharness(&["shell", run_s, "--test", id, "--dry-run"]);
    dry.expect_code(0);
    let vm = dry.stdout();
    assert!(vm.starts_with("qemu-system-x86_64 "), "{vm}");
    assert!(vm.contains(K612), "{vm}");
    assert!(!vm.contains("-icount"), "recorded wallclock: {vm}");
    let err = dry.stderr();
    let cmd = err
        .lines()
        .find_map(|l| l.split_once("the test as the run ran it: ").map(|(_, c)| c))
        .unwrap_or_else(|| panic!("no test command in\n{err}"));
    assert!(
        cmd.starts_with("kharness-guest run --vm ") && cmd.ends_with(id),
        "{cmd}"
    );
    // And that command, typed in the shell, runs the test there.
    let r = scripted(
        &[run_s, "--test", id, "--timeout", LIMIT],
        &format!("uname -r\n{cmd}\n"),
    );
    r.expect_code(0);
    let text = r.stdout();
    assert!(text.contains(RELEASE), "{text}");
    assert!(text.contains(&format!("ok 1 {id}")), "{text}");
}

/// (pid, command name) of every process below `pid`.
fn descendants_of(pid: u32) -> Vec<(u32, String)> {
    let mut procs = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if let Some(ppid) = f.get(1).and_then(|s| s.parse::<u32>().ok()) {
            procs.push((p, ppid, stat[open + 1..close].to_owned()));
        }
    }
    let mut found: Vec<(u32, String)> = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for (p, ppid, comm) in &procs {
            if *ppid == parent {
                found.push((*p, comm.clone()));
                parents.push(*p);
            }
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
}

#[test]
#[ignore = "boots a VM; ci/test.sh runs it"]
fn sigterm_of_kharness_shell_leaves_no_qemu_behind() {
    let mut child: Child = shell_cmd(&QEMU_612)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"echo ready\nsleep 600\n"),
    );
    let rx = reader_thread(child.stdout.take().unwrap());
    let mut seen = String::new();
    wait_for(&rx, &mut seen, "ready", Duration::from_secs(240));
    let qemu: Vec<u32> = descendants_of(child.id())
        .into_iter()
        .filter(|(_, c)| c.starts_with("qemu"))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(qemu.len(), 1, "one QEMU under kharness: {seen}");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(!alive(qemu[0]), "QEMU {} outlived kharness", qemu[0]);
}

#[test]
fn a_gdb_port_in_use_is_refused_before_anything_boots() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let r = kharness(&["shell", "--gdb", &port, "--kernel", "/nonexistent/bzImage"]);
    r.expect_code(2);
    let err = r.stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("--gdb {port}: cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
}
