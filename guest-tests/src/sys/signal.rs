//! Signal plumbing for the signals tests: a counting handler installed with
//! or without `SA_RESTART`, thread-directed signals (tgkill), a fork for
//! the kill-latency children, vmsplice from a borrowed buffer, and io_uring
//! submissions whose entries reference no user memory.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use io_uring::{IoUring, opcode, squeue, types};
use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::pipe::{IoSliceRaw, SpliceFlags};
use rustix::process::Pid;

/// How many signals [`install_counting_handler`]'s handler has run.
static HANDLED: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_signal(_sig: libc::c_int) {
    // An atomic add is async-signal-safe; nothing else happens here.
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// How many times the counting handler has run in this process so far.
pub fn handled_count() -> u64 {
    HANDLED.load(Ordering::SeqCst)
}

/// The previous disposition of a signal, restored on drop.
pub struct HandlerGuard {
    sig: libc::c_int,
    old: libc::sigaction,
}

/// Installs a handler for `sig` that only counts deliveries (see
/// [`handled_count`]). With `restart`, the handler carries `SA_RESTART`, so
/// the kernel may transparently restart a syscall it interrupted.
pub fn install_counting_handler(sig: libc::c_int, restart: bool) -> io::Result<HandlerGuard> {
    // SAFETY: `sigaction` is plain old data; all-zero is a valid value
    // (empty mask, no flags, SIG_DFL).
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    let handler: extern "C" fn(libc::c_int) = count_signal;
    act.sa_sigaction = handler as libc::sighandler_t;
    act.sa_flags = if restart { libc::SA_RESTART } else { 0 };
    // SAFETY: as above.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: `act` and `old` are valid, initialised sigaction structs that
    // outlive the call; the handler only performs an atomic add, which is
    // async-signal-safe, and is a `'static` function.
    if unsafe { libc::sigaction(sig, &act, &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(HandlerGuard { sig, old })
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        // SAFETY: `old` is the disposition the kernel gave us back in
        // `install_counting_handler`, so reinstalling it is valid.
        unsafe { libc::sigaction(self.sig, &self.old, std::ptr::null_mut()) };
    }
}

/// Sends `sig` to one thread of this process (tgkill), so the signal lands
/// on the thread that sits in the syscall under test and nowhere else.
pub fn signal_thread(tid: Pid, sig: libc::c_int) -> io::Result<()> {
    let tgid = rustix::process::getpid();
    // SAFETY: tgkill takes three integers and touches no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            libc::c_long::from(tgid.as_raw_nonzero().get()),
            libc::c_long::from(tid.as_raw_nonzero().get()),
            libc::c_long::from(sig),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How many threads this process has, from /proc/self/status.
fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot read /proc/self/status to check for other threads: {e}"),
        )
    })?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads: line in /proc/self/status"))
}

/// Forks a child that runs `body` and exits with its return value; returns
/// the child's pid. The child stays in the caller's process group, so the
/// runner's group kill reaps it even if the test forgets to.
///
/// Refuses (with an error) unless the calling process has exactly one
/// thread: only then may the child run arbitrary code such as allocation.
pub fn fork_child(body: impl FnOnce() -> i32) -> io::Result<Pid> {
    if thread_count()? != 1 {
        return Err(io::Error::other(
            "fork_child needs a single-threaded process",
        ));
    }
    // SAFETY: fork(2) has no memory-safety preconditions of its own; the
    // process is single-threaded (checked above), so no lock can be held
    // by a thread that would not exist in the child.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // A panic must not unwind back into the parent's code paths.
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
            // SAFETY: _exit(2) never returns and runs no exit handlers, so
            // the child cannot flush buffers or run destructors it shares
            // with the parent.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(Pid::from_raw(pid).expect("fork returned a positive pid")),
    }
}

/// Maps `buf` into the pipe whose write end is `pipe_w` (vmsplice without
/// `SPLICE_F_GIFT`); returns how many bytes the pipe took. Fails with
/// `EBADF` unless `pipe_w` is open for writing, because only then does the
/// kernel read (rather than write) the memory.
pub fn vmsplice_bytes(
    pipe_w: impl AsFd,
    buf: &[u8],
    flags: SpliceFlags,
) -> rustix::io::Result<usize> {
    if flags.contains(SpliceFlags::GIFT) {
        return Err(Errno::INVAL);
    }
    let mode = rustix::fs::fcntl_getfl(&pipe_w)? & OFlags::ACCMODE;
    if mode != OFlags::WRONLY && mode != OFlags::RDWR {
        return Err(Errno::BADF);
    }
    let iov = [IoSliceRaw::from_slice(buf)];
    // SAFETY: `pipe_w` is open for writing (checked above), so the kernel
    // only reads `buf`, which is borrowed, live and initialised for the
    // whole call; without GIFT the kernel gets no licence to take over
    // the pages.
    unsafe { rustix::pipe::vmsplice(&pipe_w, &iov, flags) }
}

/// An io_uring request that references no user memory: only file
/// descriptors, offsets, lengths and flags, so pushing it cannot make the
/// kernel read or write memory this process may free.
pub enum FdOnlyOp<'a> {
    /// IORING_OP_SPLICE; offsets of -1 mean "no offset" (pipes).
    Splice {
        fd_in: BorrowedFd<'a>,
        off_in: i64,
        fd_out: BorrowedFd<'a>,
        off_out: i64,
        len: u32,
    },
    /// IORING_OP_POLL_ADD, single shot.
    Poll { fd: BorrowedFd<'a>, events: u32 },
    /// IORING_OP_NOP.
    Nop,
    /// IORING_OP_ASYNC_CANCEL of the request with this user_data.
    Cancel { target: u64 },
}

/// Queues one [`FdOnlyOp`] with `user_data`; `link` sets IOSQE_IO_LINK.
/// Fails with `EBUSY` when the submission queue is full.
pub fn push_fd_only(
    ring: &mut IoUring,
    op: FdOnlyOp<'_>,
    user_data: u64,
    link: bool,
) -> io::Result<()> {
    let entry = match op {
        FdOnlyOp::Splice {
            fd_in,
            off_in,
            fd_out,
            off_out,
            len,
        } => opcode::Splice::new(
            types::Fd(fd_in.as_raw_fd()),
            off_in,
            types::Fd(fd_out.as_raw_fd()),
            off_out,
            len,
        )
        .build(),
        FdOnlyOp::Poll { fd, events } => {
            opcode::PollAdd::new(types::Fd(fd.as_raw_fd()), events).build()
        }
        FdOnlyOp::Nop => opcode::Nop::new().build(),
        FdOnlyOp::Cancel { target } => opcode::AsyncCancel::new(target).build(),
    };
    let flags = if link {
        squeue::Flags::IO_LINK
    } else {
        squeue::Flags::empty()
    };
    let entry = entry.user_data(user_data).flags(flags);
    // SAFETY: the entry names only file descriptors, offsets, lengths and
    // a user_data cookie (see `FdOnlyOp`), so the kernel never accesses
    // memory of this process on its behalf; a descriptor closed before the
    // request runs yields an error completion, not unsoundness.
    unsafe { ring.submission().push(&entry) }.map_err(|_| io::Error::from_raw_os_error(libc::EBUSY))
}
