//! fork and friends for running each test in its own process.

use std::io;

/// Which side of a fork we are on.
pub enum Forked {
    Child,
    Parent(rustix::process::Pid),
}

/// Forks the calling process; the child is put in a new process group so the
/// runner can kill everything a test started.
///
/// The runner calls this only while single-threaded, which is what makes
/// running arbitrary code in the child sound.
pub fn fork_into_own_group() -> io::Result<Forked> {
    // SAFETY: fork(2) has no memory-safety preconditions of its own; the
    // runner is single-threaded when it calls this (tests start their
    // threads inside the child), so no lock can be held by a thread that
    // does not exist in the child.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // SAFETY: setpgid(0, 0) only changes this process's group.
            unsafe { libc::setpgid(0, 0) };
            Ok(Forked::Child)
        }
        pid => {
            let pid = rustix::process::Pid::from_raw(pid).expect("fork returned a positive pid");
            Ok(Forked::Parent(pid))
        }
    }
}

/// Ends a forked child at once, without running the parent's exit handlers
/// or flushing buffers the parent also holds.
pub fn exit_child(code: i32) -> ! {
    // SAFETY: _exit(2) is always safe to call; it never returns.
    unsafe { libc::_exit(code) }
}

/// The CPU time (user and system) process `pid` has used so far, from
/// `/proc/<pid>/stat` (clock-tick resolution, 10 ms where USER_HZ is 100);
/// None if it cannot be read.
pub fn cpu_time(pid: rustix::process::Pid) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_pid())).ok()?;
    // After the command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&hz| hz > 0)?;
    Some(std::time::Duration::from_micros(ticks * 1_000_000 / hz))
}

/// How a child ended, when `wait4(WNOHANG)` reaped it.
pub struct Reaped {
    /// The raw wait status.
    pub status: i32,
    /// The CPU time (user and system) it used over its whole life.
    pub cpu: std::time::Duration,
}

/// Reaps child `pid` if it has ended, without waiting: `Ok(None)` while it
/// runs.
pub fn try_reap(pid: rustix::process::Pid) -> io::Result<Option<Reaped>> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: status and usage are valid for writes for the call.
    let got = unsafe { libc::wait4(pid.as_raw_pid(), &mut status, libc::WNOHANG, &mut usage) };
    match got {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        _ => {
            let tv = |t: libc::timeval| {
                std::time::Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
                    + std::time::Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
            };
            Ok(Some(Reaped {
                status,
                cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
            }))
        }
    }
}
