//! Network setup: the interface the guest needs when it is PID 1, and
//! socket options rustix does not wrap.

/// Brings `lo` up (SIOCSIFFLAGS); errors are ignored because the tests that
/// need loopback will report them in context.
pub fn loopback_up() {
    let Ok(sock) = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        None,
    ) else {
        return;
    };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: `req` is a valid, writable ifreq naming "lo"; the ioctl reads
    // and writes only within it, and `sock` is an open socket.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req);
        }
    }
}

/// SO_SNDBUFFORCE: a send buffer of `bytes`, past `net.core.wmem_max`
/// (needs CAP_NET_ADMIN; rustix has only the capped SO_SNDBUF).
pub fn force_send_buffer(sock: &impl std::os::fd::AsFd, bytes: usize) -> rustix::io::Result<()> {
    use std::os::fd::AsRawFd;
    let val = libc::c_int::try_from(bytes).map_err(|_| rustix::io::Errno::INVAL)?;
    // SAFETY: `val` is a live c_int and the length passed is its size; the
    // fd is an open socket borrowed for the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            (&val as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(rustix::io::Errno::from_raw_os_error(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        ))
    }
}
