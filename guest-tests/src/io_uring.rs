//! io_uring: the opcode probe and the splice-family opcodes.

use crate::framework::{Ctx, OrOutcome, Test, TestResult};
use crate::{check, skip};

pub const TESTS: &[Test] = &[Test {
    id: "io_uring.probe",
    tags: &["io_uring", "semantics", "smoke"],
    about: "records IORING_REGISTER_PROBE: the last opcode and which opcodes the kernel supports",
    see: "shared/seeds/003 (new opcodes must be discoverable)",
    run: probe,
}];

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
        Err(e) => {
            let why = match e.raw_os_error() {
                Some(libc::ENOSYS) => "io_uring is not built into this kernel (ENOSYS)".to_owned(),
                Some(libc::EPERM) => {
                    "io_uring is disabled (EPERM; see kernel.io_uring_disabled)".to_owned()
                }
                _ => format!("io_uring_setup failed: {e}"),
            };
            Err(crate::framework::Outcome::Skip(why))
        }
    }
}

fn probe(ctx: &mut Ctx) -> TestResult {
    let ring = ring_or_skip(8)?;
    let mut probe = io_uring::Probe::new();
    if let Err(e) = ring.submitter().register_probe(&mut probe) {
        if e.raw_os_error() == Some(libc::EINVAL) {
            skip!("IORING_REGISTER_PROBE is not supported (EINVAL)");
        }
        return Err(e).or_fail("register_probe");
    }
    let supported: Vec<u8> = (0..=u8::MAX).filter(|&op| probe.is_supported(op)).collect();
    check!(
        !supported.is_empty(),
        "probe reports no supported opcode at all"
    );
    check!(probe.is_supported(0), "probe says NOP is unsupported");
    let last = *supported.last().expect("checked non-empty");
    ctx.observe("last_supported_op", opcode_name(last));
    ctx.observe("last_supported_op_number", u32::from(last));
    ctx.observe("supported_count", supported.len());
    ctx.observe(
        "supported",
        supported
            .iter()
            .map(|&op| opcode_name(op))
            .collect::<Vec<_>>(),
    );
    Ok(())
}
