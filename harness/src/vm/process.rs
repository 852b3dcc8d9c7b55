//! Running a VM process: its own process group, output straight to log
//! files (so no pipe can fill up and stall it), a time limit, and a clean
//! stop of the whole group on timeout or Ctrl-C.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

/// How long a stopped VM gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(200);

/// Set by SIGINT/SIGTERM once [`interrupt_flag`] has been installed.
pub fn interrupt_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registration only fails for forbidden signals, which these are not.
            let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
        }
        flag
    })
}

/// True once the user asked the harness to stop.
pub fn interrupted() -> bool {
    interrupt_flag().load(Ordering::Relaxed)
}

/// How a supervised process ended.
#[derive(Debug)]
pub struct Supervised {
    /// The exit status; after a timeout or interrupt, the status of the
    /// stopped process.
    pub status: ExitStatus,
    pub timed_out: bool,
    pub interrupted: bool,
    pub elapsed: Duration,
}

/// Runs `cmd` in a new process group with stdout and stderr going to the
/// given files, calling `tick` a few times a second. Stops the whole group
/// after `limit` or when the user interrupts.
pub fn supervise(
    cmd: &mut Command,
    stdout_log: &Path,
    stderr_log: &Path,
    limit: Duration,
    mut tick: impl FnMut(),
) -> std::io::Result<Supervised> {
    interrupt_flag();
    let out = std::fs::File::create(stdout_log)?;
    let err = std::fs::File::create(stderr_log)?;
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()?;
    let pgid = rustix::process::Pid::from_child(&child);
    let mut timed_out = false;
    let mut was_interrupted = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        tick();
        if interrupted() {
            was_interrupted = true;
        } else if started.elapsed() >= limit {
            timed_out = true;
        }
        if timed_out || was_interrupted {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::TERM);
            let stop_at = Instant::now() + GRACE;
            while Instant::now() < stop_at {
                if child.try_wait()?.is_some() {
                    break;
                }
                std::thread::sleep(POLL);
            }
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            break child.wait()?;
        }
        std::thread::sleep(POLL);
    };
    // The leader is gone; make sure nothing it started (QEMU, virtiofsd)
    // outlives it. ESRCH here means the group is already empty.
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    tick();
    Ok(Supervised {
        status,
        timed_out,
        interrupted: was_interrupted,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        // The grandchild ignores SIGTERM; only the group SIGKILL stops it.
        let script = format!(
            "sh -c 'trap \"\" TERM; echo $$ > {}; exec sleep 300' & wait",
            pidfile.display()
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        let r = supervise(
            &mut cmd,
            &dir.path().join("out"),
            &dir.path().join("err"),
            Duration::from_millis(700),
            || {},
        )
        .unwrap();
        assert!(r.timed_out);
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let alive = Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z");
        assert!(!alive, "grandchild {pid} outlived the timeout");
    }

    #[test]
    fn output_goes_to_the_logs() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo out; echo err >&2; exit 3");
        let r = supervise(
            &mut cmd,
            &dir.path().join("out"),
            &dir.path().join("err"),
            Duration::from_secs(30),
            || {},
        )
        .unwrap();
        assert_eq!(r.status.code(), Some(3));
        assert!(!r.timed_out);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out")).unwrap(),
            "out\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("err")).unwrap(),
            "err\n"
        );
    }
}
