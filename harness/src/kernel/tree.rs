//! A working tree as it is, uncommitted changes included, mirrored under
//! the cache so it can be built without writing a byte into it.
//!
//! The mirror is made of hard links to the tree's files (copies when the
//! cache is on another filesystem), refreshed on every use: a file whose
//! inode (or, for a copy, size and mtime) is unchanged is left alone, any
//! other is linked anew, and what the tree no longer has is removed. Files
//! keep their mtimes, so a build directory beside the mirror stays
//! incremental. The mirror sits at `<slot>/tree` with builds in
//! `<slot>/build`, the same layout as a series' scratch trees, so ccache
//! shares objects between them (see
//! [`BuildSpec::build_root`](super::build::BuildSpec::build_root)).
//!
//! The top-level `.git` is not mirrored: a build does not read it.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a working tree could not be mirrored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("mirroring interrupted")]
    Interrupted,
}

impl crate::error::OpError for SnapshotError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::Infra
    }

    fn interrupted(&self) -> bool {
        matches!(self, SnapshotError::Interrupted)
    }
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// What a refresh did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SyncStats {
    /// Files linked or copied anew (all of them the first time).
    pub linked: usize,
    /// Entries removed because the tree no longer has them.
    pub removed: usize,
    /// Files left as they were.
    pub kept: usize,
}

/// A refreshed mirror of a working tree; holds the lock on it while it
/// lives, so a second kharness waits instead of refreshing it under a
/// running build.
#[derive(Debug)]
pub struct TreeSnapshot {
    slot: PathBuf,
    source: PathBuf,
    pub stats: SyncStats,
    _lock: File,
}

impl TreeSnapshot {
    /// Mirrors `source` (a directory, canonicalized by the caller or not)
    /// under `cache_dir/trees/`, one mirror per source path.
    pub fn refresh(
        source: &Path,
        cache_dir: &Path,
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<Self, SnapshotError> {
        let source = source
            .canonicalize()
            .map_err(io("cannot resolve", source))?;
        let slot = cache_dir
            .join("trees")
            .join(super::build::source_key(&source));
        std::fs::create_dir_all(&slot).map_err(io("cannot create", &slot))?;
        let lock = super::build::lock(&slot.join("lock"), cancel).map_err(|e| match e {
            super::build::BuildError::Interrupted => SnapshotError::Interrupted,
            _ => SnapshotError::Io {
                what: "cannot lock",
                path: slot.join("lock"),
                source: std::io::Error::other(e.to_string()),
            },
        })?;
        let mut stats = SyncStats::default();
        sync_dir(&source, &slot.join("tree"), true, &mut stats, cancel)?;
        Ok(TreeSnapshot {
            slot,
            source,
            stats,
            _lock: lock,
        })
    }

    /// The mirror: build from here.
    pub fn path(&self) -> PathBuf {
        self.slot.join("tree")
    }

    /// The tree it mirrors (canonical).
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Where builds of the mirror keep their directories.
    pub fn build_root(&self) -> PathBuf {
        self.slot.join("build")
    }

    /// A place for files of this mirror's own (kept images).
    pub fn slot(&self) -> &Path {
        &self.slot
    }
}

/// Makes `dst` hold what `src` holds, by hard links where it can.
fn sync_dir(
    src: &Path,
    dst: &Path,
    top: bool,
    stats: &mut SyncStats,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<(), SnapshotError> {
    if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
        return Err(SnapshotError::Interrupted);
    }
    match std::fs::symlink_metadata(dst) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            remove(dst)?;
            std::fs::create_dir(dst).map_err(io("cannot create", dst))?;
        }
        Err(_) => std::fs::create_dir_all(dst).map_err(io("cannot create", dst))?,
    }
    let mut seen: HashSet<OsString> = HashSet::new();
    for entry in std::fs::read_dir(src).map_err(io("cannot read", src))? {
        let entry = entry.map_err(io("cannot read", src))?;
        let name = entry.file_name();
        if top && name == ".git" {
            continue;
        }
        let (s, d) = (entry.path(), dst.join(&name));
        let meta = std::fs::symlink_metadata(&s).map_err(io("cannot stat", &s))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            sync_dir(&s, &d, false, stats, cancel)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&s).map_err(io("cannot read link", &s))?;
            if std::fs::read_link(&d).ok().as_ref() != Some(&target) {
                if std::fs::symlink_metadata(&d).is_ok() {
                    remove(&d)?;
                }
                std::os::unix::fs::symlink(&target, &d).map_err(io("cannot link", &d))?;
                stats.linked += 1;
            } else {
                stats.kept += 1;
            }
        } else if ft.is_file() {
            let old = std::fs::symlink_metadata(&d).ok();
            if old.as_ref().is_some_and(|m| same_file(&meta, m)) {
                stats.kept += 1;
            } else {
                if old.is_some() {
                    remove(&d)?;
                }
                // A file replaced by one no newer (restored from a backup,
                // `cp -p`, a fresh copy of the tree) would look older than
                // the objects built from the one before: make would keep
                // them. A copy with a fresh mtime makes it rebuild.
                let older = old.as_ref().is_some_and(|m| {
                    (meta.mtime(), meta.mtime_nsec()) <= (m.mtime(), m.mtime_nsec())
                });
                if older {
                    std::fs::copy(&s, &d).map_err(io("cannot copy to", &d))?;
                } else {
                    link_or_copy(&s, &d, &meta)?;
                }
                stats.linked += 1;
            }
        } else {
            // Sockets and fifos are no part of a build.
            continue;
        }
        seen.insert(name);
    }
    for entry in std::fs::read_dir(dst).map_err(io("cannot read", dst))? {
        let entry = entry.map_err(io("cannot read", dst))?;
        if !seen.contains(&entry.file_name()) {
            remove(&entry.path())?;
            stats.removed += 1;
        }
    }
    Ok(())
}

/// The mirror's file is the tree's: the same inode, or a copy of the same
/// size and mtime.
fn same_file(src: &std::fs::Metadata, dst: &std::fs::Metadata) -> bool {
    dst.is_file()
        && ((src.dev(), src.ino()) == (dst.dev(), dst.ino())
            || (src.len() == dst.len()
                && (src.mtime(), src.mtime_nsec()) == (dst.mtime(), dst.mtime_nsec())))
}

fn link_or_copy(src: &Path, dst: &Path, meta: &std::fs::Metadata) -> Result<(), SnapshotError> {
    if std::fs::hard_link(src, dst).is_ok() {
        return Ok(());
    }
    // Another filesystem: a copy with the tree's mtime, so make sees it
    // as old as the original.
    std::fs::copy(src, dst).map_err(io("cannot copy to", dst))?;
    let mtime = meta.modified().map_err(io("cannot stat", src))?;
    File::options()
        .write(true)
        .open(dst)
        .and_then(|f| f.set_modified(mtime))
        .map_err(io("cannot set mtime of", dst))
}

fn remove(path: &Path) -> Result<(), SnapshotError> {
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    if is_dir {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
    .map_err(io("cannot remove", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn the_mirror_follows_edits_additions_and_removals_without_writing_the_tree() {
        let d = tempfile::tempdir().unwrap();
        let (src, cache) = (d.path().join("linux"), d.path().join("cache"));
        write(&src.join("fs/splice.c"), "int a;\n");
        write(&src.join("Makefile"), "all:\n");
        write(&src.join("gone/x.h"), "x\n");
        write(&src.join(".git/HEAD"), "ref\n");
        std::os::unix::fs::symlink("fs/splice.c", src.join("link")).unwrap();
        let snap = TreeSnapshot::refresh(&src, &cache, None).unwrap();
        let m = snap.path();
        assert_eq!(snap.stats.linked, 4, "{:?}", snap.stats);
        assert!(!m.join(".git").exists(), "the tree's .git is not mirrored");
        assert_eq!(
            std::fs::read_link(m.join("link")).unwrap(),
            Path::new("fs/splice.c")
        );
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&m.join("Makefile")), ino(&src.join("Makefile")));
        drop(snap);

        // An editor writes a new file and renames it over the old one.
        write(&src.join("fs/splice.c.new"), "int b;\n");
        std::fs::rename(src.join("fs/splice.c.new"), src.join("fs/splice.c")).unwrap();
        std::fs::remove_dir_all(src.join("gone")).unwrap();
        write(&src.join("new.c"), "n\n");
        let snap = TreeSnapshot::refresh(&src, &cache, None).unwrap();
        assert_eq!(
            snap.stats,
            SyncStats {
                linked: 2,
                removed: 1,
                kept: 2
            }
        );
        assert_eq!(
            std::fs::read_to_string(m.join("fs/splice.c")).unwrap(),
            "int b;\n"
        );
        assert!(!m.join("gone").exists());
        assert!(m.join("new.c").is_file());
        drop(snap);

        // A file put back with an older mtime (cp -p of a backup) must not
        // look older than what was built from the mirror before it.
        let before = std::fs::metadata(m.join("fs/splice.c"))
            .unwrap()
            .modified()
            .unwrap();
        write(&src.join("old.c"), "int a;\n");
        let f = std::fs::File::options()
            .write(true)
            .open(src.join("old.c"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        std::fs::rename(src.join("old.c"), src.join("fs/splice.c")).unwrap();
        let snap = TreeSnapshot::refresh(&src, &cache, None).unwrap();
        let now = std::fs::metadata(m.join("fs/splice.c"))
            .unwrap()
            .modified()
            .unwrap();
        assert!(
            now >= before,
            "the mirror's copy is not older than the file it replaced"
        );
        assert_eq!(
            std::fs::read_to_string(m.join("fs/splice.c")).unwrap(),
            "int a;\n"
        );
        assert_eq!(snap.build_root(), m.parent().unwrap().join("build"));
        // The tree itself holds only what the test put there.
        let mut names: Vec<_> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".git", "Makefile", "fs", "link", "new.c"]);
    }
}
