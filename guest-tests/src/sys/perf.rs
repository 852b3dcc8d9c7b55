//! perf_event_open(2) counters for the perf tests, and io_uring sends whose
//! buffers live for the whole program (SEND, SEND_ZC).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use io_uring::{IoUring, cqueue, opcode, types};

/// The leading, version-0 part of `struct perf_event_attr`
/// (PERF_ATTR_SIZE_VER0 = 64 bytes), which every kernel with
/// perf_event_open accepts; libc does not define it.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// The bitfield word: disabled, inherit, pinned, exclusive, ...
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_ATTR_SIZE_VER0: u32 = 64;
const _: () = assert!(std::mem::size_of::<PerfEventAttr>() == PERF_ATTR_SIZE_VER0 as usize);

const ATTR_DISABLED: u64 = 1 << 0;
const ATTR_INHERIT: u64 = 1 << 1;
const ATTR_EXCLUDE_HV: u64 = 1 << 6;

const FORMAT_TOTAL_TIME_ENABLED: u64 = 1 << 0;
const FORMAT_TOTAL_TIME_RUNNING: u64 = 1 << 1;

/// `_IO('$', n)` from include/uapi/linux/perf_event.h.
const IOC_ENABLE: libc::c_ulong = 0x2400;
const IOC_DISABLE: libc::c_ulong = 0x2401;
const IOC_RESET: libc::c_ulong = 0x2403;

const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

/// A counter this module knows how to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterKind {
    /// Software: CPU time of the task, in ns.
    TaskClock,
    /// Software: context switches.
    ContextSwitches,
    /// Software: page faults.
    PageFaults,
    /// Hardware: CPU cycles.
    Cycles,
    /// Hardware: retired instructions.
    Instructions,
}

impl CounterKind {
    /// (perf type, config) for the kernel.
    fn type_config(self) -> (u32, u64) {
        const HARDWARE: u32 = 0;
        const SOFTWARE: u32 = 1;
        match self {
            CounterKind::TaskClock => (SOFTWARE, 1),
            CounterKind::PageFaults => (SOFTWARE, 2),
            CounterKind::ContextSwitches => (SOFTWARE, 3),
            CounterKind::Cycles => (HARDWARE, 0),
            CounterKind::Instructions => (HARDWARE, 1),
        }
    }

    pub fn is_hardware(self) -> bool {
        self.type_config().0 == 0
    }
}

/// An open, initially disabled counter for the calling thread and the
/// threads it creates afterwards (inherit), counting user and kernel work.
pub struct Counter {
    fd: OwnedFd,
}

impl Counter {
    pub fn open(kind: CounterKind) -> io::Result<Counter> {
        let (type_, config) = kind.type_config();
        let attr = PerfEventAttr {
            type_,
            size: PERF_ATTR_SIZE_VER0,
            config,
            read_format: FORMAT_TOTAL_TIME_ENABLED | FORMAT_TOTAL_TIME_RUNNING,
            flags: ATTR_DISABLED | ATTR_INHERIT | ATTR_EXCLUDE_HV,
            ..Default::default()
        };
        // SAFETY: `attr` is a valid perf_event_attr of the size it claims
        // and outlives the call; pid 0 / cpu -1 / group -1 / flags
        // CLOEXEC ask for a counter on the calling thread, which the
        // kernel returns as a new descriptor or fails with an errno.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                0 as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
        // SAFETY: perf_event_open just returned this descriptor to us and
        // nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Counter { fd })
    }

    fn ioctl(&self, req: libc::c_ulong) -> io::Result<()> {
        // SAFETY: the perf ioctls ENABLE/DISABLE/RESET take an integer
        // argument (0 = this event only) and touch no memory of ours;
        // `fd` is an open perf event.
        if unsafe { libc::ioctl(self.fd.as_raw_fd(), req, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Zeroes the count and starts counting.
    pub fn start(&self) -> io::Result<()> {
        self.ioctl(IOC_RESET)?;
        self.ioctl(IOC_ENABLE)
    }

    /// Stops counting.
    pub fn stop(&self) -> io::Result<()> {
        self.ioctl(IOC_DISABLE)
    }

    /// The count, scaled up for the time the counter was multiplexed out.
    pub fn read(&self) -> io::Result<u64> {
        let mut buf = [0u8; 24];
        let n = rustix::io::read(&self.fd, &mut buf)?;
        if n != buf.len() {
            return Err(io::Error::other(format!("short perf read: {n} bytes")));
        }
        let word =
            |i: usize| u64::from_ne_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8-byte slice"));
        let (value, enabled, running) = (word(0), word(1), word(2));
        if running == 0 || running == enabled {
            return Ok(value);
        }
        Ok((value as f64 * enabled as f64 / running as f64) as u64)
    }
}

/// What one send through io_uring produced.
pub struct SendOutcome {
    /// The send's result: bytes sent, or a negative errno.
    pub res: i32,
    /// Whether a zero-copy notification CQE (IORING_CQE_F_NOTIF) came.
    pub notified: bool,
}

/// Sends `buf` on `sock` through io_uring (IORING_OP_SEND, or SEND_ZC with
/// `zc`) with `msg_flags` (`MSG_DONTWAIT`: a full socket completes with
/// -EAGAIN instead of waiting) and waits for every completion the request
/// produces, calling `after_result` once the result CQE has come and
/// before waiting for the zero-copy notification (on TCP the notification
/// waits for the peer's ACK, which a single-threaded caller's receiver
/// sends only when it reads).
///
/// The buffer is `'static` so the kernel may read it for as long as it
/// likes, even if the wait fails and the request stays in flight.
pub fn uring_send(
    ring: &mut IoUring,
    sock: BorrowedFd<'_>,
    buf: &'static [u8],
    zc: bool,
    msg_flags: i32,
    after_result: &mut dyn FnMut(),
) -> io::Result<SendOutcome> {
    let len = u32::try_from(buf.len()).map_err(|_| io::Error::other("buffer too large"))?;
    let fd = types::Fd(sock.as_fd().as_raw_fd());
    let entry = if zc {
        opcode::SendZc::new(fd, buf.as_ptr(), len)
            .flags(msg_flags)
            .build()
    } else {
        opcode::Send::new(fd, buf.as_ptr(), len)
            .flags(msg_flags)
            .build()
    };
    // SAFETY: the entry points at `buf`, which is 'static and therefore
    // valid for reads for as long as the kernel may use it (until the last
    // CQE, or forever if we stop waiting); the descriptor is borrowed for
    // the call and a closed descriptor only yields an error completion.
    unsafe { ring.submission().push(&entry.user_data(1)) }
        .map_err(|_| io::Error::from_raw_os_error(libc::EBUSY))?;
    let mut out = SendOutcome {
        res: 0,
        notified: false,
    };
    let mut expect_more = true;
    let mut got_result = false;
    while expect_more {
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
        for cqe in ring.completion() {
            if cqueue::notif(cqe.flags()) {
                out.notified = true;
                expect_more = false;
            } else {
                got_result = true;
                out.res = cqe.result();
                // A zero-copy send announces its notification with F_MORE.
                expect_more = cqueue::more(cqe.flags());
                after_result();
            }
        }
        if !got_result {
            expect_more = true;
        }
    }
    Ok(out)
}
