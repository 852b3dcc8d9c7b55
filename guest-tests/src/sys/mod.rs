//! The only place in the guest crate that may use `unsafe`: thin wrappers
//! over syscalls that rustix and io-uring do not cover safely. Each file is
//! one area; every `unsafe` block carries a `// SAFETY:` comment.

pub mod mem;
pub mod net;
pub mod perf;
pub mod process;
pub mod signal;
pub mod splice;
pub mod uring;

/// The iovecs the kernel reads `bufs` through. They borrow nothing: the
/// caller keeps `bufs` alive and unmoved while the kernel may use them.
pub(crate) fn iovecs<'a>(bufs: impl IntoIterator<Item = &'a [u8]>) -> Vec<libc::iovec> {
    bufs.into_iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect()
}

/// A raw syscall's return value: the count, or the errno it set.
pub(crate) fn count_or_errno(r: i64) -> rustix::io::Result<usize> {
    if r < 0 {
        Err(
            rustix::io::Errno::from_io_error(&std::io::Error::last_os_error())
                .unwrap_or(rustix::io::Errno::IO),
        )
    } else {
        Ok(r as usize)
    }
}
