//! vmsplice(2): user memory into a pipe (plain and SPLICE_F_GIFT), what a
//! later store to that memory does, and the read side (pipe -> memory).

use rustix::io::{Errno, ioctl_fionread};
use rustix::pipe::{SpliceFlags, pipe};

use crate::framework::{Ctx, OrOutcome, Test, TestResult};
use crate::splice::{Unblocker, expect_errno, fill_pipe, first_diff, splice_exact};
use crate::sys::mem::AnonPages;
use crate::sys::splice::{vmsplice_from_pipe, vmsplice_gift, vmsplice_to_pipe};
use crate::util::{page_size, pattern, read_file, read_up_to, write_all, write_file};
use crate::{check, check_eq};

pub const TESTS: &[Test] = &[
    Test {
        id: "vmsplice.memory_pipe_file",
        tags: &["vmsplice", "smoke"],
        about: "three iovecs of odd sizes go user memory -> pipe (vmsplice) -> file (splice) and arrive intact, in order",
        see: "",
        run: memory_pipe_file,
    },
    Test {
        id: "vmsplice.gift_accepted",
        tags: &["vmsplice"],
        about: "SPLICE_F_GIFT of four whole aligned pages is accepted and the pages reach a file intact",
        see: "",
        run: gift_accepted,
    },
    Test {
        id: "vmsplice.store_after_vmsplice",
        tags: &["vmsplice", "semantics", "seed000"],
        about: "a store to user memory after vmsplice (no GIFT) shows through the pipe: the pipe holds references to the pages, not copies",
        see: "LKML 'copy on write for splice() from file to pipe?' (Feb 2023), shared/seeds/000",
        run: store_after_vmsplice,
    },
    Test {
        id: "vmsplice.pipe_to_memory",
        tags: &["vmsplice"],
        about: "vmsplice on a read end copies pipe data into user memory, consuming only what fits",
        see: "",
        run: pipe_to_memory,
    },
    Test {
        id: "vmsplice.read_side_empty_nonblock",
        tags: &["vmsplice", "nonblock"],
        about: "SPLICE_F_NONBLOCK vmsplice from an empty pipe with a writer fails with EAGAIN at once; with no writer it returns 0",
        see: "",
        run: read_side_empty_nonblock,
    },
    Test {
        id: "vmsplice.nonblock_full_pipe",
        tags: &["vmsplice", "nonblock"],
        about: "SPLICE_F_NONBLOCK vmsplice into a full pipe fails with EAGAIN at once",
        see: "",
        run: nonblock_full_pipe,
    },
    Test {
        id: "vmsplice.errors",
        tags: &["vmsplice", "errors"],
        about: "vmsplice on a regular file fails with EBADF, an unknown flag bit with EINVAL, and an empty iovec returns 0",
        see: "",
        run: errors,
    },
    Test {
        id: "vmsplice.epipe_no_reader",
        tags: &["vmsplice", "errors", "signals"],
        about: "vmsplice into a pipe whose read end is closed fails with EPIPE and sends SIGPIPE once",
        see: "",
        run: epipe_no_reader,
    },
    Test {
        id: "vmsplice.more_than_iov_max_einval",
        tags: &["vmsplice", "errors"],
        about: "vmsplice with IOV_MAX + 1 iovecs fails with EINVAL and moves nothing; IOV_MAX iovecs are taken",
        see: "",
        run: more_than_iov_max_einval,
    },
];

fn memory_pipe_file(ctx: &mut Ctx) -> TestResult {
    let data = pattern(10_000, 0x71);
    let parts = [&data[..1], &data[1..4097], &data[4097..]];
    let (r, w) = pipe()?;
    let n = vmsplice_to_pipe(&w, &parts, SpliceFlags::empty()).or_fail("vmsplice")?;
    check_eq!(n, data.len(), "vmsplice byte count");
    let path = ctx.scratch().join("f");
    let f = write_file(&path, b"")?;
    let mut off = 0u64;
    let m = splice_exact(&r, None, &f, Some(&mut off), n).or_fail("splice pipe->file")?;
    check_eq!(m, n, "pipe->file byte count");
    let got = read_file(&path)?;
    check!(
        got == data,
        "file content differs at {:?}",
        first_diff(&got, &data)
    );
    Ok(())
}

fn gift_accepted(ctx: &mut Ctx) -> TestResult {
    let page = page_size();
    let mut pages = AnonPages::new(4 * page)?;
    let data = pattern(4 * page, 0x72);
    pages.as_mut_slice().copy_from_slice(&data);
    let (r, w) = pipe()?;
    let res = vmsplice_gift(&w, pages, SpliceFlags::empty());
    let n = res.or_fail("vmsplice with SPLICE_F_GIFT")?;
    check_eq!(n, 4 * page, "gifted byte count");
    let path = ctx.scratch().join("f");
    let f = write_file(&path, b"")?;
    let mut off = 0u64;
    // SPLICE_F_MOVE invites the kernel to take the gifted pages over.
    let mut done = 0;
    while done < n {
        let k = rustix::pipe::splice(&r, None, &f, Some(&mut off), n - done, SpliceFlags::MOVE)
            .or_fail("splice pipe->file")?;
        check!(k > 0, "splice pipe->file returned 0 with data in the pipe");
        done += k;
    }
    let got = read_file(&path)?;
    check!(
        got == data,
        "file content differs at {:?}",
        first_diff(&got, &data)
    );
    Ok(())
}

fn store_after_vmsplice(_ctx: &mut Ctx) -> TestResult {
    let page = page_size();
    let mut pages = AnonPages::new(2 * page)?;
    pages.as_mut_slice().fill(0x1f);
    let (r, w) = pipe()?;
    let n = vmsplice_to_pipe(&w, &[pages.as_slice()], SpliceFlags::empty()).or_fail("vmsplice")?;
    check_eq!(n, 2 * page, "vmsplice byte count");
    pages.as_mut_slice().fill(0xf0);
    let got = read_up_to(&r, n).or_fail("read pipe")?;
    check_eq!(got.len(), n, "bytes read back");
    let new = got.iter().filter(|&&b| b == 0xf0).count();
    let old = got.iter().filter(|&&b| b == 0x1f).count();
    check_eq!(new + old, got.len(), "pipe holds only old or new bytes");
    // vmsplice_to_pipe() -> iter_to_pipe() puts references to the user's
    // pages in the pipe (iov_iter_get_pages2()), not copies: a store before
    // the reader drains it is what the reader gets, on 6.1 as on 6.12 (the
    // seed 000 thread: vmsplice is a mapping too).
    check!(
        new == got.len(),
        "a store to user memory after vmsplice must show through the pipe (the pipe holds the pages, not a copy): expected all {} bytes new, got {new} new and {old} old",
        got.len()
    );
    Ok(())
}

fn pipe_to_memory(_ctx: &mut Ctx) -> TestResult {
    let data = pattern(3000, 0x73);
    let (r, w) = pipe()?;
    write_all(&w, &data).or_error("fill pipe")?;
    let mut buf = vec![0u8; 1000];
    let n = vmsplice_from_pipe(&r, &mut buf, SpliceFlags::empty()).or_fail("vmsplice read side")?;
    check_eq!(n, 1000, "bytes copied into a 1000-byte buffer");
    check!(buf == data[..1000], "first 1000 bytes differ");
    check_eq!(ioctl_fionread(&r)?, 2000, "bytes left in the pipe");
    let mut big = AnonPages::new(8192)?;
    let m = vmsplice_from_pipe(&r, big.as_mut_slice(), SpliceFlags::empty())
        .or_fail("vmsplice rest")?;
    check_eq!(
        m,
        2000,
        "bytes copied when the buffer is larger than the pipe"
    );
    check!(
        big.as_slice()[..m] == data[1000..],
        "remaining bytes differ"
    );
    check!(
        big.as_slice()[m..].iter().all(|&b| b == 0),
        "bytes past the copied ones changed"
    );
    Ok(())
}

fn read_side_empty_nonblock(ctx: &mut Ctx) -> TestResult {
    let (r, w) = pipe()?;
    let mut buf = vec![0u8; 100];
    let guard = Unblocker::arm_write(&w)?;
    let res = vmsplice_from_pipe(&r, &mut buf, SpliceFlags::NONBLOCK);
    check!(
        !guard.disarm(),
        "SPLICE_F_NONBLOCK vmsplice from an empty pipe blocked"
    );
    expect_errno(ctx, "with_writer", res, Errno::AGAIN)?;
    drop(w);
    let res = vmsplice_from_pipe(&r, &mut buf, SpliceFlags::NONBLOCK);
    check_eq!(
        res.or_fail("vmsplice from an empty pipe without writer")?,
        0,
        "EOF"
    );
    Ok(())
}

fn nonblock_full_pipe(ctx: &mut Ctx) -> TestResult {
    let (r, w) = pipe()?;
    fill_pipe(&w)?;
    let data = [1u8; 100];
    let guard = Unblocker::arm_drain(&r)?;
    let res = vmsplice_to_pipe(&w, &[&data], SpliceFlags::NONBLOCK);
    check!(
        !guard.disarm(),
        "SPLICE_F_NONBLOCK vmsplice into a full pipe blocked"
    );
    expect_errno(ctx, "full_pipe", res, Errno::AGAIN)
}

fn errors(ctx: &mut Ctx) -> TestResult {
    let f = write_file(&ctx.scratch().join("f"), b"")?;
    let data = [1u8; 100];
    let res = vmsplice_to_pipe(&f, &[&data], SpliceFlags::empty());
    expect_errno(ctx, "regular_file", res, Errno::BADF)?;
    let (r, w) = pipe()?;
    let res = vmsplice_to_pipe(&w, &[&data], SpliceFlags::from_bits_retain(0x10));
    expect_errno(ctx, "flag_0x10", res, Errno::INVAL)?;
    let n = vmsplice_to_pipe(&w, &[], SpliceFlags::empty()).or_fail("vmsplice with no iovec")?;
    check_eq!(n, 0, "vmsplice with no iovec");
    let n = vmsplice_to_pipe(&w, &[&data[..0]], SpliceFlags::empty())
        .or_fail("vmsplice of an empty iovec")?;
    check_eq!(n, 0, "vmsplice of an empty iovec");
    check_eq!(ioctl_fionread(&r)?, 0, "bytes in the pipe");
    Ok(())
}

fn epipe_no_reader(_ctx: &mut Ctx) -> TestResult {
    let data = pattern(3000, 0x63);
    let (r, w) = pipe()?;
    drop(r);
    crate::signals::expect_epipe_and_sigpipe("vmsplice", || {
        vmsplice_to_pipe(&w, &[&data], SpliceFlags::empty())
    })
}

fn more_than_iov_max_einval(ctx: &mut Ctx) -> TestResult {
    // import_iovec() refuses more than UIO_MAXIOV (1024) segments.
    const IOV_MAX: usize = 1024;
    let data = [0x5au8; 1];
    let (r, w) = pipe()?;
    let bufs: Vec<&[u8]> = vec![&data[..]; IOV_MAX + 1];
    let res = vmsplice_to_pipe(&w, &bufs, SpliceFlags::empty());
    expect_errno(ctx, "iov_max_plus_one", res, Errno::INVAL)?;
    check_eq!(
        ioctl_fionread(&r)?,
        0,
        "bytes in the pipe after the refused call"
    );
    // Exactly IOV_MAX is allowed; one-byte segments fill the pipe's slots
    // long before 1024, so the call moves some and returns short.
    let n = vmsplice_to_pipe(&w, &bufs[..IOV_MAX], SpliceFlags::NONBLOCK)
        .or_fail("vmsplice with IOV_MAX iovecs")?;
    check!(n > 0, "vmsplice with IOV_MAX iovecs moved nothing");
    check_eq!(ioctl_fionread(&r)?, n as u64, "bytes in the pipe");
    Ok(())
}
