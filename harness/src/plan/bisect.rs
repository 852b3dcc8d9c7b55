//! What `kharness bisect` asks for, and the bisection itself as pure
//! logic: which commit of a linear range to test next, what a verdict
//! narrows, when it is over, and the `git bisect log` of the steps.
//!
//! Commits are indexed as the steps of a series: 0 is `--good`, 1..=n
//! the commits of `good..bad` in first-parent order, n is `--bad`. The
//! first bad commit is then the smallest k whose verdict is bad with
//! k - 1 good; commits that could not be judged (no build, no boot) are
//! skipped as `git bisect skip` does, and when skips hide which one it
//! is, the candidates are named instead.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{BuildOptions, Plan};

/// What is bisected: the test's status, an observation's value, or a
/// metric moving beyond the threshold with `compare`'s statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Criterion {
    Status,
    Observation(String),
    Metric(String),
}

impl Criterion {
    /// How a person names it: `status`, `observation NAME`, `metric NAME`.
    pub fn describe(&self) -> String {
        match self {
            Criterion::Status => "status".to_owned(),
            Criterion::Observation(n) => format!("observation {n}"),
            Criterion::Metric(n) => format!("metric {n}"),
        }
    }
}

/// What the user asked `kharness bisect` for, as `bisect.json` repeats it.
#[derive(Debug, Clone, Serialize)]
pub struct BisectAsk {
    pub tree: std::path::PathBuf,
    pub good: String,
    pub bad: String,
    pub test: String,
    pub criterion: Criterion,
    /// Runs of each step, each in a fresh boot; a step is bad when any
    /// run is.
    pub repeat: u32,
}

/// What `kharness bisect` was asked to do, and how it builds and boots.
pub struct BisectPlan {
    pub ask: BisectAsk,
    pub build: BuildOptions,
    /// Smallest relative metric change that counts (0.02 = 2%).
    pub threshold: f64,
    /// How each step boots (kernels and filters filled in per step).
    pub run: Plan,
}

/// A step's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Good,
    Bad,
    /// Could not be judged: it did not build or boot, or showed neither
    /// the good nor the bad behaviour.
    Skip,
}

impl Verdict {
    /// The `git bisect` subcommand for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Good => "good",
            Verdict::Bad => "bad",
            Verdict::Skip => "skip",
        }
    }
}

/// How a bisection ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The first bad commit.
    Found { commit: usize },
    /// One of these is the first bad commit (skipped commits, then the
    /// first known bad one).
    Among { commits: Vec<usize> },
}

/// The state of a bisection of commits 1..=n, 0 known good and n known
/// bad.
#[derive(Debug, Clone)]
pub struct Bisection {
    /// The newest commit known good.
    good: usize,
    /// The oldest commit known bad.
    bad: usize,
    skipped: BTreeSet<usize>,
}

impl Bisection {
    /// A bisection of `n` commits (`n >= 1`): 0 good, n bad.
    pub fn new(n: usize) -> Bisection {
        Bisection {
            good: 0,
            bad: n.max(1),
            skipped: BTreeSet::new(),
        }
    }

    /// The commit to test next: of those between the newest good and the
    /// oldest bad not yet skipped, the one nearest the middle (the older
    /// on a tie); `None` when the bisection is over.
    pub fn next(&self) -> Option<usize> {
        let twice_mid = self.good + self.bad;
        (self.good + 1..self.bad)
            .filter(|k| !self.skipped.contains(k))
            .min_by_key(|&k| ((2 * k).abs_diff(twice_mid), k))
    }

    /// Takes the verdict of commit `k`. A verdict outside the open range
    /// (a commit tested before the range narrowed) changes nothing.
    pub fn record(&mut self, k: usize, v: Verdict) {
        if k <= self.good || k >= self.bad {
            return;
        }
        match v {
            Verdict::Good => self.good = k,
            Verdict::Bad => self.bad = k,
            Verdict::Skip => {
                self.skipped.insert(k);
            }
        }
    }

    /// The result once [`Bisection::next`] has nothing left.
    pub fn outcome(&self) -> Option<Outcome> {
        if self.next().is_some() {
            return None;
        }
        let mut commits: Vec<usize> = self
            .skipped
            .range(self.good + 1..self.bad)
            .copied()
            .collect();
        if commits.is_empty() {
            return Some(Outcome::Found { commit: self.bad });
        }
        commits.push(self.bad);
        Some(Outcome::Among { commits })
    }
}

/// The most commits a bisection of `n` commits tests between its ends
/// when none is skipped: ceil(log2(n)).
pub fn max_steps(n: usize) -> usize {
    match n {
        0 | 1 => 0,
        n => (usize::BITS - (n - 1).leading_zeros()) as usize,
    }
}

/// One commit, as the log names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogCommit {
    pub id: String,
    pub subject: String,
}

/// The steps as `git bisect log` writes them, which `git bisect replay
/// FILE` takes back: `commits[0]` is --good, the last --bad; `steps` the
/// verdicts in the order they were given; `outcome` the result.
pub fn git_bisect_log(
    commits: &[LogCommit],
    steps: &[(usize, Verdict)],
    outcome: Option<&Outcome>,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let (Some(good), Some(bad)) = (commits.first(), commits.last()) else {
        return s;
    };
    let _ = writeln!(s, "git bisect start");
    let mut say = |c: &LogCommit, v: &str| {
        let _ = writeln!(s, "# {v}: [{}] {}", c.id, c.subject);
        let _ = writeln!(s, "git bisect {v} {}", c.id);
    };
    say(bad, "bad");
    say(good, "good");
    for &(k, v) in steps {
        if let Some(c) = commits.get(k) {
            say(c, v.as_str());
        }
    }
    match outcome {
        Some(Outcome::Found { commit }) => {
            if let Some(c) = commits.get(*commit) {
                let _ = writeln!(s, "# first bad commit: [{}] {}", c.id, c.subject);
            }
        }
        Some(Outcome::Among { commits: among }) => {
            let _ = writeln!(
                s,
                "# only skipped commits left to test; the first bad commit is one of:"
            );
            for c in among.iter().filter_map(|k| commits.get(*k)) {
                let _ = writeln!(s, "# possible first bad commit: [{}] {}", c.id, c.subject);
            }
        }
        None => {}
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bisects `n` commits whose first bad one is `culprit`, skipping
    /// `skip`; returns the outcome and the commits tested, in order.
    fn run(n: usize, culprit: usize, skip: &BTreeSet<usize>) -> (Outcome, Vec<usize>) {
        let mut b = Bisection::new(n);
        let mut tested = Vec::new();
        while let Some(k) = b.next() {
            assert!(!tested.contains(&k), "{k} tested twice: {tested:?}");
            tested.push(k);
            let v = if skip.contains(&k) {
                Verdict::Skip
            } else if k >= culprit {
                Verdict::Bad
            } else {
                Verdict::Good
            };
            b.record(k, v);
            assert!(tested.len() <= n, "no end");
        }
        (b.outcome().expect("over"), tested)
    }

    #[test]
    fn sixteen_commits_take_four_steps_wherever_the_culprit_is() {
        for culprit in 1..=16 {
            let (o, tested) = run(16, culprit, &BTreeSet::new());
            assert_eq!(o, Outcome::Found { commit: culprit });
            assert_eq!(tested.len(), 4, "culprit {culprit}: {tested:?}");
        }
        assert_eq!(run(16, 5, &BTreeSet::new()).1, [8, 4, 6, 5]);
    }

    #[test]
    fn the_middle_goes_first_and_the_older_on_a_tie() {
        assert_eq!(Bisection::new(16).next(), Some(8));
        assert_eq!(Bisection::new(3).next(), Some(1));
        assert_eq!(Bisection::new(1).next(), None);
        assert_eq!(
            Bisection::new(1).outcome(),
            Some(Outcome::Found { commit: 1 })
        );
    }

    #[test]
    fn a_skipped_commit_is_stepped_around_and_named_when_it_hides_the_culprit() {
        let skip: BTreeSet<usize> = [8].into();
        let (o, tested) = run(16, 5, &skip);
        assert_eq!(o, Outcome::Found { commit: 5 });
        assert_eq!(tested[..2], [8, 7], "{tested:?}");
        // The culprit itself does not build: it and the first bad after
        // it are the candidates.
        let skip: BTreeSet<usize> = [5].into();
        let (o, _) = run(16, 5, &skip);
        assert_eq!(
            o,
            Outcome::Among {
                commits: vec![5, 6]
            }
        );
    }

    #[test]
    fn log2_bound() {
        let want = [
            (0, 0),
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (16, 4),
            (17, 5),
        ];
        for (n, steps) in want {
            assert_eq!(max_steps(n), steps, "n={n}");
        }
    }

    proptest! {
        #[test]
        fn every_culprit_is_found_within_ceil_log2_steps(n in 1usize..300, c in 0usize..300) {
            let culprit = 1 + c % n;
            let (o, tested) = run(n, culprit, &BTreeSet::new());
            prop_assert_eq!(o, Outcome::Found { commit: culprit });
            prop_assert!(tested.len() <= max_steps(n), "{} > {}", tested.len(), max_steps(n));
        }

        #[test]
        fn with_skips_the_culprit_is_found_or_among_the_candidates(
            n in 1usize..120,
            c in 0usize..120,
            skips in proptest::collection::btree_set(1usize..120, 0..20),
        ) {
            let culprit = 1 + c % n;
            let (o, _) = run(n, culprit, &skips);
            match o {
                Outcome::Found { commit } => prop_assert_eq!(commit, culprit),
                Outcome::Among { commits } => {
                    prop_assert!(commits.contains(&culprit), "{commits:?}");
                    // Every candidate but the last was skipped.
                    let (last, rest) = commits.split_last().unwrap();
                    prop_assert!(rest.iter().all(|k| skips.contains(k)));
                    prop_assert!(*last >= culprit && !skips.contains(last) || *last == n);
                }
            }
        }
    }

    fn git(dir: &std::path::Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@e"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    #[test]
    fn git_bisect_replay_takes_the_log_and_names_the_same_commit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        git(p, &["init", "-q", "-b", "main"]);
        let mut commits = Vec::new();
        for i in 0..=8 {
            std::fs::write(p.join("f"), format!("{i}\n")).unwrap();
            git(p, &["add", "f"]);
            git(p, &["commit", "-q", "-m", &format!("change {i}")]);
            commits.push(LogCommit {
                id: git(p, &["rev-parse", "HEAD"]),
                subject: format!("change {i}"),
            });
        }
        let mut b = Bisection::new(8);
        let mut steps = Vec::new();
        while let Some(k) = b.next() {
            let v = match k {
                4 => Verdict::Skip,
                k if k >= 3 => Verdict::Bad,
                _ => Verdict::Good,
            };
            b.record(k, v);
            steps.push((k, v));
        }
        let outcome = b.outcome().unwrap();
        assert_eq!(outcome, Outcome::Found { commit: 3 });
        let log = git_bisect_log(&commits, &steps, Some(&outcome));
        assert!(
            log.ends_with(&format!(
                "# first bad commit: [{}] change 3\n",
                commits[3].id
            )),
            "{log}"
        );
        let file = d.path().join("..").join(format!(
            "bisect-{}.log",
            p.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&file, &log).unwrap();
        let replay = git(p, &["bisect", "replay", file.to_str().unwrap()]);
        let _ = std::fs::remove_file(&file);
        assert!(
            replay.contains(&format!("{} is the first bad commit", commits[3].id)),
            "{replay}"
        );
    }
}
