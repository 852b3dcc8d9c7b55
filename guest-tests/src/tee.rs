//! tee(2): duplicating pipe contents without consuming them, and its error
//! contract.

use rustix::io::{Errno, ioctl_fionread};
use rustix::pipe::{SpliceFlags, pipe, tee};

use crate::framework::{Ctx, OrOutcome, Test, TestResult};
use crate::splice::{Unblocker, expect_errno, fill_pipe, first_diff};
use crate::util::{pattern, read_up_to, write_all, write_file};
use crate::{check, check_eq};

pub const TESTS: &[Test] = &[
    Test {
        id: "tee.duplicate_content",
        tags: &["tee", "smoke"],
        about: "tee copies 3000 bytes into a second pipe; both pipes then yield the same bytes",
        see: "",
        run: duplicate_content,
    },
    Test {
        id: "tee.input_left_unconsumed",
        tags: &["tee"],
        about: "a partial tee copies the first bytes and leaves the input whole; repeated tees copy the same bytes again",
        see: "",
        run: input_left_unconsumed,
    },
    Test {
        id: "tee.same_pipe_einval",
        tags: &["tee", "errors"],
        about: "tee from a pipe into its own write end fails with EINVAL and keeps the data",
        see: "",
        run: same_pipe_einval,
    },
    Test {
        id: "tee.non_pipe_einval",
        tags: &["tee", "errors"],
        about: "tee with a regular file or a socket on either side fails with EINVAL",
        see: "",
        run: non_pipe_einval,
    },
    Test {
        id: "tee.nonblock_empty_eagain",
        tags: &["tee", "nonblock"],
        about: "SPLICE_F_NONBLOCK tee from an empty pipe with a writer fails with EAGAIN at once; with no writer it returns 0",
        see: "",
        run: nonblock_empty_eagain,
    },
    Test {
        id: "tee.nonblock_full_output_eagain",
        tags: &["tee", "nonblock"],
        about: "SPLICE_F_NONBLOCK tee into a full pipe fails with EAGAIN at once and leaves the input whole",
        see: "",
        run: nonblock_full_output_eagain,
    },
    Test {
        id: "tee.len_zero_and_unknown_flags",
        tags: &["tee", "errors"],
        about: "tee with len 0 returns 0; a flag bit outside SPLICE_F_ALL fails with EINVAL",
        see: "",
        run: len_zero_and_unknown_flags,
    },
    Test {
        id: "tee.epipe_no_reader",
        tags: &["tee", "errors", "signals"],
        about: "tee into a pipe whose read end is closed fails with EPIPE, sends SIGPIPE once and leaves the input whole",
        see: "",
        run: epipe_no_reader,
    },
];

fn duplicate_content(_ctx: &mut Ctx) -> TestResult {
    let data = pattern(3000, 0x33);
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    write_all(&w1, &data).or_error("fill first pipe")?;
    let n = tee(&r1, &w2, data.len(), SpliceFlags::empty()).or_fail("tee")?;
    check_eq!(n, data.len(), "tee byte count");
    drop(w1);
    drop(w2);
    let a = read_up_to(&r1, data.len() + 1).or_fail("read source pipe")?;
    let b = read_up_to(&r2, data.len() + 1).or_fail("read tee'd pipe")?;
    check!(
        a == data,
        "source pipe lost or changed data after tee ({} bytes left)",
        a.len()
    );
    check!(
        b == data,
        "tee'd pipe holds different data ({} bytes)",
        b.len()
    );
    Ok(())
}

fn input_left_unconsumed(_ctx: &mut Ctx) -> TestResult {
    let data = pattern(3000, 0x34);
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    write_all(&w1, &data).or_error("fill first pipe")?;
    let n = tee(&r1, &w2, 1000, SpliceFlags::empty()).or_fail("tee 1000")?;
    check_eq!(n, 1000, "partial tee byte count");
    check_eq!(ioctl_fionread(&r1)?, 3000, "bytes left in the input");
    check_eq!(ioctl_fionread(&r2)?, 1000, "bytes in the output");
    // A second tee starts again from the head of the input.
    let m = tee(&r1, &w2, 1000, SpliceFlags::empty()).or_fail("second tee")?;
    check_eq!(m, 1000, "second tee byte count");
    drop(w1);
    drop(w2);
    let a = read_up_to(&r1, 4000).or_fail("read input")?;
    let b = read_up_to(&r2, 4000).or_fail("read output")?;
    check!(
        a == data,
        "input changed after tee at {:?}",
        first_diff(&a, &data)
    );
    let want = [&data[..1000], &data[..1000]].concat();
    check!(
        b == want,
        "output differs from twice the head of the input at {:?}",
        first_diff(&b, &want)
    );
    Ok(())
}

fn same_pipe_einval(ctx: &mut Ctx) -> TestResult {
    let (r, w) = pipe()?;
    write_all(&w, &[5; 100]).or_error("fill pipe")?;
    let res = tee(&r, &w, 100, SpliceFlags::NONBLOCK);
    expect_errno(ctx, "same_pipe", res, Errno::INVAL)?;
    check_eq!(ioctl_fionread(&r)?, 100, "bytes left in the pipe");
    Ok(())
}

fn non_pipe_einval(ctx: &mut Ctx) -> TestResult {
    let f = write_file(&ctx.scratch().join("f"), &[7; 100])?;
    let (r, w) = pipe()?;
    write_all(&w, &[5; 100]).or_error("fill pipe")?;
    let res = tee(&f, &w, 100, SpliceFlags::NONBLOCK);
    expect_errno(ctx, "file_in", res, Errno::INVAL)?;
    let res = tee(&r, &f, 100, SpliceFlags::NONBLOCK);
    expect_errno(ctx, "file_out", res, Errno::INVAL)?;
    let (s1, _s2) = crate::util::unix_pair().or_error("AF_UNIX pair")?;
    let res = tee(&r, &s1, 100, SpliceFlags::NONBLOCK);
    expect_errno(ctx, "socket_out", res, Errno::INVAL)?;
    check_eq!(ioctl_fionread(&r)?, 100, "bytes left in the pipe");
    Ok(())
}

fn nonblock_empty_eagain(ctx: &mut Ctx) -> TestResult {
    let (r1, w1) = pipe()?;
    let (_r2, w2) = pipe()?;
    let guard = Unblocker::arm_write(&w1)?;
    let res = tee(&r1, &w2, 100, SpliceFlags::NONBLOCK);
    check!(
        !guard.disarm(),
        "SPLICE_F_NONBLOCK tee from an empty pipe blocked"
    );
    expect_errno(ctx, "with_writer", res, Errno::AGAIN)?;
    drop(w1);
    let res = tee(&r1, &w2, 100, SpliceFlags::NONBLOCK);
    check_eq!(
        res.or_fail("tee from an empty pipe without writer")?,
        0,
        "EOF"
    );
    Ok(())
}

fn nonblock_full_output_eagain(ctx: &mut Ctx) -> TestResult {
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    write_all(&w1, &[5; 100]).or_error("fill input")?;
    fill_pipe(&w2)?;
    let guard = Unblocker::arm_drain(&r2)?;
    let res = tee(&r1, &w2, 100, SpliceFlags::NONBLOCK);
    check!(
        !guard.disarm(),
        "SPLICE_F_NONBLOCK tee into a full pipe blocked"
    );
    expect_errno(ctx, "full_output", res, Errno::AGAIN)?;
    check_eq!(ioctl_fionread(&r1)?, 100, "bytes left in the input");
    Ok(())
}

fn len_zero_and_unknown_flags(ctx: &mut Ctx) -> TestResult {
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    write_all(&w1, &[5; 100]).or_error("fill input")?;
    let n = tee(&r1, &w2, 0, SpliceFlags::empty()).or_fail("tee len 0")?;
    check_eq!(n, 0, "tee with len 0");
    check_eq!(ioctl_fionread(&r2)?, 0, "bytes in the output");
    let res = tee(&r1, &w2, 100, SpliceFlags::from_bits_retain(0x10));
    expect_errno(ctx, "flag_0x10", res, Errno::INVAL)?;
    check_eq!(ioctl_fionread(&r2)?, 0, "bytes in the output after EINVAL");
    Ok(())
}

fn epipe_no_reader(_ctx: &mut Ctx) -> TestResult {
    let data = pattern(3000, 0x62);
    let (r1, w1) = pipe()?;
    write_all(&w1, &data).or_error("fill input pipe")?;
    let (r2, w2) = pipe()?;
    drop(r2);
    crate::signals::expect_epipe_and_sigpipe("tee", || {
        tee(&r1, &w2, data.len(), SpliceFlags::empty())
    })?;
    check_eq!(
        ioctl_fionread(&r1).or_error("FIONREAD")?,
        data.len() as u64,
        "bytes left in the input pipe"
    );
    Ok(())
}
