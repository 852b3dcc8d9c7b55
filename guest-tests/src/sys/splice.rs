//! Safe vmsplice(2) wrappers.
//!
//! The kernel picks vmsplice's direction from the fd's open mode, not from
//! the flags: an fd open for writing makes it read user memory into the
//! pipe, any other makes it write pipe data into user memory. These
//! wrappers tie each direction to the matching Rust borrow.

use std::os::fd::AsFd;

use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::pipe::{IoSliceRaw, SpliceFlags};

use super::mem::AnonPages;

/// Whether the kernel will treat `fd` as a vmsplice source of user memory
/// (it is open for writing).
fn opened_for_write(fd: impl AsFd) -> rustix::io::Result<bool> {
    let mode = rustix::fs::fcntl_getfl(fd)? & OFlags::ACCMODE;
    Ok(mode == OFlags::WRONLY || mode == OFlags::RDWR)
}

/// Maps the bytes of `bufs` into the pipe whose write end is `pipe_w`.
///
/// Without `SPLICE_F_GIFT` the pipe holds references to the pages behind
/// `bufs`; later stores to that memory may show through to the reader (the
/// `vmsplice.store_after_vmsplice` test observes it). `flags` must not
/// contain `GIFT` (use [`vmsplice_gift`]); any other bits, known or not, go
/// to the kernel as given. Fails with `EBADF` unless `pipe_w` is open for
/// writing.
pub fn vmsplice_to_pipe(
    pipe_w: impl AsFd,
    bufs: &[&[u8]],
    flags: SpliceFlags,
) -> rustix::io::Result<usize> {
    if flags.contains(SpliceFlags::GIFT) {
        return Err(Errno::INVAL);
    }
    if !opened_for_write(&pipe_w)? {
        return Err(Errno::BADF);
    }
    let iov: Vec<IoSliceRaw<'_>> = bufs.iter().map(|b| IoSliceRaw::from_slice(b)).collect();
    // SAFETY: `pipe_w` is open for writing (checked above), so the kernel
    // only reads from the iovecs, which borrow live, initialised slices for
    // the duration of the call. GIFT is excluded, so the kernel gains no
    // licence to take over the pages.
    unsafe { rustix::pipe::vmsplice(&pipe_w, &iov, flags) }
}

/// Gifts whole pages to the pipe with `SPLICE_F_GIFT` (plus `extra` flags),
/// consuming `pages`: after a gift the caller may not touch the memory
/// again, which taking ownership and unmapping it on return guarantees.
/// Returns how many bytes the pipe took.
pub fn vmsplice_gift(
    pipe_w: impl AsFd,
    pages: AnonPages,
    extra: SpliceFlags,
) -> rustix::io::Result<usize> {
    if !opened_for_write(&pipe_w)? {
        return Err(Errno::BADF);
    }
    let iov = [IoSliceRaw::from_slice(pages.as_slice())];
    // SAFETY: `pipe_w` is open for writing, so the kernel reads the iovec;
    // the memory is a page-aligned mapping of whole pages (`AnonPages`),
    // and it is unmapped when `pages` drops at the end of this function,
    // so nothing in this process can modify it after the gift.
    let res = unsafe { rustix::pipe::vmsplice(&pipe_w, &iov, SpliceFlags::GIFT | extra) };
    drop(pages);
    res
}

/// Moves bytes out of the pipe whose read end is `pipe_r` into `buf`
/// (vmsplice's read side); returns how many.
pub fn vmsplice_from_pipe(
    pipe_r: impl AsFd,
    buf: &mut [u8],
    flags: SpliceFlags,
) -> rustix::io::Result<usize> {
    let iov = [IoSliceRaw::from_slice_mut(buf)];
    // SAFETY: the iovec covers exactly `buf`, which we borrow mutably for
    // the whole call, so the kernel may read or write it whichever way it
    // treats `pipe_r`; it never touches memory beyond it.
    unsafe { rustix::pipe::vmsplice(&pipe_r, &iov, flags) }
}
