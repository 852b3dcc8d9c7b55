//! Helpers shared by every test area.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::io::Errno;

/// The symbolic name of an errno, as observations report it.
pub fn errno_name(e: Errno) -> String {
    let name = match e {
        Errno::PERM => "EPERM",
        Errno::NOENT => "ENOENT",
        Errno::SRCH => "ESRCH",
        Errno::INTR => "EINTR",
        Errno::IO => "EIO",
        Errno::NXIO => "ENXIO",
        Errno::TOOBIG => "E2BIG",
        Errno::BADF => "EBADF",
        Errno::CHILD => "ECHILD",
        Errno::AGAIN => "EAGAIN",
        Errno::NOMEM => "ENOMEM",
        Errno::ACCESS => "EACCES",
        Errno::FAULT => "EFAULT",
        Errno::BUSY => "EBUSY",
        Errno::EXIST => "EEXIST",
        Errno::XDEV => "EXDEV",
        Errno::NODEV => "ENODEV",
        Errno::NOTDIR => "ENOTDIR",
        Errno::ISDIR => "EISDIR",
        Errno::INVAL => "EINVAL",
        Errno::NFILE => "ENFILE",
        Errno::MFILE => "EMFILE",
        Errno::FBIG => "EFBIG",
        Errno::NOSPC => "ENOSPC",
        Errno::SPIPE => "ESPIPE",
        Errno::ROFS => "EROFS",
        Errno::PIPE => "EPIPE",
        Errno::RANGE => "ERANGE",
        Errno::NOSYS => "ENOSYS",
        Errno::OPNOTSUPP => "EOPNOTSUPP",
        Errno::NOBUFS => "ENOBUFS",
        Errno::MSGSIZE => "EMSGSIZE",
        Errno::TIME => "ETIME",
        Errno::TIMEDOUT => "ETIMEDOUT",
        Errno::CANCELED => "ECANCELED",
        Errno::ALREADY => "EALREADY",
        Errno::CONNREFUSED => "ECONNREFUSED",
        Errno::CONNRESET => "ECONNRESET",
        Errno::NOTCONN => "ENOTCONN",
        Errno::NOTSOCK => "ENOTSOCK",
        Errno::OVERFLOW => "EOVERFLOW",
        Errno::NODATA => "ENODATA",
        Errno::RESTART => "ERESTART",
        _ => return format!("errno {}", e.raw_os_error()),
    };
    name.to_owned()
}

/// Deterministic, position-dependent bytes, so a misplaced page or a shifted
/// offset shows up as a content mismatch.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8 ^ seed)
        .collect()
}

/// Creates (or truncates) a file holding `content`.
pub fn write_file(path: &Path, content: &[u8]) -> std::io::Result<File> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(content)?;
    Ok(f)
}

/// Reads a whole file from the start.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    File::open(path)?.read_to_end(&mut v)?;
    Ok(v)
}

/// Reads exactly `len` bytes from a pipe or socket, or fewer at EOF.
pub fn read_up_to(fd: impl AsFd, len: usize) -> rustix::io::Result<Vec<u8>> {
    let mut out = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = rustix::io::read(&fd, &mut out[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    out.truncate(got);
    Ok(out)
}

/// Writes all of `buf` to a pipe, socket or file.
pub fn write_all(fd: impl AsFd, mut buf: &[u8]) -> rustix::io::Result<()> {
    while !buf.is_empty() {
        let n = rustix::io::write(&fd, buf)?;
        buf = &buf[n..];
    }
    Ok(())
}

/// A connected loopback TCP pair: (client, server side).
pub fn tcp_pair() -> std::io::Result<(std::net::TcpStream, std::net::TcpStream)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    Ok((client, server))
}

/// A connected AF_UNIX stream pair.
pub fn unix_pair() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
}

/// Makes sure loopback is up: PID 1 of an initramfs starts with it down
/// (and binding 127.0.0.1 succeeds even then, so only the flags tell).
pub fn ensure_loopback_up() {
    crate::sys::net::loopback_up();
}

/// The page size of the running kernel.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// The running kernel's release string.
pub fn kernel_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}
