//! `read(path)`: a series from a quilt directory, a format-patch directory,
//! an mbox (gzipped too, as `b4 mbox` writes `t.mbox.gz`) or a lore thread
//! page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::mail::{self, Message};
use super::patch::{Patch, Series, SeriesFormat, build_patch, parse_subject};
use super::{SeriesError, lore, manifest};

/// The quilt file listing a directory's patches.
pub const QUILT_SERIES: &str = "series";
/// The optional description of a series directory.
pub const MANIFEST: &str = "series.toml";

/// Reads the series at `path`: a directory (quilt `series` file, else
/// `NNNN-*.patch` files) or a file (an mbox of one or more messages, or the
/// text of a lore thread page; either may be gzipped).
pub fn read(path: &Path) -> Result<Series, SeriesError> {
    let meta = std::fs::metadata(path).map_err(|e| SeriesError::io(path, e))?;
    if meta.is_dir() {
        read_dir(path)
    } else {
        read_mail_file(path)
    }
}

fn read_dir(dir: &Path) -> Result<Series, SeriesError> {
    let quilt = dir.join(QUILT_SERIES);
    let (format, mut patches, mut name, notes) = if quilt.is_file() {
        let (p, n) = read_quilt(dir, &quilt)?;
        (SeriesFormat::Quilt, p, None, n)
    } else {
        let (p, cover) = read_format_patch_dir(dir)?;
        (SeriesFormat::FormatPatchDir, p, cover, Vec::new())
    };
    let total = patches.len();
    for (i, p) in patches.iter_mut().enumerate() {
        p.index = i + 1;
        p.total = total;
    }
    let manifest_path = dir.join(MANIFEST);
    let manifest = if manifest_path.is_file() {
        Some(manifest::load(&manifest_path, total)?)
    } else {
        None
    };
    if let Some(n) = manifest.as_ref().and_then(|m| m.name.clone()) {
        name = Some(n);
    }
    Ok(Series {
        name: name.unwrap_or_else(|| file_name(dir)),
        origin: dir.to_path_buf(),
        format,
        version: 1,
        patches,
        manifest,
        notes,
    })
}

fn file_name(p: &Path) -> String {
    p.canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(p)
        .file_name()
        .map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
}

/// A quilt `series` file: one patch per line, `-pN` options, `#` comments.
fn read_quilt(dir: &Path, series: &Path) -> Result<(Vec<Patch>, Vec<String>), SeriesError> {
    let text = read_text(series)?;
    let mut patches = Vec::new();
    let mut notes = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        let mut words = content.split_whitespace();
        let Some(name) = words.next() else { continue };
        let mut strip = 1;
        for opt in words {
            match opt.strip_prefix("-p").and_then(|n| n.parse::<usize>().ok()) {
                Some(p) => strip = p,
                None => {
                    return Err(SeriesError::Syntax {
                        path: series.to_path_buf(),
                        line,
                        why: format!("unknown option `{opt}` for {name} (only -pN is understood)"),
                    });
                }
            }
        }
        let file = dir.join(name);
        if !file.is_file() {
            return Err(SeriesError::MissingPatch {
                path: series.to_path_buf(),
                line,
                patch: name.to_owned(),
            });
        }
        let patch = read_patch_file(&file, strip)?;
        if patch.subject.is_empty() {
            notes.push(format!("{name} has no subject; named after its file"));
        }
        patches.push(patch);
    }
    if patches.is_empty() {
        return Err(SeriesError::Empty {
            path: series.to_path_buf(),
            why: "the series file names no patch".into(),
        });
    }
    Ok((patches, notes))
}

/// `0001-*.patch`, `0002-*.patch`, ... in name order; `0000-cover-letter`
/// gives the series name.
fn read_format_patch_dir(dir: &Path) -> Result<(Vec<Patch>, Option<String>), SeriesError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| SeriesError::io(dir, e))? {
        let entry = entry.map_err(|e| SeriesError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let numbered = name.len() > 5
            && name.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && name.as_bytes()[4] == b'-';
        if numbered && (name.ends_with(".patch") || name.ends_with(".diff")) {
            files.push(entry.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(SeriesError::NotASeries {
            path: dir.to_path_buf(),
        });
    }
    let mut cover = None;
    let mut patches = Vec::new();
    for f in files {
        if f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("0000-"))
        {
            let bytes = read_bytes(&f)?;
            let m = mail::parse_message(&f, 1, &skip_from_line(&bytes))?;
            let title = parse_subject(&m.subject).title;
            if !title.is_empty() && !title.contains("*** SUBJECT HERE ***") {
                cover = Some(title);
            }
            continue;
        }
        patches.push(read_patch_file(&f, 1)?);
    }
    if patches.is_empty() {
        return Err(SeriesError::Empty {
            path: dir.to_path_buf(),
            why: "only a cover letter".into(),
        });
    }
    Ok((patches, cover))
}

/// One patch file: a mail (format-patch, or quilt headers) or a bare diff.
fn read_patch_file(path: &Path, strip: usize) -> Result<Patch, SeriesError> {
    let bytes = read_bytes(path)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SeriesError::Empty {
            path: path.to_path_buf(),
            why: "the patch file is empty".into(),
        });
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if mail::looks_like_mail(&bytes) {
        let (line, raw) = mail::split_mbox(&bytes)
            .into_iter()
            .next()
            .unwrap_or((1, bytes.clone()));
        let m = mail::parse_message(path, line, &raw)?;
        let title = parse_subject(&m.subject).title;
        let subject = if title.is_empty() { stem } else { title };
        build_patch(path, m.body_line, subject, m.from, m.date, &m.body, strip)
    } else {
        let text = to_text(path, bytes)?;
        build_patch(path, 1, stem, None, None, &text, strip)
    }
}

fn skip_from_line(bytes: &[u8]) -> Vec<u8> {
    mail::split_mbox(bytes)
        .into_iter()
        .next()
        .map_or_else(|| bytes.to_vec(), |(_, raw)| raw)
}

/// A file of mail: an mbox, a single patch mail, a bare diff, or a lore
/// thread page.
fn read_mail_file(path: &Path) -> Result<Series, SeriesError> {
    let raw = std::fs::read(path).map_err(|e| SeriesError::io(path, e))?;
    let gzipped = raw.starts_with(&GZIP_MAGIC) || path.extension().is_some_and(|e| e == "gz");
    let bytes = no_nul(
        path,
        if gzipped {
            gunzip(path, &raw, MAX_GUNZIPPED)?
        } else {
            raw
        },
    )?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SeriesError::Empty {
            path: path.to_path_buf(),
            why: "the file is empty".into(),
        });
    }
    let lossy = String::from_utf8_lossy(&bytes);
    let (format, messages) = if lore::looks_like_lore(&lossy) {
        let text = to_text(path, bytes.clone())?;
        (SeriesFormat::LoreThread, lore::messages(&text))
    } else if mail::looks_like_mail(&bytes) {
        let mut msgs = Vec::new();
        for (line, raw) in mail::split_mbox(&bytes) {
            msgs.push(mail::parse_message(path, line, &raw)?);
        }
        (SeriesFormat::Mbox, msgs)
    } else {
        // A bare diff is a series of one.
        let text = to_text(path, bytes)?;
        let mut p = build_patch(path, 1, file_name(path), None, None, &text, 1)?;
        p.index = 1;
        p.total = 1;
        return Ok(Series {
            name: file_name(path),
            origin: path.to_path_buf(),
            format: SeriesFormat::Mbox,
            version: 1,
            patches: vec![p],
            manifest: None,
            notes: Vec::new(),
        });
    };
    select(path, format, messages)
}

/// A candidate patch message of a thread.
struct Candidate {
    version: u32,
    index: usize,
    total: usize,
    msg: Message,
    title: String,
}

/// Picks the patches out of a thread: `[PATCH n/m]` messages that carry a
/// diff of their own (not quoted), not replies; the newest revision whose
/// patches 1..m are all there.
fn select(
    path: &Path,
    format: SeriesFormat,
    messages: Vec<Message>,
) -> Result<Series, SeriesError> {
    let mut notes = Vec::new();
    let mut covers: BTreeMap<u32, String> = BTreeMap::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut replies = 0;
    let single = messages.len() == 1;
    for msg in messages {
        let s = parse_subject(&msg.subject);
        if s.reply {
            replies += 1;
            continue;
        }
        let (index, total) = match s.position {
            Some(p) => p,
            None if s.tagged_patch || single => (1, 1),
            None => {
                notes.push(format!(
                    "line {}: skipped \"{}\": not a [PATCH] message",
                    msg.line, msg.subject
                ));
                continue;
            }
        };
        if index == 0 {
            covers.entry(s.version).or_insert(s.title);
            continue;
        }
        if index > total {
            return Err(SeriesError::Syntax {
                path: path.to_path_buf(),
                line: msg.line,
                why: format!(
                    "subject \"{}\" numbers patch {index} of {total}",
                    msg.subject
                ),
            });
        }
        let lines = super::patch::split_lines(&msg.body);
        if super::diff::find_start(&lines).is_none() {
            // A patch-numbered message whose diff is only quoted (`> `) is
            // a reply that kept the subject.
            replies += 1;
            continue;
        }
        candidates.push(Candidate {
            version: s.version,
            index,
            total,
            msg,
            title: s.title,
        });
    }
    if replies > 0 {
        notes.push(format!("ignored {replies} replies"));
    }
    if candidates.is_empty() {
        return Err(SeriesError::Empty {
            path: path.to_path_buf(),
            why: "no message carries a patch".into(),
        });
    }
    // version -> total -> index -> first message.
    let mut by_rev: BTreeMap<(u32, usize), BTreeMap<usize, Candidate>> = BTreeMap::new();
    for c in candidates {
        let slot = by_rev.entry((c.version, c.total)).or_default();
        if let Some(first) = slot.get(&c.index) {
            notes.push(format!(
                "line {}: a second v{} patch {}/{} (\"{}\") ignored; the one at line {} is used",
                c.msg.line, c.version, c.index, c.total, c.title, first.msg.line
            ));
            continue;
        }
        slot.insert(c.index, c);
    }
    let complete = |(&(_, total), got): (&(u32, usize), &BTreeMap<usize, Candidate>)| {
        (1..=total).all(|i| got.contains_key(&i))
    };
    let Some(&(version, total)) = by_rev
        .iter()
        .filter(|r| complete(*r))
        .map(|(k, _)| k)
        .max_by_key(|(v, t)| (*v, *t))
    else {
        let why = by_rev
            .iter()
            .map(|(&(v, t), got)| {
                let missing: Vec<String> = (1..=t)
                    .filter(|i| !got.contains_key(i))
                    .map(|i| i.to_string())
                    .collect();
                format!("v{v} lacks patch {} of {t}", missing.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(SeriesError::Incomplete {
            path: path.to_path_buf(),
            why,
        });
    };
    for (&(v, t), got) in &by_rev {
        if (v, t) != (version, total) {
            notes.push(format!(
                "left out v{v} ({} of {t} patches); v{version} is the newest complete revision",
                got.len()
            ));
        }
    }
    let chosen = by_rev.remove(&(version, total)).unwrap_or_default();
    let mut patches = Vec::new();
    for (index, c) in chosen {
        let mut p = build_patch(
            path,
            c.msg.body_line,
            c.title,
            c.msg.from,
            c.msg.date,
            &c.msg.body,
            1,
        )?;
        p.index = index;
        p.total = total;
        patches.push(p);
    }
    let name = covers
        .remove(&version)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            if patches.len() == 1 {
                patches[0].subject.clone()
            } else {
                file_name(path)
            }
        });
    Ok(Series {
        name,
        origin: path.to_path_buf(),
        format,
        version,
        patches,
        manifest: None,
        notes,
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, SeriesError> {
    let bytes = std::fs::read(path).map_err(|e| SeriesError::io(path, e))?;
    no_nul(path, bytes)
}

/// gzip's magic number, which `b4 mbox` output (`t.mbox.gz`) starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Most a gzipped thread may unpack to: a lore thread is kilobytes to a
/// few megabytes, so more is a broken file (or a gzip bomb), not a series.
const MAX_GUNZIPPED: u64 = 256 << 20;

/// The content of a gzipped file (every member, as `gzip -d` reads
/// concatenated ones), refused beyond `limit` bytes; line numbers in later
/// errors count in it.
fn gunzip(path: &Path, raw: &[u8], limit: u64) -> Result<Vec<u8>, SeriesError> {
    use std::io::Read;
    let bad = |why: String| SeriesError::Gzip {
        path: path.to_path_buf(),
        why,
    };
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| bad(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(bad(format!("it unpacks to more than {limit} bytes")));
    }
    Ok(out)
}

/// `bytes`, unless they hold a NUL byte (binary data, not text).
fn no_nul(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, SeriesError> {
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        return Err(SeriesError::Binary {
            path: path.to_path_buf(),
            line: line_at(&bytes, at),
        });
    }
    Ok(bytes)
}

fn read_text(path: &Path) -> Result<String, SeriesError> {
    let bytes = read_bytes(path)?;
    to_text(path, bytes)
}

fn to_text(path: &Path, bytes: Vec<u8>) -> Result<String, SeriesError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        SeriesError::NotUtf8 {
            path: path.to_path_buf(),
            line: line_at(e.as_bytes(), at),
        }
    })
}

fn line_at(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/series")
            .join(name)
    }

    fn repo(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
    }

    /// The lore page of seed 003 lives in the shared documents beside the
    /// checkout (CI clones the repository with `shared/` beside it).
    fn seed_003() -> PathBuf {
        let p = repo("../shared/seeds/003_7c97a972b0aa8b14.txt");
        assert!(
            p.is_file(),
            "{} is missing: the shared seeds must sit beside the checkout",
            p.display()
        );
        p
    }

    #[test]
    fn seed_003_thread_gives_its_four_patches_in_order() {
        let s = read(&seed_003()).expect("the seed thread reads");
        assert_eq!(s.format, SeriesFormat::LoreThread);
        assert_eq!(s.name, "io_uring: add IORING_OP_READ[WRITE]_SPLICE_BUF");
        let subjects: Vec<&str> = s.patches.iter().map(|p| p.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "fs/splice: enhance direct pipe & splice for moving pages in kernel",
                "fs/splice: allow to ignore signal in __splice_from_pipe",
                "io_uring: add IORING_OP_READ[WRITE]_SPLICE_BUF",
                "ublk_drv: support splice based read/write zero copy",
            ]
        );
        for (i, p) in s.patches.iter().enumerate() {
            assert_eq!((p.index, p.total), (i + 1, 4));
            assert_eq!(p.author.as_deref(), Some("Ming Lei"));
            assert_eq!(p.date.as_deref(), Some("2023-02-10 15:32 UTC"));
            assert!(p.diff.starts_with("diff --git "), "{}", p.diff);
            assert!(!p.diff.contains("permalink"), "{}", p.diff);
        }
        // Patch 2 is the NAKed ignore_sig change, read whole, and the
        // revised "[PATCH 2/4]" quoted inside a reply is not taken for it.
        let p2 = &s.patches[1];
        assert_eq!(p2.files, ["fs/splice.c", "include/linux/splice.h"]);
        assert!(
            p2.diff
                .contains("+	if (signal_pending(current) && !sd->ignore_sig)")
        );
        assert!(p2.diff.ends_with(" struct partial_page {\n"), "{}", p2.diff);
        assert_eq!(s.patches[0].files.len(), 3);
        assert!(
            s.patches[3]
                .files
                .contains(&"drivers/block/ublk_drv.c".to_owned())
        );
        assert!(
            s.notes.iter().any(|n| n.contains("ignored 25 replies")),
            "{:?}",
            s.notes
        );
        assert_ne!(s.prefix_hash(1), s.prefix_hash(2));
        assert_eq!(s.prefix_hashes().len(), 5);
        assert_eq!(s.prefix_hashes()[0], "");
    }

    #[test]
    fn newest_complete_revision_wins_and_replies_are_ignored() {
        let s = read(&fixture("thread-v1-v2.txt")).expect("reads");
        assert_eq!(s.version, 2);
        assert_eq!(s.name, "widget: count frobs");
        let subjects: Vec<&str> = s.patches.iter().map(|p| p.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "widget: add an unsigned frob counter",
                "widget: print the frob counter"
            ]
        );
        assert!(s.patches[0].diff.contains("+unsigned int frobs;"));
        assert!(s.patches[1].message.starts_with("Print it."));
        assert!(
            s.notes.iter().any(|n| n.contains("left out v1")),
            "{:?}",
            s.notes
        );
        assert!(
            s.notes.iter().any(|n| n.contains("left out v3")),
            "{:?}",
            s.notes
        );
        // The Re: with an inline diff and the subject-keeping reply that
        // quotes patch 2 whole.
        assert!(
            s.notes.iter().any(|n| n == "ignored 2 replies"),
            "{:?}",
            s.notes
        );
    }

    #[test]
    fn a_gzipped_mbox_reads_as_the_mbox_it_holds() {
        let plain = read(&fixture("fatal-signal.mbox")).expect("reads");
        let gz = read(&fixture("fatal-signal.mbox.gz")).expect("reads gzipped");
        assert_eq!(gz.format, SeriesFormat::Mbox);
        assert_eq!(gz.patches.len(), 2);
        assert_eq!(gz.prefix_hashes(), plain.prefix_hashes());
        assert_eq!(gz.notes, plain.notes);
    }

    #[test]
    fn a_corrupt_gzip_names_the_file() {
        let path = fixture("truncated.mbox.gz");
        let e = read(&path).expect_err("a truncated gzip file is refused");
        assert!(matches!(e, SeriesError::Gzip { .. }), "{e:?}");
        assert_eq!(e.path(), path);
        assert!(
            e.to_string()
                .starts_with(&format!("{}: not a readable gzip file", path.display())),
            "{e}"
        );
        // A name ending in .gz is read as gzip even when the content is not.
        let d = tempfile::tempdir().expect("a temporary directory");
        let fake = d.path().join("t.mbox.gz");
        std::fs::copy(fixture("fatal-signal.mbox"), &fake).expect("copy");
        assert!(matches!(read(&fake), Err(SeriesError::Gzip { .. })));
    }

    #[test]
    fn a_gzip_bomb_is_refused_at_the_limit_not_unpacked() {
        let path = fixture("fatal-signal.mbox.gz");
        let raw = std::fs::read(&path).expect("the fixture reads");
        let size = gunzip(&path, &raw, u64::MAX).expect("unpacks").len() as u64;
        assert!(
            gunzip(&path, &raw, size).is_ok(),
            "exactly the limit is fine"
        );
        let e = gunzip(&path, &raw, size - 1).expect_err("one byte over is refused");
        assert!(
            e.to_string()
                .contains(&format!("more than {} bytes", size - 1)),
            "{e}"
        );
    }

    #[test]
    fn mbox_with_a_reply_between_patches() {
        let s = read(&fixture("fatal-signal.mbox")).expect("reads");
        assert_eq!(s.format, SeriesFormat::Mbox);
        assert_eq!(s.patches.len(), 2);
        assert_eq!(
            s.patches[0].subject,
            "splice: let only a fatal signal end splice_from_pipe_next() early"
        );
        assert_eq!(
            s.patches[1].author.as_deref(),
            Some("kharness developers <kharness-dev@example.org>")
        );
        assert_eq!(
            s.patches[1].date.as_deref(),
            Some("Mon, 12 Jan 2026 10:05:00 +0000")
        );
        // The same patches read from their directory hash the same.
        let dir = read(&repo("kernel-patches/splice-fatal-signal")).expect("reads");
        assert_eq!(dir.prefix_hashes(), s.prefix_hashes());
    }

    #[test]
    fn format_patch_directory_with_a_cover_letter() {
        let s = read(&fixture("format-patch")).expect("reads");
        assert_eq!(s.format, SeriesFormat::FormatPatchDir);
        assert_eq!(s.name, "splice: a demo series for kharness");
        assert_eq!(s.patches.len(), 3);
        assert_eq!(s.patches[2].index, 3);
        assert_eq!(
            s.patches[2].subject,
            "splice: make tee() duplicate one byte less than it should"
        );
    }

    #[test]
    fn the_projects_own_series_read_with_their_manifests() {
        for (name, n) in [
            ("splice-fatal-signal", 2),
            ("demo-splice-regression", 3),
            ("broken-second-patch", 2),
        ] {
            let s = read(&repo(&format!("kernel-patches/{name}"))).expect(name);
            assert_eq!(s.format, SeriesFormat::Quilt, "{name}");
            assert_eq!(s.name, name);
            assert_eq!(s.patches.len(), n, "{name}");
            let m = s.manifest.as_ref().expect("a series.toml");
            assert!(!m.expect.is_empty(), "{name}");
            for p in &s.patches {
                assert_eq!(p.files, ["fs/splice.c"], "{name}");
                assert_eq!(
                    p.author.as_deref(),
                    Some("kharness developers <kharness-dev@example.org>")
                );
            }
        }
    }

    fn err_of(path: &Path) -> String {
        read(path).expect_err("bad input").to_string()
    }

    #[test]
    fn bad_input_errors_name_file_and_line() {
        let f = |n: &str| fixture(n).display().to_string();
        assert_eq!(
            err_of(&fixture("empty")),
            format!(
                "{}: empty series: the series file names no patch",
                f("empty/series")
            )
        );
        assert_eq!(
            err_of(&fixture("missing")),
            format!(
                "{}:3: the series names 0002-not-written.patch, which does not exist",
                f("missing/series")
            )
        );
        assert_eq!(
            err_of(&fixture("bad-option")),
            format!(
                "{}:1: unknown option `-R` for 0001-first.patch (only -pN is understood)",
                f("bad-option/series")
            )
        );
        assert_eq!(
            err_of(&fixture("malformed")),
            format!(
                "{}:12: malformed diff: hunk `@@ -10,3 +10,3 @@` is cut short: the input ends with 1 old and 2 new lines missing",
                f("malformed/0001-cut-short.patch")
            )
        );
        assert_eq!(
            err_of(&fixture("garbage.bin")),
            format!(
                "{}:1: binary data (a NUL byte), not a patch or a mailbox",
                f("garbage.bin")
            )
        );
        assert_eq!(
            err_of(&fixture("no-patches.mbox")),
            format!(
                "{}: empty series: no message carries a patch",
                f("no-patches.mbox")
            )
        );
        assert!(err_of(&fixture("nonexistent")).starts_with("cannot read "));
        let dir = tempfile::tempdir().expect("a temp dir");
        assert_eq!(
            err_of(dir.path()),
            format!(
                "{}: not a patch series: a directory with a quilt `series` file or NNNN-*.patch files, an mbox, or a lore thread",
                dir.path().display()
            )
        );
        let empty = dir.path().join("empty.mbox");
        std::fs::write(&empty, "\n\n").expect("write");
        assert!(err_of(&empty).ends_with(": empty series: the file is empty"));
        let latin1 = dir.path().join("latin1.patch");
        std::fs::write(&latin1, b"--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+\xe9\n").expect("write");
        assert!(err_of(&latin1).ends_with("latin1.patch:5: not UTF-8 text"));
    }

    #[test]
    fn incomplete_series_says_what_is_missing() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let p = dir.path().join("t.mbox");
        std::fs::write(
            &p,
            "From x Mon Jan 1 00:00:00 2026\nSubject: [PATCH 1/3] a\n\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n\nFrom x Mon Jan 1 00:00:00 2026\nSubject: [PATCH 3/3] c\n\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-b\n+c\n",
        )
        .expect("write");
        assert_eq!(
            err_of(&p),
            format!("{}: incomplete series: v1 lacks patch 2 of 3", p.display())
        );
    }
}
