//! Running `make` for a kernel build: argv only, its own process group,
//! stdout and stderr into one log file (nothing to drain, so no pipe can
//! fill and stall it), progress read back from the log, and a clean stop of
//! the whole group when the caller cancels.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::support::process::{Stop, supervise};
/// How often the progress callback hears about a running build.
const REPORT_EVERY: Duration = Duration::from_secs(1);

pub use crate::support::progress::BuildProgress;

/// One `make` invocation.
#[derive(Debug)]
pub struct MakeCommand {
    pub program: PathBuf,
    /// Working directory: the source tree (`make O=...` runs from there).
    pub dir: PathBuf,
    pub args: Vec<OsString>,
    /// Extra environment on top of the caller's, minus [`SCRUBBED_ENV`].
    pub env: Vec<(OsString, OsString)>,
    pub log: PathBuf,
    /// The step name given to progress reports.
    pub target: String,
}

/// Variables that would change what `make` builds or where, behind the
/// spec's back: an outer make's jobserver, a preset output dir or config.
pub const SCRUBBED_ENV: &[&str] = &[
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "GNUMAKEFLAGS",
    "KBUILD_OUTPUT",
    "KCONFIG_CONFIG",
    "KCONFIG_ALLCONFIG",
    "ARCH",
    "CROSS_COMPILE",
    "LLVM",
    "O",
    "W",
    "V",
];

/// How a `make` ended.
#[derive(Debug)]
pub struct MakeOutcome {
    pub status: ExitStatus,
    pub cancelled: bool,
    pub steps: usize,
    /// Where its time went; see [`phases`].
    pub phases: Vec<BuildPhase>,
}

/// A part of a kernel build and the wall time it took, from when kharness
/// saw kbuild start it until it saw the next part start (the log is read
/// every 0.2 s, so each figure is good to about that).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BuildPhase {
    /// `walk` (make reading Makefiles and .cmd files, prepare, host
    /// tools), `compile` (what changed, with objtool on each object),
    /// `archives` (`AR`), `vmlinux.o` (the relocatable link of
    /// everything), `modpost` (modpost, version and export objects),
    /// `kallsyms` (the `.tmp_vmlinux*` link passes that lay out the symbol
    /// table), `link` (the final `LD vmlinux`, System.map, sorttable),
    /// `bzImage` (arch/x86/boot: compression, the decompressor, setup).
    pub name: &'static str,
    pub seconds: f64,
}

/// A step line of kbuild's output and when it was seen.
#[derive(Debug, Clone)]
struct Mark {
    at: Duration,
    tag: String,
    target: String,
}

/// Sums the time from each step line to the next into the phase the line
/// starts (see [`BuildPhase`]); the last phase runs to `end`. Phases in
/// the order the build went through them; a build with no step lines (a
/// no-change rebuild) is all `walk`.
fn phases(marks: &[Mark], end: Duration) -> Vec<BuildPhase> {
    let mut out: Vec<BuildPhase> = Vec::new();
    let mut current = "walk";
    let mut since = Duration::ZERO;
    let add = |out: &mut Vec<BuildPhase>, name: &'static str, d: Duration| match out
        .iter_mut()
        .find(|p| p.name == name)
    {
        Some(p) => p.seconds += d.as_secs_f64(),
        None => out.push(BuildPhase {
            name,
            seconds: d.as_secs_f64(),
        }),
    };
    let mut linked_o = false;
    for m in marks {
        let phase = phase_of(&m.tag, &m.target, current, linked_o);
        linked_o |= phase == "vmlinux.o";
        if phase != current {
            add(&mut out, current, m.at.saturating_sub(since));
            current = phase;
            since = m.at;
        }
    }
    add(&mut out, current, end.saturating_sub(since));
    out
}

/// The phase the step `tag target` starts, coming after `current`.
fn phase_of(tag: &str, target: &str, current: &'static str, linked_o: bool) -> &'static str {
    match (tag, target) {
        ("LD", "vmlinux.o") => "vmlinux.o",
        (_, t) if t.contains(".tmp_vmlinux") => "kallsyms",
        ("LD", "vmlinux") => "link",
        (_, t) if t.contains("arch/x86/boot") && current == "link" => "bzImage",
        _ if matches!(current, "vmlinux.o" | "modpost") => "modpost",
        _ if matches!(current, "link" | "bzImage") => current,
        ("AR", _) if !linked_o => "archives",
        ("CC" | "AS" | "LDS" | "CPP", _) if !linked_o => "compile",
        _ => current,
    }
}

impl MakeCommand {
    /// The command as a person would type it.
    pub fn display(&self) -> String {
        crate::support::quote::display_argv(
            std::iter::once(self.program.as_os_str())
                .chain(self.args.iter().map(|a| a.as_os_str())),
        )
    }

    /// The process to start: argv, directory and environment.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).current_dir(&self.dir);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs it to the end (or until `cancel` is set), calling `progress`
    /// about once a second.
    pub fn run(
        &self,
        cancel: Option<&AtomicBool>,
        progress: &mut dyn FnMut(&BuildProgress),
    ) -> std::io::Result<MakeOutcome> {
        let counted = self.log.with_extension("steps");
        let expected = std::fs::read_to_string(&counted)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let log = File::create(&self.log)?;
        let log_err = log.try_clone()?;
        let started = Instant::now();
        let mut tail = LogTail::open(&self.log, started)?;
        let mut last_report = Instant::now();
        let mut report = |tail: &mut LogTail, force: bool| {
            tail.poll();
            if force || last_report.elapsed() >= REPORT_EVERY {
                last_report = Instant::now();
                progress(&BuildProgress {
                    target: self.target.clone(),
                    elapsed: started.elapsed(),
                    steps: tail.steps,
                    last: tail.last.clone(),
                    expected,
                });
            }
        };
        // Every process of the build (make, cc1, ld) is in make's group,
        // which is stopped as a whole on cancel and killed when make ends.
        let sup = supervise(
            &mut self.command(),
            log,
            log_err,
            Stop {
                limit: None,
                cancel,
            },
            || report(&mut tail, false),
        )?;
        let (status, cancelled) = (sup.status, sup.interrupted);
        report(&mut tail, true);
        let phases = phases(&tail.marks, started.elapsed());
        if status.success() && !cancelled {
            // Best effort: only a progress bar's length depends on it.
            let _ = std::fs::write(&counted, format!("{}\n", tail.steps));
        }
        Ok(MakeOutcome {
            status,
            cancelled,
            steps: tail.steps,
            phases,
        })
    }
}

/// Reads what a log file gained since the last look.
struct LogTail {
    file: File,
    pos: u64,
    partial: String,
    steps: usize,
    last: String,
    started: Instant,
    marks: Vec<Mark>,
}

impl LogTail {
    fn open(path: &Path, started: Instant) -> std::io::Result<Self> {
        Ok(LogTail {
            file: File::open(path)?,
            pos: 0,
            partial: String::new(),
            steps: 0,
            last: String::new(),
            started,
            marks: Vec::new(),
        })
    }

    fn poll(&mut self) {
        let mut buf = Vec::new();
        if self.file.seek(SeekFrom::Start(self.pos)).is_err()
            || self.file.read_to_end(&mut buf).is_err()
        {
            return;
        }
        self.pos += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        let at = self.started.elapsed();
        while let Some(nl) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=nl).collect();
            if is_step(&line) {
                self.steps += 1;
                let mut words = line.split_whitespace();
                let tag = words.next().unwrap_or_default().to_owned();
                let target = words.collect::<Vec<_>>().join(" ");
                self.last = format!("{tag} {target}");
                self.marks.push(Mark { at, tag, target });
            }
        }
    }
}

/// kbuild's quiet lines: two spaces, an upper-case tag, spaces, a target.
fn is_step(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("  ") else {
        return false;
    };
    let tag: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    !tag.is_empty()
        && tag.len() <= 8
        && tag
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && rest[tag.len()..].starts_with(' ')
        && !rest[tag.len()..].trim().is_empty()
}

/// The lines of a failed build's log that say why: compiler and linker
/// errors, make's `***` lines; at most `max`, and the log's last lines when
/// none of those are there.
pub fn error_lines(log: &str, max: usize) -> Vec<String> {
    let wanted = |l: &str| {
        l.contains("error:")
            || l.contains("Error:")
            || l.contains("undefined reference")
            || l.contains("***")
            || l.contains("fatal error")
    };
    let mut v: Vec<String> = Vec::new();
    for l in log.lines().filter(|l| wanted(l)) {
        if !v.iter().any(|x| x == l) {
            v.push(l.to_owned());
        }
        if v.len() == max {
            break;
        }
    }
    if v.is_empty() {
        let all: Vec<&str> = log.lines().collect();
        v = all[all.len().saturating_sub(max)..]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
    }
    v
}

pub use crate::support::process::describe_status;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn sh(script: &str, dir: &Path) -> MakeCommand {
        MakeCommand {
            program: "sh".into(),
            dir: dir.to_owned(),
            args: vec!["-c".into(), script.into()],
            env: vec![("KH_TEST".into(), "1".into())],
            log: dir.join("log"),
            target: "test".into(),
        }
    }

    #[test]
    fn output_and_progress_come_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = sh(
            "echo \"  CC      fs/splice.o\"; echo \"  LD      vmlinux\" >&2; \
             echo \"KH_TEST=$KH_TEST\"; exit 2",
            dir.path(),
        );
        let mut seen = Vec::new();
        let out = cmd.run(None, &mut |p| seen.push(p.clone())).unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(!out.cancelled);
        assert_eq!(out.steps, 2);
        let last = seen.last().unwrap();
        assert_eq!((last.steps, last.last.as_str()), (2, "LD vmlinux"));
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert!(log.contains("KH_TEST=1"), "{log}");
    }

    #[test]
    fn outer_make_and_kbuild_variables_are_scrubbed() {
        let cmd = sh("true", Path::new("/"));
        let envs: Vec<(String, Option<String>)> = cmd
            .command()
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        for k in ["MAKEFLAGS", "KBUILD_OUTPUT", "ARCH", "KCONFIG_CONFIG"] {
            assert!(
                envs.contains(&(k.to_owned(), None)),
                "{k} not removed: {envs:?}"
            );
        }
        assert!(envs.contains(&("KH_TEST".to_owned(), Some("1".to_owned()))));
    }

    #[test]
    fn cancel_stops_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let script = format!(
            "sh -c 'trap \"\" TERM; echo $$ > {}; exec sleep 300' & wait",
            pidfile.display()
        );
        let cmd = sh(&script, dir.path());
        let cancel = AtomicBool::new(false);
        let started = Instant::now();
        let out = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(600));
                cancel.store(true, Ordering::Relaxed);
            });
            cmd.run(Some(&cancel), &mut |_| {})
        })
        .unwrap();
        assert!(out.cancelled);
        assert!(started.elapsed() < Duration::from_secs(30));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z"),
            "grandchild {pid} outlived the cancel"
        );
    }

    /// The step lines of a one-line rebuild as kbuild 6.12 prints them,
    /// at the second each was seen.
    fn rebuild_marks() -> Vec<Mark> {
        [
            (1.0, "CALL scripts/checksyscalls.sh"),
            (3.0, "CC fs/splice.o"),
            (6.5, "AR fs/built-in.a"),
            (8.0, "AR vmlinux.a"),
            (8.2, "LD vmlinux.o"),
            (8.5, "MODPOST vmlinux.symvers"),
            (8.8, "CC init/version-timestamp.o"),
            (9.0, "KSYMS .tmp_vmlinux0.kallsyms.S"),
            (9.1, "LD .tmp_vmlinux1"),
            (10.4, "AS .tmp_vmlinux2.kallsyms.o"),
            (11.0, "LD vmlinux"),
            (11.4, "SORTTAB vmlinux"),
            (11.6, "CC arch/x86/boot/version.o"),
            (12.0, "GZIP arch/x86/boot/compressed/vmlinux.bin.gz"),
            (13.0, "BUILD arch/x86/boot/bzImage"),
        ]
        .iter()
        .map(|(at, line)| {
            let (tag, target) = line.split_once(' ').unwrap();
            Mark {
                at: Duration::from_secs_f64(*at),
                tag: tag.into(),
                target: target.into(),
            }
        })
        .collect()
    }

    #[test]
    fn a_rebuild_splits_into_its_phases_in_order() {
        let got: Vec<(&str, String)> = phases(&rebuild_marks(), Duration::from_secs_f64(13.2))
            .iter()
            .map(|p| (p.name, format!("{:.1}", p.seconds)))
            .collect();
        let want = [
            ("walk", "3.0"),
            ("compile", "3.5"),
            ("archives", "1.7"),
            ("vmlinux.o", "0.3"),
            ("modpost", "0.5"),
            ("kallsyms", "2.0"),
            ("link", "0.6"),
            ("bzImage", "1.6"),
        ];
        let want: Vec<(&str, String)> = want.iter().map(|(n, s)| (*n, (*s).to_owned())).collect();
        assert_eq!(got, want);
        let total: f64 = phases(&rebuild_marks(), Duration::from_secs(20))
            .iter()
            .map(|p| p.seconds)
            .sum();
        assert!(
            (total - 20.0).abs() < 1e-9,
            "phases cover the build: {total}"
        );
    }

    #[test]
    fn a_build_with_no_steps_is_all_walk_and_a_vmlinux_build_has_no_bzimage_phase() {
        let p = phases(&[], Duration::from_secs(4));
        assert_eq!(
            p,
            [BuildPhase {
                name: "walk",
                seconds: 4.0
            }]
        );
        let marks: Vec<Mark> = rebuild_marks().into_iter().take(12).collect();
        let names: Vec<&str> = phases(&marks, Duration::from_secs(12))
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names.last(), Some(&"link"));
        assert!(!names.contains(&"bzImage"));
    }

    #[test]
    fn the_phases_come_from_the_log_as_make_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = sh(
            "echo \"  CC      fs/splice.o\"; sleep 0.5; echo \"  LD      vmlinux.o\"; sleep 0.5",
            dir.path(),
        );
        let out = cmd.run(None, &mut |_| {}).unwrap();
        let names: Vec<&str> = out.phases.iter().map(|p| p.name).collect();
        assert_eq!(names, ["walk", "compile", "vmlinux.o"], "{:?}", out.phases);
        let compile = out.phases[1].seconds;
        assert!((0.2..=0.9).contains(&compile), "{:?}", out.phases);
    }

    #[test]
    fn steps_are_kbuild_quiet_lines_only() {
        for yes in [
            "  CC      fs/splice.o\n",
            "  LD [M]  x.ko\n",
            "  AS      a.o\n",
        ] {
            assert!(is_step(yes), "{yes:?}");
        }
        for no in [
            "make[1]: Entering directory '/x'\n",
            "  GEN     \n",
            "CC fs/splice.o\n",
            "fs/splice.c:3:1: error: x\n",
        ] {
            assert!(!is_step(no), "{no:?}");
        }
    }

    #[test]
    fn error_lines_pick_compiler_and_make_errors() {
        let log = "  CC      fs/splice.o\n\
                   fs/splice.c:10:5: error: 'x' undeclared (first use in this function)\n\
                   fs/splice.c:10:5: note: each undeclared identifier is reported only once\n\
                   make[4]: *** [scripts/Makefile.build:229: fs/splice.o] Error 1\n\
                   make[4]: *** [scripts/Makefile.build:229: fs/splice.o] Error 1\n";
        assert_eq!(
            error_lines(log, 20),
            [
                "fs/splice.c:10:5: error: 'x' undeclared (first use in this function)",
                "make[4]: *** [scripts/Makefile.build:229: fs/splice.o] Error 1",
            ]
        );
        assert_eq!(error_lines("a\nb\nc\n", 2), ["b", "c"]);
    }

    #[test]
    fn display_quotes_what_needs_it() {
        let dir = Path::new("/src");
        let mut c = sh("x", dir);
        c.program = "make".into();
        c.args = vec!["O=/tmp/b".into(), "CC=ccache gcc".into(), "-j2".into()];
        assert_eq!(c.display(), "make O=/tmp/b 'CC=ccache gcc' -j2");
    }
}
