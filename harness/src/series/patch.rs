//! A series and its patches, their hashes, and what a `[PATCH v2 3/4]`
//! subject says.

use std::path::{Path, PathBuf};

use crate::support::hash::{Hasher, sha256_hex};

use super::manifest::Manifest;

/// Where a series was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesFormat {
    /// A directory with a quilt `series` file.
    Quilt,
    /// A directory of `git format-patch` files (`0001-*.patch`, ...).
    FormatPatchDir,
    /// A single mbox holding one or more messages.
    Mbox,
    /// A lore-style thread archive (the text of a lore thread page).
    LoreThread,
    /// The commits of a git range, `BASE..TIP`.
    GitRange,
    /// A working tree against a base commit (`run --tree --base`).
    WorkingTree,
}

/// One patch of a series.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Patch {
    /// 1-based position in the series.
    pub index: usize,
    /// Number of patches in the series.
    pub total: usize,
    /// The subject without `Re:`/`[PATCH ...]` tags.
    pub subject: String,
    /// `Name <address>` from the mail (only the name in a lore thread
    /// page), or none for a bare diff.
    pub author: Option<String>,
    /// The date as the mail gives it.
    pub date: Option<String>,
    /// The commit message: the text before the `---` line or the diff.
    pub message: String,
    /// The diff, from its first `diff`/`---` line to its last hunk line,
    /// newline-terminated. This is what is applied and hashed.
    pub diff: String,
    /// Files the diff touches (new names, `-p` prefix stripped).
    pub files: Vec<String>,
    /// Hex sha256 of `diff`.
    pub sha256: String,
    /// `-p` level to apply with (quilt option; 1 otherwise).
    pub strip: usize,
    /// The file it came from and the line its message or diff starts at.
    pub origin: PathBuf,
    pub line: usize,
    /// The rejected-hunk lookup needs each hunk's header and file.
    #[serde(skip)]
    pub(crate) hunks: Vec<super::diff::Hunk>,
}

impl Patch {
    /// The `@@` line of the hunk of `file` that starts at old line
    /// `old_start`, as `git apply` names a rejected hunk.
    pub fn hunk_at(&self, file: &str, old_start: u64) -> Option<&str> {
        self.hunks
            .iter()
            .find(|h| h.file == file && h.old_start == old_start)
            .map(|h| h.header.as_str())
    }

    /// The `@@` line of the `n`th (1-based) hunk of `file`, as GNU patch
    /// names a rejected hunk.
    pub fn nth_hunk(&self, file: &str, n: usize) -> Option<&str> {
        self.hunks
            .iter()
            .filter(|h| h.file == file)
            .nth(n.checked_sub(1)?)
            .map(|h| h.header.as_str())
    }

    /// `2/3 "subject"`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{} \"{}\"", self.index, self.total, self.subject)
    }
}

/// A patch series, read and checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    /// From `series.toml`, else the cover letter's subject, else the
    /// directory or file name.
    pub name: String,
    /// What was read: the directory or the file.
    pub origin: PathBuf,
    pub format: SeriesFormat,
    /// The revision taken from a thread (`[PATCH v2 ...]` is 2; 1 when
    /// unnumbered).
    pub version: u32,
    pub patches: Vec<Patch>,
    /// The directory's `series.toml`, if it has one.
    pub manifest: Option<Manifest>,
    /// Things a person may want to know: replies skipped, an older
    /// revision left out, a duplicate message ignored.
    pub notes: Vec<String>,
}

impl Series {
    /// `patchset_hash` of the first `k` patches (0 is the base).
    pub fn prefix_hash(&self, k: usize) -> String {
        patchset_hash(&self.patches[..k.min(self.patches.len())])
    }

    /// The patchset hash of every prefix, from the base (index 0) to the
    /// whole series (index n).
    pub fn prefix_hashes(&self) -> Vec<String> {
        (0..=self.patches.len())
            .map(|k| self.prefix_hash(k))
            .collect()
    }
}

/// KernelCI's (KCIDB) `patchset_hash`: the sha256 over the newline-
/// terminated hex sha256 of each patch, in order of application, i.e.
/// `sha256sum *.patch | cut -c-64 | sha256sum`, with each patch's hash
/// taken over its diff (so the same series hashes the same whether it came
/// from a mailbox or a directory). The empty set is the empty string, as
/// KCIDB has it for a checkout without patches.
pub fn patchset_hash(patches: &[Patch]) -> String {
    if patches.is_empty() {
        return String::new();
    }
    let mut h = Hasher::default();
    for p in patches {
        h.update(&p.sha256).update(b"\n");
    }
    h.hex()
}

/// What a mail subject says about the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `Re:`, `Fwd:` and the like: a reply, never a patch of the series.
    pub reply: bool,
    /// The leading tags name a patch (`PATCH`, `RFC`, `PATCHv2`, ...).
    pub tagged_patch: bool,
    /// `v2` -> 2; 1 when absent.
    pub version: u32,
    /// `3/4` -> (3, 4).
    pub position: Option<(usize, usize)>,
    /// The rest, without tags.
    pub title: String,
}

/// Parses `Re: [PATCH net-next v2 03/12] foo: bar`.
pub fn parse_subject(raw: &str) -> Subject {
    let mut s = collapse_ws(raw);
    let mut reply = false;
    loop {
        let lower = s.to_ascii_lowercase();
        let prefix = ["re:", "aw:", "sv:", "fwd:", "fw:"]
            .iter()
            .find(|p| lower.starts_with(*p));
        match prefix {
            Some(p) => {
                reply = true;
                s = s[p.len()..].trim_start().to_owned();
            }
            None => break,
        }
    }
    let mut tagged_patch = false;
    let mut version = 1;
    let mut position = None;
    while let Some(rest) = s.strip_prefix('[') {
        let Some(close) = rest.find(']') else { break };
        let tags = &rest[..close];
        for tag in tags.split([' ', ',']).filter(|t| !t.is_empty()) {
            let upper = tag.to_ascii_uppercase();
            if upper == "PATCH" || upper == "RFC" || upper == "RESEND" {
                tagged_patch = true;
            }
            let v = upper
                .strip_prefix("PATCHV")
                .or_else(|| upper.strip_prefix('V'));
            if let Some(n) = v.and_then(|v| v.parse::<u32>().ok()) {
                if upper.starts_with("PATCH") {
                    tagged_patch = true;
                }
                version = n;
            }
            if let Some((a, b)) = tag.split_once('/')
                && let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>())
            {
                position = Some((a, b));
            }
        }
        s = rest[close + 1..].trim_start().to_owned();
    }
    Subject {
        reply,
        tagged_patch,
        version,
        position,
        title: s,
    }
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits `text` into lines without their `\r\n`/`\n`.
pub(crate) fn split_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n')
        .map(|l| l.trim_end_matches('\n').trim_end_matches('\r'))
        .collect()
}

/// Builds a patch from the body of a mail or a patch file: finds and checks
/// the diff, cuts the commit message, hashes the diff. `first_line` is the
/// 1-based line of `body` in `path`, for errors.
pub(crate) fn build_patch(
    path: &Path,
    first_line: usize,
    subject: String,
    author: Option<String>,
    date: Option<String>,
    body: &str,
    strip: usize,
) -> Result<Patch, super::SeriesError> {
    let lines = split_lines(body);
    let Some(start) = super::diff::find_start(&lines) else {
        return Err(super::SeriesError::NoDiff {
            path: path.to_path_buf(),
            line: first_line,
            subject,
        });
    };
    let scan =
        super::diff::scan(&lines, start, strip).map_err(|m| super::SeriesError::MalformedDiff {
            path: path.to_path_buf(),
            line: first_line + m.line,
            why: m.why,
        })?;
    let mut diff = lines[scan.start..scan.end].join("\n");
    diff.push('\n');
    let message_end = lines[..start]
        .iter()
        .position(|l| *l == "---")
        .unwrap_or(start);
    let message = lines[..message_end].join("\n").trim().to_owned();
    Ok(Patch {
        index: 0,
        total: 0,
        subject,
        author,
        date,
        message,
        sha256: sha256_hex(diff.as_bytes()),
        diff,
        files: scan.files,
        strip,
        origin: path.to_path_buf(),
        line: first_line,
        hunks: scan.hunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        let s = parse_subject("[PATCH 2/4] fs/splice: allow to ignore signal");
        assert_eq!(
            (s.reply, s.tagged_patch, s.version, s.position),
            (false, true, 1, Some((2, 4)))
        );
        assert_eq!(s.title, "fs/splice: allow to ignore signal");
        let s = parse_subject("Re: [PATCH v2 3/4] io_uring: add");
        assert!(s.reply);
        assert_eq!((s.version, s.position), (2, Some((3, 4))));
        let s = parse_subject("[PATCH net-next v3 01/12] net:\n  folded subject");
        assert_eq!((s.version, s.position), (3, Some((1, 12))));
        assert_eq!(s.title, "net: folded subject");
        let s = parse_subject("[RFC PATCHv4 0/2] cover");
        assert!(s.tagged_patch);
        assert_eq!((s.version, s.position), (4, Some((0, 2))));
        let s = parse_subject("[PATCH] single");
        assert_eq!((s.tagged_patch, s.position), (true, None));
        let s = parse_subject("RE: AW: [PATCH 1/2] x");
        assert!(s.reply);
        assert_eq!(s.title, "x");
        let s = parse_subject("[GIT PULL] not a patch");
        assert!(!s.tagged_patch);
    }

    fn patch_with(sha: &str) -> Patch {
        Patch {
            index: 1,
            total: 1,
            subject: String::new(),
            author: None,
            date: None,
            message: String::new(),
            diff: String::new(),
            files: vec![],
            sha256: sha.into(),
            strip: 1,
            origin: PathBuf::new(),
            line: 1,
            hunks: vec![],
        }
    }

    #[test]
    fn patchset_hash_is_kcidbs() {
        // printf 'aaa\nbbb\n' | sha256sum
        let p = [patch_with("aaa"), patch_with("bbb")];
        assert_eq!(patchset_hash(&p), sha256_hex(b"aaa\nbbb\n"));
        assert_eq!(
            patchset_hash(&p),
            "46fc473c1332d06d55a91c357c58d1472f9b35008d40a8f8c2ce230e9b051618"
        );
        assert_eq!(patchset_hash(&p[..1]), sha256_hex(b"aaa\n"));
        assert_eq!(patchset_hash(&[]), "");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn build_patch_cuts_message_diffstat_and_signature() {
        let body = "Why.\n\nSigned-off-by: A <a@b>\n---\n x | 2 +-\n\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n-- \n2.47.3\n\n";
        let p =
            build_patch(Path::new("p"), 7, "s".into(), None, None, body, 1).expect("a good patch");
        assert_eq!(p.message, "Why.\n\nSigned-off-by: A <a@b>");
        assert_eq!(
            p.diff,
            "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
        );
        assert_eq!(p.files, ["x"]);
        assert_eq!(p.sha256, sha256_hex(p.diff.as_bytes()));
        assert_eq!(p.hunk_at("x", 1), Some("@@ -1 +1 @@"));
        assert_eq!(p.nth_hunk("x", 1), Some("@@ -1 +1 @@"));
        assert_eq!(p.nth_hunk("x", 2), None);
    }

    #[test]
    fn malformed_diff_error_names_the_file_line() {
        let body = "msg\n---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n";
        let err = build_patch(
            Path::new("dir/p.patch"),
            10,
            "s".into(),
            None,
            None,
            body,
            1,
        )
        .expect_err("cut short");
        assert_eq!(
            err.to_string(),
            "dir/p.patch:15: malformed diff: hunk `@@ -1,2 +1,2 @@` is cut short: the input ends with 1 old and 2 new lines missing"
        );
    }
}
