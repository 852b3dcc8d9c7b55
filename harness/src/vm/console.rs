//! Reading a guest's console log for signs that the kernel died or
//! complained: panics, oopses, BUGs, WARNs, sanitizer and lockdep reports,
//! and charging each to the test whose markers surround it.

use kharness_record::TestRecord;
use kharness_record::marker;

/// One kernel complaint found on the console (the record crate's type: the
/// guest reports taint changes in the same shape).
pub use kharness_record::KernelFinding as ConsoleFinding;

const PATTERNS: &[(&str, &str, bool)] = &[
    ("Kernel panic - not syncing", "panic", true),
    ("BUG: kernel NULL pointer dereference", "oops", true),
    ("BUG: unable to handle", "oops", true),
    ("Oops:", "oops", true),
    ("general protection fault", "oops", true),
    ("kernel BUG at", "bug", true),
    ("BUG: KASAN:", "kasan", false),
    ("BUG: KFENCE:", "kfence", false),
    (
        "BUG: sleeping function called from invalid context",
        "sleep_in_atomic",
        false,
    ),
    ("WARNING: bad unlock balance detected", "lockdep", false),
    (
        "WARNING: lock held when returning to user space",
        "lockdep",
        false,
    ),
    ("WARNING: inconsistent lock state", "lockdep", false),
    ("BUG: soft lockup", "soft_lockup", false),
    (
        "WARNING: possible circular locking dependency",
        "lockdep",
        false,
    ),
    ("WARNING: possible recursive locking", "lockdep", false),
    ("WARNING: CPU:", "warn", false),
    ("INFO: task ", "hung_task", false),
    ("UBSAN:", "ubsan", false),
];

/// Every complaint in `console`, in order of appearance.
pub fn scan(console: &str) -> Vec<ConsoleFinding> {
    scan_lines(console).into_iter().map(|(_, f)| f).collect()
}

/// Marks each test in `records` with the complaints the console shows
/// between its `kharness: begin` and `end` markers (see
/// [`kharness_record::marker`]): a WARN, KASAN or lockdep report turns a
/// pass into `warned` ([`TestRecord::mark`]); a fatal one is attached to the
/// test it killed as its excerpt. Complaints outside any test (boot,
/// shutdown) stay on the kernel only. Returns how many were charged.
pub fn mark_tests(console: &str, records: &mut [TestRecord]) -> usize {
    let mut charged = 0;
    for (id, rep, finding) in attribute(console) {
        if let Some(r) = records.iter_mut().find(|r| r.id == id && r.rep == rep) {
            r.mark(finding);
            charged += 1;
        }
    }
    charged
}

/// Each complaint that happened while a test ran, with that test's id and
/// repetition, in order of appearance.
pub fn attribute(console: &str) -> Vec<(String, u32, ConsoleFinding)> {
    let lines: Vec<&str> = console.lines().collect();
    let findings = scan_lines(console);
    let mut out = Vec::new();
    let mut running: Option<(String, u32)> = None;
    let mut next = findings.into_iter().peekable();
    for (i, line) in lines.iter().enumerate() {
        if let Some(m) = marker::parse(line) {
            running = m.begin.then_some((m.id, m.rep));
        }
        while let Some((_, f)) = next.next_if(|(at, _)| *at == i) {
            if let Some((id, rep)) = &running {
                out.push((id.clone(), *rep, f));
            }
        }
    }
    out
}

/// [`scan`] with the line index where each finding starts.
fn scan_lines(console: &str) -> Vec<(usize, ConsoleFinding)> {
    let lines: Vec<&str> = console.lines().collect();
    let mut out: Vec<(usize, ConsoleFinding)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(&(_, kind, fatal)) = PATTERNS.iter().find(|(p, _, _)| line.contains(p)) else {
            continue;
        };
        if kind == "hung_task" && !line.contains("blocked for more than") {
            continue;
        }
        // An oops that follows a BUG line belongs to the same report.
        if out
            .last()
            .is_some_and(|(_, f)| f.fatal && fatal && f.excerpt.lines().count() < 3)
            && i > 0
        {
            continue;
        }
        let (signature, location) = signature(kind, &lines[i..]);
        out.push((
            i,
            ConsoleFinding {
                kind: kind.to_owned(),
                fatal,
                excerpt: excerpt(&lines[i..]),
                signature,
                location,
            },
        ));
    }
    out
}

/// Frames that say how the kernel reported, not where the bug is.
const REPORTING: &[&str] = &[
    "dump_stack",
    "dump_stack_lvl",
    "show_stack",
    "__warn",
    "warn_slowpath_fmt",
    "report_bug",
    "handle_bug",
    "exc_invalid_op",
    "asm_exc_invalid_op",
    "panic",
    "print_report",
    "kasan_report",
    "__asan_load",
    "__asan_store",
    "ubsan_epilogue",
    "lock_acquire",
    "__lock_acquire",
    "__might_sleep",
    "__might_resched",
    "__might_fault",
    "schedule",
    "__schedule",
    "schedule_timeout",
    "schedule_preempt_disabled",
    "io_schedule",
    "do_syscall_64",
    "entry_SYSCALL_64_after_hwframe",
];

/// `do_tee` of `do_tee+0x1c/0x340 [mod]`; `None` for an address.
fn function_of(frame: &str) -> Option<String> {
    let f = frame.trim().trim_start_matches("? ").trim();
    let name: String = f
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
        .collect();
    let is_symbol = !name.is_empty()
        && f[name.len()..].starts_with('+')
        && !name.starts_with("0x")
        && !name.chars().all(|c| c.is_ascii_digit());
    is_symbol.then_some(name)
}

/// The function of the report's RIP line, if it names one.
fn rip_function(report: &[String]) -> Option<String> {
    let rip = report.iter().find_map(|l| l.strip_prefix("RIP: "))?;
    function_of(rip.split_once(':').map_or(rip, |(_, f)| f))
}

/// The first call-trace frame that is not the reporting machinery.
fn trace_function(report: &[String]) -> Option<String> {
    let start = report.iter().position(|l| l.starts_with("Call Trace:"))?;
    report[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with("</TASK>") && !l.starts_with("---[ end"))
        .filter(|l| !l.starts_with('?') && !l.starts_with('<'))
        .filter_map(|l| function_of(l))
        .find(|f| {
            !REPORTING.contains(&f.as_str())
                && !f.starts_with("__ubsan_handle")
                && !f.starts_with("kasan_")
                && !f.starts_with("__kasan")
        })
}

/// The `path/file.c:N` (or `:N:C`) in `s`, if any.
fn location_in(s: &str) -> Option<String> {
    s.split(|c: char| c.is_whitespace() || c == '!')
        .find(|w| {
            let mut parts = w.split(':');
            let file = parts.next().unwrap_or("");
            let line = parts.next().unwrap_or("");
            (file.ends_with(".c") || file.ends_with(".h"))
                && !line.is_empty()
                && line.chars().all(|c| c.is_ascii_digit())
        })
        .map(str::to_owned)
}

/// The complaint's signature, named as syzbot names its reports (`WARNING
/// in do_tee`, `kernel BUG in do_sendfile`, `KASAN: use-after-free Read in
/// pipe_read`), and the file:line the kernel printed. The function comes
/// from the report itself (a WARN's `at` line, KASAN's `in` clause), else
/// its RIP, else the first call-trace frame past the reporting code; the
/// signature never holds addresses, PIDs or times, so the same bug gets
/// the same signature on every boot.
fn signature(kind: &str, lines: &[&str]) -> (String, Option<String>) {
    let report: Vec<String> = lines.iter().take(80).map(|l| strip_time(l)).collect();
    let first = report[0].as_str();
    let func = |own: Option<String>| {
        own.or_else(|| rip_function(&report))
            .or_else(|| trace_function(&report))
    };
    let named = |title: &str, f: Option<String>| match f {
        Some(f) => format!("{title} in {f}"),
        None => title.to_owned(),
    };
    let location = location_in(first);
    let sig = match kind {
        "warn" => {
            // `WARNING: CPU: 0 PID: 97 at fs/splice.c:2015 do_tee+0x5a/0x90`
            let own = first
                .split_once(" at ")
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(function_of);
            named("WARNING", func(own))
        }
        "bug" => named("kernel BUG", func(None)),
        "kasan" => {
            // `BUG: KASAN: use-after-free in pipe_read+0x1/0x2`, then
            // `Read of size 8 at addr ...`.
            let rest = first.split_once("KASAN: ").map_or("", |(_, r)| r);
            let (what, own) = rest.split_once(" in ").unwrap_or((rest, ""));
            let access = report.iter().skip(1).take(3).find_map(|l| {
                l.split_whitespace()
                    .next()
                    .filter(|w| *w == "Read" || *w == "Write")
            });
            let title = match access {
                Some(a) => format!("KASAN: {what} {a}"),
                None => format!("KASAN: {what}"),
            };
            named(&title, func(function_of(own)))
        }
        "ubsan" => {
            // `UBSAN: shift-out-of-bounds in fs/splice.c:12:3`
            let rest = first.split_once("UBSAN: ").map_or("", |(_, r)| r);
            let what = rest.split(" in ").next().unwrap_or(rest).trim();
            named(&format!("UBSAN: {what}"), trace_function(&report))
        }
        "oops" => {
            let title = if first.contains("NULL pointer dereference") {
                "BUG: kernel NULL pointer dereference"
            } else if first.starts_with("BUG: unable to handle") {
                "BUG: unable to handle kernel paging request"
            } else if first.contains("general protection fault") {
                "general protection fault"
            } else {
                "kernel oops"
            };
            named(title, func(None))
        }
        "panic" => {
            let why = first
                .split_once("not syncing: ")
                .map_or("", |(_, w)| w)
                .trim();
            match why {
                "" => "kernel panic".to_owned(),
                w => format!("kernel panic: {w}"),
            }
        }
        "soft_lockup" => named("BUG: soft lockup", func(None)),
        "hung_task" => named("INFO: task hung", trace_function(&report)),
        // A lockdep report names the lock's place `..., at: func+0x1/0x2`,
        // or on the line after `... at:` as `[<address>] func+0x1/0x2`.
        "lockdep" => {
            let own = report.iter().enumerate().find_map(|(i, l)| {
                if let Some((_, f)) = l.split_once("at: ") {
                    return function_of(f);
                }
                if l.ends_with(" at:") {
                    let next = report.get(i + 1)?;
                    let f = next.split_once("] ").map_or(next.as_str(), |(_, f)| f);
                    return function_of(f);
                }
                None
            });
            let title = if first.contains("bad unlock balance") {
                "WARNING: bad unlock balance"
            } else if first.contains("lock held when returning to user space") {
                "WARNING: lock held when returning to user space"
            } else if first.contains("inconsistent lock state") {
                "inconsistent lock state"
            } else {
                "possible deadlock"
            };
            named(title, own.or_else(|| trace_function(&report)))
        }
        // `BUG: KFENCE: use-after-free read in pipe_read+0x1/0x2`
        "kfence" => {
            let rest = first.split_once("KFENCE: ").map_or("", |(_, r)| r);
            let (what, own) = rest.split_once(" in ").unwrap_or((rest, ""));
            named(&format!("KFENCE: {}", what.trim()), func(function_of(own)))
        }
        "sleep_in_atomic" => named(
            "BUG: sleeping function called from invalid context",
            trace_function(&report),
        ),
        other => other.to_owned(),
    };
    (sig, location)
}

/// The report's first line, its RIP line and up to five call-trace frames.
fn excerpt(lines: &[&str]) -> String {
    let mut keep = vec![strip_time(lines[0])];
    let mut frames = 0;
    let mut in_trace = false;
    for l in lines.iter().skip(1).take(80) {
        let l = strip_time(l);
        if l.starts_with("RIP:") && !keep.iter().any(|k| k.starts_with("RIP:")) {
            keep.push(l);
        } else if l.starts_with("Call Trace:") {
            in_trace = true;
            keep.push(l);
        } else if in_trace {
            if l.starts_with("</TASK>") || l.starts_with("---[ end") || frames >= 5 {
                break;
            }
            if !l.starts_with("<TASK>") {
                keep.push(l);
                frames += 1;
            }
        }
    }
    keep.join("\n")
}

fn strip_time(l: &str) -> String {
    let t = l.trim_start();
    match (t.starts_with('['), t.find(']')) {
        (true, Some(end)) => t[end + 1..].trim().to_owned(),
        _ => t.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kharness_record::Status;

    const OOPS: &str = "\
[   12.000001] BUG: kernel NULL pointer dereference, address: 0000000000000000
[   12.000002] #PF: supervisor read access in kernel mode
[   12.000003] Oops: 0000 [#1] PREEMPT SMP NOPTI
[   12.000004] RIP: 0010:splice_from_pipe_next+0x12/0x80
[   12.000005] Call Trace:
[   12.000006]  <TASK>
[   12.000007]  __splice_from_pipe+0x3d/0x1f0
[   12.000008]  splice_to_socket+0x9a/0x3f0
[   12.000009]  </TASK>
[   12.100000] Kernel panic - not syncing: Fatal exception
";

    #[test]
    fn oops_and_panic_are_found_with_an_excerpt() {
        let f = scan(OOPS);
        assert_eq!(f[0].kind, "oops");
        assert!(f[0].fatal);
        assert_eq!(
            f[0].excerpt,
            "BUG: kernel NULL pointer dereference, address: 0000000000000000\n\
             RIP: 0010:splice_from_pipe_next+0x12/0x80\nCall Trace:\n\
             __splice_from_pipe+0x3d/0x1f0\nsplice_to_socket+0x9a/0x3f0"
        );
        assert!(f.iter().any(|x| x.kind == "panic"));
    }

    #[test]
    fn signatures_name_the_bug_as_syzbot_does_and_never_an_address() {
        let sig = |console: &str| {
            let f = scan(console);
            (f[0].signature.clone(), f[0].location.clone())
        };
        assert_eq!(
            sig(OOPS),
            (
                "BUG: kernel NULL pointer dereference in splice_from_pipe_next".into(),
                None
            )
        );
        assert_eq!(
            sig("[ 2.3] WARNING: CPU: 1 PID: 97 at fs/splice.c:2015 do_tee+0x5a/0x90 [x]\n"),
            ("WARNING in do_tee".into(), Some("fs/splice.c:2015".into()))
        );
        let bug = "[ 5.0] kernel BUG at fs/read_write.c:1301!\n\
                   [ 5.0] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n\
                   [ 5.0] RIP: 0010:do_sendfile+0x3a1/0x4b0\n";
        assert_eq!(
            sig(bug),
            (
                "kernel BUG in do_sendfile".into(),
                Some("fs/read_write.c:1301".into())
            )
        );
        let kasan = "[ 7.1] BUG: KASAN: slab-use-after-free in pipe_read+0x8e3/0x9c0\n\
                     [ 7.1] Read of size 8 at addr ffff888103c2e4f8 by task kharness-guest/97\n";
        assert_eq!(sig(kasan).0, "KASAN: slab-use-after-free Read in pipe_read");
        let ubsan = "[ 3.0] UBSAN: shift-out-of-bounds in fs/pipe.c:1283:12\n\
                     [ 3.0] shift exponent 64 is too large for 64-bit type\n\
                     [ 3.0] Call Trace:\n[ 3.0]  <TASK>\n[ 3.0]  dump_stack_lvl+0x5d/0x80\n\
                     [ 3.0]  __ubsan_handle_shift_out_of_bounds+0x1/0x2\n\
                     [ 3.0]  pipe_set_size+0x2d/0x80\n[ 3.0]  </TASK>\n";
        assert_eq!(
            sig(ubsan),
            (
                "UBSAN: shift-out-of-bounds in pipe_set_size".into(),
                Some("fs/pipe.c:1283:12".into())
            )
        );
        let hung = "[ 200.0] INFO: task kharness-guest:97 blocked for more than 120 seconds.\n\
                    [ 200.0] Call Trace:\n[ 200.0]  <TASK>\n[ 200.0]  __schedule+0x1/0x2\n\
                    [ 200.0]  schedule+0x1/0x2\n[ 200.0]  pipe_wait_readable+0x1/0x2\n";
        assert_eq!(sig(hung).0, "INFO: task hung in pipe_wait_readable");
        let kfence = "[ 4.0] BUG: KFENCE: use-after-free read in pipe_resize_ring+0x2c1/0x300\n\
                      [ 4.0] Use-after-free read at 0x00000000 (in kfence-#12):\n";
        assert_eq!(
            sig(kfence).0,
            "KFENCE: use-after-free read in pipe_resize_ring"
        );
        let unbalanced = "[ 6.0] =====================================\n\
                          [ 6.0] WARNING: bad unlock balance detected!\n\
                          [ 6.0] 6.12.118 #1 Not tainted\n\
                          [ 6.0] -------------------------------------\n\
                          [ 6.0] kharness-guest/97 is trying to release lock (&pipe->mutex) at:\n\
                          [ 6.0] [<ffffffff8123c0de>] pipe_unlock+0x1c/0x30\n\
                          [ 6.0] but there are no more locks to release!\n";
        assert_eq!(
            sig(unbalanced).0,
            "WARNING: bad unlock balance in pipe_unlock"
        );
        let held = "[ 6.0] WARNING: lock held when returning to user space!\n\
                    [ 6.0] 1 lock held by kharness-guest/97:\n\
                    [ 6.0]  #0: ffff888003c1e068 (&pipe->mutex){+.+.}-{3:3}, at: do_tee+0x8a/0x1f0\n";
        assert_eq!(
            sig(held).0,
            "WARNING: lock held when returning to user space in do_tee"
        );
        let sleep = "[ 6.0] BUG: sleeping function called from invalid context at mm/slub.c:4101\n\
                     [ 6.0] Call Trace:\n[ 6.0]  <TASK>\n[ 6.0]  dump_stack_lvl+0x1/0x2\n\
                     [ 6.0]  __might_resched+0x1/0x2\n[ 6.0]  pipe_resize_ring+0x1/0x2\n";
        assert_eq!(
            sig(sleep),
            (
                "BUG: sleeping function called from invalid context in pipe_resize_ring".into(),
                Some("mm/slub.c:4101".into())
            )
        );
        let panic = "[ 9.0] Kernel panic - not syncing: kharness: panic requested from userspace\n";
        assert_eq!(
            sig(panic).0,
            "kernel panic: kharness: panic requested from userspace"
        );
        // The same WARN on another boot (other CPU, PID, time, offsets of
        // the RIP): the same signature.
        let again = "[ 99.9] WARNING: CPU: 0 PID: 4242 at fs/splice.c:2015 do_tee+0x5a/0x90\n";
        assert_eq!(sig(again).0, "WARNING in do_tee");
    }

    #[test]
    fn a_clean_boot_has_no_findings() {
        assert!(
            scan("[    0.0] Linux version 6.12\n[ 1.0] virtme-ng-init: starting script\n")
                .is_empty()
        );
        // A hung-task line needs its "blocked for more than" to count.
        assert!(scan("INFO: task kworker started\n").is_empty());
    }

    fn rec(id: &str, rep: u32, status: Status) -> TestRecord {
        TestRecord {
            id: id.into(),
            status,
            reason: None,
            duration_us: 1,
            rep,
            boot: 0,
            observations: Default::default(),
            changed_in: Default::default(),
            metrics: vec![],
            kernel_findings: vec![],
            attempts: vec![],
        }
    }

    const MARKED: &str = "\
[    1.000000] WARNING: CPU: 0 PID: 1 at drivers/base/core.c:1 boot_noise+0x1/0x2
[    2.000000] kharness: begin tee.duplicate_content rep 0
[    2.100000] kharness: end tee.duplicate_content rep 0 pass
[    2.200000] kharness: begin selftest.kernel_warn rep 1
[    2.300000] ------------[ cut here ]------------
[    2.300001] kharness: WARN requested from userspace
[    2.300002] WARNING: CPU: 0 PID: 97 at fs/splice.c:2015 __do_sys_tee+0x5a/0x90
[    2.300003] Modules linked in:
[    2.300004] CPU: 0 UID: 0 PID: 97 Comm: kharness-guest Not tainted 6.12.117 #1
[    2.300005] RIP: 0010:__do_sys_tee+0x5a/0x90
[    2.300006] Code: 00 00 0f 0b
[    2.300007] Call Trace:
[    2.300008]  <TASK>
[    2.300009]  do_syscall_64+0x82/0x190
[    2.300010]  entry_SYSCALL_64_after_hwframe+0x76/0x7e
[    2.300011]  </TASK>
[    2.300012] ---[ end trace 0000000000000000 ]---
[    2.400000] kharness: end selftest.kernel_warn rep 1 pass
[    2.500000] WARNING: CPU: 0 PID: 1 at kernel/exit.c:1 between_tests+0x1/0x2
[    2.600000] kharness: begin selftest.kernel_panic rep 0
[    2.700000] Kernel panic - not syncing: kharness: panic requested from userspace
";

    #[test]
    fn findings_are_charged_to_the_test_between_the_markers() {
        let at = attribute(MARKED);
        let who: Vec<(&str, u32, &str)> = at
            .iter()
            .map(|(id, rep, f)| (id.as_str(), *rep, f.kind.as_str()))
            .collect();
        assert_eq!(
            who,
            [
                ("selftest.kernel_warn", 1, "warn"),
                ("selftest.kernel_panic", 0, "panic")
            ],
            "boot noise and a WARN between tests belong to no test"
        );
        assert_eq!(
            at[0].2.excerpt,
            "WARNING: CPU: 0 PID: 97 at fs/splice.c:2015 __do_sys_tee+0x5a/0x90\n\
             RIP: 0010:__do_sys_tee+0x5a/0x90\nCall Trace:\n\
             do_syscall_64+0x82/0x190\nentry_SYSCALL_64_after_hwframe+0x76/0x7e"
        );
        let mut recs = vec![
            rec("tee.duplicate_content", 0, Status::Pass),
            rec("selftest.kernel_warn", 0, Status::Pass),
            rec("selftest.kernel_warn", 1, Status::Pass),
            rec("selftest.kernel_panic", 0, Status::Crashed),
        ];
        assert_eq!(mark_tests(MARKED, &mut recs), 2);
        let st: Vec<Status> = recs.iter().map(|r| r.status).collect();
        assert_eq!(
            st,
            [Status::Pass, Status::Pass, Status::Warned, Status::Crashed]
        );
        assert!(
            recs[2]
                .reason
                .as_deref()
                .unwrap()
                .starts_with("kernel warn: WARNING in __do_sys_tee at fs/splice.c:2015")
        );
        assert_eq!(recs[3].kernel_findings[0].kind, "panic");
        assert!(recs[0].kernel_findings.is_empty());
    }

    #[test]
    fn a_console_without_markers_charges_nobody() {
        let mut recs = vec![rec("tee.duplicate_content", 0, Status::Pass)];
        let console = "[ 3.1] WARNING: CPU: 0 PID: 1 at fs/splice.c:100 foo+0x1/0x2\n";
        assert_eq!(mark_tests(console, &mut recs), 0);
        assert_eq!(recs[0].status, Status::Pass);
    }

    #[test]
    fn warn_is_not_fatal() {
        let f = scan("[ 3.1] WARNING: CPU: 0 PID: 1 at fs/splice.c:100 foo+0x1/0x2\n");
        assert_eq!(f.len(), 1);
        assert!(!f[0].fatal);
        assert_eq!(f[0].kind, "warn");
    }
}
