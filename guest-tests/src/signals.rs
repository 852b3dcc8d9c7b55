//! Signals against the splice family: blocking splice/tee/vmsplice
//! interrupted by a handled signal with and without `SA_RESTART`, short
//! counts when data already moved, SIGKILL of tasks looping in splice and
//! sendfile, the seed 000 `signal_pending()` vs `fatal_signal_pending()`
//! question in `splice_from_pipe_next()`, and io_uring splice with a
//! signal or task_work pending (seed 003's NAKed `ignore_sig`).

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, SpliceFlags, pipe, pipe_with, splice, tee};
use rustix::process::{Pid, Signal, WaitOptions};

use crate::framework::{Ctx, OrOutcome, Outcome, Test, TestResult};
use crate::sys::signal::{
    FdOnlyOp, fork_child, handled_count, install_counting_handler, push_fd_only, signal_thread,
    vmsplice_bytes,
};
use crate::util::{errno_name, pattern, read_file, read_up_to, write_all, write_file};
use crate::{check, check_eq, skip};

pub const TESTS: &[Test] = &[
    Test {
        id: "signals.splice_empty_pipe_eintr",
        tags: &["signals", "splice", "semantics"],
        about: "a splice from an empty pipe to a file, blocked, fails with EINTR on a handled SIGUSR1 without SA_RESTART, promptly, and loses no data",
        see: "",
        run: splice_empty_pipe_eintr,
    },
    Test {
        id: "signals.splice_empty_pipe_sa_restart",
        tags: &["signals", "splice", "semantics"],
        about: "a splice from an empty pipe to a file, blocked, restarts after a SIGUSR1 whose handler has SA_RESTART and moves the data that arrives; none is lost or duplicated",
        see: "",
        run: splice_empty_pipe_sa_restart,
    },
    Test {
        id: "signals.splice_full_pipe_eintr",
        tags: &["signals", "splice", "semantics"],
        about: "a file->pipe splice blocked on a full pipe fails with EINTR on a handled SIGUSR1 without SA_RESTART; the pipe holds exactly what was there",
        see: "",
        run: splice_full_pipe_eintr,
    },
    Test {
        id: "signals.splice_full_pipe_sa_restart",
        tags: &["signals", "splice", "semantics"],
        about: "a file->pipe splice blocked on a full pipe restarts after a SA_RESTART SIGUSR1 and completes once room is made; the pipe holds exactly what was moved",
        see: "",
        run: splice_full_pipe_sa_restart,
    },
    Test {
        id: "signals.tee_empty_pipe_eintr",
        tags: &["signals", "tee", "semantics"],
        about: "a tee from an empty pipe, blocked, fails with EINTR on a handled SIGUSR1 without SA_RESTART; neither pipe gains or loses data",
        see: "",
        run: tee_empty_pipe_eintr,
    },
    Test {
        id: "signals.tee_empty_pipe_sa_restart",
        tags: &["signals", "tee", "semantics"],
        about: "a tee from an empty pipe, blocked, restarts after a SA_RESTART SIGUSR1 and duplicates the data that arrives; the source keeps its data",
        see: "",
        run: tee_empty_pipe_sa_restart,
    },
    Test {
        id: "signals.vmsplice_full_pipe_eintr",
        tags: &["signals", "vmsplice", "semantics"],
        about: "a vmsplice into a full pipe fails with EINTR on a handled SIGUSR1 without SA_RESTART; the pipe holds exactly what was there",
        see: "",
        run: vmsplice_full_pipe_eintr,
    },
    Test {
        id: "signals.vmsplice_full_pipe_sa_restart",
        tags: &["signals", "vmsplice", "semantics"],
        about: "a vmsplice into a full pipe restarts after a SA_RESTART SIGUSR1 and completes once room is made; the pipe holds exactly what was moved",
        see: "",
        run: vmsplice_full_pipe_sa_restart,
    },
    Test {
        id: "signals.splice_partial_count",
        tags: &["signals", "splice", "semantics"],
        about: "splices asking for more than the destination pipe can take return exactly its capacity instead of blocking (pipe->pipe and file->pipe), a second nonblocking one EAGAIN; nothing is lost",
        see: "",
        run: splice_partial_count,
    },
    Test {
        id: "signals.splice_to_socket_short_count",
        tags: &["signals", "splice", "net", "semantics"],
        about: "a pipe->socket splice that moved some bytes and then blocked on a full socket gets a handled SIGUSR1: observes splice_after_signal (short_count vs EINTR) and bytes_before_signal (AF_UNIX send-buffer accounting: 69632 on 6.1, 65536 on 6.12; the commit is not identified); received + left in pipe == what was written; an observation, not an assertion, because the seed 000 thread proposes changing it (kernel-patches/splice-fatal-signal); the same on 6.1 and 6.12",
        see: "",
        run: splice_to_socket_short_count,
    },
    Test {
        id: "signals.splice_sigkill_zero_to_null",
        tags: &["signals", "splice", "kill"],
        about: "SIGKILL ends a child looping splice(zero source -> pipe -> /dev/null): under 5 s of CPU time after the kill, reaped within 30 s; reports the kill-to-reap latency and CPU time",
        see: "shared/seeds/000 (splice sources that always succeed must stay killable)",
        run: splice_sigkill_zero_to_null,
    },
    Test {
        id: "signals.sendfile_sigkill_loop",
        tags: &["signals", "sendfile", "kill"],
        about: "SIGKILL ends a child looping 2 GiB sendfile(zero source -> /dev/null) calls: after the kill it uses less CPU time than a quarter of one call (timed first; 40 ms to 5 s), reaped within 30 s; reports the kill-to-reap latency and CPU time",
        see: "commit c725bfce7968 (vfs: Make sendfile(2) killable even better)",
        run: sendfile_sigkill_loop,
    },
    Test {
        id: "signals.sendfile_handled_signal",
        tags: &["signals", "sendfile", "semantics", "seed000"],
        about: "observes whether a handled (non-fatal) SIGUSR1 cuts a long sendfile(zero source -> /dev/null) short, i.e. whether splice_from_pipe_next() tests signal_pending() or fatal_signal_pending(); an observation, not an assertion, because the seed 000 thread proposes changing it (kernel-patches/splice-fatal-signal); the same on 6.1 and 6.12",
        see: "shared/seeds/000 (Linus: make the first signal_pending() check fatal_signal_pending())",
        run: sendfile_handled_signal,
    },
    Test {
        id: "signals.sendfile_to_socket_handled_signal",
        tags: &["signals", "sendfile", "net", "semantics", "seed000"],
        about: "observes whether a handled SIGUSR1 cuts a 64 MiB sendfile(zero source -> AF_UNIX socket with room for all of it) short, i.e. whether splice_to_socket()'s early check tests signal_pending() or fatal_signal_pending(); an observation, not an assertion, because the seed 000 thread proposes changing it (kernel-patches/splice-fatal-signal); the same on 6.1 and 6.12",
        see: "kernel-patches/splice-fatal-signal (patch 2)",
        run: sendfile_to_socket_handled_signal,
    },
    Test {
        id: "signals.seed000_splice_from_slow_writer",
        tags: &["signals", "splice", "semantics", "seed000"],
        about: "splices from a pipe whose writer is slow into a file: records the short count per call and the result of a call hit by a handled SIGUSR1 while waiting; every byte arrives once; an observation, not an assertion, because the seed 000 thread proposes changing it (kernel-patches/splice-fatal-signal); the same on 6.1 and 6.12",
        see: "shared/seeds/000 (signal handling in splice_from_pipe_next())",
        run: seed000_splice_from_slow_writer,
    },
    Test {
        id: "signals.io_uring_splice_signal",
        tags: &["signals", "io_uring", "splice", "semantics", "seed003"],
        about: "an IORING_OP_SPLICE blocked on an empty pipe while the task takes a handled SIGUSR1: io_uring_enter fails with EINTR, the splice (in an io-wq worker) keeps waiting and then moves everything; the ring stays usable",
        see: "shared/seeds/003 (NAKed ignore_sig patch)",
        run: io_uring_splice_signal,
    },
    Test {
        id: "signals.io_uring_task_work_during_splice",
        tags: &["signals", "io_uring", "splice", "semantics", "seed003"],
        about: "a blocking splice(2) while io_uring queues task_work to the task (a poll completes with POLLIN): the splice runs the task_work, keeps waiting, and then moves all 4096 bytes",
        see: "shared/seeds/000 and 003 (task_work makes signal_pending() true in splice_from_pipe_next())",
        run: io_uring_task_work_during_splice,
    },
];

/// The signal the interruption tests send; its handler only counts.
const SIG: libc::c_int = libc::SIGUSR1;
/// Generous bound for a blocking call to come back after its interruption
/// or unblocking, even under TCG.
const RETURN_BOUND: Duration = Duration::from_secs(10);
/// Bound on the CPU time a SIGKILLed child may still use, when nothing
/// finer is known.
const KILL_BOUND: Duration = Duration::from_secs(5);
/// How long a SIGKILLed child may take to be reaped at all.
const KILL_WAIT: Duration = Duration::from_secs(30);

/// The calling thread's scheduler state letter from /proc, if readable.
fn thread_state(tid: Pid) -> Option<char> {
    let stat =
        std::fs::read_to_string(format!("/proc/self/task/{}/stat", tid.as_raw_pid())).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The syscall a thread is blocked in, from /proc (None while it runs or if
/// /proc does not tell).
fn blocked_syscall(tid: Pid) -> Option<libc::c_long> {
    let s =
        std::fs::read_to_string(format!("/proc/self/task/{}/syscall", tid.as_raw_pid())).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Waits until thread `tid` sleeps inside syscall `nr`, or `stop` is set, or
/// `limit` passes. Returns whether it was seen blocked there. Without a
/// usable /proc it waits a fixed 200 ms and reports `false`.
fn wait_blocked_in(tid: Pid, nr: libc::c_long, stop: &AtomicBool, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    if thread_state(tid).is_none() {
        std::thread::sleep(Duration::from_millis(200));
        return false;
    }
    while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
        if blocked_syscall(tid) == Some(nr) && thread_state(tid) == Some('S') {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// What happened around one interrupted call.
struct Interruption {
    /// The target was seen blocked in the syscall before the signal.
    blocked_before: bool,
    /// The signal was sent (the call had not returned by then).
    sent: bool,
    /// The handler ran before the call returned.
    handled_during_call: bool,
    elapsed: Duration,
}

/// Runs `call` on this thread while a helper waits for it to block in
/// syscall `nr`, sends it SIGUSR1, waits for the handler to run and (if the
/// call was restarted) to block again, then runs `unblock`, which must make
/// the call able to finish. `unblock` gets a flag that is set once `call`
/// has returned.
fn run_interrupted<T, U: Send>(
    nr: libc::c_long,
    call: impl FnOnce() -> T,
    unblock: impl FnOnce(&AtomicBool) -> U + Send,
) -> (T, U, Interruption) {
    let me = rustix::thread::gettid();
    let returned = AtomicBool::new(false);
    let handled_before = handled_count();
    std::thread::scope(|s| {
        let helper = s.spawn(|| {
            let blocked_before = wait_blocked_in(me, nr, &returned, Duration::from_secs(5));
            let mut sent = false;
            if !returned.load(Ordering::SeqCst) {
                // Let it settle in the wait queue before poking it.
                std::thread::sleep(Duration::from_millis(10));
                sent = signal_thread(me, SIG).is_ok();
                let deadline = Instant::now() + Duration::from_secs(5);
                while handled_count() == handled_before && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                // A restarted call goes back to sleep; an interrupted one
                // returns and sets `returned`, which ends this wait early.
                // Its return value is not needed: the wait only lets a
                // restarted call get back to sleep before `unblock`.
                let _ = wait_blocked_in(me, nr, &returned, Duration::from_millis(500));
            }
            let u = unblock(&returned);
            (u, blocked_before, sent)
        });
        let start = Instant::now();
        let t = call();
        let elapsed = start.elapsed();
        let handled_during_call = handled_count() > handled_before;
        returned.store(true, Ordering::SeqCst);
        let (u, blocked_before, sent) = helper.join().expect("helper thread panicked");
        (
            t,
            u,
            Interruption {
                blocked_before,
                sent,
                handled_during_call,
                elapsed,
            },
        )
    })
}

/// Checks how a call interrupted while blocked ended, as every kernel
/// does it: the pipe waits of splice, tee and vmsplice return -ERESTARTSYS
/// on a signal (fs/splice.c: splice_from_pipe_next(), wait_for_space(),
/// ipipe_prep()), which signal delivery turns into EINTR for a handler
/// without SA_RESTART and into a restart of the call for one with it
/// (signal(7)). Nothing had moved before the signal, so a restarted call
/// goes on to move the data `unblock` provided. The call must also have
/// stayed blocked until the signal came and come back in time. Returns the
/// byte count (0 for EINTR).
fn judge(
    ctx: &mut Ctx,
    res: &rustix::io::Result<usize>,
    how: &Interruption,
    restart: bool,
) -> Result<usize, Outcome> {
    ctx.metric("call_time", how.elapsed.as_secs_f64() * 1e3, "ms");
    check!(
        how.elapsed < RETURN_BOUND,
        "the call took {:?} to come back",
        how.elapsed
    );
    check!(
        how.sent && how.handled_during_call,
        "the call did not stay blocked until the signal: it returned {} (seen blocked: {}, signal sent: {}, handled while in the call: {})",
        describe(res),
        how.blocked_before,
        how.sent,
        how.handled_during_call
    );
    match (res, restart) {
        (Ok(0), true) => Err(Outcome::Fail(
            "with SA_RESTART the restarted call must move the data that arrived; it returned 0 bytes".into(),
        )),
        (Ok(n), true) => {
            ctx.metric("bytes", *n as f64, "bytes");
            Ok(*n)
        }
        (Err(Errno::INTR), false) => Ok(0),
        (res, true) => Err(Outcome::Fail(format!(
            "with SA_RESTART the interrupted call must restart and complete; expected a byte count, got {}",
            describe(res)
        ))),
        (res, false) => Err(Outcome::Fail(format!(
            "without SA_RESTART a call interrupted before moving anything must fail with EINTR; got {}",
            describe(res)
        ))),
    }
}

/// A syscall result in words: `N bytes` or the errno's name.
fn describe(res: &rustix::io::Result<usize>) -> String {
    match res {
        Ok(n) => format!("{n} bytes"),
        Err(e) => errno_name(*e),
    }
}

/// Runs `call`, which writes into a pipe whose read end is closed, and
/// checks what every kernel does (fs/splice.c: wait_for_space() and
/// opipe_prep()): it fails with EPIPE and sends the caller SIGPIPE, like
/// write(2) on such a pipe. SIGPIPE gets a counting handler for the call.
pub(crate) fn expect_epipe_and_sigpipe(
    what: &str,
    call: impl FnOnce() -> rustix::io::Result<usize>,
) -> TestResult {
    let _handler = install_counting_handler(libc::SIGPIPE, false).or_error("sigaction(SIGPIPE)")?;
    let before = handled_count();
    let res = call();
    // SIGPIPE is sent to the calling thread and delivered on the way out of
    // the syscall; allow a moment for a signal sent some other way.
    let deadline = Instant::now() + Duration::from_millis(200);
    while handled_count() == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let signals = handled_count() - before;
    check!(
        res == Err(Errno::PIPE),
        "{what} into a pipe without readers: expected EPIPE, got {}",
        describe(&res)
    );
    check_eq!(
        signals,
        1,
        "SIGPIPE deliveries for {what} into a pipe without readers"
    );
    Ok(())
}

/// Reads whatever a pipe or socket holds right now, without blocking.
fn drain_now(fd: impl AsFd) -> rustix::io::Result<Vec<u8>> {
    let old = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, old | OFlags::NONBLOCK)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    let res = loop {
        match rustix::io::read(&fd, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(Errno::AGAIN) => break Ok(()),
            Err(Errno::INTR) => {}
            Err(e) => break Err(e),
        }
    };
    rustix::fs::fcntl_setfl(&fd, old)?;
    res.map(|()| out)
}

/// Fills a pipe to capacity with page-sized writes (one buffer each), so a
/// further splice or vmsplice has no slot left; returns what was written.
fn fill_pipe(w: impl AsFd, seed: u8) -> Result<Vec<u8>, Outcome> {
    let cap = rustix::pipe::fcntl_getpipe_size(&w).or_error("F_GETPIPE_SZ")?;
    let page = crate::util::page_size();
    let data = pattern(cap, seed);
    for chunk in data.chunks(page) {
        write_all(&w, chunk).or_error("fill pipe")?;
    }
    Ok(data)
}

fn install(restart: bool) -> Result<crate::sys::signal::HandlerGuard, Outcome> {
    install_counting_handler(SIG, restart).or_error("sigaction(SIGUSR1)")
}

fn splice_empty_pipe_eintr(ctx: &mut Ctx) -> TestResult {
    splice_empty_pipe(ctx, false)
}

fn splice_empty_pipe_sa_restart(ctx: &mut Ctx) -> TestResult {
    splice_empty_pipe(ctx, true)
}

fn splice_empty_pipe(ctx: &mut Ctx, restart: bool) -> TestResult {
    let _handler = install(restart)?;
    let data = pattern(4096, 0x11);
    let path = ctx.scratch().join("dst");
    let dst = write_file(&path, b"")?;
    let (r, w) = pipe()?;
    let mut off = 0u64;
    let (res, (), how) = run_interrupted(
        libc::SYS_splice,
        || {
            splice(
                &r,
                None,
                &dst,
                Some(&mut off),
                data.len(),
                SpliceFlags::empty(),
            )
        },
        |_| {
            let _ = write_all(&w, &data);
        },
    );
    let n = judge(ctx, &res, &how, restart)?;
    drop(w);
    let left = read_up_to(&r, data.len() + 1).or_fail("read what the pipe kept")?;
    let got = read_file(&path)?;
    check_eq!(off, n as u64, "file offset after the splice");
    check!(
        got == data[..n] && left == data[n..],
        "file got {} bytes and pipe kept {} bytes; together they are not the {} written",
        got.len(),
        left.len(),
        data.len()
    );
    Ok(())
}

fn splice_full_pipe_eintr(ctx: &mut Ctx) -> TestResult {
    splice_full_pipe(ctx, false)
}

fn splice_full_pipe_sa_restart(ctx: &mut Ctx) -> TestResult {
    splice_full_pipe(ctx, true)
}

fn splice_full_pipe(ctx: &mut Ctx, restart: bool) -> TestResult {
    let _handler = install(restart)?;
    let src_data = pattern(16 * 1024, 0x22);
    let src = write_file(&ctx.scratch().join("src"), &src_data)?;
    let (r, w) = pipe()?;
    let fill = fill_pipe(&w, 0x23)?;
    let mut off = 0u64;
    let (res, taken, how) = run_interrupted(
        libc::SYS_splice,
        || {
            splice(
                &src,
                Some(&mut off),
                &w,
                None,
                src_data.len(),
                SpliceFlags::empty(),
            )
        },
        |_| read_up_to(&r, fill.len()),
    );
    let n = judge(ctx, &res, &how, restart)?;
    let taken = taken.or_fail("read the fill back")?;
    check!(taken == fill, "the bytes queued before the splice changed");
    let left = drain_now(&r).or_fail("drain pipe")?;
    check_eq!(off, n as u64, "source offset after the splice");
    check!(
        left == src_data[..n],
        "pipe holds {} bytes after a splice that reported {n}",
        left.len()
    );
    Ok(())
}

fn tee_empty_pipe_eintr(ctx: &mut Ctx) -> TestResult {
    tee_empty_pipe(ctx, false)
}

fn tee_empty_pipe_sa_restart(ctx: &mut Ctx) -> TestResult {
    tee_empty_pipe(ctx, true)
}

fn tee_empty_pipe(ctx: &mut Ctx, restart: bool) -> TestResult {
    let _handler = install(restart)?;
    let data = pattern(4096, 0x33);
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    let (res, (), how) = run_interrupted(
        libc::SYS_tee,
        || tee(&r1, &w2, data.len(), SpliceFlags::empty()),
        |_| {
            let _ = write_all(&w1, &data);
        },
    );
    let n = judge(ctx, &res, &how, restart)?;
    drop(w1);
    drop(w2);
    let src_left = read_up_to(&r1, data.len() + 1).or_fail("read source pipe")?;
    let copy = read_up_to(&r2, data.len() + 1).or_fail("read tee'd pipe")?;
    check!(
        src_left == data,
        "source pipe holds {} bytes, not the {} written (tee must not consume)",
        src_left.len(),
        data.len()
    );
    check!(
        copy == data[..n],
        "tee'd pipe holds {} bytes after a tee that reported {n}",
        copy.len()
    );
    Ok(())
}

fn vmsplice_full_pipe_eintr(ctx: &mut Ctx) -> TestResult {
    vmsplice_full_pipe(ctx, false)
}

fn vmsplice_full_pipe_sa_restart(ctx: &mut Ctx) -> TestResult {
    vmsplice_full_pipe(ctx, true)
}

fn vmsplice_full_pipe(ctx: &mut Ctx, restart: bool) -> TestResult {
    let _handler = install(restart)?;
    let buf = pattern(8192, 0x44);
    let (r, w) = pipe()?;
    let fill = fill_pipe(&w, 0x45)?;
    let (res, taken, how) = run_interrupted(
        libc::SYS_vmsplice,
        || vmsplice_bytes(&w, &buf, SpliceFlags::empty()),
        |_| read_up_to(&r, fill.len()),
    );
    let n = judge(ctx, &res, &how, restart)?;
    let taken = taken.or_fail("read the fill back")?;
    check!(
        taken == fill,
        "the bytes queued before the vmsplice changed"
    );
    let left = drain_now(&r).or_fail("drain pipe")?;
    check!(
        left == buf[..n],
        "pipe holds {} bytes after a vmsplice that reported {n}",
        left.len()
    );
    Ok(())
}

fn splice_partial_count(ctx: &mut Ctx) -> TestResult {
    let page = crate::util::page_size();
    // pipe -> pipe: the source holds twice what the destination can take.
    let (ar, aw) = pipe()?;
    let (br, bw) = pipe()?;
    let b_cap = rustix::pipe::fcntl_getpipe_size(&bw).or_error("F_GETPIPE_SZ")?;
    rustix::pipe::fcntl_setpipe_size(&aw, 2 * b_cap).or_error("F_SETPIPE_SZ")?;
    let data = pattern(2 * b_cap, 0x55);
    for chunk in data.chunks(page) {
        write_all(&aw, chunk).or_error("fill source pipe")?;
    }
    let n = splice(&ar, None, &bw, None, data.len(), SpliceFlags::empty())
        .or_fail("pipe->pipe splice")?;
    // splice_pipe_to_pipe() moves whole buffers while the output has room
    // and returns what it moved once it has some: exactly the capacity.
    check_eq!(
        n,
        b_cap,
        "pipe->pipe splice into an empty {b_cap}-byte pipe, {} bytes asked",
        data.len()
    );
    let again = splice(&ar, None, &bw, None, data.len(), SpliceFlags::NONBLOCK);
    check!(
        again == Err(Errno::AGAIN),
        "a nonblocking pipe->pipe splice into the now full pipe: expected EAGAIN, got {}",
        describe(&again)
    );
    let moved = drain_now(&br).or_fail("drain destination")?;
    let left = drain_now(&ar).or_fail("drain source")?;
    check_eq!(moved.len(), n, "bytes in the destination pipe");
    check!(
        moved == data[..moved.len()] && left == data[moved.len()..],
        "pipe->pipe splice reordered, lost or duplicated bytes"
    );

    // file -> pipe: a request far larger than the pipe.
    let fdata = pattern(4 * b_cap, 0x56);
    let f = write_file(&ctx.scratch().join("src"), &fdata)?;
    let (cr, cw) = pipe()?;
    let mut off = 0u64;
    let m = splice(
        &f,
        Some(&mut off),
        &cw,
        None,
        fdata.len(),
        SpliceFlags::empty(),
    )
    .or_fail("file->pipe splice")?;
    // splice_file_to_pipe() clamps the request to the room in the pipe.
    check_eq!(
        m,
        b_cap,
        "file->pipe splice of {} bytes into an empty {b_cap}-byte pipe",
        fdata.len()
    );
    check_eq!(off, m as u64, "file offset after a short splice");
    let got = drain_now(&cr).or_fail("drain file->pipe pipe")?;
    check!(
        got == fdata[..m],
        "pipe holds other bytes than the file's first {m}"
    );
    Ok(())
}

fn splice_to_socket_short_count(ctx: &mut Ctx) -> TestResult {
    let _handler = install(false)?;
    let (tx, rx) = crate::util::unix_pair().or_error("socketpair")?;
    rustix::net::sockopt::set_socket_send_buffer_size(&tx, 16 * 1024).or_error("SO_SNDBUF")?;
    let (r, w) = pipe()?;
    let cap = rustix::pipe::fcntl_setpipe_size(&w, 256 * 1024)
        .or_else(|_| rustix::pipe::fcntl_getpipe_size(&w))
        .or_error("pipe size")?;
    let data = fill_pipe(&w, 0x66)?;
    let (res, early, how) = run_interrupted(
        libc::SYS_splice,
        || splice(&r, None, &tx, None, cap, SpliceFlags::empty()),
        |returned: &AtomicBool| {
            // Only drain the receiver once the call is over: before that,
            // draining would let the splice go on and blur the count.
            let deadline = Instant::now() + Duration::from_secs(2);
            while !returned.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if returned.load(Ordering::SeqCst) {
                Ok(Vec::new())
            } else {
                drain_now(&rx)
            }
        },
    );
    ctx.metric("call_time", how.elapsed.as_secs_f64() * 1e3, "ms");
    check!(
        how.elapsed < RETURN_BOUND,
        "splice took {:?} to return",
        how.elapsed
    );
    if !how.sent || !how.handled_during_call {
        return Err(Outcome::Error(format!(
            "the splice did not block on the socket (result {res:?})"
        )));
    }
    let early = early.or_fail("drain receiver")?;
    let kind = match &res {
        Ok(n) if *n == cap => "complete".to_owned(),
        Ok(_) => "short_count".to_owned(),
        Err(e) => errno_name(*e),
    };
    ctx.observe("splice_after_signal", kind);
    let mut received = early;
    received.extend(drain_now(&rx).or_fail("drain receiver")?);
    let left = drain_now(&r).or_fail("drain pipe")?;
    // The receiver never reads, so how much fits before the sender blocks
    // depends only on the kernel's socket accounting, not on timing.
    ctx.observe_changed(
        "bytes_before_signal",
        received.len(),
        "AF_UNIX send-buffer accounting, which changed between v6.1 (69632) and v6.12 (65536); the commit is not identified",
    );
    match res {
        Ok(n) => check_eq!(
            received.len(),
            n,
            "bytes the receiver got vs the count splice returned"
        ),
        Err(Errno::INTR) => check!(
            received.is_empty(),
            "splice said EINTR but {} bytes reached the socket",
            received.len()
        ),
        Err(e) => {
            return Err(Outcome::Fail(format!(
                "splice failed with {}",
                errno_name(e)
            )));
        }
    }
    let mut all = received;
    all.extend(left);
    check!(
        all == data,
        "received bytes plus what the pipe kept ({}) differ from what was written ({})",
        all.len(),
        data.len()
    );
    Ok(())
}

/// An always-ready splice source: /dev/zero where it can be spliced from,
/// else a large sparse file. Returns the file and its name for the record.
fn zero_source(ctx: &Ctx, via_sendfile: bool) -> Result<(File, &'static str), Outcome> {
    if let Ok(zero) = File::open("/dev/zero") {
        let works = if via_sendfile {
            let null = File::options().write(true).open("/dev/null")?;
            rustix::fs::sendfile(&null, &zero, None, 4096).is_ok()
        } else {
            let (_r, w) = pipe()?;
            splice(&zero, None, &w, None, 4096, SpliceFlags::NONBLOCK).is_ok()
        };
        if works {
            return Ok((zero, "dev_zero"));
        }
    }
    let f = write_file(&ctx.scratch().join("sparse"), b"")?;
    f.set_len(1 << 32)?;
    Ok((f, "sparse_file"))
}

/// Forks `body`, waits for its ready byte, lets it run a little, SIGKILLs
/// it and waits until it is reaped: a failure if it used `bound` of CPU
/// time after the SIGKILL, or is still alive after [`KILL_WAIT`].
///
/// CPU time, not elapsed time: under `-icount ...,sleep=off` the guest's
/// clock jumps to the next timer whenever the guest is idle, so a parent
/// polling while the host is slow to answer some I/O sees seconds pass
/// (8.8 s once, on a correct kernel, under host load). What a kernel that
/// does not stop a killed task costs is the task's own CPU time.
fn kill_latency(ctx: &mut Ctx, bound: Duration, body: impl FnOnce(OwnedFd) -> i32) -> TestResult {
    use crate::sys::process::{cpu_time, try_reap};
    let (ready_r, ready_w) = pipe_with(PipeFlags::CLOEXEC)?;
    let pid = fork_child(|| body(ready_w)).or_error("fork")?;
    // The parent's copy of the write end went into the closure; the child
    // has its own.
    let mut fds = [rustix::event::PollFd::new(
        &ready_r,
        rustix::event::PollFlags::IN,
    )];
    let ts = rustix::time::Timespec {
        tv_sec: 10,
        tv_nsec: 0,
    };
    let ready = matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
        && matches!(rustix::io::read(&ready_r, &mut [0u8; 1]), Ok(1));
    if !ready {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
        return Err(Outcome::Error("the child never started its loop".into()));
    }
    std::thread::sleep(Duration::from_millis(50));
    let cpu_before = cpu_time(pid);
    let start = Instant::now();
    rustix::process::kill_process(pid, Signal::KILL).or_error("kill")?;
    let mut polls = 0u32;
    let reaped = loop {
        match try_reap(pid) {
            Ok(Some(r)) => break r,
            Ok(None) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e).or_error("wait4"),
        }
        polls += 1;
        // Every ~5 ms of polling: a child still burning CPU past the bound
        // is a verdict already, without waiting for its call to end.
        if polls % 25 == 0 {
            if let (Some(a), Some(b)) = (cpu_before, cpu_time(pid)) {
                let used = b.saturating_sub(a);
                if used >= bound {
                    ctx.metric("kill_to_reap", start.elapsed().as_secs_f64() * 1e3, "ms");
                    return Err(Outcome::Fail(format!(
                        "child still running {used:?} of CPU time after SIGKILL (bound {bound:?})"
                    )));
                }
            }
        }
        if start.elapsed() >= KILL_WAIT {
            return Err(Outcome::Fail(format!(
                "child still alive {:?} after SIGKILL",
                start.elapsed()
            )));
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let latency = start.elapsed();
    ctx.metric("kill_to_reap", latency.as_secs_f64() * 1e3, "ms");
    check_eq!(
        libc::WIFSIGNALED(reaped.status).then(|| libc::WTERMSIG(reaped.status)),
        Some(libc::SIGKILL),
        "child's terminating signal"
    );
    match cpu_before {
        Some(a) => {
            let used = reaped.cpu.saturating_sub(a);
            ctx.metric("kill_to_reap_cpu", used.as_secs_f64() * 1e3, "ms");
            check!(
                used < bound,
                "child used {used:?} of CPU time after SIGKILL before it died (bound {bound:?})"
            );
        }
        // No /proc: the elapsed time is all there is.
        None => check!(
            latency < bound,
            "child took {latency:?} to die after SIGKILL (bound {bound:?})"
        ),
    }
    Ok(())
}

fn splice_sigkill_zero_to_null(ctx: &mut Ctx) -> TestResult {
    let (src, source) = zero_source(ctx, false)?;
    ctx.environment("zero_source", source);
    let null = File::options().write(true).open("/dev/null")?;
    let (r, w) = pipe()?;
    let chunk = rustix::pipe::fcntl_setpipe_size(&w, 1 << 20)
        .or_else(|_| rustix::pipe::fcntl_getpipe_size(&w))
        .or_error("pipe size")?;
    kill_latency(ctx, KILL_BOUND, move |ready| {
        let mut told = false;
        loop {
            let mut off = 0u64;
            let off = if source == "dev_zero" {
                None
            } else {
                Some(&mut off)
            };
            let Ok(n) = splice(&src, off, &w, None, chunk, SpliceFlags::empty()) else {
                return 2;
            };
            if splice(&r, None, &null, None, n, SpliceFlags::empty()).is_err() {
                return 3;
            }
            if !told {
                told = rustix::io::write(&ready, b"r").is_ok();
            }
        }
    })
}

fn sendfile_sigkill_loop(ctx: &mut Ctx) -> TestResult {
    let (src, source) = zero_source(ctx, true)?;
    ctx.environment("zero_source", source);
    let null = File::options().write(true).open("/dev/null")?;
    let send = move |len: usize| {
        let mut off = 0u64;
        let off = if source == "dev_zero" {
            None
        } else {
            Some(&mut off)
        };
        rustix::fs::sendfile(&null, &src, off, len)
    };
    // The bound scales with this machine: the time one call of SENDFILE_CALL
    // bytes takes here, timed on SENDFILE_PROBE bytes. The child is killed
    // 50 ms into its first call, so a kernel that lets a SIGKILLed sendfile
    // run on (no early signal test in splice_from_pipe_next(), reverted
    // c725bfce7968; mutant 40) spends most of a call's CPU time, a page at
    // a time, before the child can die: four times the bound. A killable
    // one lets it die within milliseconds.
    let t = Instant::now();
    let mut probed = 0;
    while probed < SENDFILE_PROBE {
        match send(SENDFILE_PROBE - probed) {
            Ok(0) => return Err(Outcome::Error("sendfile probe hit EOF".into())),
            Ok(n) => probed += n,
            Err(e) => return Err(e).or_error("sendfile probe"),
        }
    }
    let call = t
        .elapsed()
        .mul_f64(SENDFILE_CALL as f64 / SENDFILE_PROBE as f64);
    ctx.metric("sendfile_call_time", call.as_secs_f64() * 1e3, "ms");
    // At least 40 ms: /proc counts CPU time in 10 ms ticks.
    let bound = (call / 4).clamp(Duration::from_millis(40), KILL_BOUND);
    kill_latency(ctx, bound, move |ready| {
        if rustix::io::write(&ready, b"r").is_err() {
            return 2;
        }
        loop {
            if send(SENDFILE_CALL).is_err() {
                return 3;
            }
        }
    })
}

/// One sendfile call of `signals.sendfile_sigkill_loop`: the most a
/// read or write moves in one call (MAX_RW_COUNT, INT_MAX rounded down to
/// a page).
const SENDFILE_CALL: usize = 0x7fff_f000;
/// What it times to scale its bound.
const SENDFILE_PROBE: usize = 16 << 20;

fn sendfile_handled_signal(ctx: &mut Ctx) -> TestResult {
    let null = File::options().write(true).open("/dev/null")?;
    // Long enough that an uninterruptible transfer is still running when the
    // first signals land, short enough to finish under TCG if it is one.
    sendfile_under_signals(ctx, &null, 256 << 20)
}

fn sendfile_to_socket_handled_signal(ctx: &mut Ctx) -> TestResult {
    // See: kernel-patches/splice-fatal-signal/0002 — splice_to_socket()
    // opens each batch with the same early signal test as
    // splice_from_pipe_next().
    let len = 64 << 20;
    let (tx, _rx) = crate::util::unix_pair().or_error("socketpair")?;
    // Room for the whole transfer, so the socket never waits for send
    // space: any early return comes from the early signal test alone.
    crate::sys::net::force_send_buffer(&tx, 2 * len)
        .or_error("SO_SNDBUFFORCE (needs CAP_NET_ADMIN)")?;
    sendfile_under_signals(ctx, &tx, len)
}

/// sendfile(zero source -> `dst`) of `len` bytes while a thread sends a
/// steady stream of handled SIGUSR1: observes whether a signal cut the
/// call short.
fn sendfile_under_signals(ctx: &mut Ctx, dst: &impl AsFd, len: usize) -> TestResult {
    let _handler = install(false)?;
    let (src, source) = zero_source(ctx, true)?;
    ctx.environment("zero_source", source);
    let me = rustix::thread::gettid();
    let returned = AtomicBool::new(false);
    let before = handled_count();
    let (res, elapsed, sent) = std::thread::scope(|s| {
        let pelter = s.spawn(|| {
            // Signals do not queue, so a steady stream guarantees one lands
            // while the call runs, whenever it starts.
            let mut sent = 0u32;
            while !returned.load(Ordering::SeqCst) && sent < 20_000 {
                std::thread::sleep(Duration::from_millis(2));
                if signal_thread(me, SIG).is_ok() {
                    sent += 1;
                }
            }
            sent
        });
        let start = Instant::now();
        let mut off = 0u64;
        let off = if source == "dev_zero" {
            None
        } else {
            Some(&mut off)
        };
        let res = rustix::fs::sendfile(dst, &src, off, len);
        let elapsed = start.elapsed();
        returned.store(true, Ordering::SeqCst);
        (res, elapsed, pelter.join().expect("signal thread panicked"))
    });
    let handled = handled_count() - before;
    ctx.metric("call_time", elapsed.as_secs_f64() * 1e3, "ms");
    ctx.metric("signals_handled", handled as f64, "count");
    check!(sent > 0, "no signal could be sent");
    if handled == 0 {
        return Err(Outcome::Error(
            "sendfile returned before any signal was handled".into(),
        ));
    }
    match res {
        Ok(n) => {
            ctx.metric("bytes_before_return", n as f64, "bytes");
            check!(n > 0 && n <= len, "sendfile returned {n} for {len} asked");
            ctx.observe("interrupted_by_handled_signal", n < len);
        }
        Err(Errno::INTR) => {
            ctx.metric("bytes_before_return", 0.0, "bytes");
            ctx.observe("interrupted_by_handled_signal", true);
        }
        Err(e) => {
            return Err(Outcome::Fail(format!(
                "sendfile failed with {}",
                errno_name(e)
            )));
        }
    }
    Ok(())
}

fn seed000_splice_from_slow_writer(ctx: &mut Ctx) -> TestResult {
    // See: shared/seeds/000 — splice_from_pipe_next() returns what it has
    // when the pipe runs dry, and tests signal_pending() while waiting.
    let _handler = install(false)?;
    const CHUNKS: usize = 6;
    const SIGNAL_BEFORE: usize = 3;
    let chunk = crate::util::page_size();
    let data = pattern(CHUNKS * chunk, 0x77);
    let path = ctx.scratch().join("dst");
    let dst = write_file(&path, b"")?;
    let (r, w) = pipe()?;
    let me = rustix::thread::gettid();
    let done = AtomicBool::new(false);
    let before = handled_count();
    let ask = 1 << 20;
    let (results, seen_blocked) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut seen = 0;
            for (i, piece) in data.chunks(chunk).enumerate() {
                // Write only while the reader waits, so each call sees
                // exactly one chunk arrive.
                if wait_blocked_in(me, libc::SYS_splice, &done, Duration::from_secs(5)) {
                    seen += 1;
                }
                if i == SIGNAL_BEFORE {
                    let _ = signal_thread(me, SIG);
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while handled_count() == before && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    let _ = wait_blocked_in(me, libc::SYS_splice, &done, Duration::from_secs(5));
                }
                if write_all(&w, piece).is_err() {
                    break;
                }
            }
            seen
        });
        let mut results = Vec::new();
        let mut off = 0u64;
        let deadline = Instant::now() + RETURN_BOUND;
        let mut total = 0;
        while total < data.len() && Instant::now() < deadline && results.len() < 4 * CHUNKS {
            let res = splice(&r, None, &dst, Some(&mut off), ask, SpliceFlags::empty());
            if let Ok(n) = res {
                total += n;
            }
            results.push(res);
        }
        done.store(true, Ordering::SeqCst);
        (results, writer.join().expect("writer thread panicked"))
    });
    let names: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(n) => n.to_string(),
            Err(e) => errno_name(*e),
        })
        .collect();
    ctx.observe("call_results", names.clone());
    ctx.metric(
        "writer_saw_reader_blocked",
        f64::from(seen_blocked),
        "count",
    );
    check!(
        handled_count() > before,
        "the signal was never handled (results {names:?})"
    );
    let got = read_file(&path)?;
    check!(
        got == data,
        "file holds {} bytes, not the {} written in order",
        got.len(),
        data.len()
    );
    for r in &results {
        if let Err(e) = r {
            check!(*e == Errno::INTR, "splice failed with {}", errno_name(*e));
        }
    }
    let first = results.first().cloned().unwrap_or(Ok(0));
    ctx.observe_result("first_call_result", &first);
    let intr = results.contains(&Err(Errno::INTR));
    ctx.observe("handled_signal_while_waiting_gives_eintr", intr);
    Ok(())
}

/// A ring that supports IORING_OP_SPLICE and waits with a timeout
/// (IORING_FEAT_EXT_ARG, v5.11), judged as io_uring's own tests judge it.
fn splice_ring() -> Result<io_uring::IoUring, Outcome> {
    let ring = crate::io_uring::ring_of(8, &[io_uring::opcode::Splice::CODE])?;
    if !ring.params().is_feature_ext_arg() {
        if crate::util::kernel_at_least((5, 11)) {
            return Err(Outcome::Fail(
                "io_uring lacks IORING_FEAT_EXT_ARG, which exists since v5.11".into(),
            ));
        }
        skip!("io_uring lacks IORING_FEAT_EXT_ARG (wait timeouts, v5.11)");
    }
    Ok(ring)
}

/// Waits up to `limit` for one CQE; returns (user_data, result) or None.
fn wait_cqe(ring: &mut io_uring::IoUring, limit: Duration) -> Result<Option<(u64, i32)>, Outcome> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(cqe) = ring.completion().next() {
            return Ok(Some((cqe.user_data(), cqe.result())));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let ts = io_uring::types::Timespec::from(left);
        let args = io_uring::types::SubmitArgs::new().timespec(&ts);
        match ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
            Err(e) => return Err(e).or_error("io_uring_enter"),
        }
    }
}

fn cqe_text(res: i32) -> String {
    if res < 0 {
        errno_name(Errno::from_raw_os_error(-res))
    } else {
        res.to_string()
    }
}

fn io_uring_splice_signal(ctx: &mut Ctx) -> TestResult {
    // See: shared/seeds/003 — the NAKed ignore_sig patch let io_uring's
    // splice ignore signal_pending(); here the task itself takes a signal.
    let mut ring = splice_ring()?;
    let _handler = install(false)?;
    let data = pattern(4096, 0x88);
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    push_fd_only(
        &mut ring,
        FdOnlyOp::Splice {
            fd_in: r1.as_fd(),
            off_in: -1,
            fd_out: w2.as_fd(),
            off_out: -1,
            len: data.len() as u32,
        },
        1,
        false,
    )
    .or_error("push splice")?;
    ring.submit().or_error("submit splice")?;
    let wait_limit = io_uring::types::Timespec::from(Duration::from_secs(5));
    let (enter, (), how) = run_interrupted(
        libc::SYS_io_uring_enter,
        || {
            let args = io_uring::types::SubmitArgs::new().timespec(&wait_limit);
            ring.submitter().submit_with_args(1, &args)
        },
        |_| (),
    );
    ctx.metric("wait_time", how.elapsed.as_secs_f64() * 1e3, "ms");
    let enter_text = match &enter {
        Ok(_) => "completed".to_owned(),
        Err(e) => match e.raw_os_error() {
            Some(code) => errno_name(Errno::from_raw_os_error(code)),
            None => e.to_string(),
        },
    };
    check!(
        how.sent && how.handled_during_call,
        "io_uring_enter did not stay blocked until the signal (it returned {enter_text})"
    );
    // The wait in io_uring_enter is interruptible and, without SA_RESTART,
    // ends with EINTR; the splice itself runs in an io-wq worker
    // (REQ_F_FORCE_ASYNC), which the task's signal does not reach, so it
    // keeps waiting and then moves everything once data arrives. The same
    // on 6.1 and 6.12.
    check_eq!(
        enter_text.as_str(),
        "EINTR",
        "io_uring_enter waiting for the splice, after a handled signal"
    );
    // Give a wrongly interrupted splice time to post its completion.
    let after_signal = wait_cqe(&mut ring, Duration::from_millis(300))?;
    if let Some((_, res)) = after_signal {
        return Err(Outcome::Fail(format!(
            "the splice completed ({}) when only the submitting task took a signal; its io-wq worker must keep waiting",
            cqe_text(res)
        )));
    }
    write_all(&w1, &data).or_error("write source pipe")?;
    let Some((ud, res)) = wait_cqe(&mut ring, RETURN_BOUND)? else {
        return Err(Outcome::Fail(
            "the splice never completed after data arrived".into(),
        ));
    };
    check_eq!(ud, 1, "user_data of the completion");
    check_eq!(
        res,
        data.len() as i32,
        "splice CQE after the data arrived ({})",
        cqe_text(res)
    );
    let moved = data.len();
    push_fd_only(&mut ring, FdOnlyOp::Nop, 2, false).or_fail("push NOP after the signal")?;
    match wait_cqe(&mut ring, RETURN_BOUND)? {
        Some((2, 0)) => {}
        other => {
            return Err(Outcome::Fail(format!(
                "NOP after the signal gave {other:?}"
            )));
        }
    }
    drop(w1);
    drop(w2);
    let out = read_up_to(&r2, data.len() + 1).or_fail("read destination")?;
    let left = read_up_to(&r1, data.len() + 1).or_fail("read source")?;
    check!(
        out == data[..moved] && left == data[moved..],
        "destination got {} and source kept {} of {} bytes",
        out.len(),
        left.len(),
        data.len()
    );
    Ok(())
}

fn io_uring_task_work_during_splice(ctx: &mut Ctx) -> TestResult {
    // See: shared/seeds/000 — "the signal is often from task_work_add()
    // called by io_uring": a completion queues task_work, which makes
    // signal_pending() true while this task sleeps in splice.
    let mut ring = splice_ring()?;
    let data = pattern(4096, 0x99);
    let (pr, pw) = pipe()?;
    let (r, w) = pipe()?;
    let path = ctx.scratch().join("dst");
    let dst = write_file(&path, b"")?;
    push_fd_only(
        &mut ring,
        FdOnlyOp::Poll {
            fd: pr.as_fd(),
            events: libc::POLLIN as u32,
        },
        7,
        false,
    )
    .or_error("push poll")?;
    ring.submit().or_error("submit poll")?;
    let me = rustix::thread::gettid();
    let returned = AtomicBool::new(false);
    let before = handled_count();
    let mut off = 0u64;
    let (res, reblocked) = std::thread::scope(|s| {
        let helper = s.spawn(|| {
            wait_blocked_in(me, libc::SYS_splice, &returned, Duration::from_secs(5));
            let _ = write_all(&pw, b"!");
            // Give the task_work time to run and the splice to go back to
            // sleep, then feed it.
            std::thread::sleep(Duration::from_millis(20));
            let reblocked =
                wait_blocked_in(me, libc::SYS_splice, &returned, Duration::from_secs(1));
            let _ = write_all(&w, &data);
            reblocked
        });
        let res = splice(
            &r,
            None,
            &dst,
            Some(&mut off),
            data.len(),
            SpliceFlags::empty(),
        );
        returned.store(true, Ordering::SeqCst);
        (res, helper.join().expect("helper thread panicked"))
    });
    check_eq!(
        handled_count(),
        before,
        "signal handler runs (none expected)"
    );
    ctx.metric(
        "splice_slept_again_after_task_work",
        f64::from(u8::from(reblocked)),
        "bool",
    );
    let poll = wait_cqe(&mut ring, RETURN_BOUND)?;
    match poll {
        Some((7, res)) if res == i32::from(libc::POLLIN) => {}
        other => {
            return Err(Outcome::Fail(format!(
                "poll completion: expected user_data 7 with POLLIN, got {other:?}"
            )));
        }
    }
    // task_work makes signal_pending() true, but the splice must run it
    // and go on waiting (not return EINTR or a short count), then move all.
    let n = res.or_fail("splice while task_work was queued")?;
    check_eq!(n, data.len(), "bytes the splice moved once data arrived");
    drop(w);
    let left = read_up_to(&r, data.len() + 1).or_fail("read pipe")?;
    let got = read_file(&path)?;
    check!(
        got == data[..n] && left == data[n..],
        "file got {} and pipe kept {} of {} bytes",
        got.len(),
        left.len(),
        data.len()
    );
    Ok(())
}
