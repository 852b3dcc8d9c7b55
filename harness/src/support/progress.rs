//! Progress while kharness waits: kernel builds, boots, the guest's tests.
//!
//! On a terminal (stderr) and not under `CI`, indicatif bars: the build as
//! kbuild steps done of those expected, the boot as a spinner with the time
//! since the VM started until the guest's first record, then the tests as
//! n of total with the one running. Anywhere else (a log, CI) the plain
//! lines kharness always printed: one per test result, a build line every
//! ten seconds.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kharness_record::Event;

/// Where a running kernel build has got to (fed by `kernel::build`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildProgress {
    /// Which step: `tinyconfig`, `olddefconfig`, `bzImage`.
    pub target: String,
    pub elapsed: Duration,
    /// kbuild's short-form lines so far (`  CC      fs/splice.o`, `  LD ...`).
    pub steps: usize,
    /// The latest of them, trimmed.
    pub last: String,
    /// How many the last successful run of this target in this directory
    /// had (a rough size for a progress bar).
    pub expected: Option<usize>,
}

/// kbuild steps of a build from scratch with images/kharness.config on
/// Debian's 6.12 source: such a build directory holds 1674 `.cmd` files,
/// one per step that made a file. A first build has no earlier count of
/// its own, so the bar starts from this one.
const FULL_BUILD_STEPS: usize = 1700;
/// Between plain build lines.
const LINE_EVERY: Duration = Duration::from_secs(10);
const TICK: Duration = Duration::from_millis(120);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// indicatif bars on stderr.
    Bars,
    /// One line per event.
    Lines,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// Bars on a terminal outside CI, lines elsewhere, nothing with --quiet.
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() && !under_ci() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// `$CI` set to anything but empty, `false` or `0`.
/// Whether a value of `$CI` means "this is CI": anything but empty,
/// `false` or `0`.
pub fn ci_says_yes(v: &str) -> bool {
    !v.is_empty() && v != "false" && v != "0"
}

pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| ci_says_yes(&v))
}

fn bar_on(target: ProgressDrawTarget, len: Option<u64>) -> ProgressBar {
    ProgressBar::with_draw_target(len, target)
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.cyan} {prefix} {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} [{bar:30.cyan/blue}] {pos}/{len} {elapsed} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Where the progress of a run's VMs goes. One VM at a time: its bar,
/// or its lines, as they always were. Several at once (`--jobs`): on a
/// terminal one bar per VM, kept together by indicatif's MultiProgress
/// with every line printed above them; elsewhere the same lines, each
/// tagged with its VM (`[2/3]`), whole lines only, so nothing interleaves
/// mid-line.
#[derive(Clone)]
pub struct Board {
    mode: Mode,
    multi: Option<MultiProgress>,
    parallel: bool,
}

impl Board {
    /// A board for VMs shown in `mode`, `parallel` when more than one
    /// may run at once.
    pub fn new(mode: Mode, parallel: bool) -> Self {
        Board {
            mode,
            multi: (parallel && mode == Mode::Bars)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            parallel,
        }
    }

    /// Prints a whole line on stderr (above the bars), unless quiet.
    pub fn say(&self, line: &str) {
        match (&self.multi, self.mode) {
            (_, Mode::Quiet) => {}
            (Some(m), _) => m.suspend(|| eprintln!("{line}")),
            (None, _) => eprintln!("{line}"),
        }
    }

    /// Progress of `total` tests on `kernel` in the VM `tag` names
    /// (`[1/2]`; shown only when VMs run side by side).
    pub fn tests(&self, kernel: &str, tag: &str, total: usize) -> TestProgress {
        let mut p = TestProgress::new(kernel, total, self.mode);
        if self.parallel {
            p.tag = format!("{tag} ");
            if let Some(b) = &p.bar {
                b.set_prefix(format!("{}{}", p.tag, b.prefix()));
            }
        }
        if let Some(m) = &self.multi {
            p.bar = p.bar.take().map(|b| m.add(b));
        }
        p
    }
}

/// The guest's tests while one VM runs, fed from its results file.
pub struct TestProgress {
    total: usize,
    seen_bytes: usize,
    done: usize,
    mode: Mode,
    bar: Option<ProgressBar>,
    booted: bool,
    kernel: String,
    /// `[1/2] ` before the lines and the bar's name when VMs run side by
    /// side; empty otherwise.
    tag: String,
}

impl TestProgress {
    /// Progress for `total` tests on `kernel` (its release, for the bar).
    pub fn new(kernel: &str, total: usize, mode: Mode) -> Self {
        let target = match mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        };
        Self::with_target(kernel, total, mode, target)
    }

    fn with_target(kernel: &str, total: usize, mode: Mode, target: ProgressDrawTarget) -> Self {
        let bar = (mode == Mode::Bars).then(|| {
            let b = bar_on(target, None)
                .with_style(spinner_style())
                .with_prefix(format!("booting {kernel}"));
            b.enable_steady_tick(TICK);
            b
        });
        TestProgress {
            total,
            seen_bytes: 0,
            done: 0,
            mode,
            bar,
            booted: false,
            kernel: kernel.to_owned(),
            tag: String::new(),
        }
    }

    /// Reads what the results file gained; call it often.
    pub fn poll(&mut self, records: &Path) {
        // Bytes: a guest that died mid-character leaves no valid UTF-8.
        let Ok(bytes) = std::fs::read(records) else {
            return;
        };
        // Only complete lines: the guest may be mid-write.
        let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if end <= self.seen_bytes {
            return;
        }
        let (events, _) = kharness_record::parse_event_bytes(&bytes[self.seen_bytes..end]);
        self.seen_bytes = end;
        for ev in &events {
            self.event(ev);
        }
    }

    fn event(&mut self, ev: &Event) {
        if !self.booted {
            self.booted = true;
            if let Some(b) = &self.bar {
                b.set_style(bar_style());
                b.set_length(self.total as u64);
                b.set_prefix(format!("{}{}", self.tag, self.kernel));
                b.reset_elapsed();
            }
        }
        match ev {
            Event::Start { id } => {
                if let Some(b) = &self.bar {
                    b.set_message(id.clone());
                }
            }
            Event::Result(r) => {
                self.done += 1;
                if self.done > self.total {
                    // Repetitions: more results than tests.
                    self.total = self.done;
                    if let Some(b) = &self.bar {
                        b.set_length(self.total as u64);
                    }
                }
                let why = r
                    .reason
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                let line = format!(
                    "  {}{:>3}/{:<3} {:<8} {}{why}",
                    self.tag,
                    self.done,
                    self.total,
                    r.status.as_str(),
                    r.id
                );
                match (&self.bar, self.mode) {
                    (Some(b), _) => {
                        b.println(line);
                        b.set_position(self.done as u64);
                    }
                    (None, Mode::Lines) => eprintln!("{line}"),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Takes the bar off the screen (before the lines that follow it).
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for TestProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A kernel build: fed by the build's progress callback.
pub struct BuildBar {
    mode: Mode,
    label: String,
    bar: Option<ProgressBar>,
    target: String,
    last_line: Instant,
    target_draw: fn() -> ProgressDrawTarget,
}

impl BuildBar {
    /// `label` names the step (`base`, `+1`).
    pub fn new(label: &str, mode: Mode) -> Self {
        BuildBar {
            mode,
            label: label.to_owned(),
            bar: None,
            target: String::new(),
            last_line: Instant::now(),
            target_draw: ProgressDrawTarget::stderr,
        }
    }

    /// The length the bar of `p` has: what the last build of this
    /// directory took, or the estimate for a first build; none for the
    /// configuration steps (a spinner).
    pub fn expected(p: &BuildProgress) -> Option<usize> {
        match (p.expected, p.target.as_str()) {
            (Some(n), _) => Some(n.max(p.steps)),
            (None, "bzImage") => Some(FULL_BUILD_STEPS.max(p.steps)),
            (None, _) => None,
        }
    }

    pub fn update(&mut self, p: &BuildProgress) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                if self.last_line.elapsed() >= LINE_EVERY {
                    self.last_line = Instant::now();
                    eprintln!(
                        "kharness:   {} {}s, {} steps, {}",
                        p.target,
                        p.elapsed.as_secs(),
                        p.steps,
                        p.last
                    );
                }
            }
            Mode::Bars => {
                if p.target != self.target {
                    self.finish();
                    self.target = p.target.clone();
                    let len = Self::expected(p);
                    let b = bar_on((self.target_draw)(), len.map(|n| n as u64))
                        .with_style(if len.is_some() {
                            bar_style()
                        } else {
                            spinner_style()
                        })
                        .with_prefix(format!("[{}] make {}", self.label, p.target))
                        .with_elapsed(p.elapsed);
                    b.enable_steady_tick(TICK);
                    self.bar = Some(b);
                }
                if let Some(b) = &self.bar {
                    if let Some(n) = Self::expected(p) {
                        b.set_length(n as u64);
                    }
                    b.set_position(p.steps as u64);
                    b.set_message(p.last.clone());
                }
            }
        }
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for BuildBar {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the guest writes for a passing test.
    fn result(id: &str) -> String {
        format!(r#"{{"event":"result","id":"{id}","status":"pass","duration_us":5}}"#)
    }

    fn event(line: &str) -> Event {
        let (mut evs, bad) = kharness_record::parse_events(&format!("{line}\n"));
        assert!(bad.is_empty(), "{line}");
        evs.remove(0)
    }

    #[test]
    fn the_boot_spinner_becomes_a_bar_of_tests_at_the_first_record() {
        let mut p = TestProgress::with_target("6.12", 3, Mode::Bars, ProgressDrawTarget::hidden());
        let bar = p.bar.clone().unwrap();
        assert_eq!(bar.length(), None, "a spinner while booting");
        assert_eq!(bar.prefix(), "booting 6.12");
        p.event(&Event::Start { id: "a.one".into() });
        assert_eq!(bar.length(), Some(3));
        assert_eq!(bar.message(), "a.one");
        p.event(&event(&result("a.one")));
        p.event(&Event::Start { id: "a.two".into() });
        assert_eq!((bar.position(), bar.message()), (1, "a.two".to_owned()));
        p.finish();
        assert!(bar.is_finished());
    }

    #[test]
    fn a_board_keeps_one_vms_bar_as_it_was_and_tags_those_side_by_side() {
        let one = Board::new(Mode::Bars, false).tests("6.12", "[1/1]", 3);
        let bar = one.bar.clone().expect("one VM keeps its bar");
        assert_eq!(bar.prefix(), "booting 6.12");
        assert_eq!(one.tag, "", "one VM: lines as they always were");
        let two = Board::new(Mode::Bars, true).tests("6.1", "[2/2]", 3);
        let bar = two.bar.clone().expect("a bar per VM side by side");
        assert_eq!(bar.prefix(), "[2/2] booting 6.1");
        let lines = Board::new(Mode::Lines, true).tests("6.1", "[2/2]", 3);
        assert!(lines.bar.is_none());
        assert_eq!(lines.tag, "[2/2] ");
    }

    #[test]
    fn lines_mode_keeps_no_bar_and_reads_only_complete_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("records.jsonl");
        let line = result("a.one");
        std::fs::write(&f, format!("{line}\n{}", &line[..10])).unwrap();
        let mut p = TestProgress::new("k", 2, Mode::Lines);
        p.poll(&f);
        assert!(p.bar.is_none());
        assert_eq!(p.done, 1);
        std::fs::write(&f, format!("{line}\n{line}\n")).unwrap();
        p.poll(&f);
        assert_eq!(p.done, 2);
    }

    #[test]
    fn build_bars_count_against_the_last_build_or_the_estimate() {
        let mut p = BuildProgress {
            target: "bzImage".into(),
            steps: 10,
            ..Default::default()
        };
        assert_eq!(BuildBar::expected(&p), Some(FULL_BUILD_STEPS));
        p.expected = Some(41);
        assert_eq!(BuildBar::expected(&p), Some(41));
        p.steps = 50;
        assert_eq!(BuildBar::expected(&p), Some(50), "never past the end");
        p.target = "olddefconfig".into();
        p.expected = None;
        assert_eq!(BuildBar::expected(&p), None, "a spinner");

        let mut b = BuildBar::new("base", Mode::Bars);
        b.target_draw = ProgressDrawTarget::hidden;
        p.target = "bzImage".into();
        p.last = "CC fs/splice.o".into();
        b.update(&p);
        let bar = b.bar.clone().unwrap();
        assert_eq!(bar.length(), Some(FULL_BUILD_STEPS as u64));
        assert_eq!(
            (bar.position(), bar.message()),
            (50, "CC fs/splice.o".to_owned())
        );
        assert_eq!(bar.prefix(), "[base] make bzImage");
    }
}
