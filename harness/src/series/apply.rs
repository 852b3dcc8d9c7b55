//! Applying a series without touching the user's tree: a detached `git
//! worktree` of a git tree, or a hard-link copy (`cp -al`) of a plain one,
//! under a cache directory, patched one patch at a time with `git apply`.
//!
//! Hard links are safe here because `git apply` (like GNU patch) writes a
//! patched file as a new file and renames it into place: the copy's file
//! gets a new inode and the source's stays as it was. Nothing here ever
//! opens a tree file for writing in place.
//!
//! A scratch tree is kept between runs, keyed by its source, and remembers
//! which patches it carries (`state.json`). Asking it for another prefix
//! reverts what differs and applies the rest, so only the files of those
//! patches get new mtimes and a build in an `O=` directory stays
//! incremental.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::{Deserialize, Serialize};

use super::ApplyError;
use super::patch::Patch;
use crate::support::hash::sha256_hex;

/// How many scratch trees one source may have at once (one per concurrent
/// kharness process).
const SLOTS: usize = 8;

/// What the scratch tree was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Base {
    /// A git tree: the worktree checks out this commit (uncommitted changes
    /// of the source are not in it).
    Git { commit: String },
    /// A plain directory, identified by a hash over every entry's path,
    /// inode, size and mtime: any change to the source makes a new copy.
    Plain { fingerprint: String },
}

/// A patch the tree carries, with the file to revert it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub sha256: String,
    pub strip: usize,
    pub subject: String,
    pub files: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    source: PathBuf,
    base: Base,
    applied: Vec<Applied>,
    patchset_hash: String,
}

/// A patched copy of a source tree. Holds an exclusive lock on its slot
/// while it lives.
#[derive(Debug)]
pub struct ScratchTree {
    slot: PathBuf,
    tree: PathBuf,
    source: PathBuf,
    base: Base,
    applied: Vec<Applied>,
    notes: Vec<String>,
    _lock: File,
}

impl ScratchTree {
    /// Opens the scratch tree of `source` under `cache_dir/scratch/`,
    /// creating or refreshing it as needed. A git tree (one with its own
    /// `.git`) gets a detached worktree of its HEAD; any other directory a
    /// hard-link copy.
    pub fn open(source: &Path, cache_dir: &Path) -> Result<Self, ApplyError> {
        Self::open_with(source, cache_dir, None)
    }

    /// Like [`ScratchTree::open`] for a git tree, with the worktree at
    /// `commit` (a full commit id) instead of HEAD; the source's own
    /// checkout and uncommitted changes play no part.
    pub fn open_at(source: &Path, cache_dir: &Path, commit: &str) -> Result<Self, ApplyError> {
        Self::open_with(source, cache_dir, Some(commit))
    }

    fn open_with(source: &Path, cache_dir: &Path, at: Option<&str>) -> Result<Self, ApplyError> {
        let source = source.canonicalize().map_err(|e| ApplyError::Source {
            path: source.to_path_buf(),
            why: format!("cannot use it as a source tree: {e}"),
        })?;
        if !source.is_dir() {
            return Err(ApplyError::Source {
                path: source,
                why: "not a directory".into(),
            });
        }
        let mut notes = Vec::new();
        let base = match (git_commit(&source)?, at) {
            (Some(_), Some(commit)) => Base::Git {
                commit: commit.to_owned(),
            },
            (Some(commit), None) => {
                if git_dirty(&source)? {
                    notes.push(format!(
                        "{} has uncommitted changes; the scratch tree has only its HEAD ({})",
                        source.display(),
                        &commit[..12.min(commit.len())]
                    ));
                }
                Base::Git { commit }
            }
            (None, Some(_)) => {
                return Err(ApplyError::Source {
                    path: source,
                    why: "not a git tree (no .git), so it has no commits to check out".into(),
                });
            }
            (None, None) => Base::Plain {
                fingerprint: fingerprint(&source)?,
            },
        };
        let key = &sha256_hex(source.as_os_str().as_encoded_bytes())[..16];
        let root = cache_dir.join("scratch");
        std::fs::create_dir_all(&root)
            .map_err(|e| ApplyError::io("cannot create cache directory", &root, e))?;
        let (slot, lock) = lock_slot(&root, key)?;
        let tree = slot.join("tree");
        let state_path = slot.join("state.json");
        let old: Option<State> = std::fs::read(&state_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let mut st = ScratchTree {
            slot,
            tree,
            source,
            base,
            applied: Vec::new(),
            notes,
            _lock: lock,
        };
        match old {
            Some(old)
                if old.source == st.source
                    && old.base == st.base
                    && st.tree.is_dir()
                    && st.worktree_intact() =>
            {
                st.applied = old.applied;
            }
            Some(old) if old.source == st.source && st.tree.is_dir() => {
                st.rebase(&old)?;
            }
            _ => st.create()?,
        }
        st.save()?;
        Ok(st)
    }

    /// The patched tree: build from here.
    pub fn path(&self) -> &Path {
        &self.tree
    }

    /// Where builds of this tree keep their directories: beside the tree,
    /// so every scratch tree is at the same relative path from its build
    /// and ccache shares objects between them (see
    /// [`crate::kernel::build::BuildSpec::build_root`]).
    pub fn build_root(&self) -> PathBuf {
        self.slot.join("build")
    }

    /// The tree it copies (canonical).
    pub fn source(&self) -> &Path {
        &self.source
    }

    pub fn base(&self) -> &Base {
        &self.base
    }

    /// The patches the tree carries, in order.
    pub fn applied(&self) -> &[Applied] {
        &self.applied
    }

    /// KCIDB patchset hash of what the tree carries ("" for the base).
    pub fn patchset_hash(&self) -> String {
        hash_of(&self.applied)
    }

    /// Things worth telling a person (dirty source, copy instead of links).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Brings the tree to the base plus exactly `patches`: keeps the prefix
    /// it already carries, reverts the rest, applies what is missing.
    /// Returns how many patches it applied.
    pub fn checkout(&mut self, patches: &[Patch]) -> Result<usize, ApplyError> {
        let common = self
            .applied
            .iter()
            .zip(patches)
            .take_while(|(a, p)| a.sha256 == p.sha256 && a.strip == p.strip)
            .count();
        while self.applied.len() > common {
            if let Err(e) = self.revert_last() {
                self.notes.push(format!("{e}; made the scratch tree anew"));
                let old = self.state();
                self.reset(&old)?;
                break;
            }
        }
        let from = self.applied.len();
        for p in &patches[from..] {
            self.apply(p)?;
        }
        Ok(patches.len() - from)
    }

    /// Applies one more patch on top of those the tree carries. A patch
    /// that does not apply leaves the tree as it was (`git apply` is all or
    /// nothing) and names the file and hunk it stopped at.
    pub fn apply(&mut self, patch: &Patch) -> Result<(), ApplyError> {
        let file = self.patch_file(&patch.sha256, &patch.diff)?;
        let out = self.git_apply(&file, patch.strip, false)?;
        if !out.status.success() {
            return Err(does_not_apply(patch, &out));
        }
        self.applied.push(Applied {
            sha256: patch.sha256.clone(),
            strip: patch.strip,
            subject: patch.subject.clone(),
            files: patch.files.clone(),
        });
        self.save()
    }

    /// Deletes the scratch tree (and its worktree entry in the source).
    pub fn remove(self) -> Result<(), ApplyError> {
        self.discard_tree()?;
        std::fs::remove_dir_all(&self.slot)
            .map_err(|e| ApplyError::io("cannot remove", &self.slot, e))
    }

    fn state(&self) -> State {
        State {
            source: self.source.clone(),
            base: self.base.clone(),
            applied: self.applied.clone(),
            patchset_hash: self.patchset_hash(),
        }
    }

    fn save(&self) -> Result<(), ApplyError> {
        let path = self.slot.join("state.json");
        let tmp = self.slot.join("state.json.tmp");
        let json = serde_json::to_vec_pretty(&self.state())
            .map_err(|e| ApplyError::io("cannot encode", &path, std::io::Error::other(e)))?;
        std::fs::write(&tmp, json).map_err(|e| ApplyError::io("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| ApplyError::io("cannot write", &path, e))
    }

    fn revert_last(&mut self) -> Result<(), ApplyError> {
        let Some(last) = self.applied.last().cloned() else {
            return Ok(());
        };
        let file = self
            .slot
            .join("patches")
            .join(format!("{}.patch", last.sha256));
        let out = self.git_apply(&file, last.strip, true)?;
        if !out.status.success() {
            return Err(ApplyError::Revert {
                index: self.applied.len(),
                subject: last.subject,
                tree: self.tree.clone(),
                output: tool_output(&out),
            });
        }
        self.applied.pop();
        self.save()
    }

    /// A git scratch tree still belongs to its source: a source made
    /// anew at the same path (a fresh clone) no longer knows the worktree,
    /// and git refuses to work in it.
    fn worktree_intact(&self) -> bool {
        match &self.base {
            Base::Plain { .. } => true,
            Base::Git { .. } => {
                let mut cmd = git(&self.tree);
                cmd.args(["rev-parse", "--verify", "HEAD"]);
                checked(&mut cmd).is_ok()
            }
        }
    }

    /// A fresh tree at the base.
    fn create(&mut self) -> Result<(), ApplyError> {
        self.discard_tree()?;
        match &self.base {
            Base::Git { commit } => {
                let mut cmd = git(&self.source);
                cmd.args(["worktree", "add", "--detach"])
                    .arg(&self.tree)
                    .arg(commit);
                checked(&mut cmd)?;
            }
            Base::Plain { .. } => {
                let mut cmd = Command::new("cp");
                cmd.arg("-al").arg(&self.source).arg(&self.tree);
                if let Err(e) = checked(&mut cmd) {
                    // Another filesystem: hard links cannot cross it.
                    self.notes.push(format!(
                        "hard-link copy failed ({e}); made a full copy instead"
                    ));
                    self.discard_tree()?;
                    let mut cmd = Command::new("cp");
                    cmd.arg("-a").arg(&self.source).arg(&self.tree);
                    checked(&mut cmd)?;
                }
            }
        }
        self.applied.clear();
        Ok(())
    }

    /// The source moved on (new commit, changed files) since `old`.
    fn rebase(&mut self, old: &State) -> Result<(), ApplyError> {
        match (&self.base, &old.base) {
            (Base::Git { commit }, Base::Git { .. }) => {
                // Checking out over the old worktree rewrites only what
                // differs, which keeps the next build incremental.
                let mut cmd = git(&self.tree);
                cmd.args(["checkout", "--force", "--detach"]).arg(commit);
                let ok = checked(&mut cmd).is_ok() && {
                    let mut clean = git(&self.tree);
                    clean.args(["clean", "-fdq"]);
                    checked(&mut clean).is_ok()
                };
                if !ok {
                    self.create()?;
                }
                self.applied.clear();
                Ok(())
            }
            _ => self.reset(old),
        }
    }

    /// Makes the tree anew; files the old state's patches touched get a
    /// fresh mtime, so a build directory made from the patched tree does
    /// not take the restored files for up to date.
    fn reset(&mut self, old: &State) -> Result<(), ApplyError> {
        self.create()?;
        for a in &old.applied {
            for f in &a.files {
                let path = self.tree.join(f);
                if path.is_file() {
                    unshare(&path)?;
                }
            }
        }
        Ok(())
    }

    fn discard_tree(&self) -> Result<(), ApplyError> {
        if let Base::Git { .. } = self.base {
            let mut cmd = git(&self.source);
            cmd.args(["worktree", "remove", "--force"]).arg(&self.tree);
            let _ = run(&mut cmd);
            let mut prune = git(&self.source);
            prune.args(["worktree", "prune"]);
            let _ = run(&mut prune);
        }
        if self.tree.symlink_metadata().is_ok() {
            std::fs::remove_dir_all(&self.tree)
                .map_err(|e| ApplyError::io("cannot remove old scratch tree", &self.tree, e))?;
        }
        Ok(())
    }

    fn patch_file(&self, sha: &str, diff: &str) -> Result<PathBuf, ApplyError> {
        let dir = self.slot.join("patches");
        std::fs::create_dir_all(&dir).map_err(|e| ApplyError::io("cannot create", &dir, e))?;
        let file = dir.join(format!("{sha}.patch"));
        if !file.is_file() {
            std::fs::write(&file, diff).map_err(|e| ApplyError::io("cannot write", &file, e))?;
        }
        Ok(file)
    }

    fn git_apply(&self, file: &Path, strip: usize, reverse: bool) -> Result<Output, ApplyError> {
        let mut cmd = Command::new("git");
        cmd.current_dir(&self.tree)
            .arg("apply")
            .arg(format!("-p{strip}"))
            .arg("--whitespace=nowarn");
        if reverse {
            cmd.arg("--reverse");
        }
        cmd.arg(file);
        if let Base::Plain { .. } = self.base {
            // A plain tree under some git checkout must not be taken for a
            // subdirectory of it: git would skip the paths outside it.
            cmd.env("GIT_CEILING_DIRECTORIES", &self.slot);
        }
        run(&mut cmd)
    }
}

fn hash_of(applied: &[Applied]) -> String {
    if applied.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    for a in applied {
        s.push_str(&a.sha256);
        s.push('\n');
    }
    sha256_hex(s.as_bytes())
}

/// The first free slot of `key`, locked.
fn lock_slot(root: &Path, key: &str) -> Result<(PathBuf, File), ApplyError> {
    for n in 0..SLOTS {
        let slot = if n == 0 {
            root.join(key)
        } else {
            root.join(format!("{key}.{n}"))
        };
        std::fs::create_dir_all(&slot).map_err(|e| ApplyError::io("cannot create", &slot, e))?;
        let path = slot.join("lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ApplyError::io("cannot open", &path, e))?;
        if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            return Ok((slot, f));
        }
    }
    Err(ApplyError::Source {
        path: root.join(key),
        why: format!("all {SLOTS} scratch trees of this source are in use by other processes"),
    })
}

/// Replaces a (possibly hard-linked) file by a copy of itself: a new inode
/// with a new mtime, the other links untouched.
fn unshare(path: &Path) -> Result<(), ApplyError> {
    let tmp = path.with_extension("kharness-tmp");
    std::fs::copy(path, &tmp).map_err(|e| ApplyError::io("cannot copy", path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ApplyError::io("cannot replace", path, e))
}

/// The commit of a tree that has its own `.git`, or None for a plain
/// directory (including one that merely sits inside some checkout).
fn git_commit(source: &Path) -> Result<Option<String>, ApplyError> {
    if !source.join(".git").exists() {
        return Ok(None);
    }
    let mut cmd = git(source);
    cmd.args(["rev-parse", "--verify", "HEAD^{commit}"]);
    let out = checked(&mut cmd)?;
    Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()))
}

fn git_dirty(source: &Path) -> Result<bool, ApplyError> {
    let mut cmd = git(source);
    cmd.args(["status", "--porcelain", "--untracked-files=no"]);
    let out = checked(&mut cmd)?;
    Ok(!out.stdout.is_empty())
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    cmd
}

fn render(cmd: &Command) -> String {
    crate::support::quote::display_argv(std::iter::once(cmd.get_program()).chain(cmd.get_args()))
}

/// git and cp run supervised: their own process group, dying with
/// kharness, stopped on Ctrl-C.
fn run(cmd: &mut Command) -> Result<Output, ApplyError> {
    crate::support::process::output(cmd).map_err(|source| ApplyError::Spawn {
        command: render(cmd),
        source,
    })
}

fn checked(cmd: &mut Command) -> Result<Output, ApplyError> {
    let out = run(cmd)?;
    if out.status.success() {
        return Ok(out);
    }
    Err(ApplyError::Tool {
        command: render(cmd),
        status: out.status.to_string(),
        stderr: tail(&String::from_utf8_lossy(&out.stderr), 20),
    })
}

fn tool_output(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    tail(&s, 40)
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Names the patch, file and hunk from `git apply`'s complaint.
fn does_not_apply(patch: &Patch, out: &Output) -> ApplyError {
    let output = tool_output(out);
    let mut file = None;
    let mut hunk = None;
    for line in output.lines() {
        let line = line.trim();
        // error: patch failed: fs/splice.c:397
        if let Some(rest) = line.strip_prefix("error: patch failed: ")
            && let Some((f, n)) = rest.rsplit_once(':')
        {
            file = Some(f.to_owned());
            hunk = n
                .parse::<u64>()
                .ok()
                .and_then(|n| patch.hunk_at(f, n))
                .map(str::to_owned);
            break;
        }
        // error: fs/nothere.c: No such file or directory
        // error: fs/new.c: already exists in working directory
        if let Some(rest) = line.strip_prefix("error: ")
            && let Some((f, _)) = rest.split_once(": ")
            && patch.files.iter().any(|p| p == f)
        {
            file = Some(f.to_owned());
            break;
        }
    }
    ApplyError::DoesNotApply {
        index: patch.index,
        total: patch.total,
        subject: patch.subject.clone(),
        file,
        hunk,
        output,
    }
}

/// Hash over every entry of a plain tree: relative path, inode, size,
/// mtime. Cheap next to a copy (one stat per file) and changes whenever a
/// file is replaced, edited or added.
fn fingerprint(root: &Path) -> Result<String, ApplyError> {
    use std::os::unix::fs::MetadataExt;
    let mut h = crate::support::hash::Hasher::default();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| ApplyError::io("cannot read", &dir, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| ApplyError::io("cannot read", &dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let md = path
                .symlink_metadata()
                .map_err(|err| ApplyError::io("cannot stat", &path, err))?;
            let name = rel.join(e.file_name());
            h.update(name.as_os_str().as_encoded_bytes());
            h.update(
                format!(
                    "\0{}\0{}\0{}.{}\n",
                    md.ino(),
                    md.size(),
                    md.mtime(),
                    md.mtime_nsec()
                )
                .as_bytes(),
            );
            if md.is_dir() {
                stack.push(name);
            }
        }
    }
    Ok(h.hex())
}
