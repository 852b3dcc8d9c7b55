//! Child processes kharness starts (QEMU, vng, make, git): each in its own
//! process group, dying with kharness, stopped as a group on a time limit
//! or Ctrl-C, and never leaving a member behind.
//!
//! The group is killed while its leader is still unreaped (a zombie holds
//! its pid, and with it the group id), so the kill can never reach an
//! unrelated group that reused the number.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};

/// How long a stopped group gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(200);

struct Interrupts {
    flag: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

fn interrupts() -> &'static Interrupts {
    static ONCE: OnceLock<Interrupts> = OnceLock::new();
    ONCE.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(AtomicUsize::new(0));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registration only fails for forbidden signals, which these
            // are not. The shutdown hook goes first, so it sees the flag
            // as the previous signal left it: a second Ctrl-C exits at
            // once (the children die with us, see `die_with_parent`).
            let _ =
                signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&flag));
            let _ = signal_hook::flag::register_usize(
                sig,
                Arc::clone(&signal),
                usize::try_from(sig).unwrap_or(0),
            );
            let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
        }
        Interrupts { flag, signal }
    })
}

/// Set by SIGINT/SIGTERM once installed (the first call installs it).
pub fn interrupt_flag() -> &'static Arc<AtomicBool> {
    &interrupts().flag
}

/// True once the user asked kharness to stop.
pub fn interrupted() -> bool {
    interrupt_flag().load(Ordering::Relaxed)
}

/// The signal that interrupted kharness (SIGINT or SIGTERM), if one did.
pub fn interrupt_signal() -> Option<i32> {
    match interrupts().signal.load(Ordering::Relaxed) {
        0 => None,
        s => i32::try_from(s).ok(),
    }
}

/// How a supervised process ended.
#[derive(Debug)]
pub struct Supervised {
    /// The exit status; after a timeout or interrupt, the status of the
    /// stopped process.
    pub status: ExitStatus,
    pub timed_out: bool,
    /// Stopped because `cancel` was set.
    pub interrupted: bool,
    pub elapsed: Duration,
}

/// When to stop a supervised process early.
#[derive(Clone, Copy, Default)]
pub struct Stop<'a> {
    /// Wall-clock limit from the start.
    pub limit: Option<Duration>,
    /// Stop once this is set (Ctrl-C).
    pub cancel: Option<&'a AtomicBool>,
}

/// Runs `cmd` in a new process group with its output going to `stdout`
/// and `stderr` (files: no pipe can fill up and stall it), calling `tick`
/// a few times a second, until it ends or `stop` says to stop the group.
pub fn supervise(
    cmd: &mut Command,
    stdout: impl Into<Stdio>,
    stderr: impl Into<Stdio>,
    stop: Stop<'_>,
    mut tick: impl FnMut(),
) -> io::Result<Supervised> {
    let started = Instant::now();
    let mut group = Group::spawn(cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr))?;
    let mut timed_out = false;
    let mut cancelled = false;
    let status = loop {
        if group.leader_exited()? {
            break group.finish()?;
        }
        tick();
        if stop.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            cancelled = true;
        } else if stop.limit.is_some_and(|l| started.elapsed() >= l) {
            timed_out = true;
        }
        if timed_out || cancelled {
            break group.stop(GRACE)?;
        }
        group.wait_exit(POLL);
    };
    tick();
    Ok(Supervised {
        status,
        timed_out,
        interrupted: cancelled,
        elapsed: started.elapsed(),
    })
}

/// Runs `cmd` as [`supervise`] does (own process group, stopped on
/// `stop`), but on kharness's terminal: stdout and stderr are kharness's
/// own, stdin is `stdin`. When stdin is a terminal kharness has in the
/// foreground, the child's group gets it for its lifetime (so it may read
/// it and set its modes: QEMU puts it in raw mode), and afterwards the
/// terminal comes back to kharness with the modes it had, however the
/// child ended.
pub fn supervise_attached(
    cmd: &mut Command,
    stdin: Stdio,
    stop: Stop<'_>,
) -> io::Result<Supervised> {
    let started = Instant::now();
    let terminal = Terminal::foreground();
    let mut group = Group::spawn(
        cmd.stdin(stdin)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit()),
    )?;
    if let Some(t) = &terminal {
        t.give_to(group.pgid);
    }
    let mut timed_out = false;
    let mut cancelled = false;
    let status = loop {
        if group.leader_exited()? {
            break group.finish();
        }
        if stop.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            cancelled = true;
        } else if stop.limit.is_some_and(|l| started.elapsed() >= l) {
            timed_out = true;
        }
        if timed_out || cancelled {
            break group.stop(GRACE);
        }
        std::thread::sleep(POLL);
    };
    if let Some(t) = terminal {
        t.take_back();
    }
    Ok(Supervised {
        status: status?,
        timed_out,
        interrupted: cancelled,
        elapsed: started.elapsed(),
    })
}

/// The terminal on kharness's stdin while kharness is its foreground
/// process group, and the modes it had.
struct Terminal {
    modes: rustix::termios::Termios,
    own: Pid,
}

impl Terminal {
    fn foreground() -> Option<Terminal> {
        let fd = io::stdin();
        if !rustix::termios::isatty(&fd) {
            return None;
        }
        let own = rustix::process::getpgrp();
        if rustix::termios::tcgetpgrp(&fd).ok()? != own {
            // In the background (`kharness shell &`): leave it alone.
            return None;
        }
        let modes = rustix::termios::tcgetattr(&fd).ok()?;
        Some(Terminal { modes, own })
    }

    /// Makes `pgid` the foreground group. The child may already have
    /// touched the terminal from the background and been stopped for it
    /// (SIGTTIN/SIGTTOU): SIGCONT lets it go on, now in the foreground.
    fn give_to(&self, pgid: Pid) {
        let _ = rustix::termios::tcsetpgrp(io::stdin(), pgid);
        let _ = rustix::process::kill_process_group(pgid, Signal::CONT);
    }

    /// Back to kharness's group, with the modes it had (a child killed
    /// while in raw mode leaves the terminal raw). kharness is then in the
    /// background, where changing the terminal raises SIGTTOU: blocked
    /// for the two calls.
    fn take_back(self) {
        with_sigttou_blocked(|| {
            let fd = io::stdin();
            let _ = rustix::termios::tcsetpgrp(&fd, self.own);
            let _ =
                rustix::termios::tcsetattr(&fd, rustix::termios::OptionalActions::Now, &self.modes);
        });
    }
}

/// Runs `f` with SIGTTOU blocked in this thread (the kernel then lets a
/// background process set the terminal's foreground group and modes).
#[expect(
    unsafe_code,
    reason = "rustix has no safe way to block a signal; pthread_sigmask is libc's"
)]
fn with_sigttou_blocked(f: impl FnOnce()) {
    // SAFETY: `sigset_t` is plain data, initialised by sigemptyset before
    // use; pthread_sigmask reads `set` and writes `old`, both live locals.
    let old = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTTOU);
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        old
    };
    f();
    // SAFETY: `old` is the mask pthread_sigmask filled in above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

/// Runs `cmd` supervised to the end with its output captured (for short
/// tools: git, cp, strip), stopping it on Ctrl-C.
pub fn output(cmd: &mut Command) -> io::Result<std::process::Output> {
    let out = tempfile::tempfile()?;
    let err = tempfile::tempfile()?;
    let (out_w, err_w) = (out.try_clone()?, err.try_clone()?);
    let sup = supervise(
        cmd,
        out_w,
        err_w,
        Stop {
            limit: None,
            cancel: Some(interrupt_flag()),
        },
        || {},
    )?;
    let read = |mut f: std::fs::File| -> io::Result<Vec<u8>> {
        use std::io::{Read, Seek};
        f.rewind()?;
        let mut v = Vec::new();
        f.read_to_end(&mut v)?;
        Ok(v)
    };
    Ok(std::process::Output {
        status: sup.status,
        stdout: read(out)?,
        stderr: read(err)?,
    })
}

/// A started child leading its own process group. Dropping it (any early
/// return, a `?`, a panic) kills the whole group and reaps the leader.
pub struct Group {
    child: Child,
    pgid: Pid,
    /// Readable once the leader exits (Linux 5.3 and later), so a wait
    /// ends then rather than at the next poll.
    pidfd: Option<std::os::fd::OwnedFd>,
    status: Option<ExitStatus>,
    /// The group's watchman: see [`Group::spawn`].
    reaper: Option<Child>,
}

impl Group {
    /// Spawns `cmd` as the leader of a new process group that dies with
    /// kharness, grandchildren included.
    ///
    /// The leader gets SIGKILL from the kernel when kharness dies
    /// (`PR_SET_PDEATHSIG`), but that signal reaches only the leader: vng
    /// runs virtme-run, which starts QEMU as a child of its own, and those
    /// would run on after a SIGKILL of kharness. So a watchman joins the
    /// group: a shell blocked reading a pipe whose only writer is kharness.
    /// When kharness dies, for any reason, the pipe reports end of file and
    /// the watchman kills its own group. Being a member, it also keeps the
    /// group id from being reused while it waits.
    pub fn spawn(cmd: &mut Command) -> io::Result<Group> {
        cmd.process_group(0);
        die_with_parent(cmd);
        let child = cmd.spawn()?;
        let pgid = Pid::from_child(&child);
        // Without a watchman the leader still dies with kharness; only
        // its descendants could outlive it.
        let reaper = Command::new("/bin/sh")
            .args(["-c", "read _; kill -KILL 0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(pgid.as_raw_nonzero().get())
            .spawn()
            .ok();
        let pidfd = rustix::process::pidfd_open(pgid, rustix::process::PidfdFlags::empty()).ok();
        Ok(Group {
            child,
            pgid,
            pidfd,
            status: None,
            reaper,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the leader has exited, leaving it unreaped.
    pub fn leader_exited(&self) -> io::Result<bool> {
        if self.status.is_some() {
            return Ok(true);
        }
        let got = rustix::process::waitid(
            WaitId::Pid(self.pgid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG,
        )?;
        Ok(got.is_some())
    }

    /// Waits up to `limit` for the leader to exit, returning as soon as it
    /// does (it stays unreaped); a signal (Ctrl-C) ends the wait early.
    /// Without a pidfd it sleeps `limit`.
    pub fn wait_exit(&self, limit: Duration) {
        use rustix::event::{PollFd, PollFlags, poll};
        let Some(fd) = self.pidfd.as_ref().filter(|_| self.status.is_none()) else {
            std::thread::sleep(limit);
            return;
        };
        let ts = rustix::time::Timespec {
            tv_sec: i64::try_from(limit.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(limit.subsec_nanos()),
        };
        // Readable, EINTR or a failure: the caller looks again either way.
        let _ = poll(&mut [PollFd::new(fd, PollFlags::IN)], Some(&ts));
    }

    /// SIGTERM to the group, up to `grace` for the leader to go, then
    /// [`Group::finish`].
    pub fn stop(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if self.status.is_none() {
            let _ = rustix::process::kill_process_group(self.pgid, Signal::TERM);
            let until = Instant::now() + grace;
            while Instant::now() < until && !self.leader_exited()? {
                self.wait_exit(POLL.min(grace));
            }
        }
        self.finish()
    }

    /// SIGKILL to whatever is left of the group, then reaps the leader.
    /// The group id is still the unreaped leader's, so the kill cannot hit
    /// another process group; ESRCH means the group is already empty.
    pub fn finish(&mut self) -> io::Result<ExitStatus> {
        if let Some(st) = self.status {
            return Ok(st);
        }
        let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
        let st = self.child.wait()?;
        self.status = Some(st);
        if let Some(mut r) = self.reaper.take() {
            // A member of the group: killed with it just now.
            let _ = r.kill();
            let _ = r.wait();
        }
        Ok(st)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Asks the kernel to SIGKILL the child when kharness dies (SIGKILL of
/// kharness, a cancelled CI job), so no QEMU or make outlives it. The
/// signal follows the child through exec (vng execs QEMU); it is sent
/// when the thread that spawned the child ends, and kharness spawns and
/// reaps its children on the same thread.
#[expect(
    unsafe_code,
    reason = "PR_SET_PDEATHSIG must be set in the child between fork and exec"
)]
fn die_with_parent(cmd: &mut Command) {
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec. It makes
    // two system calls (prctl, getppid), both async-signal-safe, touches
    // no lock and allocates nothing (an Errno converts to io::Error
    // without allocating).
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // The parent may have died before the prctl: then nobody
            // would send the signal.
            if rustix::process::getppid() != Some(parent) {
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        })
    };
}

/// How a process ended, for messages.
pub fn describe_status(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn alive(pid: i32) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        !stat.is_empty() && !stat.contains(") Z")
    }

    fn read_pid(p: &Path) -> i32 {
        for _ in 0..50 {
            if let Ok(s) = std::fs::read_to_string(p) {
                if let Ok(n) = s.trim().parse() {
                    return n;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no pid in {}", p.display());
    }

    /// A shell whose grandchild ignores SIGTERM and writes its pid.
    fn stubborn(pidfile: &Path) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "sh -c 'trap \"\" TERM; echo $$ > {}; exec sleep 300' & wait",
            pidfile.display()
        ));
        cmd
    }

    #[test]
    fn a_wait_ends_when_the_leader_exits_not_at_its_limit() {
        let mut g = Group::spawn(Command::new("sleep").arg("0.5")).unwrap();
        let started = Instant::now();
        assert!(!g.leader_exited().unwrap(), "sleep 0.5 still runs");
        g.wait_exit(Duration::from_secs(30));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "waited {:?} for `sleep 0.5`",
            started.elapsed()
        );
        assert!(g.leader_exited().unwrap());
        assert!(g.finish().unwrap().success());
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let r = supervise(
            &mut stubborn(&pidfile),
            Stdio::null(),
            Stdio::null(),
            Stop {
                limit: Some(Duration::from_millis(700)),
                cancel: None,
            },
            || {},
        )
        .unwrap();
        assert!(r.timed_out);
        let pid = read_pid(&pidfile);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!alive(pid), "grandchild {pid} outlived the timeout");
    }

    #[test]
    fn a_leader_that_exits_takes_its_group_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("bg.pid");
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "sleep 300 & echo $! > {}; exit 0",
            pidfile.display()
        ));
        let r = supervise(
            &mut cmd,
            Stdio::null(),
            Stdio::null(),
            Stop::default(),
            || {},
        )
        .unwrap();
        assert_eq!(r.status.code(), Some(0));
        let pid = read_pid(&pidfile);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!alive(pid), "background job {pid} outlived its leader");
    }

    #[test]
    fn dropping_a_group_kills_it() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let g = Group::spawn(&mut stubborn(&pidfile)).unwrap();
        let (leader, pid) = (g.id(), read_pid(&pidfile));
        drop(g);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!alive(pid), "grandchild {pid} outlived the guard");
        assert!(!alive(leader as i32), "leader {leader} outlived the guard");
    }

    #[test]
    fn the_watchman_kills_the_group_when_kharness_goes() {
        // What the kernel does to the pipe when kharness dies (SIGKILL):
        // its write end closes. Here the test closes it by hand, with the
        // guard still alive, and the grandchild must go.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let mut g = Group::spawn(&mut stubborn(&pidfile)).unwrap();
        let pid = read_pid(&pidfile);
        assert!(alive(pid));
        drop(g.reaper.as_mut().unwrap().stdin.take());
        // Each member dies when it next runs: on a loaded machine the
        // grandchild may be gone before the leader is, so wait for both.
        let until = Instant::now() + Duration::from_secs(30);
        while (alive(pid) || !g.leader_exited().unwrap()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(pid), "grandchild {pid} outlived the watchman");
        assert!(g.leader_exited().unwrap(), "the leader went with its group");
    }

    #[test]
    fn output_goes_to_the_given_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo out; echo err >&2; exit 3");
        let out = std::fs::File::create(dir.path().join("out")).unwrap();
        let err = std::fs::File::create(dir.path().join("err")).unwrap();
        let r = supervise(&mut cmd, out, err, Stop::default(), || {}).unwrap();
        assert_eq!(r.status.code(), Some(3));
        assert!(!r.timed_out && !r.interrupted);
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        assert_eq!((read("out"), read("err")), ("out\n".into(), "err\n".into()));
        let o = output(Command::new("sh").arg("-c").arg("echo hi; echo no >&2")).unwrap();
        assert_eq!((o.stdout, o.stderr), (b"hi\n".to_vec(), b"no\n".to_vec()));
    }
}
