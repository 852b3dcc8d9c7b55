//! splice(2): file<->pipe<->file data paths at edge sizes and offsets,
//! pipes and sockets, the seed 000 "splice is a mapping" reproducers, the
//! error contract, what special files do as splice ends, and pipe sizing.
//!
//! The helpers at the bottom (`Unblocker`, `fill_pipe`, `expect_errno`, ...)
//! are shared with the tee, vmsplice and sendfile areas.

use rustix::fs::SeekFrom;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::pipe::{SpliceFlags, fcntl_getpipe_size, fcntl_setpipe_size, pipe, splice};

use crate::framework::{Ctx, OrOutcome, Outcome, Test, TestResult};
use crate::sys::mem::SharedFileMap;
use crate::util::{
    errno_name, page_size, pattern, read_file, read_up_to, tcp_pair, unix_pair, write_all,
    write_file,
};
use crate::{check, check_eq, skip};

pub const TESTS: &[Test] = &[
    Test {
        id: "splice.file_pipe_file_roundtrip",
        tags: &["splice", "smoke"],
        about: "64 KiB + 123 bytes go file -> pipe -> file through splice with offsets and arrive intact",
        see: "",
        run: file_pipe_file_roundtrip,
    },
    Test {
        id: "splice.roundtrip_empty_file",
        tags: &["splice", "sizes"],
        about: "splicing an empty file into a pipe returns 0 (EOF) and leaves the target empty",
        see: "",
        run: roundtrip_empty_file,
    },
    Test {
        id: "splice.roundtrip_one_byte",
        tags: &["splice", "sizes"],
        about: "a 1-byte file goes file -> pipe -> file intact, offsets advance by 1, file positions stay put",
        see: "",
        run: roundtrip_one_byte,
    },
    Test {
        id: "splice.roundtrip_page_minus_one",
        tags: &["splice", "sizes"],
        about: "a PAGE-1 byte file goes file -> pipe -> file intact",
        see: "",
        run: roundtrip_page_minus_one,
    },
    Test {
        id: "splice.roundtrip_page",
        tags: &["splice", "sizes"],
        about: "a one-page file goes file -> pipe -> file intact",
        see: "",
        run: roundtrip_page,
    },
    Test {
        id: "splice.roundtrip_1mib",
        tags: &["splice", "sizes"],
        about: "1 MiB goes file -> pipe -> file in pipe-sized steps and arrives intact",
        see: "",
        run: roundtrip_1mib,
    },
    Test {
        id: "splice.roundtrip_unaligned_offsets",
        tags: &["splice", "sizes"],
        about: "file -> pipe -> file at unaligned source and target offsets keeps content and the bytes before the target offset",
        see: "",
        run: roundtrip_unaligned_offsets,
    },
    Test {
        id: "splice.null_offsets_use_file_position",
        tags: &["splice"],
        about: "with NULL offsets splice reads and writes at the files' positions and advances them",
        see: "",
        run: null_offsets_use_file_position,
    },
    Test {
        id: "splice.pipe_to_tcp",
        tags: &["splice", "net"],
        about: "256 KiB + 17 bytes go pipe -> loopback TCP socket through splice and arrive intact",
        see: "",
        run: pipe_to_tcp,
    },
    Test {
        id: "splice.pipe_to_unix",
        tags: &["splice", "net"],
        about: "256 KiB + 17 bytes go pipe -> AF_UNIX stream socket through splice and arrive intact",
        see: "",
        run: pipe_to_unix,
    },
    Test {
        id: "splice.tcp_to_pipe",
        tags: &["splice", "net"],
        about: "200 KiB + 5 bytes go loopback TCP socket -> pipe through splice and arrive intact",
        see: "",
        run: tcp_to_pipe,
    },
    Test {
        id: "splice.unix_to_pipe",
        tags: &["splice", "net"],
        about: "200 KiB + 5 bytes go AF_UNIX stream socket -> pipe through splice and arrive intact",
        see: "",
        run: unix_to_pipe,
    },
    Test {
        id: "splice.pipe_to_pipe",
        tags: &["splice"],
        about: "pipe -> pipe splice moves exactly the bytes asked for, returns short when the source holds less, 0 at EOF",
        see: "",
        run: pipe_to_pipe,
    },
    Test {
        id: "splice.seed000_write_after_splice",
        tags: &["splice", "semantics", "seed000"],
        about: "a pwrite() to a page-cache file after splicing it into a pipe shows through the pipe (splice shares pages); skips on a scratch fs not known to splice from its page cache",
        see: "LKML 'copy on write for splice() from file to pipe?' (Feb 2023), shared/seeds/000",
        run: seed000_write_after_splice,
    },
    Test {
        id: "splice.seed000_mmap_store_after_splice",
        tags: &["splice", "semantics", "seed000"],
        about: "a store through a shared mmap of a page-cache file after splicing it into a pipe shows through the pipe; the store reaches the file",
        see: "LKML 'copy on write for splice() from file to pipe?' (Feb 2023), shared/seeds/000",
        run: seed000_mmap_store_after_splice,
    },
    Test {
        id: "splice.seed000_o_direct_source",
        tags: &["splice", "semantics", "seed000"],
        about: "splice from an O_DIRECT file moves the range and copies it: a later pwrite does not show through the pipe; skips where the scratch fs refuses O_DIRECT (an environment fact)",
        see: "LKML 'copy on write for splice() from file to pipe?' (Feb 2023), shared/seeds/000",
        run: seed000_o_direct_source,
    },
    Test {
        id: "splice.espipe_offset_on_pipe",
        tags: &["splice", "errors"],
        about: "an offset given for a pipe end fails with ESPIPE (input side, output side, pipe to pipe)",
        see: "",
        run: espipe_offset_on_pipe,
    },
    Test {
        id: "splice.unknown_flags_einval",
        tags: &["splice", "errors"],
        about: "a flag bit outside SPLICE_F_ALL fails with EINVAL",
        see: "",
        run: unknown_flags_einval,
    },
    Test {
        id: "splice.append_target_einval",
        tags: &["splice", "errors"],
        about: "splicing into a file opened with O_APPEND fails with EINVAL and leaves it unchanged",
        see: "",
        run: append_target_einval,
    },
    Test {
        id: "splice.neither_end_pipe_einval",
        tags: &["splice", "errors"],
        about: "splice between two regular files (no pipe end) fails with EINVAL",
        see: "",
        run: neither_end_pipe_einval,
    },
    Test {
        id: "splice.pipe_to_itself_einval",
        tags: &["splice", "errors"],
        about: "splicing a pipe's read end into its own write end fails with EINVAL and keeps the data",
        see: "",
        run: pipe_to_itself_einval,
    },
    Test {
        id: "splice.len_zero_returns_zero",
        tags: &["splice", "errors"],
        about: "a zero-length splice returns 0 in both directions and moves nothing",
        see: "",
        run: len_zero_returns_zero,
    },
    Test {
        id: "splice.ebadf",
        tags: &["splice", "errors"],
        about: "an input not open for reading, an output not open for writing, or an O_PATH fd fails with EBADF",
        see: "",
        run: ebadf,
    },
    Test {
        id: "splice.nonblock_empty_pipe",
        tags: &["splice", "nonblock"],
        about: "SPLICE_F_NONBLOCK from an empty pipe with a writer fails with EAGAIN at once; with no writer it returns 0",
        see: "",
        run: nonblock_empty_pipe,
    },
    Test {
        id: "splice.epipe_no_reader",
        tags: &["splice", "errors", "signals"],
        about: "splice from a file into a pipe whose read end is closed fails with EPIPE and sends SIGPIPE once",
        see: "",
        run: epipe_no_reader,
    },
    Test {
        id: "splice.nonblock_full_pipe",
        tags: &["splice", "nonblock"],
        about: "SPLICE_F_NONBLOCK into a full pipe fails with EAGAIN at once and consumes nothing from the file",
        see: "",
        run: nonblock_full_pipe,
    },
    Test {
        id: "splice.from_dev_zero",
        tags: &["splice", "semantics", "devices"],
        about: "splice from /dev/zero gives a whole page of zeros from v6.7 (1b057bd800c3); before it EINVAL passes; observes the result (splice_result)",
        see: "commit 1b057bd800c3 (v6.7); shared/seeds/000 (/dev/zero as a splice source)",
        run: from_dev_zero,
    },
    Test {
        id: "splice.from_dev_full",
        tags: &["splice", "semantics", "devices"],
        about: "splice from /dev/full gives a whole page of zeros from v6.7 (1b057bd800c3); before it EINVAL passes; observes the result (splice_result)",
        see: "commit 1b057bd800c3 (v6.7); shared/seeds/000 (/dev/zero as a splice source)",
        run: from_dev_full,
    },
    Test {
        id: "splice.from_dev_urandom",
        tags: &["splice", "semantics", "devices"],
        about: "splice from /dev/urandom fills a page into an empty pipe, not all zeros",
        see: "",
        run: from_dev_urandom,
    },
    Test {
        id: "splice.from_dev_null",
        tags: &["splice", "semantics", "devices"],
        about: "splice from /dev/null fails with EINVAL (null_fops has no splice_read)",
        see: "",
        run: from_dev_null,
    },
    Test {
        id: "splice.to_dev_null",
        tags: &["splice", "semantics", "devices"],
        about: "splice from a pipe into /dev/null consumes all 8 KiB, and the pipe loses exactly that",
        see: "",
        run: to_dev_null,
    },
    Test {
        id: "splice.to_dev_zero",
        tags: &["splice", "semantics", "devices"],
        about: "splice from a pipe into /dev/zero consumes all 8 KiB from v6.7 (1b057bd800c3; EINVAL before it passes); observes the result (splice_result)",
        see: "",
        run: to_dev_zero,
    },
    Test {
        id: "splice.from_procfs",
        tags: &["splice", "semantics", "pseudofs"],
        about: "splice reads /proc/version and /proc/sys/kernel/ostype whole and from an offset exactly as read(2) does; /proc/self/comm and cmdline (no read_iter) fail with EINVAL",
        see: "",
        run: from_procfs,
    },
    Test {
        id: "splice.from_sysfs",
        tags: &["splice", "semantics", "pseudofs"],
        about: "splice reads sysfs attributes (cpu/online, THP enabled where configured) whole and from an offset exactly as read(2) does",
        see: "",
        run: from_sysfs,
    },
    Test {
        id: "splice.pipe_size_default",
        tags: &["splice", "pipe_size"],
        about: "F_GETPIPE_SZ of a new pipe is 16 pages (PIPE_DEF_BUFFERS), the same from both ends",
        see: "",
        run: pipe_size_default,
    },
    Test {
        id: "splice.setpipe_size_zero",
        tags: &["splice", "pipe_size"],
        about: "F_SETPIPE_SZ(0) gives one page (round_pipe_size() rounds anything below a page up to one), which F_GETPIPE_SZ reports",
        see: "",
        run: setpipe_size_zero,
    },
    Test {
        id: "splice.setpipe_size_one",
        tags: &["splice", "pipe_size"],
        about: "F_SETPIPE_SZ(1) rounds up to at least one page and the pipe still carries a page through splice",
        see: "",
        run: setpipe_size_one,
    },
    Test {
        id: "splice.setpipe_size_page",
        tags: &["splice", "pipe_size"],
        about: "F_SETPIPE_SZ(PAGE) gives exactly one page of capacity: a one-page pipe takes one page, then is full",
        see: "",
        run: setpipe_size_page,
    },
    Test {
        id: "splice.setpipe_size_non_pow2",
        tags: &["splice", "pipe_size"],
        about: "F_SETPIPE_SZ(3 pages + 1) rounds up to a power-of-two number of pages no smaller than asked",
        see: "",
        run: setpipe_size_non_pow2,
    },
    Test {
        id: "splice.setpipe_size_above_max",
        tags: &["splice", "pipe_size"],
        about: "above /proc/sys/fs/pipe-max-size: a caller with CAP_SYS_RESOURCE gets a rounded-up capacity, one without gets EPERM",
        see: "",
        run: setpipe_size_above_max,
    },
    Test {
        id: "splice.setpipe_size_shrink_busy",
        tags: &["splice", "pipe_size"],
        about: "shrinking a pipe below the pages it holds fails with EBUSY and keeps the data; shrinking to fit works",
        see: "",
        run: setpipe_size_shrink_busy,
    },
];

/// How long a call that should return at once may block before the
/// [`Unblocker`] steps in and the test fails.
pub(crate) const BLOCK_LIMIT: Duration = Duration::from_secs(5);
/// Timeout for socket reads and writes, so a lost byte fails a test rather
/// than hanging it.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Splices exactly `len` bytes, looping over short transfers.
pub(crate) fn splice_exact(
    from: impl AsFd,
    mut off_in: Option<&mut u64>,
    to: impl AsFd,
    mut off_out: Option<&mut u64>,
    len: usize,
) -> rustix::io::Result<usize> {
    let mut done = 0;
    while done < len {
        let n = splice(
            &from,
            off_in.as_deref_mut(),
            &to,
            off_out.as_deref_mut(),
            len - done,
            SpliceFlags::empty(),
        )?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

pub(crate) fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// The current position of a file.
pub(crate) fn position(f: impl AsFd) -> rustix::io::Result<u64> {
    rustix::fs::seek(f, SeekFrom::Current(0))
}

/// Moves `len` bytes from `src` at `src_off` to `dst` at `dst_off` through
/// a pipe, one pipe-load per step, and checks counts, offsets, positions
/// and content. Returns the number of file -> pipe calls it took.
fn roundtrip(
    ctx: &mut Ctx,
    len: usize,
    src_off: usize,
    dst_off: usize,
    seed: u8,
) -> Result<usize, Outcome> {
    let data = pattern(src_off + len, seed);
    let tag = format!("{len}-{src_off}-{dst_off}");
    let src = write_file(&ctx.scratch().join(format!("src-{tag}")), &data)?;
    let src_pos = position(&src)?;
    let dst_path = ctx.scratch().join(format!("dst-{tag}"));
    // Bytes before the target offset must survive untouched.
    let prefix = vec![0xa5u8; dst_off];
    let dst = write_file(&dst_path, &prefix)?;
    let dst_pos = position(&dst)?;
    let (r, w) = pipe()?;
    let (mut off_in, mut off_out) = (src_off as u64, dst_off as u64);
    let mut moved = 0;
    let mut calls = 0;
    loop {
        let n = splice(
            &src,
            Some(&mut off_in),
            &w,
            None,
            64 * 1024,
            SpliceFlags::empty(),
        )
        .or_fail("splice file->pipe")?;
        if n == 0 {
            break;
        }
        calls += 1;
        check!(
            n <= len - moved,
            "splice file->pipe returned {n} bytes with only {} left before EOF",
            len - moved
        );
        let m = splice_exact(&r, None, &dst, Some(&mut off_out), n).or_fail("splice pipe->file")?;
        check_eq!(m, n, "pipe->file byte count");
        moved += n;
    }
    check_eq!(moved, len, "bytes moved before EOF");
    check_eq!(
        off_in,
        (src_off + len) as u64,
        "source offset after the copy"
    );
    check_eq!(
        off_out,
        (dst_off + len) as u64,
        "target offset after the copy"
    );
    check_eq!(
        position(&src)?,
        src_pos,
        "source file position (explicit offsets must not move it)"
    );
    check_eq!(
        position(&dst)?,
        dst_pos,
        "target file position (explicit offsets must not move it)"
    );
    let got = read_file(&dst_path)?;
    check_eq!(got.len(), dst_off + len, "target file size");
    check!(
        got[..dst_off] == prefix[..],
        "bytes before the target offset changed"
    );
    check!(
        got[dst_off..] == data[src_off..],
        "target content differs from source at offset {:?}",
        first_diff(&got[dst_off..], &data[src_off..])
    );
    Ok(calls)
}

/// One round trip at offset 0, recording how many splice calls it took.
fn roundtrip_sized(ctx: &mut Ctx, len: usize, seed: u8) -> TestResult {
    let calls = roundtrip(ctx, len, 0, 0, seed)?;
    ctx.metric("file_to_pipe_calls", calls as f64, "count");
    Ok(())
}

fn file_pipe_file_roundtrip(ctx: &mut Ctx) -> TestResult {
    let len = 64 * 1024 + 123;
    let data = pattern(len + 7, 0x5a);
    let src = write_file(&ctx.scratch().join("src"), &data)?;
    let dst_path = ctx.scratch().join("dst");
    let dst = write_file(&dst_path, b"")?;
    let (r, w) = pipe()?;
    // Start 7 bytes in so the source offset is not page aligned.
    let mut off_in = 7u64;
    let mut off_out = 0u64;
    let mut moved = 0;
    while moved < len {
        let chunk = (len - moved).min(16 * 1024);
        let n =
            splice_exact(&src, Some(&mut off_in), &w, None, chunk).or_fail("splice file->pipe")?;
        check_eq!(n, chunk, "file->pipe byte count");
        let m = splice_exact(&r, None, &dst, Some(&mut off_out), n).or_fail("splice pipe->file")?;
        check_eq!(m, n, "pipe->file byte count");
        moved += n;
    }
    check_eq!(
        off_in,
        7 + len as u64,
        "source offset advanced by the bytes moved"
    );
    check_eq!(
        off_out,
        len as u64,
        "target offset advanced by the bytes moved"
    );
    let got = read_file(&dst_path)?;
    check_eq!(got.len(), len, "target file size");
    check!(
        got == data[7..],
        "target content differs from source at offset {:?}",
        first_diff(&got, &data[7..])
    );
    Ok(())
}

fn roundtrip_empty_file(ctx: &mut Ctx) -> TestResult {
    roundtrip_sized(ctx, 0, 0x01)
}

fn roundtrip_one_byte(ctx: &mut Ctx) -> TestResult {
    roundtrip_sized(ctx, 1, 0x02)
}

fn roundtrip_page_minus_one(ctx: &mut Ctx) -> TestResult {
    roundtrip_sized(ctx, page_size() - 1, 0x03)
}

fn roundtrip_page(ctx: &mut Ctx) -> TestResult {
    roundtrip_sized(ctx, page_size(), 0x04)
}

fn roundtrip_1mib(ctx: &mut Ctx) -> TestResult {
    roundtrip_sized(ctx, 1 << 20, 0x05)
}

fn roundtrip_unaligned_offsets(ctx: &mut Ctx) -> TestResult {
    let page = page_size();
    // (length, source offset, target offset): straddling page boundaries
    // on one side, the other, or both, by different amounts.
    let cases = [
        (3 * page + 5, 1, 0),
        (3 * page + 5, 0, 1),
        (2 * page, page - 1, page + 1),
        (10_000, 513, 7),
        (1, page - 1, page - 1),
    ];
    for (i, (len, src_off, dst_off)) in cases.into_iter().enumerate() {
        let calls = roundtrip(ctx, len, src_off, dst_off, 0x10 + i as u8)?;
        ctx.metric(
            &format!("file_to_pipe_calls_case{i}"),
            calls as f64,
            "count",
        );
    }
    Ok(())
}

fn null_offsets_use_file_position(ctx: &mut Ctx) -> TestResult {
    let data = pattern(5000, 0x21);
    let src = write_file(&ctx.scratch().join("src"), &data)?;
    let dst_path = ctx.scratch().join("dst");
    let dst = write_file(&dst_path, &[0x77; 10])?;
    rustix::fs::seek(&src, SeekFrom::Start(100))?;
    let (r, w) = pipe()?;
    let n = splice_exact(&src, None, &w, None, 1000).or_fail("splice file->pipe")?;
    check_eq!(n, 1000, "file->pipe byte count");
    check_eq!(
        position(&src)?,
        1100,
        "source position after a NULL-offset splice"
    );
    let m = splice_exact(&r, None, &dst, None, n).or_fail("splice pipe->file")?;
    check_eq!(m, n, "pipe->file byte count");
    check_eq!(
        position(&dst)?,
        1010,
        "target position after a NULL-offset splice"
    );
    let got = read_file(&dst_path)?;
    check_eq!(got.len(), 1010, "target size");
    check!(
        got[..10] == [0x77; 10],
        "bytes before the target position changed"
    );
    check!(
        got[10..] == data[100..1100],
        "target content differs from source[100..1100]"
    );
    Ok(())
}

/// Sets a socket's receive and send timeouts so no transfer can hang.
pub(crate) fn socket_timeouts(fd: impl AsFd) -> rustix::io::Result<()> {
    use rustix::net::sockopt::{Timeout, set_socket_timeout};
    set_socket_timeout(&fd, Timeout::Recv, Some(IO_TIMEOUT))?;
    set_socket_timeout(&fd, Timeout::Send, Some(IO_TIMEOUT))
}

/// Reads up to `len` bytes from `fd` on another thread (until EOF, an error
/// or `len`), so the test thread can write without deadlocking.
pub(crate) fn spawn_reader(fd: OwnedFd, len: usize) -> JoinHandle<rustix::io::Result<Vec<u8>>> {
    std::thread::spawn(move || read_up_to(&fd, len))
}

/// Writes `data` to `fd` on another thread, then closes `fd`.
pub(crate) fn spawn_writer(fd: OwnedFd, data: Vec<u8>) -> JoinHandle<rustix::io::Result<()>> {
    std::thread::spawn(move || write_all(&fd, &data))
}

/// Joins a helper thread, turning a panic or an I/O error into a failure.
pub(crate) fn join<T>(h: JoinHandle<rustix::io::Result<T>>, what: &str) -> Result<T, Outcome> {
    match h.join() {
        Ok(r) => r.or_fail(what),
        Err(_) => Err(Outcome::Error(format!("{what}: helper thread panicked"))),
    }
}

/// Sends `len` bytes into `sock` by writing each pipe-load into a pipe and
/// splicing it to the socket; a reader thread drains the peer.
fn pipe_to_socket(ctx: &mut Ctx, sock: OwnedFd, peer: OwnedFd, seed: u8) -> TestResult {
    let len = 256 * 1024 + 17;
    let data = pattern(len, seed);
    socket_timeouts(&sock)?;
    socket_timeouts(&peer)?;
    let reader = spawn_reader(peer, len + 1);
    let (r, w) = pipe()?;
    let mut calls = 0;
    for chunk in data.chunks(32 * 1024) {
        write_all(&w, chunk).or_error("fill pipe")?;
        let mut done = 0;
        while done < chunk.len() {
            let n = splice(
                &r,
                None,
                &sock,
                None,
                chunk.len() - done,
                SpliceFlags::empty(),
            )
            .or_fail("splice pipe->socket")?;
            check!(
                n > 0,
                "splice pipe->socket returned 0 with data in the pipe"
            );
            done += n;
            calls += 1;
        }
    }
    rustix::net::shutdown(&sock, rustix::net::Shutdown::Write)?;
    let got = join(reader, "read from the peer socket")?;
    check_eq!(got.len(), len, "bytes the peer received");
    check!(
        got == data,
        "peer received different bytes at {:?}",
        first_diff(&got, &data)
    );
    ctx.metric("splice_calls", calls as f64, "count");
    Ok(())
}

fn pipe_to_tcp(ctx: &mut Ctx) -> TestResult {
    let (client, server) = tcp_pair().or_error("loopback TCP pair")?;
    pipe_to_socket(ctx, client.into(), server.into(), 0x31)
}

fn pipe_to_unix(ctx: &mut Ctx) -> TestResult {
    let (a, b) = unix_pair().or_error("AF_UNIX pair")?;
    pipe_to_socket(ctx, a, b, 0x32)
}

/// Receives `len` bytes from `sock` by splicing into a pipe and reading the
/// pipe; a writer thread feeds the peer and then closes it.
fn socket_to_pipe(ctx: &mut Ctx, sock: OwnedFd, peer: OwnedFd, seed: u8) -> TestResult {
    let len = 200 * 1024 + 5;
    let data = pattern(len, seed);
    socket_timeouts(&sock)?;
    socket_timeouts(&peer)?;
    let writer = spawn_writer(peer, data.clone());
    let (r, w) = pipe()?;
    let mut got = Vec::with_capacity(len);
    let mut calls = 0;
    loop {
        let n = splice(&sock, None, &w, None, 64 * 1024, SpliceFlags::empty())
            .or_fail("splice socket->pipe")?;
        if n == 0 {
            break;
        }
        calls += 1;
        let part = read_up_to(&r, n).or_fail("read pipe")?;
        check_eq!(part.len(), n, "bytes the pipe holds after splice");
        got.extend_from_slice(&part);
        check!(got.len() <= len, "received more bytes than were sent");
    }
    join(writer, "write to the peer socket")?;
    check_eq!(got.len(), len, "bytes received before EOF");
    check!(
        got == data,
        "received different bytes at {:?}",
        first_diff(&got, &data)
    );
    ctx.metric("splice_calls", calls as f64, "count");
    Ok(())
}

fn tcp_to_pipe(ctx: &mut Ctx) -> TestResult {
    let (client, server) = tcp_pair().or_error("loopback TCP pair")?;
    socket_to_pipe(ctx, server.into(), client.into(), 0x33)
}

fn unix_to_pipe(ctx: &mut Ctx) -> TestResult {
    let (a, b) = unix_pair().or_error("AF_UNIX pair")?;
    socket_to_pipe(ctx, a, b, 0x34)
}

fn pipe_to_pipe(_ctx: &mut Ctx) -> TestResult {
    let data = pattern(3000, 0x35);
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    write_all(&w1, &data).or_error("fill first pipe")?;
    let n = splice(&r1, None, &w2, None, 1000, SpliceFlags::empty()).or_fail("splice 1000")?;
    check_eq!(n, 1000, "pipe->pipe byte count");
    check_eq!(
        rustix::io::ioctl_fionread(&r1)?,
        2000,
        "bytes left in the source pipe"
    );
    // Asking for more than the source holds returns what it holds rather
    // than waiting for more.
    let m = splice(&r1, None, &w2, None, 5000, SpliceFlags::NONBLOCK).or_fail("splice rest")?;
    check_eq!(m, 2000, "short pipe->pipe byte count");
    drop(w1);
    let eof = splice(&r1, None, &w2, None, 5000, SpliceFlags::empty()).or_fail("splice at EOF")?;
    check_eq!(eof, 0, "pipe->pipe from an empty pipe with no writer");
    drop(w2);
    let got = read_up_to(&r2, 4000).or_fail("read second pipe")?;
    check!(
        got == data,
        "second pipe holds different bytes at {:?}",
        first_diff(&got, &data)
    );
    Ok(())
}

/// The scratch filesystem's name, recorded as an environment fact, and a
/// skip unless its regular files splice by lending their page-cache pages
/// (filemap_splice_read(); overlayfs passes through to such a file), which
/// is what the seed 000 tests are about.
fn require_page_cache_fs(ctx: &mut Ctx) -> TestResult {
    let fs = fs_name(ctx.scratch());
    ctx.environment("scratch_fs", fs.as_str());
    if !["tmpfs", "ramfs", "ext2/3/4", "xfs", "btrfs", "overlayfs"].contains(&fs.as_str()) {
        skip!(
            "the scratch filesystem ({fs}) is not one known to splice from its page cache: {}",
            ctx.scratch().display()
        );
    }
    Ok(())
}

/// Checks that the pipe shows the bytes written after the splice: splice
/// from a page-cache file puts references to the file's pages in the pipe,
/// not copies (the seed 000 thread; filemap_splice_read() on 6.12, the
/// same page-cache path on 6.1), so every later change to those pages is
/// what the reader gets.
fn check_all_new(got: &[u8], how: &str) -> TestResult {
    let new = got.iter().filter(|&&b| b == 0xf0).count();
    let old = got.iter().filter(|&&b| b == 0x1f).count();
    check_eq!(new + old, got.len(), "pipe holds only old or new bytes");
    check!(
        new == got.len(),
        "{how} after splicing a page-cache file into a pipe must show through the pipe (splice shares the pages, it does not copy them): expected all {} bytes new, got {new} new and {old} old",
        got.len()
    );
    Ok(())
}

fn seed000_write_after_splice(ctx: &mut Ctx) -> TestResult {
    require_page_cache_fs(ctx)?;
    let page = page_size();
    let path = ctx.scratch().join("f");
    let f = write_file(&path, &vec![0x1f; 2 * page])?;
    let (r, w) = pipe()?;
    let mut off = 0u64;
    let n = splice_exact(&f, Some(&mut off), &w, None, 2 * page).or_fail("splice file->pipe")?;
    check_eq!(n, 2 * page, "splice byte count");
    // Overwrite the spliced range while the pages sit in the pipe.
    rustix::io::pwrite(&f, &vec![0xf0; 2 * page], 0).or_error("pwrite after splice")?;
    let got = read_up_to(&r, 2 * page).or_fail("read from pipe")?;
    check_eq!(got.len(), 2 * page, "bytes read back from the pipe");
    check_all_new(&got, "a pwrite")?;
    drop(w);
    Ok(())
}

fn seed000_mmap_store_after_splice(ctx: &mut Ctx) -> TestResult {
    // See: shared/seeds/000 — the reproducer there writes through the page
    // cache; a store through a shared mapping reaches the same pages
    // without any syscall, so no copy-on-write hook can run.
    require_page_cache_fs(ctx)?;
    let page = page_size();
    let path = ctx.scratch().join("f");
    let f = write_file(&path, &vec![0x1f; 2 * page])?;
    let map = SharedFileMap::new(&f, 2 * page).or_error("mmap the file shared")?;
    check!(
        map.load(0, 2 * page).iter().all(|&b| b == 0x1f),
        "mapping shows wrong content"
    );
    let (r, w) = pipe()?;
    let mut off = 0u64;
    let n = splice_exact(&f, Some(&mut off), &w, None, 2 * page).or_fail("splice file->pipe")?;
    check_eq!(n, 2 * page, "splice byte count");
    map.store(0, &vec![0xf0; 2 * page]);
    let got = read_up_to(&r, 2 * page).or_fail("read from pipe")?;
    check_eq!(got.len(), 2 * page, "bytes read back from the pipe");
    // The store must reach the file itself whatever the pipe saw.
    let mut back = vec![0u8; 2 * page];
    let k = rustix::io::pread(&f, &mut back, 0).or_fail("pread after store")?;
    check!(
        k == 2 * page && back.iter().all(|&b| b == 0xf0),
        "store through the mapping is not in the file"
    );
    check_all_new(&got, "a store through a shared mapping")?;
    drop(w);
    Ok(())
}

fn seed000_o_direct_source(ctx: &mut Ctx) -> TestResult {
    // See: shared/seeds/000 — O_DIRECT is one of the proposed ways to get
    // a stable snapshot: its reads bypass the page cache, so splice copies
    // (copy_splice_read() on 6.12; a direct read into pipe pages on 6.1).
    let page = page_size();
    let path = ctx.scratch().join("f");
    let f = write_file(&path, &vec![0x1f; 2 * page])?;
    f.sync_all()?;
    ctx.environment("scratch_fs", fs_name(ctx.scratch()));
    let direct = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
    {
        Ok(d) => d,
        Err(e) => {
            let errno = Errno::from_io_error(&e).unwrap_or(Errno::IO);
            ctx.environment("scratch_fs_o_direct", false);
            if errno == Errno::INVAL {
                skip!(
                    "the scratch filesystem ({}) refuses O_DIRECT (EINVAL): {}",
                    fs_name(ctx.scratch()),
                    ctx.scratch().display()
                );
            }
            return Err(Outcome::Error(format!("open O_DIRECT: {e}")));
        }
    };
    ctx.environment("scratch_fs_o_direct", true);
    let (r, w) = pipe()?;
    let mut off = 0u64;
    let n = splice(
        &direct,
        Some(&mut off),
        &w,
        None,
        2 * page,
        SpliceFlags::NONBLOCK,
    )
    .or_fail("splice from an O_DIRECT file into an empty pipe")?;
    check_eq!(n, 2 * page, "bytes spliced from the O_DIRECT file");
    check_eq!(off, n as u64, "offset after the splice");
    rustix::io::pwrite(&f, &vec![0xf0; 2 * page], 0).or_error("pwrite after splice")?;
    let got = read_up_to(&r, n).or_fail("read from pipe")?;
    check_eq!(got.len(), n, "bytes read back from the pipe");
    let new = got.iter().filter(|&&b| b == 0xf0).count();
    check_eq!(
        new,
        0,
        "new bytes in the pipe after a pwrite: splice from an O_DIRECT file copies the data, so the pipe must keep the old bytes"
    );
    Ok(())
}

/// "ok" for a success, the errno name for a failure: for observations where
/// the byte count would depend on more than the kernel.
pub(crate) fn outcome_text<T>(res: &rustix::io::Result<T>) -> String {
    match res {
        Ok(_) => "ok".to_owned(),
        Err(e) => errno_name(*e),
    }
}

/// The filesystem type holding `path`, for skip reasons.
fn fs_name(path: &std::path::Path) -> String {
    match rustix::fs::statfs(path) {
        Ok(st) => match st.f_type as u64 {
            0x0102_1994 => "tmpfs".to_owned(),
            0xef53 => "ext2/3/4".to_owned(),
            0x794c_7630 => "overlayfs".to_owned(),
            0x5846_5342 => "xfs".to_owned(),
            0x9123_683e => "btrfs".to_owned(),
            0x0102_1997 => "9p".to_owned(),
            0x6573_5546 => "fuse".to_owned(),
            t => format!("magic {t:#x}"),
        },
        Err(e) => format!("statfs: {}", errno_name(e)),
    }
}

/// Fails unless the result is exactly the errno `want`; `name` says which
/// call in the reason. (An asserted result is not an observation: it can
/// only ever have one value.)
pub(crate) fn expect_errno(
    _ctx: &mut Ctx,
    name: &str,
    res: rustix::io::Result<usize>,
    want: Errno,
) -> TestResult {
    match res {
        Err(e) if e == want => Ok(()),
        Err(e) => Err(Outcome::Fail(format!(
            "{name}: failed with {}, expected {}",
            errno_name(e),
            errno_name(want)
        ))),
        Ok(n) => Err(Outcome::Fail(format!(
            "{name}: returned {n}, expected {}",
            errno_name(want)
        ))),
    }
}

fn espipe_offset_on_pipe(ctx: &mut Ctx) -> TestResult {
    let f = write_file(&ctx.scratch().join("f"), &[7; 100])?;
    let (r, w) = pipe()?;
    write_all(&w, &[1; 10]).or_error("fill pipe")?;
    let mut off = 0u64;
    let res = splice(&r, Some(&mut off), &f, None, 10, SpliceFlags::empty());
    expect_errno(ctx, "pipe_in_with_offset", res, Errno::SPIPE)?;
    let res = splice(&f, None, &w, Some(&mut off), 10, SpliceFlags::empty());
    expect_errno(ctx, "pipe_out_with_offset", res, Errno::SPIPE)?;
    let (_r2, w2) = pipe()?;
    let res = splice(&r, Some(&mut off), &w2, None, 10, SpliceFlags::empty());
    expect_errno(ctx, "pipe_to_pipe_with_offset", res, Errno::SPIPE)?;
    check_eq!(off, 0, "offset after failed calls");
    check_eq!(
        rustix::io::ioctl_fionread(&r)?,
        10,
        "bytes left in the pipe"
    );
    Ok(())
}

fn unknown_flags_einval(ctx: &mut Ctx) -> TestResult {
    let f = write_file(&ctx.scratch().join("f"), &[7; 100])?;
    let (_r, w) = pipe()?;
    let mut off = 0u64;
    // Bit 4 is the first one SPLICE_F_ALL does not cover.
    let res = splice(
        &f,
        Some(&mut off),
        &w,
        None,
        10,
        SpliceFlags::from_bits_retain(0x10),
    );
    expect_errno(ctx, "flag_0x10", res, Errno::INVAL)?;
    let res = splice(
        &f,
        Some(&mut off),
        &w,
        None,
        10,
        SpliceFlags::from_bits_retain(0x8000_0000),
    );
    expect_errno(ctx, "flag_0x80000000", res, Errno::INVAL)?;
    check_eq!(off, 0, "offset after failed calls");
    Ok(())
}

fn append_target_einval(ctx: &mut Ctx) -> TestResult {
    let path = ctx.scratch().join("f");
    write_file(&path, b"head")?;
    let target = OpenOptions::new().append(true).open(&path)?;
    let (r, w) = pipe()?;
    write_all(&w, &[1; 10]).or_error("fill pipe")?;
    let res = splice(&r, None, &target, None, 10, SpliceFlags::empty());
    expect_errno(ctx, "append_target", res, Errno::INVAL)?;
    check_eq!(
        read_file(&path)?,
        b"head".to_vec(),
        "file content after the refused splice"
    );
    check_eq!(
        rustix::io::ioctl_fionread(&r)?,
        10,
        "bytes left in the pipe"
    );
    Ok(())
}

fn neither_end_pipe_einval(ctx: &mut Ctx) -> TestResult {
    let a = write_file(&ctx.scratch().join("a"), &[7; 100])?;
    let b = write_file(&ctx.scratch().join("b"), b"")?;
    let (mut oa, mut ob) = (0u64, 0u64);
    let res = splice(
        &a,
        Some(&mut oa),
        &b,
        Some(&mut ob),
        100,
        SpliceFlags::empty(),
    );
    expect_errno(ctx, "file_to_file", res, Errno::INVAL)?;
    let (s1, s2) = unix_pair().or_error("AF_UNIX pair")?;
    let res = splice(&a, Some(&mut oa), &s1, None, 100, SpliceFlags::empty());
    expect_errno(ctx, "file -> socket splice with no pipe", res, Errno::INVAL)?;
    drop(s2);
    Ok(())
}

fn pipe_to_itself_einval(ctx: &mut Ctx) -> TestResult {
    let (r, w) = pipe()?;
    write_all(&w, &[9; 100]).or_error("fill pipe")?;
    let res = splice(&r, None, &w, None, 100, SpliceFlags::NONBLOCK);
    expect_errno(ctx, "same_pipe", res, Errno::INVAL)?;
    check_eq!(
        rustix::io::ioctl_fionread(&r)?,
        100,
        "bytes left in the pipe"
    );
    Ok(())
}

fn len_zero_returns_zero(ctx: &mut Ctx) -> TestResult {
    let path = ctx.scratch().join("f");
    let f = write_file(&path, &[7; 100])?;
    let (r, w) = pipe()?;
    let mut off = 0u64;
    let n = splice(&f, Some(&mut off), &w, None, 0, SpliceFlags::empty())
        .or_fail("file->pipe len 0")?;
    check_eq!(n, 0, "file->pipe with len 0");
    check_eq!(off, 0, "offset after len 0");
    check_eq!(rustix::io::ioctl_fionread(&r)?, 0, "bytes in the pipe");
    write_all(&w, &[1; 10]).or_error("fill pipe")?;
    let mut off = 0u64;
    let n = splice(&r, None, &f, Some(&mut off), 0, SpliceFlags::empty())
        .or_fail("pipe->file len 0")?;
    check_eq!(n, 0, "pipe->file with len 0");
    check_eq!(
        rustix::io::ioctl_fionread(&r)?,
        10,
        "bytes left in the pipe"
    );
    // Even an empty pipe with a live writer must not block for len 0.
    let (r2, w2) = pipe()?;
    let guard = Unblocker::arm_write(&w2)?;
    let n = splice(&r2, None, &f, Some(&mut off), 0, SpliceFlags::empty())
        .or_fail("len 0 from empty pipe")?;
    check!(
        !guard.disarm(),
        "a zero-length splice from an empty pipe blocked"
    );
    check_eq!(n, 0, "len 0 from an empty pipe");
    check_eq!(read_file(&path)?, vec![7; 100], "file content");
    Ok(())
}

fn ebadf(ctx: &mut Ctx) -> TestResult {
    let path = ctx.scratch().join("f");
    write_file(&path, &[7; 100])?;
    let wronly = OpenOptions::new().write(true).open(&path)?;
    let rdonly = File::open(&path)?;
    let opath = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(&path)?;
    let (r, w) = pipe()?;
    let res = splice(&wronly, None, &w, None, 10, SpliceFlags::empty());
    expect_errno(ctx, "input_write_only", res, Errno::BADF)?;
    write_all(&w, &[1; 10]).or_error("fill pipe")?;
    let res = splice(&r, None, &rdonly, None, 10, SpliceFlags::empty());
    expect_errno(ctx, "output_read_only", res, Errno::BADF)?;
    let res = splice(&opath, None, &w, None, 10, SpliceFlags::empty());
    expect_errno(ctx, "input_o_path", res, Errno::BADF)?;
    // A pipe's write end as input and read end as output.
    let (r2, w2) = pipe()?;
    let res = splice(&w2, None, &r2, None, 10, SpliceFlags::NONBLOCK);
    // A write end is not open for reading: EBADF before anything else.
    expect_errno(
        ctx,
        "splice from a write end into a read end",
        res,
        Errno::BADF,
    )?;
    check_eq!(
        rustix::io::ioctl_fionread(&r)?,
        10,
        "bytes left in the pipe"
    );
    Ok(())
}

fn nonblock_empty_pipe(ctx: &mut Ctx) -> TestResult {
    let f = write_file(&ctx.scratch().join("f"), b"")?;
    let (r, w) = pipe()?;
    let guard = Unblocker::arm_write(&w)?;
    let res = splice(&r, None, &f, None, 100, SpliceFlags::NONBLOCK);
    check!(
        !guard.disarm(),
        "SPLICE_F_NONBLOCK from an empty pipe blocked"
    );
    expect_errno(ctx, "with_writer", res, Errno::AGAIN)?;
    drop(w);
    let res = splice(&r, None, &f, None, 100, SpliceFlags::NONBLOCK);
    check_eq!(
        res.or_fail("splice from an empty pipe without writer")?,
        0,
        "EOF"
    );
    Ok(())
}

fn epipe_no_reader(ctx: &mut Ctx) -> TestResult {
    let f = write_file(&ctx.scratch().join("f"), &pattern(4096, 0x61))?;
    let (r, w) = pipe()?;
    drop(r);
    let mut off = 0u64;
    crate::signals::expect_epipe_and_sigpipe("splice from a file", || {
        splice(&f, Some(&mut off), &w, None, 4096, SpliceFlags::empty())
    })?;
    check_eq!(off, 0, "file offset after the refused splice");
    Ok(())
}

fn nonblock_full_pipe(ctx: &mut Ctx) -> TestResult {
    let f = write_file(&ctx.scratch().join("f"), &[7; 100])?;
    let (r, w) = pipe()?;
    let held = fill_pipe(&w)?;
    check!(held > 0, "could not put anything in the pipe");
    let guard = Unblocker::arm_drain(&r)?;
    let mut off = 0u64;
    let res = splice(&f, Some(&mut off), &w, None, 100, SpliceFlags::NONBLOCK);
    check!(
        !guard.disarm(),
        "SPLICE_F_NONBLOCK into a full pipe blocked"
    );
    expect_errno(ctx, "splice_flag", res, Errno::AGAIN)?;
    check_eq!(off, 0, "file offset after EAGAIN");
    // O_NONBLOCK on the pipe's write end, without the splice flag.
    set_nonblock(&w, true)?;
    let guard = Unblocker::arm_drain(&r)?;
    let res = splice(&f, Some(&mut off), &w, None, 100, SpliceFlags::empty());
    check!(
        !guard.disarm(),
        "splice into a full O_NONBLOCK pipe blocked"
    );
    // do_splice() turns O_NONBLOCK on the output pipe into SPLICE_F_NONBLOCK.
    expect_errno(ctx, "splice into a full O_NONBLOCK pipe", res, Errno::AGAIN)?;
    Ok(())
}

/// /dev/zero and /dev/full can be spliced from since this commit; before
/// it their file_operations had no splice_read and splice failed with
/// EINVAL.
pub const DEV_ZERO_SPLICE: crate::util::Change = crate::util::Change {
    release: (6, 7),
    commit: "1b057bd800c3 (\"drivers/char/mem: implement splice() for /dev/zero, /dev/full\")",
};

/// Splices one page from `path` into an empty pipe without blocking and
/// returns the result and the bytes that arrived.
fn splice_from_device(path: &str) -> Result<(rustix::io::Result<usize>, Vec<u8>), Outcome> {
    let dev = match File::open(path) {
        Ok(f) => f,
        Err(e) => return Err(Outcome::Error(format!("cannot open {path}: {e}"))),
    };
    let (r, w) = pipe()?;
    let res = splice(&dev, None, &w, None, 4096, SpliceFlags::NONBLOCK);
    let got = match res {
        Ok(n) => {
            check!(n <= 4096, "splice from {path} returned {n} > 4096 bytes");
            let got = read_up_to(&r, n).or_fail("read from pipe")?;
            check_eq!(got.len(), n, "bytes read back");
            got
        }
        Err(_) => Vec::new(),
    };
    Ok((res, got))
}

/// /dev/zero or /dev/full: a whole page of zeros on a kernel with
/// [`DEV_ZERO_SPLICE`], EINVAL before it. Observes `splice_result`: 4096
/// or EINVAL.
fn splice_zeros_device(ctx: &mut Ctx, path: &str) -> TestResult {
    let (res, got) = splice_from_device(path)?;
    ctx.observe_result_changed("splice_result", &res, &DEV_ZERO_SPLICE);
    match res {
        Ok(n) => {
            check_eq!(n, 4096, "bytes spliced from {path} into an empty pipe");
            check!(
                got.iter().all(|&b| b == 0),
                "{path} produced a non-zero byte"
            );
            Ok(())
        }
        Err(Errno::INVAL) => {
            DEV_ZERO_SPLICE.check(false, &format!("splice from {path} failed with EINVAL"))
        }
        Err(e) => Err(Outcome::Fail(format!(
            "splice from {path} failed with {}; expected a page of zeros (or EINVAL before v6.7)",
            errno_name(e)
        ))),
    }
}

fn from_dev_zero(ctx: &mut Ctx) -> TestResult {
    splice_zeros_device(ctx, "/dev/zero")
}

fn from_dev_full(ctx: &mut Ctx) -> TestResult {
    splice_zeros_device(ctx, "/dev/full")
}

fn from_dev_urandom(_ctx: &mut Ctx) -> TestResult {
    // random_fops has had a splice_read on every supported kernel (6.1+).
    let (res, got) = splice_from_device("/dev/urandom")?;
    let n = res.or_fail("splice from /dev/urandom")?;
    check_eq!(
        n,
        4096,
        "bytes spliced from /dev/urandom into an empty pipe"
    );
    check!(
        got.iter().any(|&b| b != 0),
        "/dev/urandom produced {} zero bytes",
        got.len()
    );
    Ok(())
}

fn from_dev_null(_ctx: &mut Ctx) -> TestResult {
    // null_fops has a splice_write but no splice_read (drivers/char/mem.c,
    // 6.1 to 6.12 and later), so do_splice_read() refuses it.
    let (res, got) = splice_from_device("/dev/null")?;
    check!(got.is_empty(), "/dev/null produced {} bytes", got.len());
    match res {
        Err(Errno::INVAL) => Ok(()),
        other => Err(Outcome::Fail(format!(
            "splice from /dev/null (no splice_read): expected EINVAL, got {}",
            match other {
                Ok(n) => format!("{n} bytes"),
                Err(e) => errno_name(e),
            }
        ))),
    }
}

/// Splices 8 KiB from a pipe into the device at `path`; returns the result
/// after checking the pipe lost exactly what splice claims it consumed.
fn splice_to_device(path: &str) -> Result<rustix::io::Result<usize>, Outcome> {
    let dev = OpenOptions::new()
        .write(true)
        .open(path)
        .or_error(&format!("open {path} for writing"))?;
    let (r, w) = pipe()?;
    write_all(&w, &pattern(8192, 0x41)).or_error("fill pipe")?;
    let res = splice(&r, None, &dev, None, 8192, SpliceFlags::NONBLOCK);
    let consumed = *res.as_ref().unwrap_or(&0);
    check!(
        consumed <= 8192,
        "splice into {path} claims {consumed} bytes"
    );
    check_eq!(
        rustix::io::ioctl_fionread(&r)?,
        (8192 - consumed) as u64,
        "bytes left in the pipe"
    );
    Ok(res)
}

fn to_dev_null(_ctx: &mut Ctx) -> TestResult {
    // null_fops.splice_write = splice_write_null on every supported kernel:
    // it consumes everything.
    let n = splice_to_device("/dev/null")?.or_fail("splice from a pipe into /dev/null")?;
    check_eq!(n, 8192, "bytes /dev/null took from the pipe");
    Ok(())
}

fn to_dev_zero(ctx: &mut Ctx) -> TestResult {
    // /dev/zero got splice_write (as /dev/null's) with the same commit that
    // gave it splice_read.
    let res = splice_to_device("/dev/zero")?;
    ctx.observe_result_changed("splice_result", &res, &DEV_ZERO_SPLICE);
    match res {
        Ok(n) => {
            check_eq!(n, 8192, "bytes /dev/zero took from the pipe");
            Ok(())
        }
        Err(Errno::INVAL) => DEV_ZERO_SPLICE.check(
            false,
            "splice from a pipe into /dev/zero failed with EINVAL",
        ),
        Err(e) => Err(Outcome::Fail(format!(
            "splice into /dev/zero failed with {}; expected 8192 bytes (or EINVAL before v6.7)",
            errno_name(e)
        ))),
    }
}

/// For each file, whether splice must read it: seq_file and sysfs files
/// have a splice_read (copy_splice_read() on 6.12, the generic read_iter
/// path on 6.1) and give what read(2) gives, whole in one call and from an
/// offset; a file without read_iter (/proc/self/comm, cmdline) fails with
/// EINVAL. The same on every supported kernel. A file the kernel's config
/// leaves out (no THP) is noted as an environment fact and passed over.
fn splice_pseudo_files(ctx: &mut Ctx, files: &[(&str, &str, bool)]) -> TestResult {
    for &(key, path, splices) in files {
        let expected = match std::fs::read(path) {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                ctx.environment(&format!("{key}_present"), false);
                continue;
            }
            Err(e) => return Err(Outcome::Error(format!("read {path}: {e}"))),
        };
        let f = File::open(path)?;
        let (r, w) = pipe()?;
        // Far more than any of these files hold: a short return is normal.
        let res = splice(&f, None, &w, None, 60 * 1024, SpliceFlags::NONBLOCK);
        let n = match (res, splices) {
            (Err(Errno::INVAL), false) => continue,
            (Ok(n), false) => {
                return Err(Outcome::Fail(format!(
                    "{path} has no read_iter, so splice must fail with EINVAL; it gave {n} bytes"
                )));
            }
            (Err(e), _) => {
                return Err(Outcome::Fail(format!(
                    "splice from {path} failed with {}; expected {}",
                    errno_name(e),
                    if splices { "its content" } else { "EINVAL" }
                )));
            }
            (Ok(n), true) => n,
        };
        let got = read_up_to(&r, n).or_fail("read pipe")?;
        check!(
            got[..] == expected[..],
            "{path}: splice gave {n} bytes where read(2) gives {} (whole in one call, identical)",
            expected.len()
        );
        check_eq!(position(&f)?, n as u64, "{path}: position after splice");
        if expected.len() > 1 {
            let mut off = 1u64;
            let m = splice(
                &f,
                Some(&mut off),
                &w,
                None,
                60 * 1024,
                SpliceFlags::NONBLOCK,
            )
            .or_fail(&format!("{path}: splice at offset 1"))?;
            let got = read_up_to(&r, m).or_fail("read pipe")?;
            check!(
                got[..] == expected[1..],
                "{path}: splice at offset 1 gave {m} bytes that differ from read(2)'s last {}",
                expected.len() - 1
            );
            check_eq!(off, 1 + m as u64, "{path}: offset after splice");
        }
    }
    Ok(())
}

fn from_procfs(ctx: &mut Ctx) -> TestResult {
    splice_pseudo_files(
        ctx,
        &[
            ("proc_version", "/proc/version", true),
            ("proc_self_comm", "/proc/self/comm", false),
            ("proc_self_cmdline", "/proc/self/cmdline", false),
            ("proc_sys_kernel_ostype", "/proc/sys/kernel/ostype", true),
        ],
    )
}

fn from_sysfs(ctx: &mut Ctx) -> TestResult {
    if !std::path::Path::new("/sys/kernel").exists() {
        return Err(Outcome::Error("sysfs is not mounted on /sys".into()));
    }
    splice_pseudo_files(
        ctx,
        &[
            ("cpu_online", "/sys/devices/system/cpu/online", true),
            (
                "kernel_mm_thp_enabled",
                "/sys/kernel/mm/transparent_hugepage/enabled",
                true,
            ),
        ],
    )
}

/// Whether a capacity is a whole, power-of-two number of pages.
fn is_pow2_pages(size: usize) -> bool {
    size >= page_size() && size % page_size() == 0 && (size / page_size()).is_power_of_two()
}

fn pipe_size_default(_ctx: &mut Ctx) -> TestResult {
    let (r, w) = pipe()?;
    let size = fcntl_getpipe_size(&r).or_fail("F_GETPIPE_SZ")?;
    check!(
        is_pow2_pages(size),
        "default capacity {size} is not a power-of-two number of pages"
    );
    check_eq!(
        fcntl_getpipe_size(&w)?,
        size,
        "capacity seen from the write end"
    );
    // PIPE_DEF_BUFFERS (16) pages, unless the user is over
    // pipe-user-pages-soft, which a fresh test process is not.
    check_eq!(size, 16 * page_size(), "default capacity (16 pages)");
    Ok(())
}

/// Sets the capacity to `req` and when it succeeds checks the rounding
/// rules every kernel keeps.
fn setpipe_size_case(
    _ctx: &mut Ctx,
    req: usize,
) -> Result<Option<(OwnedFd, OwnedFd, usize)>, Outcome> {
    let (r, w) = pipe()?;
    let res = fcntl_setpipe_size(&w, req);
    match res {
        Err(_) => Ok(None),
        Ok(size) => {
            check!(
                size >= req,
                "F_SETPIPE_SZ({req}) gave {size}, less than asked"
            );
            check!(
                is_pow2_pages(size),
                "F_SETPIPE_SZ({req}) gave {size}, not a power-of-two number of pages"
            );
            check_eq!(
                fcntl_getpipe_size(&r)?,
                size,
                "F_GETPIPE_SZ after F_SETPIPE_SZ({req})"
            );
            Ok(Some((r, w, size)))
        }
    }
}

fn setpipe_size_zero(ctx: &mut Ctx) -> TestResult {
    // round_pipe_size() gives a request below a page one page (the POSIX
    // minimum), 0 included.
    let Some((_, _, size)) = setpipe_size_case(ctx, 0)? else {
        return Err(Outcome::Fail(
            "F_SETPIPE_SZ(0) failed; expected one page (round_pipe_size() rounds up to PAGE_SIZE)"
                .into(),
        ));
    };
    check_eq!(size, page_size(), "capacity after F_SETPIPE_SZ(0)");
    Ok(())
}

fn setpipe_size_one(ctx: &mut Ctx) -> TestResult {
    let Some((r, w, _)) = setpipe_size_case(ctx, 1)? else {
        return Err(Outcome::Fail("F_SETPIPE_SZ(1) failed".into()));
    };
    let page = page_size();
    let data = pattern(page, 0x51);
    let f = write_file(&ctx.scratch().join("f"), &data)?;
    let mut off = 0u64;
    let n = splice_exact(&f, Some(&mut off), &w, None, page).or_fail("splice a page")?;
    check_eq!(n, page, "bytes a one-page pipe took");
    check!(
        read_up_to(&r, page).or_fail("read pipe")? == data,
        "pipe content"
    );
    Ok(())
}

fn setpipe_size_page(ctx: &mut Ctx) -> TestResult {
    let page = page_size();
    let Some((r, w, size)) = setpipe_size_case(ctx, page)? else {
        return Err(Outcome::Fail("F_SETPIPE_SZ(PAGE) failed".into()));
    };
    check_eq!(size, page, "capacity after F_SETPIPE_SZ(PAGE)");
    let held = fill_pipe(&w)?;
    check_eq!(held, page, "bytes a one-page pipe holds");
    drop(r);
    Ok(())
}

fn setpipe_size_non_pow2(ctx: &mut Ctx) -> TestResult {
    let page = page_size();
    let Some((_r, w, size)) = setpipe_size_case(ctx, 3 * page + 1)? else {
        return Err(Outcome::Fail("F_SETPIPE_SZ(3 pages + 1) failed".into()));
    };
    let held = fill_pipe(&w)?;
    check_eq!(held, size, "bytes the pipe holds when full");
    Ok(())
}

fn setpipe_size_above_max(ctx: &mut Ctx) -> TestResult {
    let max: usize = match std::fs::read_to_string("/proc/sys/fs/pipe-max-size") {
        Ok(s) => s.trim().parse().or_error("parse pipe-max-size")?,
        Err(e) => skip!("cannot read /proc/sys/fs/pipe-max-size: {e}"),
    };
    if !rustix::process::geteuid().is_root() {
        skip!("needs root to compare privileged and unprivileged callers");
    }
    ctx.environment("pipe_max_size", max);
    let req = max + 1;
    let (r, w) = pipe()?;
    let res = fcntl_setpipe_size(&w, req);
    // Exceeding the limit takes CAP_SYS_RESOURCE, which root in a
    // container may lack; name the observation after what was measured.
    match cap_sys_resource() {
        Some(true) => {
            ctx.observe_result("privileged_result", &res);
            let size = res.or_fail("F_SETPIPE_SZ above pipe-max-size with CAP_SYS_RESOURCE")?;
            check!(
                size >= req && is_pow2_pages(size),
                "a privileged caller got capacity {size} for {req}"
            );
            check_eq!(fcntl_getpipe_size(&r)?, size, "F_GETPIPE_SZ");
        }
        Some(false) => {
            expect_errno(
                ctx,
                "root_without_cap_sys_resource_result",
                res,
                Errno::PERM,
            )?;
        }
        None => ctx.observe_result("root_unknown_caps_result", &res),
    }
    // This test runs in its own process, so dropping root here affects
    // nothing else.
    let nobody = rustix::process::Uid::from_raw(65534);
    rustix::thread::set_thread_res_uid(nobody, nobody, nobody).or_error("drop to uid 65534")?;
    let (_r2, w2) = pipe()?;
    let res = fcntl_setpipe_size(&w2, req);
    expect_errno(ctx, "unprivileged_result", res, Errno::PERM)?;
    let res = fcntl_setpipe_size(&w2, max);
    ctx.observe("unprivileged_at_max", outcome_text(&res));
    Ok(())
}

/// Whether CAP_SYS_RESOURCE is in this process's effective set, from
/// /proc/self/status; `None` when that cannot be read.
fn cap_sys_resource() -> Option<bool> {
    const CAP_SYS_RESOURCE: u32 = 24;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    let eff = u64::from_str_radix(hex.trim(), 16).ok()?;
    Some(eff & (1 << CAP_SYS_RESOURCE) != 0)
}

fn setpipe_size_shrink_busy(ctx: &mut Ctx) -> TestResult {
    let page = page_size();
    let (r, w) = pipe()?;
    // Three page-sized writes fill three slots exactly.
    let data = pattern(3 * page, 0x61);
    for chunk in data.chunks(page) {
        write_all(&w, chunk).or_error("fill pipe")?;
    }
    let before = fcntl_getpipe_size(&w)?;
    let res = fcntl_setpipe_size(&w, page);
    expect_errno(ctx, "shrink_to_one_page", res, Errno::BUSY)?;
    check_eq!(
        fcntl_getpipe_size(&w)?,
        before,
        "capacity after the refused shrink"
    );
    let size = fcntl_setpipe_size(&w, 4 * page).or_fail("shrink to 4 pages with 3 held")?;
    check_eq!(size, 4 * page, "capacity after shrinking to fit");
    drop(w);
    let got = read_up_to(&r, 4 * page).or_fail("read pipe")?;
    check!(
        got == data,
        "pipe content after resizing differs at {:?}",
        first_diff(&got, &data)
    );
    Ok(())
}

/// Sets or clears O_NONBLOCK on one open file description.
pub(crate) fn set_nonblock(fd: impl AsFd, on: bool) -> rustix::io::Result<()> {
    let mut fl = rustix::fs::fcntl_getfl(&fd)?;
    fl.set(OFlags::NONBLOCK, on);
    rustix::fs::fcntl_setfl(&fd, fl)
}

/// Writes page-sized chunks into a pipe until it is full; returns how many
/// bytes it holds. Leaves the write end blocking.
pub(crate) fn fill_pipe(w: impl AsFd) -> Result<usize, Outcome> {
    let chunk = vec![0xeeu8; page_size()];
    set_nonblock(&w, true)?;
    let mut held = 0;
    let res = loop {
        match rustix::io::write(&w, &chunk) {
            Ok(n) => held += n,
            Err(Errno::AGAIN) => break Ok(held),
            Err(e) => break Err(e),
        }
        if held > 64 << 20 {
            break Err(Errno::FBIG);
        }
    };
    set_nonblock(&w, false)?;
    res.or_error("fill pipe")
}

/// Guards a call that must not block: if it is still running after
/// [`BLOCK_LIMIT`], a helper thread unblocks it (writes to or drains a
/// pipe) and `disarm` reports that it had to.
pub(crate) struct Unblocker {
    done: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<bool>>,
}

impl Unblocker {
    pub(crate) fn arm(action: impl FnOnce() + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel::<()>();
        let handle = std::thread::spawn(move || match rx.recv_timeout(BLOCK_LIMIT) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                action();
                true
            }
            _ => false,
        });
        Unblocker {
            done: Some(tx),
            handle: Some(handle),
        }
    }

    /// Unblocks a reader of an empty pipe by writing a byte to `w` (a
    /// duplicate, so the caller keeps its own end).
    pub(crate) fn arm_write(w: impl AsFd) -> Result<Self, Outcome> {
        let w = rustix::io::fcntl_dupfd_cloexec(w, 0)?;
        Ok(Self::arm(move || {
            let _ = rustix::io::write(&w, &[0u8]);
        }))
    }

    /// Unblocks a writer into a full pipe by reading from `r`.
    pub(crate) fn arm_drain(r: impl AsFd) -> Result<Self, Outcome> {
        let r = rustix::io::fcntl_dupfd_cloexec(r, 0)?;
        Ok(Self::arm(move || {
            let mut buf = vec![0u8; 1 << 20];
            let _ = rustix::io::read(&r, &mut buf);
        }))
    }

    /// Stops the guard; true if it had to unblock the call.
    pub(crate) fn disarm(mut self) -> bool {
        drop(self.done.take());
        self.handle
            .take()
            .map(|h| h.join().unwrap_or(true))
            .unwrap_or(false)
    }
}
