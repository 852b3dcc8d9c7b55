//! Reading the project's series and applying them with the real tools: `git
//! apply`, `git worktree`, `cp -al`. The tests on Debian's 6.12 source are
//! ignored in a quick `cargo test`; `ci/test.sh` runs them.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use kharness::series::{self, ApplyError, Base, ScratchTree, Series};

const DEBIAN_SRC: &str = "/usr/src/linux-source-6.12";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/series")
        .join(name)
}

fn read(rel: &str) -> Series {
    series::read(&repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn sha256_file(p: &Path) -> String {
    kharness::support::hash::sha256_hex(
        &std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
}

/// Path, inode, size and mtime of every entry under `root`: what a change
/// to the tree (a file written, replaced, added or removed) would alter.
fn stat_map(root: &Path) -> BTreeMap<PathBuf, (u64, u64, i64, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("readable source") {
            let e = e.expect("readable entry");
            let md = e.path().symlink_metadata().expect("stat");
            if md.is_dir() {
                stack.push(e.path());
            }
            out.insert(e.path(), (md.ino(), md.size(), md.mtime(), md.mtime_nsec()));
        }
    }
    out
}

/// The Debian source, with the content hash of the file the series patch
/// and a stat map of the whole tree, to compare after.
struct Pristine {
    root: PathBuf,
    splice_sha: String,
    stats: BTreeMap<PathBuf, (u64, u64, i64, i64)>,
}

impl Pristine {
    fn take() -> Self {
        let root = PathBuf::from(DEBIAN_SRC);
        assert!(
            root.join("fs/splice.c").is_file(),
            "{DEBIAN_SRC} is missing: ci/setup.sh installs and unpacks linux-source-6.12"
        );
        Pristine {
            splice_sha: sha256_file(&root.join("fs/splice.c")),
            stats: stat_map(&root),
            root,
        }
    }

    #[track_caller]
    fn assert_unchanged(&self) {
        assert_eq!(
            sha256_file(&self.root.join("fs/splice.c")),
            self.splice_sha,
            "the source's fs/splice.c changed"
        );
        let now = stat_map(&self.root);
        let changed: Vec<_> = now
            .iter()
            .filter(|(p, s)| self.stats.get(*p) != Some(*s))
            .map(|(p, _)| p)
            .chain(self.stats.keys().filter(|p| !now.contains_key(*p)))
            .take(5)
            .collect();
        assert!(changed.is_empty(), "the source tree changed: {changed:?}");
    }
}

#[test]
#[ignore = "needs /usr/src/linux-source-6.12; ci/test.sh runs it"]
fn good_series_apply_patch_by_patch_to_a_hard_link_copy_of_debian_612() {
    let pristine = Pristine::take();
    let cache = tempfile::tempdir().expect("a temp dir");
    for name in [
        "splice-fatal-signal",
        "demo-splice-regression",
        "perf-small-slowdown",
        "aa-comment-only",
    ] {
        let s = read(&format!("kernel-patches/{name}"));
        let t0 = Instant::now();
        let mut tree = ScratchTree::open(&pristine.root, cache.path()).expect("scratch tree");
        let opened = t0.elapsed();
        assert!(matches!(tree.base(), Base::Plain { .. }));
        assert_eq!(tree.patchset_hash(), "");
        let splice = tree.path().join("fs/splice.c");
        // A hard link of the source's file until a patch replaces it.
        assert_eq!(
            splice.metadata().expect("stat").ino(),
            pristine
                .root
                .join("fs/splice.c")
                .metadata()
                .expect("stat")
                .ino()
        );
        for (k, p) in s.patches.iter().enumerate() {
            let t = Instant::now();
            tree.apply(p).unwrap_or_else(|e| panic!("{name}: {e}"));
            eprintln!("{name}: patch {} applied in {:?}", p.index, t.elapsed());
            assert_eq!(tree.patchset_hash(), s.prefix_hash(k + 1));
        }
        pristine.assert_unchanged();
        eprintln!("{name}: scratch tree opened in {opened:?}");
        let text = std::fs::read_to_string(&splice).expect("patched file");
        match name {
            "splice-fatal-signal" => {
                assert!(
                    text.contains("\tif (fatal_signal_pending(current))\n\t\treturn -ERESTARTSYS;")
                );
                // The check before the wait keeps signal_pending().
                assert!(
                    text.contains("\t\tif (signal_pending(current))\n\t\t\treturn -ERESTARTSYS;")
                );
            }
            "perf-small-slowdown" => {
                assert!(text.contains("\t\tudelay(8);\n\t\twakeup_pipe_readers(opipe);"));
            }
            "aa-comment-only" => {
                // Reworded in place: not one line more or less.
                assert!(text.contains("Take a reference on this pipe buffer: both"));
                let lines = |t: &str| t.lines().count();
                let before = std::fs::read_to_string(pristine.root.join("fs/splice.c"))
                    .expect("the source's splice.c");
                assert_eq!(lines(&text), lines(&before));
            }
            _ => {
                assert!(text.contains("splice_warm_new_buffers(opipe, head);"));
                assert!(text.contains("obuf->len = len - 1;"));
            }
        }
        assert_ne!(sha256_file(&splice), pristine.splice_sha);
        tree.remove().expect("remove the scratch tree");
    }
    pristine.assert_unchanged();
}

#[test]
#[ignore = "needs /usr/src/linux-source-6.12; ci/test.sh runs it"]
fn broken_series_names_patch_2_its_file_and_hunk_and_keeps_patch_1() {
    let pristine = Pristine::take();
    let cache = tempfile::tempdir().expect("a temp dir");
    let s = read("kernel-patches/broken-second-patch");
    let mut tree = ScratchTree::open(&pristine.root, cache.path()).expect("scratch tree");
    let err = tree
        .checkout(&s.patches)
        .expect_err("patch 2 does not apply");
    let ApplyError::DoesNotApply {
        index,
        total,
        subject,
        file,
        hunk,
        output,
    } = &err
    else {
        panic!("not a DoesNotApply error: {err}");
    };
    assert_eq!((*index, *total), (2, 2));
    assert_eq!(
        subject,
        "splice: document the -EFAULT to -EAGAIN mapping of splice reads"
    );
    assert_eq!(file.as_deref(), Some("fs/splice.c"));
    assert_eq!(
        hunk.as_deref(),
        Some(
            "@@ -397,9 +398,10 @@ ssize_t generic_file_splice_read(struct file *in, loff_t *ppos,"
        )
    );
    assert!(
        output.contains("error: patch failed: fs/splice.c:397"),
        "{output}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "patch 2/2 \"splice: document the -EFAULT to -EAGAIN mapping of splice reads\" does not apply: fs/splice.c: hunk @@ -397,9 +398,10 @@"
        ),
        "{msg}"
    );
    eprintln!("{msg}");
    // Patch 1 stays applied; patch 2 left nothing behind (not even its
    // first hunk, which would have applied).
    assert_eq!(tree.applied().len(), 1);
    assert_eq!(tree.patchset_hash(), s.prefix_hash(1));
    let text = std::fs::read_to_string(tree.path().join("fs/splice.c")).expect("patched");
    assert!(text.contains("-EAGAIN for a\n *    nonblocking splice from an empty pipe"));
    assert!(!text.contains("never -EFAULT"));
    assert!(!tree.path().join("fs/splice.c.rej").exists());
    // The error maps to exit code 3 (infrastructure).
    let top: kharness::error::Error = err.into();
    assert_eq!(top.exit_code(), kharness::error::ExitCode::Infra);
    pristine.assert_unchanged();
}

#[test]
#[ignore = "needs /usr/src/linux-source-6.12; ci/test.sh runs it"]
fn a_scratch_tree_is_reused_for_the_same_source_and_moves_between_prefixes() {
    let pristine = Pristine::take();
    let cache = tempfile::tempdir().expect("a temp dir");
    let s = read("kernel-patches/demo-splice-regression");
    let splice_after_1 = {
        let mut tree = ScratchTree::open(&pristine.root, cache.path()).expect("scratch tree");
        assert_eq!(tree.checkout(&s.patches[..1]).expect("patch 1"), 1);
        sha256_file(&tree.path().join("fs/splice.c"))
    };
    // Reopened: it remembers patch 1 and applies only 2 and 3.
    let t = Instant::now();
    let mut tree = ScratchTree::open(&pristine.root, cache.path()).expect("reopen");
    eprintln!("reopened in {:?}", t.elapsed());
    assert_eq!(tree.applied().len(), 1);
    assert_eq!(tree.checkout(&s.patches).expect("all"), 2);
    assert_eq!(tree.patchset_hash(), s.prefix_hash(3));
    // Back to patch 1: patches 3 and 2 are reverted, nothing applied.
    assert_eq!(tree.checkout(&s.patches[..1]).expect("back to 1"), 0);
    assert_eq!(
        sha256_file(&tree.path().join("fs/splice.c")),
        splice_after_1
    );
    // A different series on the same source: back to the base, then its
    // patches.
    let other = read("kernel-patches/splice-fatal-signal");
    assert_eq!(tree.checkout(&other.patches).expect("other series"), 2);
    assert_eq!(tree.patchset_hash(), other.prefix_hash(2));
    // While this one is open, a second user of the same source gets a
    // second slot, at the base.
    let second = ScratchTree::open(&pristine.root, cache.path()).expect("second slot");
    assert_ne!(second.path(), tree.path());
    assert_eq!(
        sha256_file(&second.path().join("fs/splice.c")),
        pristine.splice_sha
    );
    drop(second);
    tree.checkout(&[]).expect("back to the base");
    assert_eq!(
        sha256_file(&tree.path().join("fs/splice.c")),
        pristine.splice_sha
    );
    pristine.assert_unchanged();
}

/// A small plain tree for the widget series of the thread fixture.
fn widget_tree(dir: &Path) -> PathBuf {
    let src = dir.join("widget-src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("widget.c"), "int widgets;\nint gadgets;\n").expect("write");
    src
}

#[test]
fn a_plain_tree_is_patched_in_a_hard_link_copy_and_left_alone() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let src = widget_tree(dir.path());
    let before = stat_map(&src);
    let s = series::read(&fixture("thread-v1-v2.txt")).expect("reads");
    let mut tree = ScratchTree::open(&src, &dir.path().join("cache")).expect("scratch tree");
    assert_eq!(tree.checkout(&s.patches).expect("applies"), 2);
    assert_eq!(
        std::fs::read_to_string(tree.path().join("widget.c")).expect("read"),
        "int widgets;\nunsigned int frobs;\nint gadgets;\nvoid print(void) { }\n"
    );
    assert_eq!(
        std::fs::read_to_string(src.join("widget.c")).expect("read"),
        "int widgets;\nint gadgets;\n"
    );
    assert_eq!(stat_map(&src), before);
    // A changed source makes a fresh copy at the next open.
    drop(tree);
    std::fs::write(src.join("other.c"), "new\n").expect("write");
    let tree = ScratchTree::open(&src, &dir.path().join("cache")).expect("reopen");
    assert!(tree.applied().is_empty());
    assert!(tree.path().join("other.c").is_file());
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_git_tree_gets_a_detached_worktree_and_its_checkout_is_untouched() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let src = widget_tree(dir.path());
    git(&src, &["init", "-q"]);
    git(&src, &["add", "widget.c"]);
    git(
        &src,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "commit",
            "-qm",
            "base",
        ],
    );
    let head = git(&src, &["rev-parse", "HEAD"]);
    // An uncommitted edit: the scratch tree has HEAD only, and says so.
    std::fs::write(src.join("widget.c"), "int widgets;\nint gadgets;\n// wip\n").expect("write");
    let s = series::read(&fixture("thread-v1-v2.txt")).expect("reads");
    let mut tree = ScratchTree::open(&src, &dir.path().join("cache")).expect("scratch tree");
    assert_eq!(
        tree.base(),
        &Base::Git {
            commit: head.clone()
        }
    );
    assert!(
        tree.notes().iter().any(|n| n.contains("uncommitted")),
        "{:?}",
        tree.notes()
    );
    tree.checkout(&s.patches).expect("applies");
    assert!(
        std::fs::read_to_string(tree.path().join("widget.c"))
            .expect("read")
            .contains("unsigned int frobs;")
    );
    assert_eq!(git(&src, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&src, &["status", "--porcelain"]), "M widget.c");
    assert!(git(&src, &["worktree", "list"]).contains("(detached HEAD)"));
    // A patch that does not apply names itself, the file and the hunk.
    let stale = series::read(&fixture("thread-v1-v2.txt")).expect("reads");
    let mut p = stale.patches[0].clone();
    p.index = 3;
    p.total = 3;
    let err = tree.apply(&p).expect_err("already applied");
    assert!(
        err.to_string().starts_with(
            "patch 3/3 \"widget: add an unsigned frob counter\" does not apply: widget.c: hunk @@ -1,2 +1,3 @@ rejected"
        ),
        "{err}"
    );
    tree.remove().expect("remove");
    assert!(!git(&src, &["worktree", "list"]).contains("detached"));
}

/// A git widget tree with one commit (fixed dates: the same id every
/// time); returns its id.
fn widget_repo(src: &Path) -> String {
    git(src, &["init", "-q"]);
    git(src, &["add", "widget.c"]);
    let ok = Command::new("git")
        .arg("-C")
        .arg(src)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(["commit", "-qm", "base"])
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .status()
        .expect("git runs")
        .success();
    assert!(ok, "git commit");
    git(src, &["rev-parse", "HEAD"])
}

#[test]
fn a_worktree_at_a_commit_survives_its_source_being_cloned_anew_at_the_same_path() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let cache = dir.path().join("cache");
    let src = widget_tree(dir.path());
    let head = widget_repo(&src);
    // The source's own checkout moves on; the worktree stays at `head`.
    std::fs::write(src.join("widget.c"), "moved on\n").expect("write");
    git(
        &src,
        &["commit", "-qam", "later", "--author", "t <t@example.org>"],
    );
    let s = series::read(&fixture("thread-v1-v2.txt")).expect("reads");
    let mut tree = ScratchTree::open_at(&src, &cache, &head).expect("scratch tree");
    assert_eq!(
        tree.base(),
        &Base::Git {
            commit: head.clone()
        }
    );
    tree.checkout(&s.patches[..1])
        .expect("applies on the old commit");
    drop(tree);
    // The same path made anew (same commit id): the old worktree belongs to
    // a repository that is gone, and is replaced, not used.
    std::fs::remove_dir_all(&src).expect("rm");
    let src = widget_tree(dir.path());
    assert_eq!(widget_repo(&src), head, "the same commit again");
    let mut tree = ScratchTree::open_at(&src, &cache, &head).expect("reopen");
    tree.checkout(&s.patches)
        .expect("applies in a fresh worktree");
    assert!(git(&src, &["worktree", "list"]).contains("(detached HEAD)"));
    tree.remove().expect("remove");
}
