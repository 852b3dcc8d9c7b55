//! Watching the kernel around each test: its taint mask before and after
//! (a new flag, such as W after a WARN, marks the test), and markers on the
//! kernel log so the console shows which test was running when the kernel
//! complained.

use std::io::Write;

use kharness_record::KernelFinding;

const TAINTED: &str = "/proc/sys/kernel/tainted";

/// The letter and meaning of each taint bit, as `kernel/panic.c` names them
/// (bit 0's letter is `P` when set).
const TAINT_FLAGS: &[(char, &str)] = &[
    ('P', "proprietary module"),
    ('F', "module force-loaded"),
    ('S', "CPU out of spec"),
    ('R', "module force-unloaded"),
    ('M', "machine check"),
    ('B', "bad page"),
    ('U', "taint requested by userspace"),
    ('D', "kernel died (oops)"),
    ('A', "ACPI table overridden"),
    ('W', "a WARN fired"),
    ('C', "staging driver loaded"),
    ('I', "firmware bug workaround"),
    ('O', "out-of-tree module loaded"),
    ('E', "unsigned module loaded"),
    ('L', "soft lockup"),
    ('K', "live patched"),
    ('X', "auxiliary taint"),
    ('T', "built with struct randomization"),
    ('N', "in-kernel test run"),
];

/// The kernel's taint mask, or `None` where it cannot be read.
pub fn tainted() -> Option<u64> {
    std::fs::read_to_string(TAINTED).ok()?.trim().parse().ok()
}

/// The finding for a taint mask that went from `before` to `after`, if any
/// flag was added (flags are never cleared while the kernel runs).
pub fn taint_finding(before: u64, after: u64) -> Option<KernelFinding> {
    let new = after & !before;
    if new == 0 {
        return None;
    }
    let names: Vec<String> = (0..64)
        .filter(|bit| new & (1u64 << bit) != 0)
        .map(|bit| match TAINT_FLAGS.get(bit) {
            Some((letter, what)) => format!("{letter} ({what})"),
            None => format!("bit {bit}"),
        })
        .collect();
    // The letters alone name it the same way on every boot: `taint W`.
    let letters: String = (0..64)
        .filter(|bit| new & (1u64 << bit) != 0)
        .map(|bit| TAINT_FLAGS.get(bit).map_or('?', |(letter, _)| *letter))
        .collect();
    Some(KernelFinding {
        kind: "taint".to_owned(),
        fatal: false,
        excerpt: format!(
            "tainted during the test: {before} -> {after}, new: {}",
            names.join(", ")
        ),
        signature: format!("taint {letters}"),
        location: None,
    })
}

/// Writes `line` to the kernel log at warning level, which a console at
/// `loglevel=5` prints. The file is opened per line: the kernel rate-limits
/// writes per open file (10 lines per 5 s), and a long suite writes two
/// lines per test. Errors are ignored: a missing `/dev/kmsg` only costs the
/// console its markers.
pub fn kmsg(line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = f.write_all(format!("<4>{line}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taint_findings_name_only_new_flags() {
        assert_eq!(taint_finding(512, 512), None);
        assert_eq!(taint_finding(0, 0), None);
        let f = taint_finding(8192, 8192 | 512 | 64).unwrap();
        assert_eq!(f.kind, "taint");
        assert!(!f.fatal);
        assert_eq!(
            f.excerpt,
            "tainted during the test: 8192 -> 8768, new: U (taint requested by userspace), W (a WARN fired)"
        );
        assert!(
            taint_finding(0, 1 << 40)
                .unwrap()
                .excerpt
                .ends_with("new: bit 40")
        );
    }

    #[test]
    fn the_table_has_the_kernels_19_flags() {
        assert_eq!(TAINT_FLAGS.len(), 19);
        assert_eq!(TAINT_FLAGS[9].0, 'W');
    }
}
