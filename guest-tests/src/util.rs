//! Helpers shared by every test area.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::io::Errno;

/// The symbolic name of an errno, as observations report it. A
/// kernel-internal code (see [`internal_errno_name`]) gets its kernel name
/// and is noted, so the runner fails the test that saw it.
pub fn errno_name(e: Errno) -> String {
    if let Some(name) = note_errno(e.raw_os_error()) {
        return name.to_owned();
    }
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

/// Kernel-internal errnos (include/linux/errno.h, 512 and above), which
/// the kernel must turn into a real errno or a restart before a syscall
/// returns or a CQE is posted.
const INTERNAL_ERRNOS: &[(i32, &str)] = &[
    (512, "ERESTARTSYS"),
    (513, "ERESTARTNOINTR"),
    (514, "ERESTARTNOHAND"),
    (515, "ENOIOCTLCMD"),
    (516, "ERESTART_RESTARTBLOCK"),
    (517, "EPROBE_DEFER"),
    (518, "EOPENSTALE"),
    (519, "ENOPARAM"),
    (521, "EBADHANDLE"),
    (522, "ENOTSYNC"),
    (523, "EBADCOOKIE"),
    (524, "ENOTSUPP"),
    (525, "ETOOSMALL"),
    (526, "ESERVERFAULT"),
    (527, "EBADTYPE"),
    (528, "EJUKEBOX"),
    (529, "EIOCBQUEUED"),
    (530, "ERECALLCONFLICT"),
    (531, "ENOGRACE"),
];

/// The name of a kernel-internal errno (512 up to MAX_ERRNO 4095); `None`
/// for ordinary errnos.
pub fn internal_errno_name(raw: i32) -> Option<&'static str> {
    if !(512..=4095).contains(&raw) {
        return None;
    }
    Some(
        INTERNAL_ERRNOS
            .iter()
            .find(|(n, _)| *n == raw)
            .map_or("EINTERNAL", |(_, name)| name),
    )
}

/// Whether an observed text is the name of a kernel-internal errno.
pub fn is_internal_errno_name(text: &str) -> bool {
    text == "EINTERNAL" || INTERNAL_ERRNOS.iter().any(|(_, name)| *name == text)
}

/// The first kernel-internal errno this process saw (0: none).
static LEAKED_ERRNO: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Notes an errno (positive) that reached userspace, from a syscall or a
/// CQE; returns its name when it is kernel-internal. Every errno a test
/// names goes through here ([`errno_name`], and every CQE through
/// `sys::uring::Cqe`), so one check in the runner catches a leak in any
/// test.
pub fn note_errno(raw: i32) -> Option<&'static str> {
    let name = internal_errno_name(raw)?;
    let _ = LEAKED_ERRNO.compare_exchange(
        0,
        raw,
        std::sync::atomic::Ordering::SeqCst,
        std::sync::atomic::Ordering::SeqCst,
    );
    Some(name)
}

/// Takes the first kernel-internal errno noted since the last call.
pub fn take_leaked_errno() -> Option<i32> {
    match LEAKED_ERRNO.swap(0, std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        raw => Some(raw),
    }
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

/// The running kernel's version from its release string: `6.12.107+deb12-amd64`
/// gives (6, 12, 107). Missing parts are 0.
pub fn kernel_version() -> (u32, u32, u32) {
    parse_version(&kernel_release())
}

fn parse_version(release: &str) -> (u32, u32, u32) {
    let mut parts = release.split(['.', '-', '+', '_']).map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().unwrap_or(0)
    });
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// Whether the running kernel's (major, minor) is at least `release`.
pub fn kernel_at_least(release: (u32, u32)) -> bool {
    let (maj, min, _) = kernel_version();
    (maj, min) >= release
}

/// A kernel change that a test's expectation depends on: the release it
/// was merged in and the commit, for reasons and the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    /// (major, minor) of the first release with it.
    pub release: (u32, u32),
    /// `1b057bd800c3 ("drivers/char/mem: implement splice() for /dev/zero, /dev/full")`.
    pub commit: &'static str,
}

impl Change {
    /// `v6.7, 1b057bd800c3 (...)`: what reports show beside a difference.
    pub fn describe(&self) -> String {
        format!("v{}.{}, {}", self.release.0, self.release.1, self.commit)
    }

    /// Whether the running kernel is at or after the change's release.
    pub fn expected(&self) -> bool {
        kernel_at_least(self.release)
    }

    /// A versioned expectation: the new behaviour passes anywhere (on an
    /// older kernel it is a backport); the old one passes only before the
    /// release and is a regression at or after it.
    pub fn check(&self, shows_new: bool, what: &str) -> Result<(), crate::framework::Outcome> {
        if shows_new || !self.expected() {
            return Ok(());
        }
        Err(crate::framework::Outcome::Fail(format!(
            "{what}; kernel {} is at or after v{}.{}, which has {}",
            kernel_release(),
            self.release.0,
            self.release.1,
            self.commit
        )))
    }
}

/// The running kernel's release string.
pub fn kernel_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_release_strings() {
        assert_eq!(parse_version("6.12.107+deb12-amd64"), (6, 12, 107));
        assert_eq!(parse_version("6.1.0-56-amd64"), (6, 1, 0));
        assert_eq!(parse_version("6.18.44-fc-v1045"), (6, 18, 44));
        assert_eq!(parse_version("6.7"), (6, 7, 0));
        assert_eq!(parse_version("6.12.0-rc3"), (6, 12, 0));
    }

    #[test]
    fn internal_errnos_are_named_and_ordinary_ones_are_not() {
        assert_eq!(internal_errno_name(512), Some("ERESTARTSYS"));
        assert_eq!(internal_errno_name(529), Some("EIOCBQUEUED"));
        assert_eq!(internal_errno_name(600), Some("EINTERNAL"));
        assert_eq!(internal_errno_name(4), None);
        assert_eq!(internal_errno_name(4096), None);
        assert!(is_internal_errno_name("ERESTART_RESTARTBLOCK"));
        assert!(!is_internal_errno_name("EINTR"));
    }
}
