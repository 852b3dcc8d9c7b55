//! Ctrl-C for real: start `kharness run` (both backends) or `kharness
//! series`, wait until it is booting, testing or compiling, send it SIGINT
//! or SIGTERM, and check that it exits 130 or 143 (128 + the signal, as a
//! shell reports it, so CI tells it from an infrastructure failure's 3),
//! that no process it started
//! survives (by pid and start time, and by process group, so children
//! spawned after the snapshot count too), and that the run directory holds
//! a valid, interrupted results.json with every record that had finished.

// Helpers outside #[test] fns unwrap too: a panic is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;

const K612: &str = "/boot/vmlinuz-6.12.107+deb12-amd64";
const K61: &str = "/boot/vmlinuz-6.1.0-56-amd64";
const TREE: &str = "/usr/src/linux-source-6.12";

/// One process as /proc shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Proc {
    pid: i32,
    ppid: i32,
    pgid: i32,
    /// Clock ticks after boot: with the pid, names one process for good.
    start: u64,
    state: char,
    comm: String,
    cmdline: String,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default();
    Some(Proc {
        pid,
        ppid: f.get(1)?.parse().ok()?,
        pgid: f.get(2)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
        state: f.first()?.chars().next()?,
        comm: stat[open + 1..close].to_owned(),
        cmdline,
    })
}

fn all_procs() -> Vec<Proc> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_proc)
        .collect()
}

/// `root` and everything below it.
fn tree(root: i32) -> Vec<Proc> {
    let procs = all_procs();
    let mut kids: HashMap<i32, Vec<&Proc>> = HashMap::new();
    for p in &procs {
        kids.entry(p.ppid).or_default().push(p);
    }
    let mut out: Vec<Proc> = procs.iter().filter(|p| p.pid == root).cloned().collect();
    let mut i = 0;
    while i < out.len() {
        let pid = out[i].pid;
        out.extend(kids.get(&pid).into_iter().flatten().map(|p| (*p).clone()));
        i += 1;
    }
    out
}

fn is_alive(p: &Proc) -> bool {
    read_proc(p.pid).is_some_and(|now| now.start == p.start && !matches!(now.state, 'Z' | 'X'))
}

/// A `kharness` started in its own process group, output to files.
struct Harness {
    child: Child,
    log_dir: tempfile::TempDir,
    argv: Vec<String>,
}

impl Harness {
    fn start(args: &[&str], env: &[(&str, &Path)]) -> Harness {
        common::guest();
        let log_dir = tempfile::tempdir().unwrap();
        let bin = env!("CARGO_BIN_EXE_kharness");
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log_dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(log_dir.path().join("stderr")).unwrap())
            .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Harness {
            child: cmd.spawn().unwrap(),
            log_dir,
            argv: std::iter::once(bin.to_owned())
                .chain(args.iter().map(|s| s.to_string()))
                .collect(),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn output(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.log_dir.path().join(f)).unwrap();
        format!(
            "command: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.argv.join(" "),
            read("stdout"),
            read("stderr")
        )
    }

    /// Waits until `ready` holds, failing (with the output) after `limit`
    /// or when kharness exits first.
    fn wait_until(&mut self, what: &str, limit: Duration, mut ready: impl FnMut(&[Proc]) -> bool) {
        let end = Instant::now() + limit;
        loop {
            if ready(&tree(self.pid())) {
                return;
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("kharness ended ({st}) before {what}\n{}", self.output());
            }
            if Instant::now() > end {
                self.kill();
                panic!("no {what} within {limit:?}\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Sends `sig` and checks that kharness ends with exit 128 + `sig`
    /// and leaves nothing behind; returns what ran when the signal went out.
    fn interrupt(&mut self, sig: Signal) -> Vec<Proc> {
        let before = tree(self.pid());
        let groups: BTreeSet<i32> = before.iter().map(|p| p.pgid).collect();
        let pid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
        let end = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > end {
                self.kill();
                panic!(
                    "kharness still running 90 s after {sig:?}\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(
            status.code(),
            Some(128 + sig.as_raw()),
            "exit code after {sig:?}\n{}",
            self.output()
        );
        // Give the kernel a moment to finish killing what was SIGKILLed.
        std::thread::sleep(Duration::from_millis(500));
        let survivors: Vec<&Proc> = before.iter().filter(|p| is_alive(p)).collect();
        assert!(
            survivors.is_empty(),
            "processes of kharness outlived it: {survivors:#?}\nall before: {before:#?}"
        );
        let in_groups: Vec<Proc> = all_procs()
            .into_iter()
            .filter(|p| groups.contains(&p.pgid) && !matches!(p.state, 'Z' | 'X'))
            .collect();
        assert!(
            in_groups.is_empty(),
            "processes left in kharness's process groups {groups:?}: {in_groups:#?}"
        );
        before
    }

    fn kill(&mut self) {
        let pgid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
        for p in tree(self.pid()) {
            let _ = rustix::process::kill_process_group(
                rustix::process::Pid::from_raw(p.pgid).unwrap(),
                Signal::KILL,
            );
        }
        let _ = self.child.wait();
    }
}

/// The guest's records file of the first kernel of the run under `out`.
fn records_file(out: &Path) -> Option<PathBuf> {
    let run = std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok())
        .find(|e| e.file_name() != "latest")?
        .path();
    let kernel = std::fs::read_dir(run.join("kernels"))
        .ok()?
        .filter_map(|e| e.ok())
        .next()?
        .path();
    Some(kernel.join("rw/records.jsonl"))
}

fn results_arrived(out: &Path) -> bool {
    records_file(out)
        .and_then(|f| std::fs::read_to_string(f).ok())
        .is_some_and(|t| t.contains("\"event\":\"result\""))
}

fn status_of(res: &serde_json::Value, id: &str) -> String {
    let recs = res["kernels"][0]["records"].as_array().unwrap();
    let rec = recs
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record for {id}: {recs:?}"));
    rec["status"].as_str().unwrap().to_owned()
}

/// The run directory's results.json: valid, interrupted, finished.
fn interrupted_results(out: &Path) -> serde_json::Value {
    let res = common::results_json(&common::latest_run(out));
    assert_eq!(res["interrupted"], true, "{res}");
    assert!(res["finished"].is_string(), "{res}");
    res
}

/// `tee.duplicate_content` passes at once, then `selftest.hang` sleeps
/// until it is interrupted: the signal always lands mid-suite.
fn run_args<'a>(backend: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--out",
        out,
        "--backend",
        backend,
        "--kernel",
        K612,
        "--test-timeout",
        "600",
        // Checks no metric: wall-clock mode, 2.5-3x faster under TCG than
        // -icount; and selftest.hang sleeps in real time, where -icount's
        // sleep=off would let an idle guest's clock leap to the limit.
        "--perf-mode",
        "wallclock",
        "--filter",
        "tee.duplicate_content",
        "--filter",
        "selftest.hang",
    ]
}

/// Interrupts a run once a record arrived; returns what ran then.
fn interrupt_during_tests(backend: &str, sig: Signal) -> Vec<Proc> {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let mut h = Harness::start(&run_args(backend, o), &[]);
    h.wait_until("a finished record", Duration::from_secs(600), |_| {
        results_arrived(out.path())
    });
    let ran = h.interrupt(sig);
    let res = interrupted_results(out.path());
    assert_eq!(res["kernels"][0]["outcome"], "interrupted", "{res}");
    assert_eq!(status_of(&res, "tee.duplicate_content"), "pass");
    assert_eq!(status_of(&res, "selftest.hang"), "error");
    ran
}

/// A QEMU booting the run's kernel is in the tree: its command line names
/// the run directory under `out` (the qemu backend's initramfs, and under
/// both backends the records file of the results port). The QEMU of the KVM probe before it does not count: where
/// /dev/kvm exists but KVM does not work, the probe is not cached, so
/// every run starts one, and a signal sent then lands before any kernel
/// column exists.
fn booting(tree: &[Proc], out: &str) -> bool {
    tree.iter()
        .any(|p| p.comm.starts_with("qemu-system") && p.cmdline.contains(out))
}

fn ran(procs: &[Proc], comm: &str) -> bool {
    procs.iter().any(|p| p.comm.contains(comm))
}

#[test]
#[ignore = "boots a VM through vng and interrupts it; ci/test.sh runs it"]
fn sigint_during_tests_with_vng_stops_everything_vng_started_and_keeps_finished_records() {
    let procs = interrupt_during_tests("vng", Signal::INT);
    // The checks above covered what vng started: vng, virtme-run, QEMU and
    // virtiofsd when vng shares the root through it (here it uses 9p and
    // starts none; any it starts is in the tree and checked the same way).
    assert!(ran(&procs, "virtme-run"), "{procs:#?}");
    assert!(ran(&procs, "qemu-system"), "{procs:#?}");
}

#[test]
#[ignore = "boots a VM and interrupts it; ci/test.sh runs it"]
fn sigterm_during_tests_with_qemu_keeps_finished_records() {
    let procs = interrupt_during_tests("qemu", Signal::TERM);
    assert!(ran(&procs, "qemu-system"), "{procs:#?}");
}

#[test]
#[ignore = "boots a VM and interrupts it; ci/test.sh runs it"]
fn sigint_during_boot_leaves_a_valid_interrupted_run() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let mut h = Harness::start(&run_args("qemu", o), &[]);
    h.wait_until("QEMU", Duration::from_secs(300), |t| booting(t, o));
    h.interrupt(Signal::INT);
    let res = interrupted_results(out.path());
    assert_eq!(res["kernels"][0]["outcome"], "interrupted", "{res}");
    // Nothing had finished: every test is there, none claims a result.
    for id in ["tee.duplicate_content", "selftest.hang"] {
        assert_eq!(status_of(&res, id), "error");
    }
}

#[test]
#[ignore = "boots two VMs at once and interrupts them; ci/test.sh runs it"]
fn sigint_with_two_vms_side_by_side_stops_both() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let mut args = run_args("qemu", o);
    args.extend(["--kernel", K61, "--jobs", "2"]);
    let mut h = Harness::start(&args, &[]);
    h.wait_until("two QEMUs", Duration::from_secs(300), |t| {
        t.iter()
            .filter(|p| p.comm.starts_with("qemu-system") && p.cmdline.contains(o))
            .count()
            == 2
    });
    // Both VMs were running; `interrupt` checks that neither outlived
    // kharness.
    h.interrupt(Signal::INT);
    let res = interrupted_results(out.path());
    let kernels = res["kernels"].as_array().unwrap();
    assert_eq!(kernels.len(), 2, "{res}");
    for k in kernels {
        assert_eq!(k["outcome"], "interrupted", "{k}");
    }
}

/// SIGKILL of kharness (a cancelled CI job) while `backend` runs its VM:
/// kharness cannot clean up, so whatever it started must die with it.
fn sigkill_leaves_nothing_behind(backend: &str) -> Vec<Proc> {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let mut h = Harness::start(&run_args(backend, o), &[]);
    h.wait_until("QEMU", Duration::from_secs(300), |t| booting(t, o));
    let before = tree(h.pid());
    let pid = rustix::process::Pid::from_raw(h.pid()).unwrap();
    rustix::process::kill_process(pid, Signal::KILL).unwrap();
    let _ = h.child.wait();
    let end = Instant::now() + Duration::from_secs(10);
    let survivors = loop {
        let alive: Vec<&Proc> = before.iter().filter(|p| is_alive(p)).collect();
        if alive.is_empty() || Instant::now() > end {
            break alive.into_iter().cloned().collect::<Vec<_>>();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for p in &survivors {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(p.pid).unwrap(),
            Signal::KILL,
        );
    }
    assert!(
        survivors.is_empty(),
        "outlived kharness's SIGKILL: {survivors:#?}"
    );
    before
}

#[test]
#[ignore = "boots a VM and kills kharness; ci/test.sh runs it"]
fn sigkill_of_kharness_leaves_no_qemu_behind() {
    // QEMU is kharness's own child: PR_SET_PDEATHSIG kills it.
    let before = sigkill_leaves_nothing_behind("qemu");
    assert!(ran(&before, "qemu-system"), "{before:#?}");
}

#[test]
#[ignore = "boots a VM through vng and kills kharness; ci/test.sh runs it"]
fn sigkill_of_kharness_leaves_nothing_vng_started_behind() {
    // vng's QEMU is a grandchild (vng -> virtme-run -> qemu): the
    // group's watchman kills it when kharness's end of its pipe closes.
    let before = sigkill_leaves_nothing_behind("vng");
    assert!(ran(&before, "virtme-run"), "{before:#?}");
    assert!(ran(&before, "qemu-system"), "{before:#?}");
}

/// A run directory whose guest binary is `guest`, hashed as `sha256`.
fn fake_run_with_guest(dir: &Path, guest: &Path, sha256: &str) {
    let kernel = serde_json::json!({
        "release": "6.12.1", "banner": "6.12.1 #1", "path": "/nonexistent/bzImage",
        "sha256": "ab".repeat(32), "size": 1,
    });
    let g = serde_json::json!({"path": guest, "sha256": sha256});
    let results = serde_json::json!({
        "schema": 1, "tool_version": "0.1.0", "run_id": "20270101T000000Z",
        "started": "2027-01-01T00:00:00Z", "interrupted": false,
        "accel": {"accel": "tcg", "reason": "test"}, "guest": g, "filters": [],
        "kernels": [{"identity": kernel, "outcome": "completed", "wall_s": 1.0, "command": "x",
            "console_log": "c", "guest_log": "g",
            "records": [{"id": "tee.duplicate_content", "status": "fail", "reason": "short", "duration_us": 1}]}],
    });
    let recipe = serde_json::json!({
        "schema": 1, "kharness_version": "0.1.0", "run_id": "20270101T000000Z", "guest": g,
        "options": {"backend": "qemu", "accel": "tcg", "perf_mode": "deterministic", "memory": "1G",
            "timeout": "5m", "test_timeout": 60, "reps": 1},
        "filters": [], "tests": ["tee.duplicate_content"], "kernels": [{"identity": kernel}],
    });
    std::fs::write(dir.join("results.json"), results.to_string()).unwrap();
    std::fs::write(dir.join("recipe.json"), recipe.to_string()).unwrap();
}

/// Everything under `dir`, as paths relative to it.
fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(dir).unwrap().to_owned());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

#[test]
fn sigint_while_bundling_stops_at_once_and_leaves_no_bundle() {
    // A 256 MiB guest binary (sparse zeros): hashing, copying and
    // compressing it take long enough in a test build for Ctrl-C to land
    // in each phase.
    const ZEROS_256M_SHA256: &str =
        "a6d72ac7690f53be6ae46ba88506bd97302a093f7108472bd9efc3cefda06484";
    let d = tempfile::tempdir().unwrap();
    let guest = d.path().join("kharness-guest");
    std::fs::File::create(&guest)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let run = d.path().join("run");
    std::fs::create_dir(&run).unwrap();
    fake_run_with_guest(&run, &guest, ZEROS_256M_SHA256);
    // Phase by phase: while hashing (signal soon after the start), while
    // copying into a directory bundle (once the copy exists), while
    // packing an archive (once its temporary file exists beside it).
    let tmp = d.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let top = |p: &Path| p.components().count() == 1;
    type Ready = Box<dyn Fn(&BTreeSet<PathBuf>) -> bool>;
    let cases: [(&str, &str, Ready); 3] = [
        ("hashing", "hash-dir", Box::new(|_| true)),
        (
            "copying",
            "copy-dir",
            Box::new(|l| {
                l.iter()
                    .any(|p| p.ends_with("copy-dir/guest/kharness-guest"))
            }),
        ),
        (
            "packing",
            "pack.tar.gz",
            Box::new(move |l| {
                l.iter()
                    .any(|p| top(p) && p.to_string_lossy().starts_with(".kharness-bundle"))
            }),
        ),
    ];
    for (phase, output, ready) in cases {
        let before = listing(d.path());
        let out = d.path().join(output);
        let mut h = Harness::start(
            &["bundle", run.to_str().unwrap(), "-o", out.to_str().unwrap()],
            &[("TMPDIR", &tmp)],
        );
        // Polled often: a phase lasts a second or more, not much more.
        let end = Instant::now() + Duration::from_secs(120);
        std::thread::sleep(Duration::from_millis(300));
        while !ready(&listing(d.path())) {
            assert!(
                h.child.try_wait().unwrap().is_none(),
                "{phase}: ended\n{}",
                h.output()
            );
            assert!(Instant::now() < end, "{phase}: never reached");
            std::thread::sleep(Duration::from_millis(10));
        }
        let t = Instant::now();
        h.interrupt(Signal::INT);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{phase}: took {:?} to stop",
            t.elapsed()
        );
        assert!(
            !out.exists(),
            "{phase}: a bundle was left at {}",
            out.display()
        );
        assert_eq!(listing(d.path()), before, "{phase}: left files behind");
    }
}

#[test]
#[ignore = "starts a kernel build and interrupts it; ci/test.sh runs it"]
fn sigint_during_a_kernel_build_stops_make_and_the_compilers() {
    // A cache of its own: the build is a fresh one (nothing to reuse), and
    // what it leaves goes away with the directory.
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let series = common::series_dir("splice-fatal-signal");
    let mut h = Harness::start(
        &[
            "series",
            &series,
            "--tree",
            TREE,
            "--filter",
            "tee.duplicate_content",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[("KHARNESS_CACHE_DIR", cache.path())],
    );
    // Compiling the kernel proper, not kconfig's host tools.
    h.wait_until("kernel compilation", Duration::from_secs(900), |t| {
        t.iter().any(|p| p.cmdline.contains("bzImage")) && t.iter().any(|p| p.comm == "cc1")
    });
    std::thread::sleep(Duration::from_secs(3));
    let during = h.interrupt(Signal::INT);
    // cc1 was seen above; at the signal itself a compiler may be between
    // files (bison, fixdep, sh), but make is always there.
    assert!(ran(&during, "make"), "{during:#?}");
    let err = std::fs::read_to_string(h.log_dir.path().join("stderr")).unwrap();
    assert!(err.contains("interrupted"), "{err}");
}
