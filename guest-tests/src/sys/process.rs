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
