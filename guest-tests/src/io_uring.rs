//! io_uring: the opcode probe, the splice family (SPLICE, TEE, linked
//! chains, cancellation), fixed buffers, zero-copy sends and their
//! notifications, and feature tests for the seed 003 proposal.
//!
//! Every opcode test opens with the probe: an opcode the kernel does not
//! list is a skip naming it.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use io_uring::{IoUring, opcode};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};

use crate::framework::{Ctx, OrOutcome, Outcome, Test, TestResult};
use crate::sys::uring::{
    self, Cqe, FixedBufs, FixedIo, IORING_NOTIF_USAGE_ZC_COPIED, IORING_SEND_ZC_REPORT_USAGE,
    PROPOSED_READ_SPLICE_BUF, PROPOSED_WRITE_SPLICE_BUF, ProbeTable, Sqe,
};
use crate::util::{pattern, read_file, read_up_to, write_all, write_file};
use crate::{check, check_eq, skip};

const SEED003: &str =
    "shared/seeds/003 (reviewers: new opcodes need feature and corner-case tests)";

pub const TESTS: &[Test] = &[
    Test {
        id: "io_uring.probe",
        tags: &["io_uring", "semantics", "smoke"],
        about: "IORING_REGISTER_PROBE lists NOP and every opcode the suite uses that is older than the kernel (SPLICE 5.7, TEE 5.8, SEND_ZC 6.0, ...); /proc/sys/kernel/io_uring_disabled exists from v6.6; observes the supported opcodes and whether the io_uring_disabled sysctl exists (v6.6)",
        see: "shared/seeds/003 (new opcodes must be discoverable)",
        run: probe,
    },
    Test {
        id: "io_uring.probe_table_consistent",
        tags: &["io_uring", "semantics"],
        about: "the probe table is indexed by opcode, ends at last_op, lists NOP, READV and WRITEV, and the io-uring crate reads it the same way",
        see: "shared/seeds/003 (new opcodes must be discoverable)",
        run: probe_table_consistent,
    },
    Test {
        id: "io_uring.setup_features",
        tags: &["io_uring", "semantics"],
        about: "io_uring_setup reports every IORING_FEAT_* bit up to EXT_ARG (5.11); observes the full feature list",
        see: "",
        run: setup_features,
    },
    Test {
        id: "io_uring.splice_file_to_pipe",
        tags: &["io_uring", "splice"],
        about: "IORING_OP_SPLICE moves a file range from an unaligned offset into a pipe intact without moving the file position",
        see: "shared/seeds/000",
        run: splice_file_to_pipe,
    },
    Test {
        id: "io_uring.splice_pipe_to_file",
        tags: &["io_uring", "splice"],
        about: "IORING_OP_SPLICE drains a pipe into a file at an unaligned offset, leaving a zero hole before it",
        see: "shared/seeds/000",
        run: splice_pipe_to_file,
    },
    Test {
        id: "io_uring.splice_pipe_to_pipe",
        tags: &["io_uring", "splice"],
        about: "IORING_OP_SPLICE moves bytes from one pipe to another intact and empties the source",
        see: "",
        run: splice_pipe_to_pipe,
    },
    Test {
        id: "io_uring.splice_offset_on_pipe_espipe",
        tags: &["io_uring", "splice", "errors"],
        about: "an offset on the pipe side of IORING_OP_SPLICE completes with -ESPIPE in either direction",
        see: "",
        run: splice_offset_on_pipe_espipe,
    },
    Test {
        id: "io_uring.splice_bad_fd_ebadf",
        tags: &["io_uring", "splice", "errors"],
        about: "IORING_OP_SPLICE from a closed fd or into a read-only file completes with -EBADF",
        see: "",
        run: splice_bad_fd_ebadf,
    },
    Test {
        id: "io_uring.splice_corner_cases",
        tags: &["io_uring", "splice", "tee", "errors"],
        about: "through io_uring as through the syscalls: SPLICE and TEE of len 0 complete with 0 and move nothing, SPLICE into an O_APPEND file and TEE into its own pipe complete with -EINVAL",
        see: "",
        run: splice_corner_cases,
    },
    Test {
        id: "io_uring.splice_einval",
        tags: &["io_uring", "splice", "errors"],
        about: "IORING_OP_SPLICE between two files (no pipe) or with an unknown flag completes with -EINVAL",
        see: "",
        run: splice_einval,
    },
    Test {
        id: "io_uring.tee_content",
        tags: &["io_uring", "tee"],
        about: "IORING_OP_TEE duplicates pipe content into a second pipe and leaves it readable in the first; a non-pipe gives -EINVAL",
        see: "",
        run: tee_content,
    },
    Test {
        id: "io_uring.linked_splice_file_pipe_file",
        tags: &["io_uring", "splice", "link"],
        about: "a file->pipe splice linked (IOSQE_IO_LINK) to a pipe->file splice copies the range intact, in order",
        see: "shared/seeds/003",
        run: linked_splice_file_pipe_file,
    },
    Test {
        id: "io_uring.linked_chain_first_fails_ecanceled",
        tags: &["io_uring", "splice", "link", "errors"],
        about: "when the first splice of a link chain fails, the second completes with -ECANCELED and moves nothing",
        see: "",
        run: linked_chain_first_fails_ecanceled,
    },
    Test {
        id: "io_uring.hardlink_after_failing_splice",
        tags: &["io_uring", "splice", "link", "errors"],
        about: "a splice that fails at issue (EINVAL, no pipe) does not stop the request IOSQE_IO_HARDLINK links after it: that one runs and moves its bytes",
        see: "",
        run: hardlink_after_failing_splice,
    },
    Test {
        id: "io_uring.splice_fixed_files",
        tags: &["io_uring", "splice"],
        about: "IORING_OP_SPLICE between registered files (SPLICE_F_FD_IN_FIXED, IOSQE_FIXED_FILE) moves file -> pipe -> file intact at the offsets asked for",
        see: "",
        run: splice_fixed_files,
    },
    Test {
        id: "io_uring.linked_short_splice",
        tags: &["io_uring", "splice", "link", "semantics"],
        about: "a short (EOF-truncated) IORING_OP_SPLICE breaks its link: the next request completes with -ECANCELED and moves nothing",
        see: "",
        run: linked_short_splice,
    },
    Test {
        id: "io_uring.read_fixed",
        tags: &["io_uring", "fixed_buffers"],
        about: "IORING_OP_READ_FIXED reads a file range into the middle of a registered buffer and touches nothing else",
        see: "",
        run: read_fixed,
    },
    Test {
        id: "io_uring.write_fixed",
        tags: &["io_uring", "fixed_buffers"],
        about: "IORING_OP_WRITE_FIXED writes part of a registered buffer to a file offset intact",
        see: "",
        run: write_fixed,
    },
    Test {
        id: "io_uring.fixed_buf_index_out_of_range",
        tags: &["io_uring", "fixed_buffers", "errors"],
        about: "READ_FIXED/WRITE_FIXED naming a buffer index past the registered table complete with -EFAULT and move no data",
        see: "",
        run: fixed_buf_index_out_of_range,
    },
    Test {
        id: "io_uring.send_zc_notif",
        tags: &["io_uring", "zerocopy", "net"],
        about: "IORING_OP_SEND_ZC on loopback TCP posts a result CQE with F_MORE, then an F_NOTIF CQE with the same user_data",
        see: "shared/seeds/000 (io_uring SEND_ZC notifications), shared/seeds/004",
        run: send_zc_notif,
    },
    Test {
        id: "io_uring.send_zc_udp",
        tags: &["io_uring", "zerocopy", "net"],
        about: "IORING_OP_SEND_ZC on a connected loopback UDP socket posts a result CQE with F_MORE and the datagram's size, then an F_NOTIF CQE; the datagram arrives intact",
        see: "shared/seeds/004",
        run: send_zc_udp,
    },
    Test {
        id: "io_uring.send_zc_ipv6",
        tags: &["io_uring", "zerocopy", "net"],
        about: "IORING_OP_SEND_ZC on IPv6 loopback TCP posts F_MORE then F_NOTIF and the data arrives intact; skips on a kernel built without IPv6",
        see: "shared/seeds/004",
        run: send_zc_ipv6,
    },
    Test {
        id: "io_uring.send_zc_fixed_buf",
        tags: &["io_uring", "zerocopy", "net", "fixed_buffers"],
        about: "IORING_OP_SEND_ZC from a registered buffer (IORING_RECVSEND_FIXED_BUF) sends exactly the range asked of the buffer asked: F_MORE, then F_NOTIF, the bytes arrive intact",
        see: "shared/seeds/004",
        run: send_zc_fixed_buf,
    },
    Test {
        id: "io_uring.send_zc_report_usage",
        tags: &["io_uring", "zerocopy", "net", "semantics"],
        about: "SEND_ZC with IORING_SEND_ZC_REPORT_USAGE (v6.2; EINVAL before it skips) posts a notification whose result is exactly IORING_NOTIF_USAGE_ZC_COPIED on loopback",
        see: "shared/seeds/004",
        run: send_zc_report_usage,
    },
    Test {
        id: "io_uring.sendmsg_zc_notif",
        tags: &["io_uring", "zerocopy", "net"],
        about: "IORING_OP_SENDMSG_ZC of three iovecs on loopback TCP posts F_MORE then F_NOTIF with the same user_data",
        see: "shared/seeds/004",
        run: sendmsg_zc_notif,
    },
    Test {
        id: "io_uring.sendmsg_zc_report_usage",
        tags: &["io_uring", "zerocopy", "net", "semantics"],
        about: "SENDMSG_ZC with IORING_SEND_ZC_REPORT_USAGE (v6.2; EINVAL before it skips) posts a notification whose result is exactly IORING_NOTIF_USAGE_ZC_COPIED on loopback",
        see: "shared/seeds/004",
        run: sendmsg_zc_report_usage,
    },
    Test {
        id: "io_uring.cancel_blocked_splice",
        tags: &["io_uring", "splice", "cancel", "semantics"],
        about: "IORING_OP_ASYNC_CANCEL of a splice blocked in an io-wq worker on an empty pipe gives -EALREADY, and the splice completes with -EINTR, never the internal -ERESTARTSYS (leaked before upstream e1a64bc64897, stable 6.1.191 and 6.12.115)",
        see: "shared/seeds/000 (signal handling in splice_from_pipe_next)",
        run: cancel_blocked_splice,
    },
    Test {
        id: "io_uring.seed003_read_splice_buf",
        tags: &["io_uring", "splice", "seed003", "proposed"],
        about: "feature test for the proposed IORING_OP_READ_SPLICE_BUF: bad splice fds give -EBADF, a regular file's pages are refused",
        see: SEED003,
        run: seed003_read_splice_buf,
    },
    Test {
        id: "io_uring.seed003_write_splice_buf",
        tags: &["io_uring", "splice", "seed003", "proposed"],
        about: "feature test for the proposed IORING_OP_WRITE_SPLICE_BUF: bad splice fds give -EBADF, a regular file's pages are refused",
        see: SEED003,
        run: seed003_write_splice_buf,
    },
];

/// Opcode names by number, from include/uapi/linux/io_uring.h.
pub const OPCODE_NAMES: &[&str] = &[
    "NOP",
    "READV",
    "WRITEV",
    "FSYNC",
    "READ_FIXED",
    "WRITE_FIXED",
    "POLL_ADD",
    "POLL_REMOVE",
    "SYNC_FILE_RANGE",
    "SENDMSG",
    "RECVMSG",
    "TIMEOUT",
    "TIMEOUT_REMOVE",
    "ACCEPT",
    "ASYNC_CANCEL",
    "LINK_TIMEOUT",
    "CONNECT",
    "FALLOCATE",
    "OPENAT",
    "CLOSE",
    "FILES_UPDATE",
    "STATX",
    "READ",
    "WRITE",
    "FADVISE",
    "MADVISE",
    "SEND",
    "RECV",
    "OPENAT2",
    "EPOLL_CTL",
    "SPLICE",
    "PROVIDE_BUFFERS",
    "REMOVE_BUFFERS",
    "TEE",
    "SHUTDOWN",
    "RENAMEAT",
    "UNLINKAT",
    "MKDIRAT",
    "SYMLINKAT",
    "LINKAT",
    "MSG_RING",
    "FSETXATTR",
    "SETXATTR",
    "FGETXATTR",
    "GETXATTR",
    "SOCKET",
    "URING_CMD",
    "SEND_ZC",
    "SENDMSG_ZC",
    "READ_MULTISHOT",
    "WAITID",
    "FUTEX_WAIT",
    "FUTEX_WAKE",
    "FUTEX_WAITV",
    "FIXED_FD_INSTALL",
    "FTRUNCATE",
    "BIND",
    "LISTEN",
    "RECV_ZC",
    "EPOLL_WAIT",
    "READV_FIXED",
    "WRITEV_FIXED",
    "PIPE",
];

/// The name of an opcode number, or `OP_<n>` for one newer than this table.
pub fn opcode_name(op: u8) -> String {
    OPCODE_NAMES
        .get(usize::from(op))
        .map(|s| (*s).to_owned())
        .unwrap_or_else(|| format!("OP_{op}"))
}

/// A ring, or a skip outcome naming why the kernel would not give one.
pub fn ring_or_skip(entries: u32) -> Result<io_uring::IoUring, crate::framework::Outcome> {
    match io_uring::IoUring::new(entries) {
        Ok(r) => Ok(r),
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOSYS) => Err(crate::framework::Outcome::Skip(
                "io_uring is not built into this kernel (ENOSYS)".to_owned(),
            )),
            // kernel.io_uring_disabled (v6.6) = 2, or = 1 without the
            // io_uring_group: an administrator's choice, not a kernel bug.
            Some(libc::EPERM) => Err(crate::framework::Outcome::Skip(format!(
                "io_uring is disabled (EPERM; kernel.io_uring_disabled = {})",
                io_uring_disabled().map_or("absent".to_owned(), |v| v.to_string())
            ))),
            // Anything else from a small, plain ring is the kernel failing.
            _ => Err(crate::framework::Outcome::Fail(format!(
                "io_uring_setup({entries}) with no flags failed: {e}"
            ))),
        },
    }
}

/// /proc/sys/kernel/io_uring_disabled (v6.6): 0 enabled, 1 only for
/// io_uring_group, 2 disabled; `None` where the sysctl does not exist.
pub fn io_uring_disabled() -> Option<i64> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The release that merged an opcode this suite uses
/// (include/uapi/linux/io_uring.h history): a kernel at or after it whose
/// probe lacks the opcode has lost it, which is a failure, not a skip.
fn op_release(op: u8) -> Option<(u32, u32)> {
    Some(match op {
        o if o == opcode::Nop::CODE
            || o == opcode::Readv::CODE
            || o == opcode::Writev::CODE
            || o == opcode::ReadFixed::CODE
            || o == opcode::WriteFixed::CODE
            || o == opcode::PollAdd::CODE =>
        {
            (5, 1)
        }
        o if o == opcode::AsyncCancel::CODE => (5, 5),
        o if o == opcode::Splice::CODE => (5, 7),
        o if o == opcode::Tee::CODE => (5, 8),
        o if o == opcode::SendZc::CODE => (6, 0),
        o if o == opcode::SendMsgZc::CODE => (6, 1),
        _ => return None,
    })
}

/// How long any single io_uring wait may take before the test gives up;
/// generous for TCG, and still far inside the runner's limit.
const WAIT: Duration = Duration::from_secs(10);

/// The probe table of a fresh ring; a skip only on a kernel older than
/// IORING_REGISTER_PROBE (v5.6), a failure on any newer one.
fn probe_or_skip(ring: &IoUring) -> Result<ProbeTable, Outcome> {
    match uring::probe(ring) {
        Ok(p) => Ok(p),
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL) && !crate::util::kernel_at_least((5, 6)) =>
        {
            skip!("IORING_REGISTER_PROBE is not supported (EINVAL; it arrived in v5.6)")
        }
        Err(e) => Err(e).or_fail("IORING_REGISTER_PROBE (exists since v5.6)"),
    }
}

/// A ring whose kernel supports every opcode in `ops`, or a skip naming
/// the first one the probe does not list.
fn ring_with(ops: &[u8]) -> Result<IoUring, Outcome> {
    ring_of(16, ops)
}

/// [`ring_with`] with `entries` entries; shared by every area that uses
/// io_uring, so an opcode is judged the same way everywhere.
pub(crate) fn ring_of(entries: u32, ops: &[u8]) -> Result<IoUring, Outcome> {
    let ring = ring_or_skip(entries)?;
    let probe = probe_or_skip(&ring)?;
    for &op in ops {
        if probe.supports(op) {
            continue;
        }
        let why = format!(
            "the io_uring probe says IORING_OP_{} ({op}) is unsupported on this kernel (last opcode {} {})",
            opcode_name(op),
            probe.last_op,
            opcode_name(probe.last_op)
        );
        match op_release(op) {
            Some(rel) if crate::util::kernel_at_least(rel) => {
                return Err(Outcome::Fail(format!(
                    "{why}, but it was merged in v{}.{} and this is {}",
                    rel.0,
                    rel.1,
                    crate::util::kernel_release()
                )));
            }
            _ => skip!("{why}"),
        }
    }
    Ok(ring)
}

/// Submits `sqes` and waits for one CQE each; an error if any is missing.
fn run(ring: &mut IoUring, sqes: &[Sqe]) -> Result<Vec<Cqe>, Outcome> {
    uring::submit(ring, sqes).or_error("io_uring_enter (submit)")?;
    let cqes = uring::wait(ring, sqes.len(), WAIT).or_error("io_uring_enter (wait)")?;
    if cqes.len() < sqes.len() {
        return Err(Outcome::Fail(format!(
            "only {} of {} completions arrived within {}s",
            cqes.len(),
            sqes.len(),
            WAIT.as_secs()
        )));
    }
    Ok(cqes)
}

/// The CQE carrying `ud`, or a failure.
fn cqe_for(cqes: &[Cqe], ud: u64) -> Result<Cqe, Outcome> {
    cqes.iter()
        .find(|c| c.user_data == ud)
        .copied()
        .ok_or_else(|| Outcome::Fail(format!("no CQE with user_data {ud} in {cqes:?}")))
}

/// The name of a CQE result: the byte count, or the errno's name,
/// including the kernel-internal restart codes that leak into CQEs.
fn res_name(res: i32) -> String {
    match -res {
        e if e > 0 => crate::util::errno_name(Errno::from_raw_os_error(e)),
        _ => res.to_string(),
    }
}

/// Records a CQE result: an int on success, the errno name on failure.
fn observe_res(ctx: &mut Ctx, name: &str, res: i32) {
    if res < 0 {
        ctx.observe(name, res_name(res));
    } else {
        ctx.observe(name, res as usize);
    }
}

/// Fails unless the CQE result is the errno `want`.
fn expect_errno(res: i32, want: Errno, what: &str) -> TestResult {
    check!(
        res == -want.raw_os_error(),
        "{what}: CQE result {res} ({}), expected -{}",
        res_name(res),
        crate::util::errno_name(want)
    );
    Ok(())
}

/// Bytes waiting in a pipe.
fn pipe_len(fd: impl AsFd) -> Result<usize, Outcome> {
    rustix::io::ioctl_fionread(fd)
        .map(|n| n as usize)
        .or_error("FIONREAD")
}

/// An fd number that is surely not open: far above any fd this test holds.
const NOT_AN_FD: RawFd = 1 << 20;

fn probe(ctx: &mut Ctx) -> TestResult {
    let ring = ring_or_skip(8)?;
    let table = probe_or_skip(&ring)?;
    let supported: Vec<u8> = table
        .ops
        .iter()
        .enumerate()
        .filter(|(_, (_, s))| *s)
        .map(|(i, _)| i as u8)
        .collect();
    check!(
        !supported.is_empty(),
        "probe reports no supported opcode at all"
    );
    check!(table.supports(0), "probe says NOP is unsupported");
    // One fact, one name: the opcodes the probe lists as supported (the
    // last one and the count follow from the list). Kernels differ here by
    // release: every opcode is new in some version.
    ctx.observe_changed(
        "supported",
        supported
            .iter()
            .map(|&op| opcode_name(op))
            .collect::<Vec<_>>(),
        "each opcode's merge release (SPLICE v5.7, TEE v5.8, SEND_ZC v6.0, READ_MULTISHOT and WAITID v6.7, FTRUNCATE v6.9, BIND and LISTEN v6.11, ...)",
    );
    // Every opcode the suite relies on must be there on a kernel at or
    // after the release that merged it.
    for op in 0..=u8::MAX {
        if let Some(rel) = op_release(op) {
            check!(
                table.supports(op) || !crate::util::kernel_at_least(rel),
                "the probe lacks IORING_OP_{} (merged in v{}.{}) on {}",
                opcode_name(op),
                rel.0,
                rel.1,
                crate::util::kernel_release()
            );
        }
    }
    match io_uring_disabled() {
        Some(v) => {
            ctx.observe_changed("io_uring_disabled_sysctl", true, IO_URING_DISABLED_SYSCTL);
            ctx.environment("io_uring_disabled", v);
        }
        None => {
            ctx.observe_changed("io_uring_disabled_sysctl", false, IO_URING_DISABLED_SYSCTL);
            check!(
                !crate::util::kernel_at_least((6, 6)),
                "/proc/sys/kernel/io_uring_disabled is missing on {} (the sysctl exists since v6.6)",
                crate::util::kernel_release()
            );
        }
    }
    Ok(())
}

fn probe_table_consistent(_ctx: &mut Ctx) -> TestResult {
    let ring = ring_or_skip(8)?;
    let table = probe_or_skip(&ring)?;
    check_eq!(
        usize::from(table.ops_len),
        usize::from(table.last_op) + 1,
        "ops_len for a 256-entry probe"
    );
    for (i, &(op, _)) in table.ops.iter().enumerate() {
        check_eq!(usize::from(op), i, "ops[{i}].op");
    }
    for op in [opcode::Nop::CODE, opcode::Readv::CODE, opcode::Writev::CODE] {
        check!(
            table.supports(op),
            "probe says {} is unsupported",
            opcode_name(op)
        );
    }
    // The crate's own reading of the same table must agree with ours.
    let mut p = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut p)
        .or_fail("register_probe via io-uring")?;
    for op in 0..=u8::MAX {
        check_eq!(
            p.is_supported(op),
            table.supports(op),
            "support for opcode {op}"
        );
    }
    Ok(())
}

/// IORING_FEAT_* bit names, by bit number (include/uapi/linux/io_uring.h).
const FEATURE_NAMES: &[&str] = &[
    "SINGLE_MMAP",
    "NODROP",
    "SUBMIT_STABLE",
    "RW_CUR_POS",
    "CUR_PERSONALITY",
    "FAST_POLL",
    "POLL_32BITS",
    "SQPOLL_NONFIXED",
    "EXT_ARG",
    "NATIVE_WORKERS",
    "RSRC_TAGS",
    "CQE_SKIP",
    "LINKED_FILE",
    "REG_REG_RING",
    "RECVSEND_BUNDLE",
    "MIN_TIMEOUT",
    "RW_ATTR",
    "NO_IOWAIT",
];

fn setup_features(ctx: &mut Ctx) -> TestResult {
    drop(ring_or_skip(4)?);
    let bits = uring::setup_features(4).or_fail("io_uring_setup")?;
    let names: Vec<String> = (0..32)
        .filter(|b| bits & (1 << b) != 0)
        .map(|b| {
            FEATURE_NAMES
                .get(b)
                .map(|s| (*s).to_owned())
                .unwrap_or_else(|| format!("BIT_{b}"))
        })
        .collect();
    ctx.observe_changed(
        "features",
        names,
        "each IORING_FEAT_* bit's release (up to EXT_ARG v5.11 in every kernel here; REG_REG_RING v6.3, RECVSEND_BUNDLE v6.10, MIN_TIMEOUT v6.12, ...)",
    );
    // Everything up to EXT_ARG (5.11) is in every kernel this suite targets,
    // and the waits in this area rely on EXT_ARG.
    for (b, name) in FEATURE_NAMES.iter().enumerate().take(9) {
        check!(bits & (1 << b) != 0, "IORING_FEAT_{name} is not reported");
    }
    Ok(())
}

fn splice_file_to_pipe(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let page = crate::util::page_size();
    let data = pattern(3 * page + 100, 0x31);
    let f = write_file(&ctx.scratch().join("src"), &data)?;
    rustix::fs::seek(&f, rustix::fs::SeekFrom::Start(0))?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    let start = page + 7;
    let len = 2 * page;
    let cqes = run(
        &mut ring,
        &[Sqe::splice(
            f.as_raw_fd(),
            Some(start as u64),
            w.as_raw_fd(),
            None,
            len as u32,
            0,
        )
        .user_data(1)],
    )?;
    let c = cqe_for(&cqes, 1)?;
    check_eq!(c.result, len as i32, "splice CQE result");
    let got = read_up_to(&r, len).or_fail("read from pipe")?;
    check!(
        got == data[start..start + len],
        "pipe content differs from the file range"
    );
    let pos = rustix::fs::seek(&f, rustix::fs::SeekFrom::Current(0))?;
    check_eq!(
        pos,
        0,
        "file position after a splice with an explicit offset"
    );
    Ok(())
}

fn splice_pipe_to_file(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let len = 10_000;
    let data = pattern(len, 0x42);
    let path = ctx.scratch().join("dst");
    let f = write_file(&path, b"")?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    write_all(&w, &data).or_error("fill pipe")?;
    let at = 2 * 4096 + 13;
    let cqes = run(
        &mut ring,
        &[Sqe::splice(
            r.as_raw_fd(),
            None,
            f.as_raw_fd(),
            Some(at as u64),
            len as u32,
            0,
        )
        .user_data(1)],
    )?;
    check_eq!(cqe_for(&cqes, 1)?.result, len as i32, "splice CQE result");
    let got = read_file(&path)?;
    check_eq!(got.len(), at + len, "file size");
    check!(
        got[..at].iter().all(|&b| b == 0),
        "hole before the offset is not zero"
    );
    check!(
        got[at..] == data[..],
        "file content differs from what the pipe held"
    );
    check_eq!(pipe_len(&r)?, 0, "bytes left in the pipe");
    Ok(())
}

fn splice_pipe_to_pipe(_ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let data = pattern(5000, 0x17);
    let (ar, aw) = pipe_with(PipeFlags::CLOEXEC)?;
    let (br, bw) = pipe_with(PipeFlags::CLOEXEC)?;
    write_all(&aw, &data).or_error("fill pipe")?;
    let cqes = run(
        &mut ring,
        &[Sqe::splice(ar.as_raw_fd(), None, bw.as_raw_fd(), None, 5000, 0).user_data(1)],
    )?;
    check_eq!(cqe_for(&cqes, 1)?.result, 5000, "splice CQE result");
    let got = read_up_to(&br, 5000).or_fail("read target pipe")?;
    check!(got == data, "target pipe content differs");
    check_eq!(pipe_len(&ar)?, 0, "bytes left in the source pipe");
    Ok(())
}

fn splice_offset_on_pipe_espipe(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let data = pattern(4096, 1);
    let f = write_file(&ctx.scratch().join("f"), &data)?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    write_all(&w, &data).or_error("fill pipe")?;
    let cqes = run(
        &mut ring,
        &[
            // Offset on the pipe we read from.
            Sqe::splice(r.as_raw_fd(), Some(0), f.as_raw_fd(), Some(0), 100, 0).user_data(1),
            // Offset on the pipe we write to.
            Sqe::splice(f.as_raw_fd(), Some(0), w.as_raw_fd(), Some(0), 100, 0).user_data(2),
        ],
    )?;
    let (a, b) = (cqe_for(&cqes, 1)?.result, cqe_for(&cqes, 2)?.result);
    expect_errno(a, Errno::SPIPE, "offset on the input pipe")?;
    expect_errno(b, Errno::SPIPE, "offset on the output pipe")?;
    check_eq!(pipe_len(&r)?, 4096, "pipe content after the failed splices");
    Ok(())
}

fn splice_bad_fd_ebadf(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let path = ctx.scratch().join("ro");
    write_file(&path, b"unchanged")?;
    let ro = std::fs::File::open(&path)?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    write_all(&w, b"0123456789").or_error("fill pipe")?;
    let cqes = run(
        &mut ring,
        &[
            Sqe::splice(NOT_AN_FD, None, w.as_raw_fd(), None, 10, 0).user_data(1),
            Sqe::splice(r.as_raw_fd(), None, ro.as_raw_fd(), Some(0), 10, 0).user_data(2),
        ],
    )?;
    let (a, b) = (cqe_for(&cqes, 1)?.result, cqe_for(&cqes, 2)?.result);
    expect_errno(a, Errno::BADF, "splice from an fd that is not open")?;
    expect_errno(b, Errno::BADF, "splice into a file opened read-only")?;
    check_eq!(
        read_file(&path)?,
        b"unchanged".to_vec(),
        "read-only file content"
    );
    Ok(())
}

fn splice_einval(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let a = write_file(&ctx.scratch().join("a"), &pattern(4096, 2))?;
    let b = write_file(&ctx.scratch().join("b"), b"")?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    // A bit outside SPLICE_F_ALL and SPLICE_F_FD_IN_FIXED.
    const UNKNOWN_FLAG: u32 = 0x100;
    let cqes = run(
        &mut ring,
        &[
            Sqe::splice(a.as_raw_fd(), Some(0), b.as_raw_fd(), Some(0), 100, 0).user_data(1),
            Sqe::splice(
                a.as_raw_fd(),
                Some(0),
                w.as_raw_fd(),
                None,
                100,
                UNKNOWN_FLAG,
            )
            .user_data(2),
        ],
    )?;
    let (x, y) = (cqe_for(&cqes, 1)?.result, cqe_for(&cqes, 2)?.result);
    expect_errno(x, Errno::INVAL, "splice with no pipe on either side")?;
    expect_errno(y, Errno::INVAL, "splice with an unknown flag")?;
    check_eq!(
        pipe_len(&r)?,
        0,
        "bytes the rejected splice put in the pipe"
    );
    Ok(())
}

fn tee_content(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Tee::CODE])?;
    let data = pattern(3000, 0x66);
    let (ar, aw) = pipe_with(PipeFlags::CLOEXEC)?;
    let (br, bw) = pipe_with(PipeFlags::CLOEXEC)?;
    write_all(&aw, &data).or_error("fill pipe")?;
    let f = write_file(&ctx.scratch().join("f"), &data)?;
    let cqes = run(
        &mut ring,
        &[Sqe::tee(ar.as_raw_fd(), bw.as_raw_fd(), 3000, 0).user_data(1)],
    )?;
    check_eq!(cqe_for(&cqes, 1)?.result, 3000, "tee CQE result");
    let copy = read_up_to(&br, 3000).or_fail("read tee target")?;
    check!(copy == data, "tee target content differs");
    let orig = read_up_to(&ar, 3000).or_fail("read tee source")?;
    check!(orig == data, "tee source content changed or was consumed");
    let cqes = run(
        &mut ring,
        &[Sqe::tee(f.as_raw_fd(), bw.as_raw_fd(), 100, 0).user_data(2)],
    )?;
    let res = cqe_for(&cqes, 2)?.result;
    expect_errno(res, Errno::INVAL, "tee from a regular file")?;
    Ok(())
}

fn splice_corner_cases(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE, opcode::Tee::CODE])?;
    let data = pattern(500, 0x67);
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    let (r2, w2) = pipe_with(PipeFlags::CLOEXEC)?;
    write_all(&w, &data).or_error("fill pipe")?;
    let path = ctx.scratch().join("appended");
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .or_error("open O_APPEND")?;
    let cqes = run(
        &mut ring,
        &[
            // io_splice()/io_tee() skip the call for len 0 and complete
            // with 0 (which is also not short, so no link would break).
            Sqe::splice(r.as_raw_fd(), None, w2.as_raw_fd(), None, 0, 0).user_data(1),
            Sqe::tee(r.as_raw_fd(), w2.as_raw_fd(), 0, 0).user_data(2),
            // do_splice() refuses an O_APPEND target, as splice(2) does.
            Sqe::splice(r.as_raw_fd(), None, appended.as_raw_fd(), None, 100, 0).user_data(3),
            // do_tee() refuses a pipe teed into itself.
            Sqe::tee(r.as_raw_fd(), w.as_raw_fd(), 100, 0).user_data(4),
        ],
    )?;
    check_eq!(cqe_for(&cqes, 1)?.result, 0, "SPLICE of len 0");
    check_eq!(cqe_for(&cqes, 2)?.result, 0, "TEE of len 0");
    expect_errno(
        cqe_for(&cqes, 3)?.result,
        Errno::INVAL,
        "SPLICE into an O_APPEND file",
    )?;
    expect_errno(
        cqe_for(&cqes, 4)?.result,
        Errno::INVAL,
        "TEE of a pipe into itself",
    )?;
    check_eq!(pipe_len(&r)?, data.len(), "bytes left in the source pipe");
    check_eq!(pipe_len(&r2)?, 0, "bytes in the target pipe");
    check_eq!(read_file(&path)?.len(), 0, "bytes in the O_APPEND file");
    Ok(())
}

fn linked_splice_file_pipe_file(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let len = 16 * 1024;
    let data = pattern(len + 100, 0x5c);
    let src = write_file(&ctx.scratch().join("src"), &data)?;
    let dst_path = ctx.scratch().join("dst");
    let dst = write_file(&dst_path, b"")?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    let cqes = run(
        &mut ring,
        &[
            Sqe::splice(
                src.as_raw_fd(),
                Some(100),
                w.as_raw_fd(),
                None,
                len as u32,
                0,
            )
            .user_data(1)
            .linked(),
            Sqe::splice(r.as_raw_fd(), None, dst.as_raw_fd(), Some(0), len as u32, 0).user_data(2),
        ],
    )?;
    check_eq!(
        cqe_for(&cqes, 1)?.result,
        len as i32,
        "first link (file->pipe)"
    );
    check_eq!(
        cqe_for(&cqes, 2)?.result,
        len as i32,
        "second link (pipe->file)"
    );
    let got = read_file(&dst_path)?;
    check!(
        got == data[100..],
        "destination differs from the source range"
    );
    Ok(())
}

fn linked_chain_first_fails_ecanceled(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let src = write_file(&ctx.scratch().join("src"), &pattern(4096, 9))?;
    let dst = write_file(&ctx.scratch().join("dst"), b"")?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    let (r2, w2) = pipe_with(PipeFlags::CLOEXEC)?;
    write_all(&w, &[7u8; 64]).or_error("fill pipe")?;
    let cqes = run(
        &mut ring,
        &[
            // An offset on a pipe: fails with ESPIPE.
            Sqe::splice(r.as_raw_fd(), Some(0), dst.as_raw_fd(), Some(0), 64, 0)
                .user_data(1)
                .linked(),
            Sqe::splice(src.as_raw_fd(), Some(0), w2.as_raw_fd(), None, 4096, 0).user_data(2),
        ],
    )?;
    let (a, b) = (cqe_for(&cqes, 1)?.result, cqe_for(&cqes, 2)?.result);
    expect_errno(a, Errno::SPIPE, "first link")?;
    expect_errno(b, Errno::CANCELED, "second link after a failed first")?;
    check_eq!(pipe_len(&r2)?, 0, "bytes the cancelled link moved");
    Ok(())
}

fn hardlink_after_failing_splice(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let a = write_file(&ctx.scratch().join("a"), &pattern(4096, 4))?;
    let b = write_file(&ctx.scratch().join("b"), b"")?;
    let src = write_file(&ctx.scratch().join("src"), &pattern(4096, 5))?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    let cqes = run(
        &mut ring,
        &[
            // Neither end a pipe: do_splice() fails with EINVAL when the
            // request is issued, not when it is prepared.
            Sqe::splice(a.as_raw_fd(), Some(0), b.as_raw_fd(), Some(0), 4096, 0)
                .user_data(1)
                .hardlinked(),
            Sqe::splice(src.as_raw_fd(), Some(0), w.as_raw_fd(), None, 4096, 0).user_data(2),
        ],
    )?;
    let (first, second) = (cqe_for(&cqes, 1)?.result, cqe_for(&cqes, 2)?.result);
    expect_errno(first, Errno::INVAL, "hardlinked splice between two files")?;
    // io_disarm_next() fails the rest of a chain only for IOSQE_IO_LINK.
    check_eq!(
        second,
        4096,
        "request hardlinked after the failed splice ({})",
        res_name(second)
    );
    check_eq!(pipe_len(&r)?, 4096, "bytes the hardlinked splice moved");
    Ok(())
}

fn splice_fixed_files(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let page = crate::util::page_size();
    let data = pattern(2 * page + 77, 0x3f);
    let src = write_file(&ctx.scratch().join("src"), &data)?;
    let dst_path = ctx.scratch().join("dst");
    let dst = write_file(&dst_path, b"")?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    // Registered at indexes no plain fd of this process has, behind empty
    // (-1) slots, so a kernel that took an index for an fd number fails.
    const BASE: u32 = 200;
    let mut table = vec![-1; BASE as usize];
    table.extend([
        src.as_raw_fd(),
        w.as_raw_fd(),
        r.as_raw_fd(),
        dst.as_raw_fd(),
    ]);
    ring.submitter()
        .register_files(&table)
        .or_fail("IORING_REGISTER_FILES with empty slots")?;
    let len = (data.len() - 10) as u32;
    let cqes = run(
        &mut ring,
        &[Sqe::splice_fixed(BASE, Some(10), BASE + 1, None, len).user_data(1)],
    )?;
    check_eq!(
        cqe_for(&cqes, 1)?.result,
        len as i32,
        "file -> pipe through fixed files"
    );
    let cqes = run(
        &mut ring,
        &[Sqe::splice_fixed(BASE + 2, None, BASE + 3, Some(3), len).user_data(2)],
    )?;
    check_eq!(
        cqe_for(&cqes, 2)?.result,
        len as i32,
        "pipe -> file through fixed files"
    );
    let got = read_file(&dst_path)?;
    check_eq!(got.len(), 3 + len as usize, "target size");
    check!(
        got[..3] == [0, 0, 0] && got[3..] == data[10..],
        "target content differs from the source range 10.. written at 3"
    );
    drop(src);
    drop(dst);
    Ok(())
}

fn linked_short_splice(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE])?;
    let src = write_file(&ctx.scratch().join("src"), &pattern(100, 3))?;
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    let (r2, w2) = pipe_with(PipeFlags::CLOEXEC)?;
    write_all(&w2, &[1u8; 10]).or_error("fill pipe")?;
    let cqes = run(
        &mut ring,
        &[
            // Asks for 4096 of a 100-byte file: EOF makes it short.
            Sqe::splice(src.as_raw_fd(), Some(0), w.as_raw_fd(), None, 4096, 0)
                .user_data(1)
                .linked(),
            Sqe::splice(r2.as_raw_fd(), None, w.as_raw_fd(), None, 10, 0).user_data(2),
        ],
    )?;
    let (a, b) = (cqe_for(&cqes, 1)?.result, cqe_for(&cqes, 2)?.result);
    check_eq!(a, 100, "short splice result");
    // io_splice() fails a request that moved less than asked
    // (`ret != sp->len` -> req_set_fail()), which breaks its link: on every
    // kernel since IORING_OP_SPLICE arrived (v5.7).
    check!(
        b == -Errno::CANCELED.raw_os_error(),
        "the request linked after a short splice (100 of 4096 bytes) must complete with ECANCELED; it returned {}",
        res_name(b)
    );
    check_eq!(pipe_len(&r)?, 100, "bytes in the shared target pipe");
    Ok(())
}

/// Two registered 8 KiB buffers on a ring that supports READ/WRITE_FIXED.
fn fixed_ring() -> Result<FixedBufs, Outcome> {
    let ring = ring_with(&[opcode::ReadFixed::CODE, opcode::WriteFixed::CODE])?;
    match FixedBufs::register(ring, vec![vec![0u8; 8192], vec![0u8; 8192]]) {
        Ok(f) => Ok(f),
        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
            skip!("IORING_REGISTER_BUFFERS: ENOMEM (RLIMIT_MEMLOCK too small?)")
        }
        Err(e) => Err(e).or_error("IORING_REGISTER_BUFFERS"),
    }
}

fn read_fixed(ctx: &mut Ctx) -> TestResult {
    let mut fx = fixed_ring()?;
    let data = pattern(20_000, 0x71);
    let f = write_file(&ctx.scratch().join("src"), &data)?;
    let c = fx
        .rw_fixed(
            f.as_fd(),
            FixedIo {
                write: false,
                index: 1,
                start: 100,
                len: 5000,
                offset: 3000,
            },
            WAIT,
        )
        .or_error("READ_FIXED")?
        .ok_or_else(|| Outcome::Fail("READ_FIXED did not complete".into()))?;
    check_eq!(c.result, 5000, "READ_FIXED CQE result");
    let b1 = fx.buf(1).expect("request completed");
    check!(
        b1[100..5100] == data[3000..8000],
        "buffer content differs from the file range"
    );
    check!(
        b1[..100].iter().chain(&b1[5100..]).all(|&b| b == 0),
        "READ_FIXED wrote outside the requested range"
    );
    check!(
        fx.buf(0)
            .expect("request completed")
            .iter()
            .all(|&b| b == 0),
        "READ_FIXED wrote into another registered buffer"
    );
    Ok(())
}

fn write_fixed(ctx: &mut Ctx) -> TestResult {
    let mut fx = fixed_ring()?;
    let data = pattern(8192, 0x23);
    fx.buf_mut(0)
        .expect("no request in flight")
        .copy_from_slice(&data);
    let path = ctx.scratch().join("dst");
    let f = write_file(&path, b"")?;
    let c = fx
        .rw_fixed(
            f.as_fd(),
            FixedIo {
                write: true,
                index: 0,
                start: 50,
                len: 6000,
                offset: 1234,
            },
            WAIT,
        )
        .or_error("WRITE_FIXED")?
        .ok_or_else(|| Outcome::Fail("WRITE_FIXED did not complete".into()))?;
    check_eq!(c.result, 6000, "WRITE_FIXED CQE result");
    let got = read_file(&path)?;
    check_eq!(got.len(), 1234 + 6000, "file size");
    check!(
        got[1234..] == data[50..6050],
        "file content differs from the buffer range"
    );
    Ok(())
}

fn fixed_buf_index_out_of_range(ctx: &mut Ctx) -> TestResult {
    let mut fx = fixed_ring()?;
    let data = pattern(8192, 0x24);
    let src = write_file(&ctx.scratch().join("src"), &data)?;
    let dst_path = ctx.scratch().join("dst");
    let dst = write_file(&dst_path, b"")?;
    let rd = fx
        .rw_fixed(
            src.as_fd(),
            FixedIo {
                write: false,
                index: 2,
                start: 0,
                len: 4096,
                offset: 0,
            },
            WAIT,
        )
        .or_error("READ_FIXED")?
        .ok_or_else(|| Outcome::Fail("READ_FIXED did not complete".into()))?;
    let wr = fx
        .rw_fixed(
            dst.as_fd(),
            FixedIo {
                write: true,
                index: 100,
                start: 0,
                len: 4096,
                offset: 0,
            },
            WAIT,
        )
        .or_error("WRITE_FIXED")?
        .ok_or_else(|| Outcome::Fail("WRITE_FIXED did not complete".into()))?;
    // io_prep_rw_fixed() (io_uring/rw.c): an index at or past the table is
    // -EFAULT, as on every kernel since fixed buffers arrived (v5.1).
    expect_errno(
        rd.result,
        Errno::FAULT,
        "READ_FIXED with buffer index 2 of 2",
    )?;
    expect_errno(
        wr.result,
        Errno::FAULT,
        "WRITE_FIXED with buffer index 100 of 2",
    )?;
    for i in 0..2 {
        check!(
            fx.buf(i)
                .expect("requests completed")
                .iter()
                .all(|&b| b == 0),
            "registered buffer {i} changed"
        );
    }
    check_eq!(
        read_file(&dst_path)?.len(),
        0,
        "bytes written to the target"
    );
    Ok(())
}

/// Checks the CQEs of one zero-copy send: a result CQE with F_MORE and
/// `len` bytes, then a notification with F_NOTIF and no F_MORE, both
/// carrying `ud`. Returns the notification.
fn check_zc_pair(cqes: &[Cqe], ud: u64, len: usize) -> Result<Cqe, Outcome> {
    let mine: Vec<&Cqe> = cqes.iter().filter(|c| c.user_data == ud).collect();
    let Some(first) = mine.first() else {
        return Err(Outcome::Fail(format!(
            "no CQE with user_data {ud}: {cqes:?}"
        )));
    };
    check!(!first.is_notif(), "first CQE is a notification: {first:?}");
    check_eq!(first.result, len as i32, "send result");
    check!(
        first.has_more(),
        "result CQE lacks IORING_CQE_F_MORE: {first:?}"
    );
    check_eq!(mine.len(), 2, "CQEs for one zero-copy send ({mine:?})");
    let notif = *mine[1];
    check!(
        notif.is_notif(),
        "second CQE lacks IORING_CQE_F_NOTIF: {notif:?}"
    );
    check!(
        !notif.has_more(),
        "notification carries IORING_CQE_F_MORE: {notif:?}"
    );
    Ok(notif)
}

/// A loopback TCP pair and a ring supporting `op`.
fn zc_setup(op: u8) -> Result<(IoUring, std::net::TcpStream, std::net::TcpStream), Outcome> {
    let ring = ring_with(&[op])?;
    let (client, server) = crate::util::tcp_pair().or_error("loopback TCP pair")?;
    Ok((ring, client, server))
}

// See: shared/seeds/004 (io_uring's split result/notification CQEs as the
// model for zero-copy completion).
fn send_zc_notif(_ctx: &mut Ctx) -> TestResult {
    let (mut ring, client, server) = zc_setup(opcode::SendZc::CODE)?;
    let data = pattern(16 * 1024, 0x0c);
    let cqes =
        uring::send_zc(&mut ring, client.as_fd(), data.clone(), 0, 7, WAIT).or_error("SEND_ZC")?;
    let notif = check_zc_pair(&cqes, 7, data.len())?;
    check_eq!(notif.result, 0, "notification result without REPORT_USAGE");
    let got = read_up_to(&server, data.len()).or_fail("receive")?;
    check!(got == data, "received bytes differ from those sent");
    Ok(())
}

fn send_zc_fixed_buf(_ctx: &mut Ctx) -> TestResult {
    let ring = ring_with(&[opcode::SendZc::CODE])?;
    let bufs = vec![pattern(8192, 0x10), pattern(8192, 0x11)];
    let want = bufs[1][100..4100].to_vec();
    let mut fx = match FixedBufs::register(ring, bufs) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
            skip!("IORING_REGISTER_BUFFERS: ENOMEM (RLIMIT_MEMLOCK too small?)")
        }
        Err(e) => return Err(e).or_error("IORING_REGISTER_BUFFERS"),
    };
    let (client, server) = crate::util::tcp_pair().or_error("loopback TCP pair")?;
    let cqes = fx
        .send_zc_fixed(client.as_fd(), 1, 100, want.len() as u32, WAIT)
        .or_error("SEND_ZC from a registered buffer")?;
    let first = cqe_for(&cqes, 0xf1ed_5e4d)?;
    check!(
        first.result >= 0,
        "SEND_ZC from registered buffer 1 failed: {}",
        res_name(first.result)
    );
    check_zc_pair(&cqes, 0xf1ed_5e4d, want.len())?;
    let got = read_up_to(&server, want.len()).or_fail("receive")?;
    check!(
        got == want,
        "received bytes are not bytes 100..4100 of registered buffer 1"
    );
    Ok(())
}

fn send_zc_udp(_ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::SendZc::CODE])?;
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").or_error("bind UDP receiver")?;
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").or_error("bind UDP sender")?;
    tx.connect(rx.local_addr().or_error("receiver address")?)
        .or_error("connect UDP sender")?;
    let data = pattern(3000, 0x0e);
    let cqes =
        uring::send_zc(&mut ring, tx.as_fd(), data.clone(), 0, 7, WAIT).or_error("SEND_ZC")?;
    let notif = check_zc_pair(&cqes, 7, data.len())?;
    check_eq!(notif.result, 0, "notification result without REPORT_USAGE");
    let mut buf = vec![0u8; 8192];
    let (n, _) = rustix::net::recv(&rx, &mut buf, rustix::net::RecvFlags::DONTWAIT)
        .or_fail("receive the datagram")?;
    check!(
        buf[..n] == data[..],
        "the datagram arrived changed ({n} bytes)"
    );
    Ok(())
}

fn send_zc_ipv6(_ctx: &mut Ctx) -> TestResult {
    let listener = match std::net::TcpListener::bind("[::1]:0") {
        Ok(l) => l,
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)
            ) =>
        {
            skip!("no IPv6 loopback here (CONFIG_IPV6 off or ::1 absent): {e}")
        }
        Err(e) => return Err(e).or_error("bind [::1]"),
    };
    let mut ring = ring_with(&[opcode::SendZc::CODE])?;
    let client = std::net::TcpStream::connect(listener.local_addr().or_error("address")?)
        .or_error("connect [::1]")?;
    let (server, _) = listener.accept().or_error("accept")?;
    let data = pattern(16 * 1024, 0x0f);
    let cqes =
        uring::send_zc(&mut ring, client.as_fd(), data.clone(), 0, 7, WAIT).or_error("SEND_ZC")?;
    check_zc_pair(&cqes, 7, data.len())?;
    let got = read_up_to(&server, data.len()).or_fail("receive")?;
    check!(got == data, "received bytes differ from those sent");
    Ok(())
}

/// The sysctl's release; where it is missing on a kernel at or after it,
/// the probe test fails.
const IO_URING_DISABLED_SYSCTL: &str = "v6.6, /proc/sys/kernel/io_uring_disabled (\"io_uring: add a sysctl to disable io_uring system-wide\")";

/// IORING_SEND_ZC_REPORT_USAGE: accepted since v6.2.
const REPORT_USAGE: crate::util::Change = crate::util::Change {
    release: (6, 2),
    commit: "IORING_SEND_ZC_REPORT_USAGE (io_uring/net, v6.2)",
};

/// The REPORT_USAGE variant shared by SEND_ZC and SENDMSG_ZC: `send` runs
/// one zero-copy send of `len` bytes with the given zc flags.
fn report_usage(
    _ctx: &mut Ctx,
    op: u8,
    len: usize,
    send: impl FnOnce(&mut IoUring, &std::net::TcpStream) -> std::io::Result<Vec<Cqe>>,
) -> TestResult {
    let (mut ring, client, server) = zc_setup(op)?;
    let cqes = send(&mut ring, &client).or_error(&opcode_name(op))?;
    let first = cqe_for(&cqes, 9)?;
    if first.result == -libc::EINVAL {
        REPORT_USAGE.check(
            false,
            &format!(
                "IORING_OP_{} rejects IORING_SEND_ZC_REPORT_USAGE with EINVAL",
                opcode_name(op)
            ),
        )?;
        skip!(
            "IORING_OP_{} rejects IORING_SEND_ZC_REPORT_USAGE with EINVAL (the flag arrived in v6.2)",
            opcode_name(op)
        );
    }
    let notif = check_zc_pair(&cqes, 9, len)?;
    let res = notif.result as u32;
    // Loopback always copies: the receive side cannot keep a sender's
    // pages, so the skb's frags are copied (skb_orphan_frags_rx()) and the
    // notification reports it (Documentation/networking/msg_zerocopy.rst).
    check_eq!(
        res,
        IORING_NOTIF_USAGE_ZC_COPIED,
        "notification result on loopback (IORING_NOTIF_USAGE_ZC_COPIED and nothing else)"
    );
    let got = read_up_to(&server, len).or_fail("receive")?;
    check_eq!(got.len(), len, "bytes received");
    Ok(())
}

fn send_zc_report_usage(ctx: &mut Ctx) -> TestResult {
    let data = pattern(8 * 1024, 0x0d);
    let len = data.len();
    report_usage(ctx, opcode::SendZc::CODE, len, move |ring, client| {
        uring::send_zc(
            ring,
            client.as_fd(),
            data,
            IORING_SEND_ZC_REPORT_USAGE,
            9,
            WAIT,
        )
    })
}

fn sendmsg_parts() -> Vec<Vec<u8>> {
    vec![pattern(1000, 1), pattern(4096, 2), pattern(3000, 3)]
}

fn sendmsg_zc_notif(_ctx: &mut Ctx) -> TestResult {
    let (mut ring, client, server) = zc_setup(opcode::SendMsgZc::CODE)?;
    let parts = sendmsg_parts();
    let all: Vec<u8> = parts.concat();
    let cqes =
        uring::sendmsg_zc(&mut ring, client.as_fd(), parts, 0, 7, WAIT).or_error("SENDMSG_ZC")?;
    let notif = check_zc_pair(&cqes, 7, all.len())?;
    check_eq!(notif.result, 0, "notification result without REPORT_USAGE");
    let got = read_up_to(&server, all.len()).or_fail("receive")?;
    check!(got == all, "received bytes differ from the iovecs sent");
    Ok(())
}

fn sendmsg_zc_report_usage(ctx: &mut Ctx) -> TestResult {
    let parts = sendmsg_parts();
    let len = parts.iter().map(Vec::len).sum();
    report_usage(ctx, opcode::SendMsgZc::CODE, len, move |ring, client| {
        uring::sendmsg_zc(
            ring,
            client.as_fd(),
            parts,
            IORING_SEND_ZC_REPORT_USAGE,
            9,
            WAIT,
        )
    })
}

// See: shared/seeds/000 (splice_from_pipe_next() waits interruptibly; io-wq
// cancels a running request by signalling its worker).
fn cancel_blocked_splice(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(&[opcode::Splice::CODE, opcode::AsyncCancel::CODE])?;
    let dst = write_file(&ctx.scratch().join("dst"), b"")?;
    // The writer stays open and silent, so the splice has to wait.
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    uring::submit(
        &mut ring,
        &[Sqe::splice(r.as_raw_fd(), None, dst.as_raw_fd(), Some(0), 4096, 0).user_data(1)],
    )
    .or_error("submit splice")?;
    // Cancelling work io-wq has not started gives a different (and
    // uninteresting) answer, so wait until its worker sleeps in the splice.
    let early = uring::wait(&mut ring, 1, Duration::from_millis(300)).or_error("wait")?;
    check!(
        early.is_empty(),
        "splice from an empty pipe completed without data: {early:?}"
    );
    if !wait_for_sleeping_io_worker(Duration::from_secs(5)) {
        write_all(&w, &[0u8; 4096]).or_error("unblock splice")?;
        let _ = uring::wait(&mut ring, 1, WAIT);
        return Err(Outcome::Error(
            "no io-wq worker of this process was seen sleeping in the splice within 5 s".into(),
        ));
    }
    uring::submit(&mut ring, &[Sqe::cancel(1).user_data(2)]).or_error("submit cancel")?;
    let mut cqes = uring::wait(&mut ring, 2, WAIT).or_error("wait")?;
    let done = cqes.iter().any(|c| c.user_data == 1);
    if !done {
        // Release it so the ring can be torn down, then report the hang.
        write_all(&w, &[0u8; 4096]).or_error("unblock splice")?;
        cqes.extend(uring::wait(&mut ring, 1, WAIT).or_error("wait")?);
        return Err(Outcome::Fail(format!(
            "splice still blocked {}s after IORING_OP_ASYNC_CANCEL (CQEs: {cqes:?})",
            WAIT.as_secs()
        )));
    }
    let splice = cqe_for(&cqes, 1)?.result;
    let cancel = cqe_for(&cqes, 2)?.result;
    drop(w);
    // io-wq cancels running work by signalling its worker
    // (io_wq_worker_cancel()); the pipe wait then returns -ERESTARTSYS,
    // which io_uring must turn into -EINTR: there is no syscall to restart.
    // Debian's 6.12.107 leaks it into the CQE. Upstream commit e1a64bc64897
    // ("io_uring: don't pass restart error codes to userspace"), which
    // converts it in io_issue_sqe() for every opcode, reached stable in
    // 6.12.115 and 6.1.191 (Debian's
    // changelogs of linux 6.12.115-1 and 6.1.192-1): so Debian's 6.1.192
    // and a 6.12.117 built from source give -EINTR. Not the config, not the
    // backend: mutant 28 reverts the fix on 6.12.117 and the leak returns.
    if crate::util::internal_errno_name(-splice).is_some() {
        return Err(Outcome::Fail(format!(
            "the cancelled splice completed with {} ({splice}), a kernel-internal code; fixed by upstream commit e1a64bc64897 (\"io_uring: don't pass restart error codes to userspace\", stable 6.1.191 and 6.12.115)",
            res_name(splice)
        )));
    }
    expect_errno(splice, Errno::INTR, "the splice cancelled while it waited")?;
    // The request was running, so the cancel can only signal it.
    expect_errno(cancel, Errno::ALREADY, "ASYNC_CANCEL of a running splice")?;
    Ok(())
}

/// Waits until one of this process's io-wq threads (`iou-wrk-*`) is in
/// state S; false if none is within `limit`.
fn wait_for_sleeping_io_worker(limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        let sleeping = std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .any(|t| {
                let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                // The state follows the parenthesised comm in /proc/*/stat.
                let state = stat
                    .rsplit_once(") ")
                    .map(|(_, rest)| rest.starts_with('S'));
                comm.starts_with("iou-wrk") && state == Some(true)
            });
        if sleeping {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Skips unless the kernel carries the seed 003 series as posted: opcodes
/// 49 and 50 supported and the table ending at 50. Mainline reused both
/// numbers in 6.7 (READ_MULTISHOT, WAITID) and lists opcodes past 50.
fn seed003_gate(ring: &IoUring, op: u8, name: &str) -> TestResult {
    let table = probe_or_skip(ring)?;
    let series = "proposed in 'io_uring: add IORING_OP_READ[WRITE]_SPLICE_BUF' (Feb 2023, shared/seeds/003) and never merged";
    if !table.supports(op) {
        skip!(
            "IORING_OP_{name} was {series}; the probe reports opcode {op} unsupported here (last opcode {} {})",
            table.last_op,
            opcode_name(table.last_op)
        );
    }
    if table.last_op != PROPOSED_WRITE_SPLICE_BUF {
        skip!(
            "IORING_OP_{name} was {series}; opcode {op} is supported here but is mainline's IORING_OP_{} (reassigned in 6.7), since the probe lists opcodes up to {} ({}) instead of ending at the series' last opcode {PROPOSED_WRITE_SPLICE_BUF}",
            opcode_name(op),
            table.last_op,
            opcode_name(table.last_op)
        );
    }
    Ok(())
}

/// The corner cases the series' own code defines, for either opcode:
/// a splice fd that is not open or not readable is -EBADF, and a regular
/// file (whose ->splice_read never acknowledges SPLICE_F_KERN_NEED_CONFIRM)
/// is refused with -EACCES, leaving both files unchanged.
fn seed003_splice_buf(ctx: &mut Ctx, op: u8, name: &str) -> TestResult {
    let mut ring = ring_or_skip(8)?;
    seed003_gate(&ring, op, name)?;
    let src_data = pattern(8192, 0x03);
    let src_path = ctx.scratch().join("pages");
    let src = write_file(&src_path, &src_data)?;
    let wronly = std::fs::OpenOptions::new().write(true).open(&src_path)?;
    let other_data = pattern(8192, 0x30);
    let other_path = ctx.scratch().join("io");
    let other = write_file(&other_path, &other_data)?;
    let fd = other.as_raw_fd();
    let cqes = run(
        &mut ring,
        &[
            Sqe::proposed_splice_buf(op, fd, 0, 4096, NOT_AN_FD, 0).user_data(1),
            Sqe::proposed_splice_buf(op, fd, 0, 4096, wronly.as_raw_fd(), 0).user_data(2),
            Sqe::proposed_splice_buf(op, fd, 0, 4096, src.as_raw_fd(), 0).user_data(3),
        ],
    )?;
    let (a, b, c) = (
        cqe_for(&cqes, 1)?.result,
        cqe_for(&cqes, 2)?.result,
        cqe_for(&cqes, 3)?.result,
    );
    observe_res(ctx, "splice_fd_not_open", a);
    observe_res(ctx, "splice_fd_write_only", b);
    observe_res(ctx, "splice_fd_regular_file", c);
    expect_errno(a, Errno::BADF, "splice fd not open")?;
    expect_errno(b, Errno::BADF, "splice fd opened write-only")?;
    expect_errno(c, Errno::ACCESS, "regular file as the splice buffer source")?;
    check!(
        read_file(&src_path)? == src_data,
        "splice source file changed"
    );
    check!(
        read_file(&other_path)? == other_data,
        "I/O target file changed"
    );
    Ok(())
}

// See: shared/seeds/003, '[PATCH 3/4] io_uring: add IORING_OP_READ[WRITE]_SPLICE_BUF'.
fn seed003_read_splice_buf(ctx: &mut Ctx) -> TestResult {
    seed003_splice_buf(ctx, PROPOSED_READ_SPLICE_BUF, "READ_SPLICE_BUF")
}

// See: shared/seeds/003, '[PATCH 3/4] io_uring: add IORING_OP_READ[WRITE]_SPLICE_BUF'.
fn seed003_write_splice_buf(ctx: &mut Ctx) -> TestResult {
    seed003_splice_buf(ctx, PROPOSED_WRITE_SPLICE_BUF, "WRITE_SPLICE_BUF")
}
