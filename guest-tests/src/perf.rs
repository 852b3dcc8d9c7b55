//! Throughput and latency microbenchmarks of the splice family, with
//! perf_event counters and /proc/vmstat deltas per test.
//!
//! Sizes scale with `ctx.scale`; at 1.0 each test moves 32 MiB, which keeps
//! it well under two seconds under TCG.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::pipe::{SpliceFlags, pipe, splice, tee};

use crate::framework::{Ctx, OrOutcome, Outcome, Test, TestResult};
use crate::sys::mem::{AnonPages, small_pages_only};
use crate::sys::perf::{Counter, CounterKind, uring_send};
use crate::sys::signal::{FdOnlyOp, push_fd_only, vmsplice_bytes};
use crate::util::{errno_name, pattern, read_file, write_all, write_file};
use crate::{check, check_eq};

pub const TESTS: &[Test] = &[
    Test {
        id: "perf.splice_file_to_pipe",
        tags: &["perf", "splice"],
        about: "throughput of splicing a page-cache-resident file into a pipe, draining the pipe to /dev/null by splice",
        see: "shared/seeds/000",
        run: splice_file_to_pipe,
    },
    Test {
        id: "perf.splice_vs_read_write",
        tags: &["perf", "splice"],
        about: "file copy throughput: splice file->pipe->file against a read/write loop, and their ratio; both copies must match the source",
        see: "shared/seeds/000",
        run: splice_vs_read_write,
    },
    Test {
        id: "perf.tee_throughput",
        tags: &["perf", "tee"],
        about: "throughput of tee duplicating a 64 KiB pipe into a second pipe drained to /dev/null; the source pipe keeps its data",
        see: "",
        run: tee_throughput,
    },
    Test {
        id: "perf.vmsplice_throughput",
        tags: &["perf", "vmsplice"],
        about: "throughput of vmsplice of a 64 KiB user buffer into a pipe drained to /dev/null, against write(2) into the same pipe",
        see: "",
        run: vmsplice_throughput,
    },
    Test {
        id: "perf.sendfile_loopback",
        tags: &["perf", "sendfile", "net"],
        about: "throughput of sendfile from a page-cache-resident file to a loopback TCP socket; the receiver gets every byte",
        see: "shared/seeds/004",
        run: sendfile_loopback,
    },
    Test {
        id: "perf.io_uring_splice_vs_sync",
        tags: &["perf", "io_uring", "splice"],
        about: "throughput of file->pipe->/dev/null through linked IORING_OP_SPLICE requests against the same loop of splice(2) calls",
        see: "shared/seeds/003",
        run: io_uring_splice_vs_sync,
    },
    Test {
        id: "perf.send_zc_vs_send",
        tags: &["perf", "io_uring", "net", "zerocopy"],
        about: "throughput of IORING_OP_SEND_ZC against IORING_OP_SEND of 64 KiB buffers over loopback TCP",
        see: "shared/seeds/004",
        run: send_zc_vs_send,
    },
    Test {
        id: "perf.splice_small_latency",
        tags: &["perf", "splice"],
        about: "latency per call of splicing a 64-byte message between two pipes, against read+write of the same message",
        see: "",
        run: splice_small_latency,
    },
];

const MIB: f64 = 1024.0 * 1024.0;
/// Bytes each throughput test moves at scale 1.
const BASE_BYTES: f64 = 32.0 * MIB;
/// The largest file a test creates; bigger totals loop over it.
const MAX_FILE: usize = 8 << 20;
/// The transfer unit: one default pipe's worth.
const CHUNK: usize = 64 * 1024;

/// How many bytes a throughput test moves: `BASE_BYTES * scale`, at least
/// one MiB, a whole number of chunks.
fn total_bytes(ctx: &Ctx) -> usize {
    let want = (BASE_BYTES * ctx.scale.clamp(0.0, 8.0)) as usize;
    want.max(1 << 20) / CHUNK * CHUNK
}

/// CPU time the test process has used, user and kernel, in all its
/// threads: the helper threads a test starts and the io-wq workers that run
/// its io_uring requests (threads of the same process since 5.12) count,
/// time other processes take does not. Under QEMU's -icount it follows
/// executed instructions, so a figure based on it repeats.
fn process_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// One measured side of a perf test: its counters and both clocks.
struct Measure {
    probe: Probe,
    wall: Instant,
    cpu: Duration,
}

impl Measure {
    fn start(ctx: &mut Ctx) -> Measure {
        let probe = Probe::start(ctx);
        Measure {
            probe,
            wall: Instant::now(),
            cpu: process_cpu_time(),
        }
    }

    /// Stops the clocks and counters and reports, each name prefixed with
    /// `side` (`""` for a test that measures one method):
    /// `throughput` (MiB per second of process CPU time, the figure that
    /// repeats under -icount), `throughput_wall` (per second of wall time),
    /// `cpu` and `elapsed` (ms), and this side's counters. Returns the
    /// CPU-time throughput.
    fn finish(self, ctx: &mut Ctx, side: &str, bytes: usize) -> f64 {
        let cpu = process_cpu_time().saturating_sub(self.cpu);
        let wall = self.wall.elapsed();
        self.probe.finish(ctx, side);
        let tp = mib_per_s(bytes, cpu);
        ctx.metric(&format!("{side}throughput"), tp, "MiB/s");
        ctx.metric(
            &format!("{side}throughput_wall"),
            mib_per_s(bytes, wall),
            "MiB/s",
        );
        ctx.metric(&format!("{side}cpu"), cpu.as_secs_f64() * 1e3, "ms");
        ctx.metric(&format!("{side}elapsed"), wall.as_secs_f64() * 1e3, "ms");
        tp
    }
}

fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / MIB / d.as_secs_f64().max(1e-9)
}

/// A file of `len` pattern bytes that sits in the page cache.
fn cached_file(ctx: &Ctx, name: &str, len: usize) -> Result<File, Outcome> {
    let f = write_file(&ctx.scratch().join(name), &pattern(len, 0xc5))?;
    // Written moments ago, so already cached; the hint only guards against
    // a writeback-and-drop under memory pressure.
    let _ = rustix::fs::fadvise(
        &f,
        0,
        std::num::NonZeroU64::new(len as u64),
        rustix::fs::Advice::WillNeed,
    );
    Ok(f)
}

fn dev_null() -> Result<File, Outcome> {
    File::options()
        .write(true)
        .open("/dev/null")
        .or_error("open /dev/null")
}

/// The /proc/vmstat counters each perf test reports as deltas, with units.
const VMSTAT_KEYS: &[(&str, &str)] = &[
    ("pgfault", "count"),
    ("pgmajfault", "count"),
    ("pgpgin", "KiB"),
    ("pgpgout", "KiB"),
    ("nr_dirtied", "pages"),
    ("nr_written", "pages"),
];

fn read_vmstat() -> BTreeMap<String, u64> {
    let Ok(text) = std::fs::read_to_string("/proc/vmstat") else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Counters around the measured part of a perf test.
struct Probe {
    counters: Vec<(CounterKind, Counter)>,
    vmstat: BTreeMap<String, u64>,
}

impl Probe {
    /// Opens and starts the counters; records as observations whether the
    /// software and hardware ones could be opened.
    fn start(ctx: &mut Ctx) -> Probe {
        let mut counters = Vec::new();
        let status = |kinds: &[CounterKind], counters: &mut Vec<(CounterKind, Counter)>| {
            let mut err = None;
            for &k in kinds {
                match Counter::open(k) {
                    Ok(c) => counters.push((k, c)),
                    Err(e) => err = err.or(Some(e)),
                }
            }
            match err {
                None => "available".to_owned(),
                Some(e) => {
                    let name = e
                        .raw_os_error()
                        .map(|c| errno_name(rustix::io::Errno::from_raw_os_error(c)))
                        .unwrap_or_else(|| e.to_string());
                    format!("unavailable: {name}")
                }
            }
        };
        let sw = status(
            &[
                CounterKind::TaskClock,
                CounterKind::ContextSwitches,
                CounterKind::PageFaults,
            ],
            &mut counters,
        );
        let hw = status(
            &[CounterKind::Cycles, CounterKind::Instructions],
            &mut counters,
        );
        // Which counters exist depends on the machine (QEMU's TCG has no
        // hardware counters) more than on the kernel: environment facts.
        ctx.environment("sw_counters", sw);
        ctx.environment("hw_counters", hw);
        let vmstat = read_vmstat();
        counters.retain(|(_, c)| c.start().is_ok());
        Probe { counters, vmstat }
    }

    /// Stops the counters and reports them and the vmstat deltas as
    /// metrics, each name prefixed with `side`.
    fn finish(self, ctx: &mut Ctx, side: &str) {
        for (_, c) in &self.counters {
            let _ = c.stop();
        }
        let after = read_vmstat();
        for (kind, c) in &self.counters {
            let Ok(v) = c.read() else { continue };
            let (name, unit) = match kind {
                CounterKind::TaskClock => ("task_clock", "ns"),
                CounterKind::ContextSwitches => ("context_switches", "count"),
                CounterKind::PageFaults => ("page_faults", "count"),
                CounterKind::Cycles => ("cycles", "count"),
                CounterKind::Instructions => ("instructions", "count"),
            };
            ctx.metric(&format!("{side}{name}"), v as f64, unit);
        }
        for (key, unit) in VMSTAT_KEYS {
            if let (Some(a), Some(b)) = (self.vmstat.get(*key), after.get(*key)) {
                ctx.metric(
                    &format!("{side}vmstat_{key}"),
                    b.saturating_sub(*a) as f64,
                    unit,
                );
            }
        }
    }
}

/// Splices `n` bytes out of the pipe into /dev/null.
fn drain_to_null(r: impl AsFd, null: &File, mut n: usize) -> Result<(), Outcome> {
    while n > 0 {
        let m =
            splice(&r, None, null, None, n, SpliceFlags::empty()).or_fail("splice pipe->null")?;
        check!(
            m > 0,
            "splice pipe->/dev/null returned 0 with {n} bytes queued"
        );
        n -= m;
    }
    Ok(())
}

/// The synchronous file->pipe->/dev/null loop over `total` bytes; returns
/// the number of splice calls made.
fn sync_file_pipe_null(
    file: &File,
    flen: usize,
    total: usize,
    null: &File,
) -> Result<u64, Outcome> {
    let (r, w) = pipe()?;
    let mut moved = 0;
    let mut calls = 0u64;
    while moved < total {
        let mut off = (moved % flen) as u64;
        let want = (flen - off as usize).min(CHUNK).min(total - moved);
        let n = splice(file, Some(&mut off), &w, None, want, SpliceFlags::empty())
            .or_fail("splice file->pipe")?;
        check!(n > 0, "splice file->pipe returned 0 inside the file");
        drain_to_null(&r, null, n)?;
        moved += n;
        calls += 2;
    }
    Ok(calls)
}

fn splice_file_to_pipe(ctx: &mut Ctx) -> TestResult {
    let total = total_bytes(ctx);
    let flen = total.min(MAX_FILE);
    let file = cached_file(ctx, "src", flen)?;
    let null = dev_null()?;
    // One untimed pass so the first timed one finds everything warm.
    sync_file_pipe_null(&file, flen, flen, &null)?;
    let m = Measure::start(ctx);
    let calls = sync_file_pipe_null(&file, flen, total, &null)?;
    m.finish(ctx, "", total);
    ctx.metric("bytes", total as f64, "bytes");
    ctx.metric("syscalls", calls as f64, "count");
    Ok(())
}

fn splice_vs_read_write(ctx: &mut Ctx) -> TestResult {
    let total = total_bytes(ctx);
    let flen = total.min(MAX_FILE);
    let src = cached_file(ctx, "src", flen)?;
    let spliced_path = ctx.scratch().join("spliced");
    let copied_path = ctx.scratch().join("copied");
    let spliced = write_file(&spliced_path, b"")?;
    let copied = write_file(&copied_path, b"")?;
    let (r, w) = pipe()?;
    let mut buf = vec![0u8; CHUNK];

    let m = Measure::start(ctx);
    let mut moved = 0;
    while moved < total {
        let mut off_in = (moved % flen) as u64;
        let mut off_out = off_in;
        let want = (flen - off_in as usize).min(CHUNK);
        let n = splice(
            &src,
            Some(&mut off_in),
            &w,
            None,
            want,
            SpliceFlags::empty(),
        )
        .or_fail("splice file->pipe")?;
        check!(n > 0, "splice file->pipe returned 0 inside the file");
        let mut left = n;
        while left > 0 {
            let m = splice(
                &r,
                None,
                &spliced,
                Some(&mut off_out),
                left,
                SpliceFlags::empty(),
            )
            .or_fail("splice pipe->file")?;
            check!(m > 0, "splice pipe->file returned 0");
            left -= m;
        }
        moved += n;
    }
    let a = m.finish(ctx, "splice_", total);

    let m = Measure::start(ctx);
    let mut moved = 0;
    while moved < total {
        let off = (moved % flen) as u64;
        let want = (flen - off as usize).min(CHUNK);
        let n = rustix::io::pread(&src, &mut buf[..want], off).or_fail("pread")?;
        check!(n > 0, "pread returned 0 inside the file");
        let mut done = 0;
        while done < n {
            done +=
                rustix::io::pwrite(&copied, &buf[done..n], off + done as u64).or_fail("pwrite")?;
        }
        moved += n;
    }
    let b = m.finish(ctx, "read_write_", total);

    let want = pattern(flen, 0xc5);
    check!(
        read_file(&spliced_path)? == want,
        "splice copy differs from the source"
    );
    check!(
        read_file(&copied_path)? == want,
        "read/write copy differs from the source"
    );
    ctx.metric("splice_to_read_write_ratio", a / b.max(1e-9), "ratio");
    ctx.metric("bytes", total as f64, "bytes");
    Ok(())
}

fn tee_throughput(ctx: &mut Ctx) -> TestResult {
    let total = total_bytes(ctx);
    let data = pattern(CHUNK, 0x7e);
    let (ar, aw) = pipe()?;
    let (br, bw) = pipe()?;
    let page = crate::util::page_size();
    for piece in data.chunks(page) {
        write_all(&aw, piece).or_error("fill source pipe")?;
    }
    let null = dev_null()?;
    let m = Measure::start(ctx);
    let mut moved = 0;
    while moved < total {
        let n = tee(&ar, &bw, CHUNK, SpliceFlags::empty()).or_fail("tee")?;
        check!(n > 0, "tee returned 0 from a full pipe");
        drain_to_null(&br, &null, n)?;
        moved += n;
    }
    m.finish(ctx, "", moved);
    drop(aw);
    let kept = crate::util::read_up_to(&ar, CHUNK + 1).or_fail("read source pipe")?;
    check!(kept == data, "tee consumed or changed the source pipe");
    ctx.metric("bytes", moved as f64, "bytes");
    Ok(())
}

fn vmsplice_throughput(ctx: &mut Ctx) -> TestResult {
    let total = total_bytes(ctx);
    // Small pages wherever ASLR puts the buffer: the pages vmsplice pins
    // must not be huge in one boot and small in another.
    small_pages_only().or_error("PR_SET_THP_DISABLE")?;
    let mut pages = AnonPages::new(CHUNK).or_error("mmap a vmsplice source")?;
    pages.as_mut_slice().copy_from_slice(&pattern(CHUNK, 0x3c));
    let buf = pages.as_slice();
    let (r, w) = pipe()?;
    let null = dev_null()?;
    let m = Measure::start(ctx);
    let mut moved = 0;
    while moved < total {
        let n = vmsplice_bytes(&w, buf, SpliceFlags::empty()).or_fail("vmsplice")?;
        check!(n > 0, "vmsplice into an empty pipe returned 0");
        drain_to_null(&r, &null, n)?;
        moved += n;
    }
    let a = m.finish(ctx, "vmsplice_", moved);
    let m = Measure::start(ctx);
    let mut written = 0;
    while written < total {
        let n = rustix::io::write(&w, buf).or_fail("write")?;
        drain_to_null(&r, &null, n)?;
        written += n;
    }
    let b = m.finish(ctx, "write_", written);
    ctx.metric("vmsplice_to_write_ratio", a / b.max(1e-9), "ratio");
    ctx.metric("bytes", moved as f64, "bytes");
    Ok(())
}

/// A loopback TCP pair driven in lockstep by one thread: both ends
/// nonblocking, buffers large enough for a few chunks. A test sends a
/// chunk, then drains what arrived, so no second thread runs and the work
/// per byte does not depend on how a scheduler interleaved sender and
/// receiver (with a reader thread, the same test on the same kernel spread
/// by up to 37% across boots under -icount: ci/bench-determinism.sh).
/// On loopback, the receive path runs in the sender's own call.
struct Lockstep {
    client: std::net::TcpStream,
    server: std::net::TcpStream,
    received: usize,
    buf: Vec<u8>,
}

/// Reads from a nonblocking socket until nothing is left; returns how many
/// bytes came.
fn pair_drain(server: &std::net::TcpStream, buf: &mut [u8]) -> Result<usize, Outcome> {
    let mut got = 0;
    loop {
        match rustix::io::read(server, &mut *buf) {
            Ok(0) | Err(rustix::io::Errno::AGAIN) => return Ok(got),
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e).or_fail("recv on loopback"),
        }
    }
}

impl Lockstep {
    /// Room for this many bytes in each socket buffer, well above a chunk.
    const BUFFER: usize = 1 << 20;

    fn new() -> Result<Lockstep, Outcome> {
        let (client, server) = crate::util::tcp_pair().or_error("loopback TCP pair")?;
        // Capped by net.core.[rw]mem_max (212992 by default), which is still
        // three chunks.
        rustix::net::sockopt::set_socket_send_buffer_size(&client, Self::BUFFER)
            .or_error("SO_SNDBUF")?;
        rustix::net::sockopt::set_socket_recv_buffer_size(&server, Self::BUFFER)
            .or_error("SO_RCVBUF")?;
        crate::splice::set_nonblock(&client, true).or_error("O_NONBLOCK on the sender")?;
        crate::splice::set_nonblock(&server, true).or_error("O_NONBLOCK on the receiver")?;
        Ok(Lockstep {
            client,
            server,
            received: 0,
            buf: vec![0u8; 256 * 1024],
        })
    }

    /// Reads what has arrived, without waiting; returns how many bytes.
    fn drain(&mut self) -> Result<usize, Outcome> {
        let got = pair_drain(&self.server, &mut self.buf)?;
        self.received += got;
        Ok(got)
    }

    /// Called after a send could not go on (EAGAIN): reads what arrived.
    /// With nothing to read, the sender's buffer may still hold data the
    /// peer has read but not yet ACKed (a delayed ACK): wait, up to 10 s,
    /// for room or for data. A pair that stays stuck is a failure of the
    /// loopback path.
    fn unblock(&mut self, what: &str) -> Result<(), Outcome> {
        if self.drain()? > 0 {
            return Ok(());
        }
        use rustix::event::{PollFd, PollFlags, poll};
        let mut fds = [
            PollFd::new(&self.client, PollFlags::OUT),
            PollFd::new(&self.server, PollFlags::IN),
        ];
        let ts = rustix::time::Timespec {
            tv_sec: 10,
            tv_nsec: 0,
        };
        loop {
            match poll(&mut fds, Some(&ts)) {
                Err(rustix::io::Errno::INTR) => continue,
                Ok(n) => {
                    check!(
                        n > 0,
                        "{what} found no room on a loopback socket for 10 s while its receiver had read everything ({} bytes so far)",
                        self.received
                    );
                    self.drain()?;
                    return Ok(());
                }
                Err(e) => return Err(e).or_fail("poll on loopback"),
            }
        }
    }

    /// Shuts the sending side and reads to EOF; returns all bytes received.
    fn finish(mut self) -> Result<usize, Outcome> {
        self.client
            .shutdown(std::net::Shutdown::Write)
            .or_error("shutdown")?;
        crate::splice::set_nonblock(&self.server, false).or_error("blocking receiver")?;
        loop {
            match rustix::io::read(&self.server, &mut self.buf) {
                Ok(0) => return Ok(self.received),
                Ok(n) => self.received += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e).or_fail("recv on loopback"),
            }
        }
    }
}

fn sendfile_loopback(ctx: &mut Ctx) -> TestResult {
    let total = total_bytes(ctx);
    let flen = total.min(MAX_FILE);
    let file = cached_file(ctx, "src", flen)?;
    let mut pair = Lockstep::new()?;
    let m = Measure::start(ctx);
    let mut moved = 0;
    while moved < total {
        let mut off = (moved % flen) as u64;
        let want = (flen - off as usize).min(CHUNK).min(total - moved);
        match rustix::fs::sendfile(&pair.client, &file, Some(&mut off), want) {
            Ok(n) => {
                check!(n > 0, "sendfile returned 0 inside the file");
                moved += n;
                pair.drain()?;
            }
            Err(rustix::io::Errno::AGAIN) => pair.unblock("sendfile")?,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e).or_fail("sendfile"),
        }
    }
    let got = pair.finish()?;
    m.finish(ctx, "", moved);
    check_eq!(got, moved, "bytes received over loopback");
    ctx.metric("bytes", moved as f64, "bytes");
    Ok(())
}

/// A ring of `entries` that supports `opcode`, judged as io_uring's own
/// tests judge it (missing on a kernel newer than its release: a failure).
fn ring_with(entries: u32, opcode: u8) -> Result<io_uring::IoUring, Outcome> {
    crate::io_uring::ring_of(entries, &[opcode])
}

/// A ring for a measured loop whose requests run in io-wq workers (SPLICE
/// always does): IORING_SETUP_DEFER_TASKRUN with SINGLE_ISSUER (v6.1), so
/// the workers' completions wait for the submitter's next wait and wake it
/// once when enough are in, instead of waking it at every completion. How
/// often the submitter woke used to depend on where the workers were
/// preempted, which varied across boots under -icount (uring_throughput
/// spread 4.3% over 3 boots of Debian's 6.12, ci/bench-determinism.sh).
/// Gated like every ring of the suite first (`ring_with`).
fn worker_ring(entries: u32, opcode: u8) -> Result<io_uring::IoUring, Outcome> {
    let plain = ring_with(entries, opcode)?;
    match io_uring::IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(entries)
    {
        Ok(ring) => Ok(ring),
        // Older than the flags: the plain ring measures what it can.
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL) && !crate::util::kernel_at_least((6, 1)) =>
        {
            Ok(plain)
        }
        Err(e) => Err(Outcome::Fail(format!(
            "io_uring_setup({entries}) with SINGLE_ISSUER|DEFER_TASKRUN failed on {}, which has them since v6.1: {e}",
            crate::util::kernel_release()
        ))),
    }
}

fn io_uring_splice_vs_sync(ctx: &mut Ctx) -> TestResult {
    const PAIRS: usize = 16;
    let mut ring = worker_ring(2 * PAIRS as u32, io_uring::opcode::Splice::CODE)?;
    let total = total_bytes(ctx);
    let flen = total.min(MAX_FILE);
    let file = cached_file(ctx, "src", flen)?;
    let null = dev_null()?;
    let (r, w) = pipe()?;
    sync_file_pipe_null(&file, flen, flen, &null)?;

    let m = Measure::start(ctx);
    let mut moved = 0;
    while moved < total {
        // One link chain per batch: file->pipe, pipe->null, file->pipe, ...
        let mut queued = 0;
        let mut expect = Vec::new();
        while queued < PAIRS && moved + expect.iter().sum::<usize>() < total {
            let pos = moved + expect.iter().sum::<usize>();
            let off = (pos % flen) as i64;
            let len = (flen - off as usize).min(CHUNK).min(total - pos);
            let last = queued + 1 == PAIRS || pos + len >= total;
            push_fd_only(
                &mut ring,
                FdOnlyOp::Splice {
                    fd_in: file.as_fd(),
                    off_in: off,
                    fd_out: w.as_fd(),
                    off_out: -1,
                    len: len as u32,
                },
                2 * queued as u64,
                true,
            )
            .or_error("push splice file->pipe")?;
            push_fd_only(
                &mut ring,
                FdOnlyOp::Splice {
                    fd_in: r.as_fd(),
                    off_in: -1,
                    fd_out: null.as_fd(),
                    off_out: -1,
                    len: len as u32,
                },
                2 * queued as u64 + 1,
                !last,
            )
            .or_error("push splice pipe->null")?;
            expect.push(len);
            queued += 1;
        }
        let want = 2 * queued;
        let mut seen = 0;
        while seen < want {
            match ring.submit_and_wait(want - seen) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e).or_fail("io_uring_enter"),
            }
            for cqe in ring.completion() {
                let i = (cqe.user_data() / 2) as usize;
                let res = cqe.result();
                check!(
                    usize::try_from(res).ok() == expect.get(i).copied(),
                    "io_uring splice #{} returned {res}, expected {:?}",
                    cqe.user_data(),
                    expect.get(i)
                );
                seen += 1;
            }
        }
        moved += expect.iter().sum::<usize>();
    }
    let a = m.finish(ctx, "uring_", moved);
    let m = Measure::start(ctx);
    sync_file_pipe_null(&file, flen, total, &null)?;
    let b = m.finish(ctx, "sync_", total);
    ctx.metric("uring_to_sync_ratio", a / b.max(1e-9), "ratio");
    ctx.metric("bytes", moved as f64, "bytes");
    Ok(())
}

fn send_zc_vs_send(ctx: &mut Ctx) -> TestResult {
    let mut ring = ring_with(8, io_uring::opcode::SendZc::CODE)?;
    // Loopback TCP is the slowest path here (about 15-20 MiB/s under TCG)
    // and this test sends twice, so it moves a quarter of the others' data.
    let total = (total_bytes(ctx) / 4).max(CHUNK);
    // 'static so the kernel may read it for as long as a request lives;
    // small pages, since SEND_ZC pins them as vmsplice does.
    small_pages_only().or_error("PR_SET_THP_DISABLE")?;
    let pages: &'static mut AnonPages = Box::leak(Box::new(
        AnonPages::new(CHUNK).or_error("mmap a SEND_ZC source")?,
    ));
    pages.as_mut_slice().copy_from_slice(&pattern(CHUNK, 0x5d));
    let buf: &'static [u8] = pages.as_slice();
    let mut pair = Lockstep::new()?;
    let mut sent = 0;
    let mut phase = |pair: &mut Lockstep, zc: bool| -> Result<(usize, bool), Outcome> {
        let what = if zc { "SEND_ZC" } else { "SEND" };
        let mut moved = 0;
        let mut all_notified = true;
        while moved < total {
            // Read what arrived as soon as the send completes: that ACKs it,
            // and only then is a zero-copy buffer released and notified.
            let mut drained = Ok(0);
            let client = pair.client.as_fd();
            let out = uring_send(&mut ring, client, buf, zc, libc::MSG_DONTWAIT, &mut || {
                drained = pair_drain(&pair.server, &mut pair.buf)
            })
            .or_fail("io_uring send")?;
            pair.received += drained?;
            if out.res == -libc::EAGAIN {
                pair.unblock(what)?;
                continue;
            }
            if out.res < 0 {
                let e = rustix::io::Errno::from_raw_os_error(-out.res);
                return Err(Outcome::Fail(format!("{what} failed: {}", errno_name(e))));
            }
            check!(out.res > 0, "send returned 0");
            all_notified &= out.notified;
            moved += out.res as usize;
        }
        sent += moved;
        Ok((moved, all_notified))
    };
    // Each side's clocks and counters apart; receiving is part of both.
    let m = Measure::start(ctx);
    let (moved_zc, notified) = phase(&mut pair, true)?;
    let a = m.finish(ctx, "send_zc_", moved_zc);
    let m = Measure::start(ctx);
    let (moved_send, _) = phase(&mut pair, false)?;
    let b = m.finish(ctx, "send_", moved_send);
    let got = pair.finish()?;
    check_eq!(got, sent, "bytes received over loopback");
    // Every SEND_ZC request posts its notification (io_uring/notif.c), on
    // every kernel with the opcode.
    check!(
        notified,
        "a SEND_ZC request completed without its notification CQE"
    );
    ctx.metric("send_zc_to_send_ratio", a / b.max(1e-9), "ratio");
    ctx.metric("bytes", sent as f64, "bytes");
    Ok(())
}

fn splice_small_latency(ctx: &mut Ctx) -> TestResult {
    const MSG: usize = 64;
    let rounds = ((10_000.0 * ctx.scale) as usize).max(1000);
    let msg = pattern(MSG, 0x42);
    let (ar, aw) = pipe()?;
    let (br, bw) = pipe()?;
    write_all(&aw, &msg).or_error("seed the message")?;
    // The message circulates A -> B -> A, one pipe buffer per call.
    let probe = Probe::start(ctx);
    let (wall, cpu) = (Instant::now(), process_cpu_time());
    for _ in 0..rounds {
        let n = splice(&ar, None, &bw, None, MSG, SpliceFlags::empty()).or_fail("splice A->B")?;
        check_eq!(n, MSG, "splice A->B count");
        let n = splice(&br, None, &aw, None, MSG, SpliceFlags::empty()).or_fail("splice B->A")?;
        check_eq!(n, MSG, "splice B->A count");
    }
    let (splice_wall, splice_cpu) = (wall.elapsed(), process_cpu_time().saturating_sub(cpu));
    probe.finish(ctx, "splice_");
    let mut buf = [0u8; MSG];
    let probe = Probe::start(ctx);
    let (wall, cpu) = (Instant::now(), process_cpu_time());
    for _ in 0..rounds {
        let n = rustix::io::read(&ar, &mut buf).or_fail("read A")?;
        check_eq!(n, MSG, "read count");
        rustix::io::write(&aw, &buf).or_fail("write A")?;
    }
    let (rw_wall, rw_cpu) = (wall.elapsed(), process_cpu_time().saturating_sub(cpu));
    probe.finish(ctx, "read_write_");
    let got = crate::util::read_up_to(&ar, MSG).or_fail("read message")?;
    check!(got == msg, "the circulated message changed");
    let calls = 2.0 * rounds as f64;
    // Per call of process CPU time (repeats under -icount), and of wall time.
    let per_call = |d: Duration| d.as_nanos() as f64 / calls;
    ctx.metric("latency", per_call(splice_cpu), "ns");
    ctx.metric("latency_wall", per_call(splice_wall), "ns");
    ctx.metric("read_write_latency", per_call(rw_cpu), "ns");
    ctx.metric("read_write_latency_wall", per_call(rw_wall), "ns");
    ctx.metric("calls", calls, "count");
    Ok(())
}
