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
    // libc, not rustix: rustix caps the iovec count at IOV_MAX, and the
    // tests must hand the kernel exactly what they ask for (more than
    // IOV_MAX is one of the cases).
    let iov = super::iovecs(bufs.iter().copied());
    use std::os::fd::AsRawFd;
    // SAFETY: `pipe_w` is open for writing (checked above), so the kernel
    // only reads from the iovecs, which point into live, initialised
    // slices borrowed for the duration of the call; `iov` outlives it.
    // GIFT is excluded, so the kernel gains no licence to take over the
    // pages.
    let r = unsafe {
        libc::vmsplice(
            pipe_w.as_fd().as_raw_fd(),
            iov.as_ptr(),
            iov.len(),
            flags.bits(),
        )
    };
    super::count_or_errno(r as i64)
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

/// sendfile(2) with an offset pointer that points into page zero, which
/// this process never maps (vm.mmap_min_addr keeps it free), so the
/// kernel's copy_from_user() of the offset must fail with EFAULT.
pub fn sendfile_unmapped_offset(
    out: impl AsFd,
    input: impl AsFd,
    count: usize,
) -> rustix::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let bad_offset: usize = 8;
    // SAFETY: the fds are borrowed for the call; the kernel accesses the
    // offset only through copy_from_user()/put_user(), which check the
    // address, and the address lies in page zero, which nothing in this
    // process maps, so no memory of ours can be read or written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sendfile,
            out.as_fd().as_raw_fd(),
            input.as_fd().as_raw_fd(),
            bad_offset,
            count,
        )
    };
    super::count_or_errno(r as i64)
}
