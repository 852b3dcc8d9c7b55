//! io_uring and zero-copy completion wrappers for the `io_uring` and
//! `zerocopy` areas.
//!
//! Pushing an SQE is unsafe because the kernel may read or write the memory
//! it names until the request completes. The wrappers here keep that promise
//! in one of two ways: [`Sqe`] can only describe requests that name no user
//! memory at all (splice, tee, cancel, nop), and the operations that do use
//! memory ([`FixedBufs`], [`send_zc`], [`sendmsg_zc`]) own it and wait for the
//! kernel to let go of it, leaking it if the kernel never does.
//!
//! The MSG_ZEROCOPY error-queue reader lives here too: rustix parses only the
//! ancillary messages it knows, and `sock_extended_err` is not one of them.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use io_uring::{IoUring, cqueue, opcode, squeue, types};

// uapi values the io-uring crate keeps in its private `sys` module
// (include/uapi/linux/io_uring.h).
/// The request will post more CQEs (SEND_ZC: a notification follows).
pub const IORING_CQE_F_MORE: u32 = 1 << 1;
/// This CQE is a zero-copy notification: the kernel no longer uses the buffer.
pub const IORING_CQE_F_NOTIF: u32 = 1 << 3;
/// SEND_ZC/SENDMSG_ZC `ioprio` flag: report in the notification whether
/// the data was copied (Linux 6.2).
pub const IORING_SEND_ZC_REPORT_USAGE: u16 = 1 << 3;
/// Notification result bit under REPORT_USAGE: the data was copied.
pub const IORING_NOTIF_USAGE_ZC_COPIED: u32 = 1 << 31;
const IORING_REGISTER_PROBE: libc::c_uint = 8;
const IO_URING_OP_SUPPORTED: u16 = 1;

/// The opcode numbers the seed 003 series (Feb 2023, never merged) gave
/// its two new opcodes: appended after IORING_OP_SENDMSG_ZC (48), the last
/// opcode of the 6.2 tree it was written against.
pub const PROPOSED_READ_SPLICE_BUF: u8 = 49;
pub const PROPOSED_WRITE_SPLICE_BUF: u8 = 50;

// include/uapi/asm-generic/socket.h and linux/errqueue.h.
pub const SO_ZEROCOPY: libc::c_int = 60;
pub const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
pub const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;

/// One completion, copied out of the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cqe {
    pub user_data: u64,
    pub result: i32,
    pub flags: u32,
}

impl From<cqueue::Entry> for Cqe {
    fn from(e: cqueue::Entry) -> Self {
        // Every CQE a test sees comes through here: note a kernel-internal
        // errno so the runner fails the test (util::note_errno). A
        // notification's result is a bit set (IORING_NOTIF_USAGE_ZC_COPIED
        // is bit 31), not an errno.
        if e.result() < 0 && e.flags() & IORING_CQE_F_NOTIF == 0 {
            crate::util::note_errno(e.result().wrapping_neg());
        }
        Cqe {
            user_data: e.user_data(),
            result: e.result(),
            flags: e.flags(),
        }
    }
}

impl Cqe {
    pub fn has_more(&self) -> bool {
        self.flags & IORING_CQE_F_MORE != 0
    }
    pub fn is_notif(&self) -> bool {
        self.flags & IORING_CQE_F_NOTIF != 0
    }
}

/// What IORING_REGISTER_PROBE says, including the kernel's own `last_op`
/// (IORING_OP_LAST - 1), which the io-uring crate does not expose.
pub struct ProbeTable {
    pub last_op: u8,
    pub ops_len: u8,
    /// `(op field, supported)` for each of the `ops_len` entries.
    pub ops: Vec<(u8, bool)>,
}

impl ProbeTable {
    pub fn supports(&self, op: u8) -> bool {
        self.ops.get(usize::from(op)).is_some_and(|&(_, s)| s)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProbeOp {
    op: u8,
    resv: u8,
    flags: u16,
    resv2: u32,
}

#[repr(C)]
struct ProbeBuf {
    last_op: u8,
    ops_len: u8,
    resv: u16,
    resv2: [u32; 3],
    ops: [ProbeOp; 256],
}

/// Runs IORING_REGISTER_PROBE on `ring` for up to 256 opcodes.
pub fn probe(ring: &IoUring) -> io::Result<ProbeTable> {
    // The kernel rejects a probe buffer that is not all zero.
    let mut buf = Box::new(ProbeBuf {
        last_op: 0,
        ops_len: 0,
        resv: 0,
        resv2: [0; 3],
        ops: [ProbeOp::default(); 256],
    });
    // SAFETY: `buf` is a writable io_uring_probe followed by room for 256
    // io_uring_probe_op entries, the count passed; the kernel writes only
    // within that and the call is synchronous.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            ring.as_raw_fd(),
            IORING_REGISTER_PROBE,
            &mut *buf as *mut ProbeBuf,
            256 as libc::c_uint,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = usize::from(buf.ops_len).min(256);
    Ok(ProbeTable {
        last_op: buf.last_op,
        ops_len: buf.ops_len,
        ops: buf.ops[..n]
            .iter()
            .map(|o| (o.op, o.flags & IO_URING_OP_SUPPORTED != 0))
            .collect(),
    })
}

/// The `features` word io_uring_setup(2) returns, for a throwaway ring.
pub fn setup_features(entries: u32) -> io::Result<u32> {
    // struct io_uring_params is 120 bytes: seven u32 fields (features is
    // the sixth), three reserved u32, then two 40-byte offset structs.
    let mut params = [0u32; 30];
    // SAFETY: `params` is a zeroed, writable buffer the size of struct
    // io_uring_params; the kernel reads and writes only within it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_io_uring_setup,
            entries,
            params.as_mut_ptr().cast::<libc::c_void>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: io_uring_setup returned a new file descriptor we own.
    drop(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
    Ok(params[5])
}

/// A submission that names no user memory, so it may be submitted, left in
/// flight or abandoned at any time. Fds are plain numbers to the kernel
/// here (a bad one is a test case, not a hazard).
#[derive(Clone, Debug)]
pub struct Sqe(squeue::Entry);

fn off(o: Option<u64>) -> i64 {
    // io_uring spells "no offset" (use and advance the file position, or a
    // pipe) as -1.
    o.map_or(-1, |o| o as i64)
}

impl Sqe {
    /// IORING_OP_SPLICE.
    pub fn splice(
        fd_in: RawFd,
        off_in: Option<u64>,
        fd_out: RawFd,
        off_out: Option<u64>,
        len: u32,
        flags: u32,
    ) -> Sqe {
        Sqe(opcode::Splice::new(
            types::Fd(fd_in),
            off(off_in),
            types::Fd(fd_out),
            off(off_out),
            len,
        )
        .flags(flags)
        .build())
    }

    /// IORING_OP_SPLICE between two registered files: `fixed_in` travels
    /// with SPLICE_F_FD_IN_FIXED, `fixed_out` with IOSQE_FIXED_FILE.
    pub fn splice_fixed(
        fixed_in: u32,
        off_in: Option<u64>,
        fixed_out: u32,
        off_out: Option<u64>,
        len: u32,
    ) -> Sqe {
        Sqe(opcode::Splice::new(
            types::Fixed(fixed_in),
            off(off_in),
            types::Fixed(fixed_out),
            off(off_out),
            len,
        )
        .build())
    }

    /// IORING_OP_TEE.
    pub fn tee(fd_in: RawFd, fd_out: RawFd, len: u32, flags: u32) -> Sqe {
        Sqe(opcode::Tee::new(types::Fd(fd_in), types::Fd(fd_out), len)
            .flags(flags)
            .build())
    }

    /// IORING_OP_ASYNC_CANCEL of the request carrying `target` user_data.
    pub fn cancel(target: u64) -> Sqe {
        Sqe(opcode::AsyncCancel::new(target).build())
    }

    /// A read/write-shaped SQE with any opcode number, laid out as the seed
    /// 003 series reads it: `fd`, `off` and `len` as for READ/WRITE, the
    /// splice source in `splice_fd_in`/`splice_off_in`, `addr` zero.
    pub fn proposed_splice_buf(
        opcode_number: u8,
        fd: RawFd,
        offset: u64,
        len: u32,
        splice_fd: RawFd,
        splice_off: u64,
    ) -> Sqe {
        // SPLICE fills exactly the fields the proposal reads, and leaves
        // addr, addr2, addr3, rw_flags and buf_index zero; only the opcode
        // byte differs.
        let e = opcode::Splice::new(
            types::Fd(splice_fd),
            splice_off as i64,
            types::Fd(fd),
            offset as i64,
            len,
        )
        .build();
        // SAFETY: squeue::Entry is #[repr(C)] around struct io_uring_sqe,
        // the 64-byte uapi layout the ring itself holds (the transmute
        // checks the size); any bit pattern is a valid [u8; 64].
        let mut raw: [u8; 64] = unsafe { std::mem::transmute::<squeue::Entry, [u8; 64]>(e) };
        // The opcode is the first byte of io_uring_sqe.
        raw[0] = opcode_number;
        // SAFETY: as above; the bytes came from a valid Entry and only the
        // u8 opcode field changed, which has no invalid values. The result
        // still names no user memory: every address field is zero.
        Sqe(unsafe { std::mem::transmute::<[u8; 64], squeue::Entry>(raw) })
    }

    pub fn user_data(self, user_data: u64) -> Sqe {
        Sqe(self.0.user_data(user_data))
    }

    /// Sets IOSQE_IO_LINK: the next SQE runs only if this one succeeds.
    pub fn linked(self) -> Sqe {
        Sqe(self.0.flags(squeue::Flags::IO_LINK))
    }

    /// Sets IOSQE_IO_HARDLINK: the next SQE runs after this one whatever
    /// its result.
    pub fn hardlinked(self) -> Sqe {
        Sqe(self.0.flags(squeue::Flags::IO_HARDLINK))
    }
}

/// Queues `sqes` and submits them.
pub fn submit(ring: &mut IoUring, sqes: &[Sqe]) -> io::Result<usize> {
    let entries: Vec<squeue::Entry> = sqes.iter().map(|s| s.0.clone()).collect();
    // SAFETY: an `Sqe` names no user memory (see its constructors), so
    // nothing the kernel might touch can be freed while it is in flight.
    unsafe { ring.submission().push_multiple(&entries) }
        .map_err(|_| io::Error::other("submission queue full"))?;
    ring.submit()
}

/// Waits until `want` completions have arrived or `timeout` passes, and
/// returns what arrived (possibly fewer than `want`).
pub fn wait(ring: &mut IoUring, want: usize, timeout: Duration) -> io::Result<Vec<Cqe>> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    loop {
        out.extend(ring.completion().map(Cqe::from));
        let left = deadline.saturating_duration_since(Instant::now());
        if out.len() >= want || left.is_zero() {
            return Ok(out);
        }
        let ts = types::Timespec::from(left);
        let args = types::SubmitArgs::new().timespec(&ts);
        match ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Submits one memory-using request whose memory `owned` keeps alive, and
/// collects completions until `done` says the kernel has let go of it. If
/// that does not happen before `timeout`, `owned` is leaked so the kernel
/// can never write into freed memory.
///
/// # Safety
///
/// Every address `sqe` names must point into heap memory owned by `owned`
/// (moving `owned` must not move it), valid for what the opcode does with
/// it, and `done` must only return true once the kernel no longer uses it.
unsafe fn run_owned<T>(
    ring: &mut IoUring,
    sqe: squeue::Entry,
    owned: T,
    done: impl Fn(&[Cqe]) -> bool,
    timeout: Duration,
) -> io::Result<Vec<Cqe>> {
    // SAFETY: the caller guarantees the SQE names only memory inside
    // `owned`, which lives until `done` or is leaked below.
    unsafe { ring.submission().push(&sqe) }
        .map_err(|_| io::Error::other("submission queue full"))?;
    if let Err(e) = ring.submit() {
        // The request may or may not have reached the kernel.
        std::mem::forget(owned);
        return Err(e);
    }
    let deadline = Instant::now() + timeout;
    let mut cqes = Vec::new();
    while !done(&cqes) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            std::mem::forget(owned);
            return Ok(cqes);
        }
        match wait(ring, 1, left) {
            Ok(more) => cqes.extend(more),
            Err(e) => {
                std::mem::forget(owned);
                return Err(e);
            }
        }
    }
    drop(owned);
    Ok(cqes)
}

/// Whether a zero-copy send is over: its notification arrived, or its
/// result CQE said no notification will follow.
fn zc_finished(user_data: u64) -> impl Fn(&[Cqe]) -> bool {
    move |cqes: &[Cqe]| {
        let mine: Vec<&Cqe> = cqes.iter().filter(|c| c.user_data == user_data).collect();
        mine.iter().any(|c| c.is_notif()) || mine.first().is_some_and(|c| !c.has_more())
    }
}

/// IORING_OP_SEND_ZC of `data` on socket `fd`; returns every CQE seen
/// until the notification (or a lone result CQE), in arrival order.
pub fn send_zc(
    ring: &mut IoUring,
    fd: BorrowedFd<'_>,
    data: Vec<u8>,
    zc_flags: u16,
    user_data: u64,
    timeout: Duration,
) -> io::Result<Vec<Cqe>> {
    let len = u32::try_from(data.len()).map_err(|_| io::Error::other("send too large"))?;
    let sqe = opcode::SendZc::new(types::Fd(fd.as_raw_fd()), data.as_ptr(), len)
        .zc_flags(zc_flags)
        .build()
        .user_data(user_data);
    // SAFETY: the SQE names only `data`'s heap buffer, which `data` owns
    // and which moving the Vec does not move; the kernel reads it until the
    // notification, which is what zc_finished waits for.
    unsafe { run_owned(ring, sqe, data, zc_finished(user_data), timeout) }
}

/// A msghdr with its iovecs and data, all on the heap.
struct MsgParts {
    _parts: Vec<Vec<u8>>,
    _iov: Vec<libc::iovec>,
    msg: Box<libc::msghdr>,
}

/// IORING_OP_SENDMSG_ZC of `parts` (one iovec each) on socket `fd`;
/// returns CQEs as [`send_zc`] does.
pub fn sendmsg_zc(
    ring: &mut IoUring,
    fd: BorrowedFd<'_>,
    parts: Vec<Vec<u8>>,
    zc_flags: u16,
    user_data: u64,
    timeout: Duration,
) -> io::Result<Vec<Cqe>> {
    let mut iov: Vec<libc::iovec> = parts
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    // SAFETY: msghdr is plain old data; all-zero (no name, no control) is
    // a valid value.
    let mut msg: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len();
    let owned = MsgParts {
        _parts: parts,
        _iov: iov,
        msg,
    };
    let sqe = opcode::SendMsgZc::new(types::Fd(fd.as_raw_fd()), &*owned.msg)
        .ioprio(zc_flags)
        .build()
        .user_data(user_data);
    // SAFETY: the SQE names the boxed msghdr, which names the iovec array,
    // which names the part buffers: all heap memory `owned` holds and that
    // stays put when `owned` moves. The kernel reads them until the
    // notification, which is what zc_finished waits for.
    unsafe { run_owned(ring, sqe, owned, zc_finished(user_data), timeout) }
}

/// One fixed-buffer request: READ_FIXED (`write` false) or WRITE_FIXED of
/// `len` bytes at file `offset`, to or from `start..start + len` of
/// registered buffer `index`. An `index` past the table (a test case) still
/// passes an address inside buffer 0, so nothing outside our buffers is
/// ever named.
#[derive(Debug, Clone, Copy)]
pub struct FixedIo {
    pub write: bool,
    pub index: u16,
    pub start: usize,
    pub len: u32,
    pub offset: u64,
}

/// A ring with buffers registered for READ_FIXED/WRITE_FIXED. The buffers
/// outlive the registration; one a request may still be using is leaked.
pub struct FixedBufs {
    ring: IoUring,
    bufs: Vec<Box<[u8]>>,
    /// A request timed out and may still write into the buffers.
    poisoned: bool,
}

impl FixedBufs {
    /// Registers `bufs` (each non-empty) with `ring`.
    pub fn register(ring: IoUring, bufs: Vec<Vec<u8>>) -> io::Result<FixedBufs> {
        let bufs: Vec<Box<[u8]>> = bufs.into_iter().map(Vec::into_boxed_slice).collect();
        let iov = super::iovecs(bufs.iter().map(|b| &b[..]));
        // SAFETY: each iovec names a live heap buffer that `FixedBufs`
        // owns; Drop unregisters them before they are freed (or leaks them).
        unsafe { ring.submitter().register_buffers(&iov) }?;
        Ok(FixedBufs {
            ring,
            bufs,
            poisoned: false,
        })
    }

    /// Buffer `i`, unless a request may still be writing into it.
    pub fn buf(&self, i: usize) -> Option<&[u8]> {
        if self.poisoned {
            return None;
        }
        self.bufs.get(i).map(|b| &b[..])
    }

    /// Mutable buffer `i` (no request is in flight between calls).
    pub fn buf_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        if self.poisoned {
            return None;
        }
        self.bufs.get_mut(i).map(|b| &mut b[..])
    }

    /// Runs one READ_FIXED or WRITE_FIXED (see [`FixedIo`]) and returns
    /// its CQE, or None if it did not complete within `timeout`.
    pub fn rw_fixed(
        &mut self,
        fd: BorrowedFd<'_>,
        req: FixedIo,
        timeout: Duration,
    ) -> io::Result<Option<Cqe>> {
        let FixedIo {
            write,
            index,
            start,
            len,
            offset,
        } = req;
        if self.poisoned {
            return Err(io::Error::other("an earlier request never completed"));
        }
        let addr_buf = usize::from(index).min(self.bufs.len().saturating_sub(1));
        let Some(b) = self.bufs.get_mut(addr_buf) else {
            return Err(io::Error::other("no buffers registered"));
        };
        let end = start.checked_add(len as usize);
        if end.is_none_or(|e| e > b.len()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range outside the buffer",
            ));
        }
        let ptr = b[start..].as_mut_ptr();
        let fd = types::Fd(fd.as_raw_fd());
        let sqe = if write {
            opcode::WriteFixed::new(fd, ptr, len, index)
                .offset(offset)
                .build()
        } else {
            opcode::ReadFixed::new(fd, ptr, len, index)
                .offset(offset)
                .build()
        };
        const UD: u64 = 0xf1ed;
        let sqe = sqe.user_data(UD);
        // SAFETY: the address lies within a registered buffer that `self`
        // owns for the ring's lifetime, and the kernel only does fixed I/O
        // within registered buffers. The buffers are not borrowed while the
        // request runs (we hold &mut self), and if it does not complete in
        // time `poisoned` keeps them from being read and Drop leaks them.
        unsafe { self.ring.submission().push(&sqe) }
            .map_err(|_| io::Error::other("submission queue full"))?;
        self.poisoned = true;
        self.ring.submit()?;
        let cqes = wait(&mut self.ring, 1, timeout)?;
        let mine = cqes.into_iter().find(|c| c.user_data == UD);
        if mine.is_some() {
            self.poisoned = false;
        }
        Ok(mine)
    }
}

impl FixedBufs {
    /// IORING_OP_SEND_ZC of `len` bytes of registered buffer `index` from
    /// `start` (IORING_RECVSEND_FIXED_BUF) on socket `fd`; returns every
    /// CQE seen until the notification, as [`send_zc`] does.
    pub fn send_zc_fixed(
        &mut self,
        fd: BorrowedFd<'_>,
        index: u16,
        start: usize,
        len: u32,
        timeout: Duration,
    ) -> io::Result<Vec<Cqe>> {
        if self.poisoned {
            return Err(io::Error::other("an earlier request never completed"));
        }
        let Some(b) = self.bufs.get(usize::from(index)) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no such registered buffer",
            ));
        };
        let end = start.checked_add(len as usize);
        if end.is_none_or(|e| e > b.len()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range outside the buffer",
            ));
        }
        const UD: u64 = 0xf1ed_5e4d;
        let sqe = opcode::SendZc::new(types::Fd(fd.as_raw_fd()), b[start..].as_ptr(), len)
            .buf_index(Some(index))
            .build()
            .user_data(UD);
        // SAFETY: the address range lies within registered buffer `index`,
        // which `self` owns for the ring's lifetime; the kernel only reads
        // it. `poisoned` stays set until the notification says the kernel
        // is done with it, and Drop leaks the buffers otherwise.
        unsafe { self.ring.submission().push(&sqe) }
            .map_err(|_| io::Error::other("submission queue full"))?;
        self.poisoned = true;
        self.ring.submit()?;
        let deadline = Instant::now() + timeout;
        let done = zc_finished(UD);
        let mut cqes = Vec::new();
        while !done(&cqes) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(cqes);
            }
            cqes.extend(wait(&mut self.ring, 1, left)?);
        }
        self.poisoned = false;
        Ok(cqes)
    }
}

impl Drop for FixedBufs {
    fn drop(&mut self) {
        if self.poisoned {
            // The kernel may still write here: never free it.
            std::mem::forget(std::mem::take(&mut self.bufs));
            return;
        }
        if self.ring.submitter().unregister_buffers().is_err() {
            std::mem::forget(std::mem::take(&mut self.bufs));
        }
    }
}

fn last_errno() -> rustix::io::Errno {
    rustix::io::Errno::from_raw_os_error(
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// Sets SO_ZEROCOPY on a socket.
pub fn set_so_zerocopy(fd: BorrowedFd<'_>, on: bool) -> rustix::io::Result<()> {
    let v: libc::c_int = on.into();
    // SAFETY: `v` is a live c_int and its size is passed; setsockopt only
    // reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ZEROCOPY,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(last_errno()) }
}

/// Reads SO_ZEROCOPY back.
pub fn get_so_zerocopy(fd: BorrowedFd<'_>) -> rustix::io::Result<bool> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are live and writable; `len` holds the size of
    // `v`, and getsockopt writes at most that many bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ZEROCOPY,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(v != 0)
    } else {
        Err(last_errno())
    }
}

/// One `struct sock_extended_err` from the error queue, with the cmsg level
/// and type it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtErr {
    pub cmsg_level: i32,
    pub cmsg_type: i32,
    pub ee_errno: u32,
    pub ee_origin: u8,
    pub ee_type: u8,
    pub ee_code: u8,
    pub ee_info: u32,
    pub ee_data: u32,
}

/// One nonblocking recvmsg(MSG_ERRQUEUE): the extended errors its control
/// data carries (EAGAIN when the queue is empty).
pub fn recv_errqueue(fd: BorrowedFd<'_>) -> rustix::io::Result<Vec<ExtErr>> {
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 64];
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: `msg` names only `control` (no name, no iovecs), which lives
    // across the call; the kernel writes at most msg_controllen bytes.
    let rc = unsafe {
        libc::recvmsg(
            fd.as_raw_fd(),
            &mut msg,
            libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
        )
    };
    if rc < 0 {
        return Err(last_errno());
    }
    let mut out = Vec::new();
    // SAFETY: `msg` was filled by recvmsg, so msg_control/msg_controllen
    // describe a valid cmsg chain inside `control`; the CMSG_* helpers stay
    // within it, and each payload is read unaligned and only when its
    // length covers a whole sock_extended_err.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let hdr = &*c;
            let want = libc::CMSG_LEN(std::mem::size_of::<libc::sock_extended_err>() as u32);
            if hdr.cmsg_len >= want as usize {
                let ee =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::sock_extended_err>());
                out.push(ExtErr {
                    cmsg_level: hdr.cmsg_level,
                    cmsg_type: hdr.cmsg_type,
                    ee_errno: ee.ee_errno,
                    ee_origin: ee.ee_origin,
                    ee_type: ee.ee_type,
                    ee_code: ee.ee_code,
                    ee_info: ee.ee_info,
                    ee_data: ee.ee_data,
                });
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(out)
}
