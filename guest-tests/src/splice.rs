//! splice(2): file<->pipe<->file data paths, the seed 000 "splice is a
//! mapping" reproducer, and what special files do as splice sources.

use std::os::fd::AsFd;

use rustix::pipe::{SpliceFlags, pipe, splice};

use crate::framework::{Ctx, OrOutcome, Test, TestResult};
use crate::util::{pattern, read_file, read_up_to, write_file};
use crate::{check, check_eq};

pub const TESTS: &[Test] = &[
    Test {
        id: "splice.file_pipe_file_roundtrip",
        tags: &["splice", "smoke"],
        about: "64 KiB + 123 bytes go file -> pipe -> file through splice with offsets and arrive intact",
        see: "",
        run: file_pipe_file_roundtrip,
    },
    Test {
        id: "splice.seed000_write_after_splice",
        tags: &["splice", "semantics", "seed000"],
        about: "observes whether pwrite() to a file after splicing it into a pipe changes what the pipe reader gets",
        see: "LKML 'copy on write for splice() from file to pipe?' (Feb 2023), shared/seeds/000",
        run: seed000_write_after_splice,
    },
    Test {
        id: "splice.from_dev_zero",
        tags: &["splice", "semantics", "devices"],
        about: "observes what splice from /dev/zero into a pipe returns (bytes or errno) and checks any bytes are zero",
        see: "shared/seeds/000 (/dev/zero as a splice source)",
        run: from_dev_zero,
    },
];

/// Splices exactly `len` bytes, looping over short transfers.
fn splice_exact(
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
    ctx.observe("bytes", len);
    Ok(())
}

fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

fn seed000_write_after_splice(ctx: &mut Ctx) -> TestResult {
    let page = crate::util::page_size();
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
    let new = got.iter().filter(|&&b| b == 0xf0).count();
    let old = got.iter().filter(|&&b| b == 0x1f).count();
    check_eq!(new + old, got.len(), "pipe holds only old or new bytes");
    ctx.observe("post_splice_write_visible", new > 0);
    ctx.observe("post_splice_write_visible_bytes", new);
    drop(w);
    Ok(())
}

fn from_dev_zero(ctx: &mut Ctx) -> TestResult {
    let zero = match std::fs::File::open("/dev/zero") {
        Ok(f) => f,
        Err(e) => crate::skip!("cannot open /dev/zero: {e}"),
    };
    let (r, w) = pipe()?;
    let res = splice(&zero, None, &w, None, 4096, SpliceFlags::NONBLOCK);
    ctx.observe_result("splice_result", &res);
    if let Ok(n) = res {
        check!(
            n > 0 && n <= 4096,
            "splice from /dev/zero returned {n} bytes"
        );
        let got = read_up_to(&r, n).or_fail("read from pipe")?;
        check_eq!(got.len(), n, "bytes read back");
        check!(
            got.iter().all(|&b| b == 0),
            "/dev/zero produced a non-zero byte"
        );
    }
    Ok(())
}
