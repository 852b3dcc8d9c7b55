//! sendfile(2): file -> socket, pipe and file, offset semantics, and a full
//! nonblocking socket.

use rustix::fs::SeekFrom;
use std::fs::File;
use std::os::fd::OwnedFd;

use rustix::fs::sendfile;
use rustix::io::Errno;
use rustix::pipe::pipe;

use crate::framework::{Ctx, OrOutcome, Test, TestResult};
use crate::splice::{first_diff, join, position, set_nonblock, socket_timeouts, spawn_reader};
use crate::util::{pattern, read_file, read_up_to, tcp_pair, unix_pair, write_file};
use crate::{check, check_eq};

pub const TESTS: &[Test] = &[
    Test {
        id: "sendfile.file_to_tcp",
        tags: &["sendfile", "net", "smoke"],
        about: "300 KiB + 3 bytes go file -> loopback TCP socket through sendfile and arrive intact",
        see: "",
        run: file_to_tcp,
    },
    Test {
        id: "sendfile.file_to_unix",
        tags: &["sendfile", "net"],
        about: "300 KiB + 3 bytes go file -> AF_UNIX stream socket through sendfile and arrive intact",
        see: "",
        run: file_to_unix,
    },
    Test {
        id: "sendfile.file_to_pipe",
        tags: &["sendfile", "semantics"],
        about: "sendfile into a pipe moves all of a 20000-byte file in one call, advances the offset, and the bytes arrive intact",
        see: "",
        run: file_to_pipe,
    },
    Test {
        id: "sendfile.file_to_file",
        tags: &["sendfile"],
        about: "sendfile copies between two regular files intact",
        see: "",
        run: file_to_file,
    },
    Test {
        id: "sendfile.explicit_offset_keeps_position",
        tags: &["sendfile"],
        about: "with an offset pointer sendfile reads from it, advances it, and leaves the file position alone",
        see: "",
        run: explicit_offset_keeps_position,
    },
    Test {
        id: "sendfile.null_offset_advances_position",
        tags: &["sendfile"],
        about: "with a NULL offset sendfile reads from the file position and advances it",
        see: "",
        run: null_offset_advances_position,
    },
    Test {
        id: "sendfile.short_at_eof",
        tags: &["sendfile"],
        about: "sendfile past EOF returns 0 and a count straddling EOF returns only the bytes that exist",
        see: "",
        run: short_at_eof,
    },
    Test {
        id: "sendfile.nonblocking_full_socket_eagain",
        tags: &["sendfile", "net", "nonblock"],
        about: "sendfile into a full nonblocking TCP socket fails with EAGAIN instead of blocking",
        see: "shared/seeds/004",
        run: nonblocking_full_socket_eagain,
    },
    Test {
        id: "sendfile.bad_offset_pointer_efault",
        tags: &["sendfile", "errors"],
        about: "sendfile with an offset pointer into unmapped memory fails with EFAULT and moves nothing",
        see: "",
        run: bad_offset_pointer_efault,
    },
    Test {
        id: "sendfile.negative_offset_einval",
        tags: &["sendfile", "errors"],
        about: "sendfile from a negative offset fails with EINVAL, leaves the offset as given and moves nothing",
        see: "",
        run: negative_offset_einval,
    },
    Test {
        id: "sendfile.offset_above_4gib",
        tags: &["sendfile"],
        about: "sendfile from an offset past 4 GiB in a sparse file reads the bytes there and advances the 64-bit offset",
        see: "",
        run: offset_above_4gib,
    },
    Test {
        id: "sendfile.bad_input",
        tags: &["sendfile", "errors"],
        about: "sendfile from a write-only file fails with EBADF, from a pipe or an AF_UNIX socket with EINVAL (input must be a regular file or block device)",
        see: "",
        run: bad_input,
    },
];

/// sendfile with explicit offsets until `len` bytes went or EOF.
fn sendfile_all(out: &OwnedFd, f: &File, off: &mut u64, len: usize) -> rustix::io::Result<usize> {
    let mut done = 0;
    while done < len {
        let n = sendfile(out, f, Some(off), len - done)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

fn file_to_socket(ctx: &mut Ctx, sock: OwnedFd, peer: OwnedFd, seed: u8) -> TestResult {
    let len = 300 * 1024 + 3;
    let data = pattern(len, seed);
    let f = write_file(&ctx.scratch().join("f"), &data)?;
    let pos = position(&f)?;
    socket_timeouts(&sock)?;
    socket_timeouts(&peer)?;
    let reader = spawn_reader(peer, len + 1);
    let mut off = 0u64;
    let n = sendfile_all(&sock, &f, &mut off, len).or_fail("sendfile")?;
    check_eq!(n, len, "bytes sent");
    check_eq!(off, len as u64, "offset after sendfile");
    check_eq!(
        position(&f)?,
        pos,
        "file position (an offset pointer must not move it)"
    );
    rustix::net::shutdown(&sock, rustix::net::Shutdown::Write)?;
    let got = join(reader, "read from the peer")?;
    check_eq!(got.len(), len, "bytes the peer received");
    check!(
        got == data,
        "peer received different bytes at {:?}",
        first_diff(&got, &data)
    );
    Ok(())
}

fn file_to_tcp(ctx: &mut Ctx) -> TestResult {
    let (client, server) = tcp_pair().or_error("loopback TCP pair")?;
    file_to_socket(ctx, client.into(), server.into(), 0x81)
}

fn file_to_unix(ctx: &mut Ctx) -> TestResult {
    let (a, b) = unix_pair().or_error("AF_UNIX pair")?;
    file_to_socket(ctx, a, b, 0x82)
}

fn file_to_pipe(ctx: &mut Ctx) -> TestResult {
    let data = pattern(20_000, 0x83);
    let f = write_file(&ctx.scratch().join("f"), &data)?;
    let (r, w) = pipe()?;
    let mut off = 0u64;
    // Fits in an empty pipe, so this cannot block, and do_sendfile() hands
    // a pipe output to splice_file_to_pipe() on every supported kernel
    // (6.1 and later), which moves all of it in one call.
    let res = sendfile(&w, &f, Some(&mut off), data.len());
    let n = res.or_fail("sendfile from a file into a pipe")?;
    check_eq!(
        n,
        data.len(),
        "bytes sendfile moved into an empty 64 KiB pipe"
    );
    check_eq!(off, n as u64, "offset after sendfile");
    let got = read_up_to(&r, n).or_fail("read pipe")?;
    check!(
        got == data[..n],
        "pipe content differs at {:?}",
        first_diff(&got, &data[..n])
    );
    Ok(())
}

fn file_to_file(ctx: &mut Ctx) -> TestResult {
    let data = pattern(150_000, 0x84);
    let src = write_file(&ctx.scratch().join("src"), &data)?;
    let dst_path = ctx.scratch().join("dst");
    let dst: OwnedFd = write_file(&dst_path, b"")?.into();
    let mut off = 0u64;
    let n = sendfile_all(&dst, &src, &mut off, data.len()).or_fail("sendfile file->file")?;
    check_eq!(n, data.len(), "bytes copied");
    check_eq!(
        position(&dst)?,
        data.len() as u64,
        "target position after sendfile"
    );
    let got = read_file(&dst_path)?;
    check!(
        got == data,
        "target content differs at {:?}",
        first_diff(&got, &data)
    );
    Ok(())
}

fn explicit_offset_keeps_position(ctx: &mut Ctx) -> TestResult {
    let data = pattern(5000, 0x85);
    let src = write_file(&ctx.scratch().join("src"), &data)?;
    rustix::fs::seek(&src, SeekFrom::Start(100))?;
    let dst_path = ctx.scratch().join("dst");
    let dst: OwnedFd = write_file(&dst_path, b"")?.into();
    let mut off = 10u64;
    let n = sendfile_all(&dst, &src, &mut off, 1000).or_fail("sendfile")?;
    check_eq!(n, 1000, "bytes copied");
    check_eq!(off, 1010, "offset after sendfile");
    check_eq!(
        position(&src)?,
        100,
        "source position after sendfile with an offset"
    );
    let got = read_file(&dst_path)?;
    check!(
        got == data[10..1010],
        "copied bytes are not source[10..1010]"
    );
    Ok(())
}

fn null_offset_advances_position(ctx: &mut Ctx) -> TestResult {
    let data = pattern(5000, 0x86);
    let src = write_file(&ctx.scratch().join("src"), &data)?;
    rustix::fs::seek(&src, SeekFrom::Start(100))?;
    let dst_path = ctx.scratch().join("dst");
    let dst: OwnedFd = write_file(&dst_path, b"")?.into();
    let mut done = 0;
    while done < 1000 {
        let n = sendfile(&dst, &src, None, 1000 - done).or_fail("sendfile")?;
        check!(n > 0, "sendfile returned 0 before EOF");
        done += n;
    }
    check_eq!(
        position(&src)?,
        1100,
        "source position after sendfile with NULL offset"
    );
    let got = read_file(&dst_path)?;
    check!(
        got == data[100..1100],
        "copied bytes are not source[100..1100]"
    );
    Ok(())
}

fn short_at_eof(ctx: &mut Ctx) -> TestResult {
    let data = pattern(1000, 0x87);
    let src = write_file(&ctx.scratch().join("src"), &data)?;
    let dst_path = ctx.scratch().join("dst");
    let dst: OwnedFd = write_file(&dst_path, b"")?.into();
    let mut off = 2000u64;
    let n = sendfile(&dst, &src, Some(&mut off), 100).or_fail("sendfile past EOF")?;
    check_eq!(n, 0, "sendfile past EOF");
    check_eq!(off, 2000, "offset after sendfile past EOF");
    let mut off = 900u64;
    let n = sendfile(&dst, &src, Some(&mut off), 500).or_fail("sendfile across EOF")?;
    check_eq!(n, 100, "sendfile across EOF");
    check_eq!(off, 1000, "offset after sendfile across EOF");
    check!(
        read_file(&dst_path)? == data[900..],
        "copied bytes are not the last 100"
    );
    Ok(())
}

fn nonblocking_full_socket_eagain(ctx: &mut Ctx) -> TestResult {
    let (client, server) = tcp_pair().or_error("loopback TCP pair")?;
    let sock: OwnedFd = client.into();
    let peer: OwnedFd = server.into();
    socket_timeouts(&sock)?;
    socket_timeouts(&peer)?;
    // Small buffers so filling them takes little time and memory.
    rustix::net::sockopt::set_socket_send_buffer_size(&sock, 4096)?;
    rustix::net::sockopt::set_socket_recv_buffer_size(&peer, 4096)?;
    set_nonblock(&sock, true)?;
    let f = write_file(&ctx.scratch().join("f"), &pattern(64 * 1024, 0x88))?;
    let chunk = vec![0u8; 64 * 1024];
    let mut res = Ok(0);
    // Loopback may drain a little between the last refused write and the
    // sendfile; refill and retry a few times.
    for _ in 0..20 {
        let mut queued = 0usize;
        loop {
            match rustix::io::write(&sock, &chunk) {
                Ok(n) => queued += n,
                Err(Errno::AGAIN) => break,
                Err(e) => return Err(e).or_error("fill socket"),
            }
            check!(queued < 256 << 20, "socket took 256 MiB without filling up");
        }
        let mut off = 0u64;
        res = sendfile(&sock, &f, Some(&mut off), 64 * 1024);
        if res.is_err() {
            check_eq!(off, 0, "offset after a refused sendfile");
            break;
        }
    }
    match res {
        Err(Errno::AGAIN) => Ok(()),
        Err(e) => Err(crate::framework::Outcome::Fail(format!(
            "sendfile into a full nonblocking socket failed with {}, expected EAGAIN",
            crate::util::errno_name(e)
        ))),
        Ok(n) => Err(crate::framework::Outcome::Fail(format!(
            "sendfile into a full nonblocking socket kept taking bytes ({n} on the last try)"
        ))),
    }
}

fn bad_input(ctx: &mut Ctx) -> TestResult {
    let path = ctx.scratch().join("f");
    write_file(&path, &[7; 100])?;
    let dst: OwnedFd = write_file(&ctx.scratch().join("dst"), b"")?.into();
    let wronly = std::fs::OpenOptions::new().write(true).open(&path)?;
    let res = sendfile(&dst, &wronly, None, 10);
    crate::splice::expect_errno(ctx, "write_only_input", res, Errno::BADF)?;
    let (r, w) = pipe()?;
    crate::util::write_all(&w, &[1; 10]).or_error("fill pipe")?;
    // splice_direct_to_actor() takes only a regular file or a block device
    // as input: a pipe or a socket is EINVAL on every supported kernel.
    let res = sendfile(&dst, &r, None, 10);
    crate::splice::expect_errno(ctx, "pipe_input", res, Errno::INVAL)?;
    let (s1, s2) = unix_pair().or_error("AF_UNIX pair")?;
    crate::util::write_all(&s2, &[1; 10]).or_error("write socket")?;
    set_nonblock(&s1, true)?;
    let res = sendfile(&dst, &s1, None, 10);
    crate::splice::expect_errno(ctx, "socket_input", res, Errno::INVAL)?;
    Ok(())
}

fn bad_offset_pointer_efault(ctx: &mut Ctx) -> TestResult {
    let f = write_file(&ctx.scratch().join("f"), &pattern(4096, 0x91))?;
    let (r, w) = pipe()?;
    let res = crate::sys::splice::sendfile_unmapped_offset(&w, &f, 4096);
    crate::splice::expect_errno(ctx, "unmapped_offset", res, Errno::FAULT)?;
    check_eq!(
        rustix::io::ioctl_fionread(&r).or_error("FIONREAD")?,
        0,
        "bytes in the pipe"
    );
    Ok(())
}

fn negative_offset_einval(ctx: &mut Ctx) -> TestResult {
    let f = write_file(&ctx.scratch().join("f"), &pattern(4096, 0x92))?;
    let (r, w) = pipe()?;
    // rw_verify_area(): a negative position is EINVAL for a regular file.
    let mut off = (-4096i64) as u64;
    let res = sendfile(&w, &f, Some(&mut off), 4096);
    crate::splice::expect_errno(ctx, "negative_offset", res, Errno::INVAL)?;
    check_eq!(off, (-4096i64) as u64, "offset after the refused call");
    check_eq!(
        rustix::io::ioctl_fionread(&r).or_error("FIONREAD")?,
        0,
        "bytes in the pipe"
    );
    Ok(())
}

fn offset_above_4gib(ctx: &mut Ctx) -> TestResult {
    const AT: u64 = 5 << 30;
    let data = pattern(4096, 0x93);
    let f = write_file(&ctx.scratch().join("sparse"), b"")?;
    // A 4 KiB extent at 5 GiB, the rest a hole that reads as zeros.
    rustix::io::pwrite(&f, &data, AT).or_error("pwrite at 5 GiB")?;
    let (r, w) = pipe()?;
    let mut off = AT;
    let n = sendfile(&w, &f, Some(&mut off), data.len()).or_fail("sendfile from 5 GiB")?;
    check_eq!(n, data.len(), "bytes sent from 5 GiB");
    check_eq!(off, AT + n as u64, "offset after sendfile");
    let got = read_up_to(&r, n).or_fail("read pipe")?;
    check!(
        got == data,
        "bytes sent from offset 5 GiB differ from those written there (first difference at {:?})",
        first_diff(&got, &data)
    );
    Ok(())
}
