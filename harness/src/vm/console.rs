//! Reading a guest's console log for signs that the kernel died or
//! complained: panics, oopses, BUGs, WARNs, sanitizer and lockdep reports.

use serde::{Deserialize, Serialize};

/// One kernel complaint found on the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleFinding {
    /// `panic`, `oops`, `bug`, `warn`, `kasan`, `lockdep`, `hung_task`, `soft_lockup`.
    pub kind: String,
    /// True when the kernel could not have carried on normally after it.
    pub fatal: bool,
    /// The first line, RIP and the head of the call trace.
    pub excerpt: String,
}

const PATTERNS: &[(&str, &str, bool)] = &[
    ("Kernel panic - not syncing", "panic", true),
    ("BUG: kernel NULL pointer dereference", "oops", true),
    ("BUG: unable to handle", "oops", true),
    ("Oops:", "oops", true),
    ("general protection fault", "oops", true),
    ("kernel BUG at", "bug", true),
    ("BUG: KASAN:", "kasan", false),
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
    let lines: Vec<&str> = console.lines().collect();
    let mut out = Vec::new();
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
            .is_some_and(|f: &ConsoleFinding| f.fatal && fatal && f.excerpt.lines().count() < 3)
            && i > 0
        {
            continue;
        }
        out.push(ConsoleFinding {
            kind: kind.to_owned(),
            fatal,
            excerpt: excerpt(&lines[i..]),
        });
    }
    out
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
    fn a_clean_boot_has_no_findings() {
        assert!(
            scan("[    0.0] Linux version 6.12\n[ 1.0] virtme-ng-init: starting script\n")
                .is_empty()
        );
        // A hung-task line needs its "blocked for more than" to count.
        assert!(scan("INFO: task kworker started\n").is_empty());
    }

    #[test]
    fn warn_is_not_fatal() {
        let f = scan("[ 3.1] WARNING: CPU: 0 PID: 1 at fs/splice.c:100 foo+0x1/0x2\n");
        assert_eq!(f.len(), 1);
        assert!(!f[0].fatal);
        assert_eq!(f[0].kind, "warn");
    }
}
