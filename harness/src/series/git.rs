//! Git trees as a source of steps: a revision resolved to its commit, and
//! a range `BASE..TIP` read as a series, one patch per commit in
//! first-parent order (`git format-patch` output, read like any
//! format-patch directory), so a range gets everything a series file
//! gets: incremental steps in a scratch worktree, reports, caching.
//!
//! A range's patch subjects start with the commit's short id
//! (`1a2b3c4d5e6f subject`, as `git log --oneline` prints it), so every
//! report that names a step names its commit.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::patch::{Series, SeriesFormat};
use super::{SeriesError, read};

/// How many hex digits of a commit id the reports show.
pub const SHORT_ID: usize = 12;

/// Why a revision or a range could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{}: not a git tree (no .git), and {what} names git revisions", tree.display())]
    NotGit { tree: PathBuf, what: &'static str },
    #[error("{what} {rev:?}: no such commit in {}", tree.display())]
    NoSuchRev {
        what: &'static str,
        rev: String,
        tree: PathBuf,
    },
    #[error("range {spec:?}: expected BASE..TIP (two dots, e.g. origin/master..HEAD)")]
    BadRange { spec: String },
    #[error("range {spec}: {base} is not an ancestor of {tip}")]
    NotAncestor {
        spec: String,
        base: String,
        tip: String,
    },
    #[error("range {spec} is empty: {tip} has no commit that {base} lacks")]
    Empty {
        spec: String,
        base: String,
        tip: String,
    },
    #[error(
        "range {spec}: commit {commit} \"{subject}\" is a merge; a series steps through a \
         linear history, so give a range without merges (e.g. start after the merge)"
    )]
    Merge {
        spec: String,
        commit: String,
        subject: String,
    },
    #[error(
        "range {spec}: `git format-patch` wrote {made} patch(es) for {commits} commit(s); a \
         commit that changes nothing cannot be a step"
    )]
    Mismatch {
        spec: String,
        made: usize,
        commits: usize,
    },
    #[error("`{command}` failed with {status}: {stderr}")]
    Tool {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("cannot run `{command}`")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("read the patches of range {spec}")]
    Read { spec: String, source: SeriesError },
}

impl crate::error::OpError for GitError {
    /// What the user named is wrong: exit 2; git itself failing: exit 3.
    fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            GitError::Tool { .. } | GitError::Spawn { .. } => ExitCode::Infra,
            _ => ExitCode::Usage,
        }
    }

    fn interrupted(&self) -> bool {
        crate::support::process::interrupted()
    }
}

/// One commit of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub id: String,
    pub subject: String,
}

impl Commit {
    /// `1a2b3c4d5e6f subject`.
    pub fn oneline(&self) -> String {
        format!("{} {}", short(&self.id), self.subject)
    }
}

/// The first [`SHORT_ID`] digits of a commit id.
pub fn short(id: &str) -> &str {
    &id[..SHORT_ID.min(id.len())]
}

/// A range read as a series.
#[derive(Debug)]
pub struct Range {
    /// The commit the range starts after: the series' base.
    pub base: String,
    pub commits: Vec<Commit>,
    pub series: Series,
}

/// Whether `tree` has its own `.git` (a directory, or the file of a
/// worktree).
pub fn is_git_tree(tree: &Path) -> bool {
    tree.join(".git").exists()
}

/// The full commit id `rev` names in `tree`; `what` says which argument it
/// came from (`--base`).
pub fn resolve(tree: &Path, what: &'static str, rev: &str) -> Result<String, GitError> {
    if !is_git_tree(tree) {
        return Err(GitError::NotGit {
            tree: tree.to_owned(),
            what,
        });
    }
    let mut cmd = git(tree);
    cmd.args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{rev}^{{commit}}"));
    let out = run(&mut cmd)?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || id.is_empty() || rev.is_empty() {
        return Err(GitError::NoSuchRev {
            what,
            rev: rev.to_owned(),
            tree: tree.to_owned(),
        });
    }
    Ok(id)
}

/// The subject line of commit `id` of `tree`.
pub fn subject(tree: &Path, id: &str) -> Result<String, GitError> {
    let mut cmd = git(tree);
    cmd.args(["log", "-1", "--format=%s", id, "--"]);
    let out = checked(&mut cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Splits `BASE..TIP` (an empty TIP is HEAD, as git has it).
pub fn split_range(spec: &str) -> Result<(&str, &str), GitError> {
    let bad = || GitError::BadRange {
        spec: spec.to_owned(),
    };
    if spec.contains("...") {
        return Err(bad());
    }
    let (base, tip) = spec.split_once("..").ok_or_else(bad)?;
    if base.is_empty() || tip.contains("..") {
        return Err(bad());
    }
    Ok((base, if tip.is_empty() { "HEAD" } else { tip }))
}

/// The commits of `spec` (`BASE..TIP`, BASE an ancestor of TIP, no merge
/// on the way) in `tree`, oldest first, with their patches written to
/// `patch_dir` by `git format-patch` and read back as a series.
pub fn read_range(tree: &Path, spec: &str, patch_dir: &Path) -> Result<Range, GitError> {
    let (base_rev, tip_rev) = split_range(spec)?;
    if !is_git_tree(tree) {
        return Err(GitError::NotGit {
            tree: tree.to_owned(),
            what: "a range BASE..TIP",
        });
    }
    let base = resolve(tree, "range", base_rev)?;
    let tip = resolve(tree, "range", tip_rev)?;
    let mut cmd = git(tree);
    cmd.args(["merge-base", "--is-ancestor", &base, &tip]);
    let out = run(&mut cmd)?;
    match out.status.code() {
        Some(0) => {}
        Some(1) => {
            return Err(GitError::NotAncestor {
                spec: spec.to_owned(),
                base: base_rev.to_owned(),
                tip: tip_rev.to_owned(),
            });
        }
        _ => return Err(tool_error(&cmd, &out)),
    }
    let mut cmd = git(tree);
    cmd.args([
        "log",
        "--first-parent",
        "--reverse",
        "--format=%H %P%x00%s",
        &format!("{base}..{tip}"),
    ]);
    let out = checked(&mut cmd)?;
    let mut commits = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (ids, subject) = line.split_once('\0').unwrap_or((line, ""));
        let mut ids = ids.split_whitespace();
        let id = ids.next().unwrap_or_default().to_owned();
        if ids.count() > 1 {
            return Err(GitError::Merge {
                spec: spec.to_owned(),
                commit: short(&id).to_owned(),
                subject: subject.to_owned(),
            });
        }
        commits.push(Commit {
            id,
            subject: subject.to_owned(),
        });
    }
    if commits.is_empty() {
        return Err(GitError::Empty {
            spec: spec.to_owned(),
            base: base_rev.to_owned(),
            tip: tip_rev.to_owned(),
        });
    }
    let mut cmd = git(tree);
    // Full blob ids: an abbreviation grows with the repository, and the
    // patch text is what a step's kept image is keyed by.
    cmd.args([
        "format-patch",
        "--no-signature",
        "--binary",
        "--full-index",
        "--quiet",
        "-o",
    ])
    .arg(patch_dir)
    .arg(format!("{base}..{tip}"));
    checked(&mut cmd)?;
    let mut series = read(patch_dir).map_err(|source| GitError::Read {
        spec: spec.to_owned(),
        source,
    })?;
    if series.patches.len() != commits.len() {
        return Err(GitError::Mismatch {
            spec: spec.to_owned(),
            made: series.patches.len(),
            commits: commits.len(),
        });
    }
    for (p, c) in series.patches.iter_mut().zip(&commits) {
        p.subject = c.oneline();
    }
    series.name = spec.to_owned();
    series.format = SeriesFormat::GitRange;
    Ok(Range {
        base,
        commits,
        series,
    })
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    // Whatever the user's config says, the ids and patches are plain.
    cmd.args([
        "-c",
        "log.showSignature=false",
        "-c",
        "format.signOff=false",
    ]);
    cmd
}

fn render(cmd: &Command) -> String {
    crate::support::quote::display_argv(std::iter::once(cmd.get_program()).chain(cmd.get_args()))
}

fn run(cmd: &mut Command) -> Result<std::process::Output, GitError> {
    crate::support::process::output(cmd).map_err(|source| GitError::Spawn {
        command: render(cmd),
        source,
    })
}

fn checked(cmd: &mut Command) -> Result<std::process::Output, GitError> {
    let out = run(cmd)?;
    if out.status.success() {
        return Ok(out);
    }
    Err(tool_error(cmd, &out))
}

fn tool_error(cmd: &Command, out: &std::process::Output) -> GitError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    GitError::Tool {
        command: render(cmd),
        status: out.status.to_string(),
        stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@e",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    fn git_out(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A repo with commits a (base), b, c on main, and a side branch merged.
    fn repo() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        sh(p, &["init", "-q", "-b", "main"]);
        for (f, msg) in [("a", "first"), ("b", "second: fix b"), ("c", "third")] {
            std::fs::write(p.join(f), format!("{f}\n")).unwrap();
            sh(p, &["add", f]);
            sh(p, &["commit", "-q", "-m", msg]);
            sh(p, &["tag", f]);
        }
        sh(p, &["checkout", "-q", "-b", "side", "a"]);
        std::fs::write(p.join("s"), "s\n").unwrap();
        sh(p, &["add", "s"]);
        sh(p, &["commit", "-q", "-m", "side"]);
        sh(p, &["checkout", "-q", "main"]);
        sh(p, &["merge", "-q", "--no-ff", "-m", "merge side", "side"]);
        sh(p, &["tag", "m"]);
        d
    }

    #[test]
    fn a_linear_range_is_a_series_of_its_commits_with_ids_in_the_subjects() {
        let d = repo();
        let out = tempfile::tempdir().unwrap();
        let r = read_range(d.path(), "a..c", out.path()).unwrap();
        assert_eq!(r.base, resolve(d.path(), "x", "a").unwrap());
        let subjects: Vec<&str> = r.commits.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(subjects, ["second: fix b", "third"]);
        assert_eq!(r.series.format, SeriesFormat::GitRange);
        assert_eq!(r.series.name, "a..c");
        let b = resolve(d.path(), "x", "b").unwrap();
        assert_eq!(
            r.series.patches[0].subject,
            format!("{} second: fix b", &b[..12])
        );
        assert_eq!(r.series.patches[1].files, ["c"]);
        let c = resolve(d.path(), "x", "c").unwrap();
        let blob = git_out(d.path(), &["rev-parse", &format!("{c}:c")]);
        assert!(
            r.series.patches[1].diff.contains(&format!("..{blob}")),
            "full blob ids, whatever the repository's size: {}",
            r.series.patches[1].diff
        );
    }

    #[test]
    fn bad_ranges_are_named() {
        let d = repo();
        let out = tempfile::tempdir().unwrap();
        let err = |spec: &str| {
            read_range(d.path(), spec, out.path())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("c..c"),
            "range c..c is empty: c has no commit that c lacks"
        );
        assert_eq!(err("c..b"), "range c..b: c is not an ancestor of b");
        assert!(err("a..m").contains("is a merge"), "{}", err("a..m"));
        assert!(
            err("a..nope").starts_with("range \"nope\": no such commit"),
            "{}",
            err("a..nope")
        );
        assert!(err("a...c").contains("expected BASE..TIP"));
        assert!(err("c").contains("expected BASE..TIP"));
        assert!(err("..c").contains("expected BASE..TIP"));
        // An option-looking revision is a revision, never an option.
        assert!(err("--output=x..c").contains("no such commit"));
        let plain = tempfile::tempdir().unwrap();
        assert!(
            resolve(plain.path(), "--base", "HEAD")
                .unwrap_err()
                .to_string()
                .ends_with("not a git tree (no .git), and --base names git revisions")
        );
    }
}
