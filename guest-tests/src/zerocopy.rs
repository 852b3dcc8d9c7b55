//! MSG_ZEROCOPY on loopback TCP: the completion notifications sendmsg's
//! zero-copy path posts on the socket error queue, the mechanism the seed
//! 004 sendfile2 discussion proposes to reuse for splice and sendfile.

use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::SendFlags;

use crate::framework::{Ctx, OrOutcome, Outcome, Test, TestResult};
use crate::sys::uring::{
    ExtErr, SO_EE_CODE_ZEROCOPY_COPIED, SO_EE_ORIGIN_ZEROCOPY, get_so_zerocopy, recv_errqueue,
    set_so_zerocopy,
};
use crate::util::{errno_name, pattern, read_up_to, tcp_pair};
use crate::{check, check_eq};

pub const TESTS: &[Test] = &[
    Test {
        id: "zerocopy.msg_zerocopy_ranges",
        tags: &["zerocopy", "net"],
        about: "MSG_ZEROCOPY sends on loopback TCP get error-queue notifications whose ee_info..ee_data ranges cover every send exactly once",
        see: "shared/seeds/004 (zero-copy completion notifications)",
        run: msg_zerocopy_ranges,
    },
    Test {
        id: "zerocopy.msg_zerocopy_copied_loopback",
        tags: &["zerocopy", "net", "semantics"],
        about: "every MSG_ZEROCOPY notification on loopback TCP carries SO_EE_CODE_ZEROCOPY_COPIED (loopback always copies)",
        see: "shared/seeds/004 (zero-copy completion notifications)",
        run: msg_zerocopy_copied_loopback,
    },
    Test {
        id: "zerocopy.msg_zerocopy_without_so_zerocopy",
        tags: &["zerocopy", "net", "semantics"],
        about: "send(MSG_ZEROCOPY) on a TCP socket without SO_ZEROCOPY is an ordinary send: the data arrives intact and the error queue stays empty",
        see: "shared/seeds/004",
        run: msg_zerocopy_without_so_zerocopy,
    },
    Test {
        id: "zerocopy.so_zerocopy_socket_types",
        tags: &["zerocopy", "net", "semantics"],
        about: "SO_ZEROCOPY is accepted by TCP (read back as set) and UDP, refused by AF_UNIX with EOPNOTSUPP",
        see: "shared/seeds/004",
        run: so_zerocopy_socket_types,
    },
    Test {
        id: "zerocopy.msg_zerocopy_udp_loopback",
        tags: &["zerocopy", "net"],
        about: "MSG_ZEROCOPY over loopback UDP (SO_ZEROCOPY on UDP since v5.0): every datagram arrives intact and the notifications cover each send once, all with SO_EE_CODE_ZEROCOPY_COPIED",
        see: "shared/seeds/004 (zero-copy completion notifications)",
        run: msg_zerocopy_udp_loopback,
    },
];

const CHUNK: usize = 4096;

/// A loopback pair whose client has SO_ZEROCOPY, or a skip.
fn zc_pair() -> Result<(TcpStream, TcpStream), Outcome> {
    let (client, server) = tcp_pair().or_error("loopback TCP pair")?;
    match set_so_zerocopy(client.as_fd(), true) {
        Ok(()) => Ok((client, server)),
        // SO_ZEROCOPY on TCP exists since v4.14, in every supported kernel.
        Err(e) => Err(Outcome::Fail(format!(
            "setsockopt(SO_ZEROCOPY) on a TCP socket failed with {} (supported since v4.14)",
            errno_name(e)
        ))),
    }
}

fn zc_flags() -> SendFlags {
    SendFlags::from_bits_retain(libc::MSG_ZEROCOPY as u32)
}

/// Sends `n` chunks with MSG_ZEROCOPY, reading each back on `server` so no
/// send can block on a full receive buffer; checks the content.
fn send_chunks(client: &TcpStream, server: &TcpStream, n: usize) -> Result<(), Outcome> {
    for i in 0..n {
        let data = pattern(CHUNK, i as u8);
        let sent = rustix::net::send(client, &data, zc_flags()).or_fail("send(MSG_ZEROCOPY)")?;
        check_eq!(sent, CHUNK, "bytes accepted by send {i}");
        let got = read_up_to(server, CHUNK).or_fail("receive")?;
        check!(got == data, "chunk {i} arrived changed");
    }
    Ok(())
}

/// Reads zero-copy notifications until they cover sends `0..n` or a few
/// seconds pass; fails on anything on the error queue that is not one.
fn collect_notifications(client: impl AsFd, n: u32) -> Result<Vec<ExtErr>, Outcome> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    let covered = |v: &[ExtErr]| -> u64 {
        v.iter()
            .map(|e| u64::from(e.ee_data.wrapping_sub(e.ee_info)) + 1)
            .sum()
    };
    while covered(&out) < u64::from(n) && Instant::now() < deadline {
        match recv_errqueue(client.as_fd()) {
            Ok(v) => {
                check!(
                    !v.is_empty(),
                    "error-queue message without sock_extended_err"
                );
                out.extend(v);
            }
            Err(Errno::AGAIN) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e).or_fail("recvmsg(MSG_ERRQUEUE)"),
        }
    }
    for e in &out {
        check_eq!(e.ee_errno, 0, "ee_errno of a zero-copy notification");
        check_eq!(e.ee_origin, SO_EE_ORIGIN_ZEROCOPY, "ee_origin");
        check_eq!(
            (e.cmsg_level, e.cmsg_type),
            (libc::SOL_IP, libc::IP_RECVERR),
            "cmsg level and type on an IPv4 socket"
        );
        check!(
            e.ee_info <= e.ee_data,
            "inverted range {}..{}",
            e.ee_info,
            e.ee_data
        );
    }
    Ok(out)
}

// See: shared/seeds/004 (the MSG_ZEROCOPY error-queue notifications sendfile2
// would reuse).
fn msg_zerocopy_ranges(ctx: &mut Ctx) -> TestResult {
    let (client, server) = zc_pair()?;
    let n = 8u32;
    send_chunks(&client, &server, n as usize)?;
    let notes = collect_notifications(&client, n)?;
    let mut seen = vec![0u32; n as usize];
    for e in &notes {
        check!(
            e.ee_data < n,
            "range {}..{} reaches past the {n} sends made",
            e.ee_info,
            e.ee_data
        );
        for id in e.ee_info..=e.ee_data {
            seen[id as usize] += 1;
        }
    }
    check!(
        seen.iter().all(|&c| c == 1),
        "per-send notification counts {seen:?} (each send must be covered once)"
    );
    // Coalescing depends on timing, so the count is a metric, not a fact.
    ctx.metric("notifications", notes.len() as f64, "count");
    // Nothing may follow once every send is accounted for.
    check_eq!(
        recv_errqueue(client.as_fd()).map(|v| v.len()),
        Err(Errno::AGAIN),
        "error queue after all notifications"
    );
    Ok(())
}

fn msg_zerocopy_copied_loopback(_ctx: &mut Ctx) -> TestResult {
    let (client, server) = zc_pair()?;
    let n = 4u32;
    send_chunks(&client, &server, n as usize)?;
    let notes = collect_notifications(&client, n)?;
    let covered: u64 = notes
        .iter()
        .map(|e| u64::from(e.ee_data - e.ee_info) + 1)
        .sum();
    check_eq!(covered, u64::from(n), "sends covered by notifications");
    for e in &notes {
        check!(
            e.ee_code & !SO_EE_CODE_ZEROCOPY_COPIED == 0,
            "unknown ee_code bits {:#x}",
            e.ee_code
        );
    }
    // Loopback delivers the skb to a local receiver, which cannot keep
    // the sender's pages: the kernel copies them and every notification
    // says so (Documentation/networking/msg_zerocopy.rst, "Loopback").
    let copied = notes
        .iter()
        .filter(|e| e.ee_code & SO_EE_CODE_ZEROCOPY_COPIED != 0)
        .count();
    check_eq!(
        copied,
        notes.len(),
        "notifications carrying SO_EE_CODE_ZEROCOPY_COPIED on loopback (of {})",
        notes.len()
    );
    Ok(())
}

fn msg_zerocopy_without_so_zerocopy(_ctx: &mut Ctx) -> TestResult {
    let (client, server) = tcp_pair().or_error("loopback TCP pair")?;
    let data = pattern(CHUNK, 0x44);
    // Without SOCK_ZEROCOPY, tcp_sendmsg_locked() ignores MSG_ZEROCOPY: an
    // ordinary copying send that queues no notification (since v4.14).
    let n = rustix::net::send(&client, &data, zc_flags())
        .or_fail("send(MSG_ZEROCOPY) without SO_ZEROCOPY")?;
    check_eq!(n, CHUNK, "bytes accepted");
    let got = read_up_to(&server, CHUNK).or_fail("receive")?;
    check!(got == data, "data arrived changed");
    // Any notification would arrive as soon as the ACK frees the skb.
    std::thread::sleep(Duration::from_millis(200));
    match recv_errqueue(client.as_fd()) {
        Err(Errno::AGAIN) => Ok(()),
        Ok(v) => Err(Outcome::Fail(format!(
            "the error queue holds {} message(s) after a send without SO_ZEROCOPY; expected none (EAGAIN)",
            v.len()
        ))),
        Err(e) => Err(Outcome::Fail(format!(
            "reading the error queue failed with {}; expected EAGAIN (empty)",
            errno_name(e)
        ))),
    }
}

fn so_zerocopy_socket_types(_ctx: &mut Ctx) -> TestResult {
    use rustix::net::{AddressFamily, SocketType, socket};
    // sk_setsockopt(SO_ZEROCOPY): TCP (v4.14) and UDP (v5.0) take it; any
    // family but inet, inet6 and RDS gets EOPNOTSUPP.
    let (tcp, _server) = tcp_pair().or_error("loopback TCP pair")?;
    set_so_zerocopy(tcp.as_fd(), true).or_fail("setsockopt(SO_ZEROCOPY) on TCP")?;
    let on = get_so_zerocopy(tcp.as_fd()).or_fail("getsockopt(SO_ZEROCOPY)")?;
    check!(on, "SO_ZEROCOPY reads back as off after setting it on TCP");
    let udp = socket(AddressFamily::INET, SocketType::DGRAM, None)?;
    set_so_zerocopy(udp.as_fd(), true).or_fail("setsockopt(SO_ZEROCOPY) on UDP")?;
    let (unix, _peer) = crate::util::unix_pair()?;
    match set_so_zerocopy(unix.as_fd(), true) {
        Err(Errno::OPNOTSUPP) => Ok(()),
        other => Err(Outcome::Fail(format!(
            "setsockopt(SO_ZEROCOPY) on AF_UNIX: expected EOPNOTSUPP, got {}",
            other.map_or_else(errno_name, |()| "success".to_owned())
        ))),
    }
}

fn msg_zerocopy_udp_loopback(_ctx: &mut Ctx) -> TestResult {
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").or_error("bind UDP receiver")?;
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").or_error("bind UDP sender")?;
    tx.connect(rx.local_addr().or_error("receiver address")?)
        .or_error("connect UDP sender")?;
    set_so_zerocopy(tx.as_fd(), true).or_fail("setsockopt(SO_ZEROCOPY) on UDP (since v5.0)")?;
    let n = 4u32;
    let mut buf = vec![0u8; 8192];
    for i in 0..n {
        let data = pattern(4000, i as u8);
        let sent =
            rustix::net::send(&tx, &data, zc_flags()).or_fail("send(MSG_ZEROCOPY) on UDP")?;
        check_eq!(sent, data.len(), "bytes accepted by UDP send {i}");
        let got = rustix::net::recv(&rx, &mut buf, rustix::net::RecvFlags::empty())
            .or_fail("receive datagram")?;
        check!(buf[..got.0] == data[..], "datagram {i} arrived changed");
    }
    let notes = collect_notifications(&tx, n)?;
    let mut seen = vec![0u32; n as usize];
    for e in &notes {
        for id in e.ee_info..=e.ee_data {
            check!(id < n, "notification names send {id}, only {n} were made");
            seen[id as usize] += 1;
        }
    }
    check!(
        seen.iter().all(|&c| c == 1),
        "per-send notification counts {seen:?} (each send must be covered once)"
    );
    check!(
        notes
            .iter()
            .all(|e| e.ee_code & SO_EE_CODE_ZEROCOPY_COPIED != 0),
        "a notification on loopback UDP lacks SO_EE_CODE_ZEROCOPY_COPIED: {:?}",
        notes.iter().map(|e| e.ee_code).collect::<Vec<_>>()
    );
    Ok(())
}
