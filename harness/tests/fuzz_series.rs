//! Property tests of series reading: a generated series reads back the
//! same from an mbox, a format-patch directory, a quilt directory and a
//! lore thread page; mangled input is an error, never a panic; a hunk
//! whose counts are off is refused; `series.toml` round-trips and its
//! errors name a line of the file.
//!
//! Each property runs `KHARNESS_FUZZ_CASES` cases (default 64 for the
//! ones that write files, 256 for the others; a few seconds in all); set
//! it higher for a longer hunt.

#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::path::Path;

use kharness::series::{self, ChangeKind, Expectation, Manifest, SeriesError, parse_subject};
use kharness_record::Value;
use proptest::prelude::*;

// ------------------------------------------------------------ generators

#[derive(Debug, Clone)]
struct Hunk {
    old_start: u32,
    /// (`' '`, `'-'` or `'+'`, text).
    lines: Vec<(char, String)>,
}

impl Hunk {
    fn counts(&self) -> (usize, usize) {
        let old = self.lines.iter().filter(|(k, _)| *k != '+').count();
        let new = self.lines.iter().filter(|(k, _)| *k != '-').count();
        (old, new)
    }
}

#[derive(Debug, Clone)]
struct GenPatch {
    title: String,
    message: Vec<String>,
    files: Vec<(String, Vec<Hunk>)>,
}

impl GenPatch {
    /// The diff, with each hunk's counts changed by `skew` (hunk index,
    /// old delta, new delta).
    fn diff_skewed(&self, skew: Option<(usize, i64, i64)>) -> String {
        let mut s = String::new();
        let mut n = 0;
        for (f, hunks) in &self.files {
            let _ = writeln!(s, "diff --git a/{f} b/{f}\nindex 1111111..2222222 100644");
            let _ = writeln!(s, "--- a/{f}\n+++ b/{f}");
            for h in hunks {
                let (mut old, mut new) = (h.counts().0 as i64, h.counts().1 as i64);
                if let Some((at, dold, dnew)) = skew
                    && at == n
                {
                    old += dold;
                    new += dnew;
                }
                let _ = writeln!(s, "@@ -{},{old} +{},{new} @@", h.old_start, h.old_start);
                for (k, t) in &h.lines {
                    let _ = writeln!(s, "{k}{t}");
                }
                n += 1;
            }
        }
        s
    }

    fn diff(&self) -> String {
        self.diff_skewed(None)
    }

    fn hunks(&self) -> usize {
        self.files.iter().map(|(_, h)| h.len()).sum()
    }

    fn file_names(&self) -> Vec<String> {
        self.files.iter().map(|(f, _)| f.clone()).collect()
    }

    /// The body of its mail: message, `---`, diff, signature.
    fn body(&self, diff: &str) -> String {
        format!(
            "{}\n\nSigned-off-by: A Developer <dev@example.org>\n---\n{diff}-- \n2.47.3\n",
            self.message.join("\n")
        )
    }
}

fn words(n: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z]{1,8}", n).prop_map(|w| w.join(" "))
}

fn hunk() -> impl Strategy<Value = Hunk> {
    (
        1u32..5000,
        prop::collection::vec(
            (
                prop::sample::select(vec![' ', '-', '+']),
                // Printable text, sometimes not ASCII, sometimes empty.
                "[ -~]{0,30}|[a-zäöü€ ]{0,10}",
            ),
            1..8,
        ),
    )
        .prop_map(|(old_start, lines)| Hunk { old_start, lines })
}

fn patch() -> impl Strategy<Value = GenPatch> {
    (
        ("[a-z]{2,8}", words(1..6)).prop_map(|(a, w)| format!("{a}: {w}")),
        prop::collection::vec("[A-Z][a-z ,.]{0,50}", 1..4),
        prop::collection::btree_map(
            "[a-z]{1,8}(/[a-z_]{1,8}){0,2}\\.[ch]",
            prop::collection::vec(hunk(), 1..4),
            1..4,
        ),
    )
        .prop_map(|(title, message, files)| GenPatch {
            title,
            message: message
                .into_iter()
                .map(|l| l.trim_end().to_owned())
                .collect(),
            files: files.into_iter().collect(),
        })
}

fn patches() -> impl Strategy<Value = Vec<GenPatch>> {
    prop::collection::vec(patch(), 1..5)
}

// ------------------------------------------------------------ renderers

fn subject(version: u32, i: usize, n: usize, title: &str) -> String {
    let v = if version > 1 {
        format!("v{version} ")
    } else {
        String::new()
    };
    format!("[PATCH {v}{i}/{n}] {title}")
}

fn mail(version: u32, i: usize, n: usize, p: &GenPatch, diff: &str) -> String {
    format!(
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n\
         From: A Developer <dev@example.org>\n\
         Date: Mon, 12 Jan 2026 10:0{}:00 +0000\n\
         Subject: {}\n\n{}",
        i % 10,
        subject(version, i, n, &p.title),
        p.body(diff)
    )
}

fn mbox(version: u32, ps: &[GenPatch]) -> String {
    let n = ps.len();
    let mut s = String::new();
    for (i, p) in ps.iter().enumerate() {
        s.push_str(&mail(version, i + 1, n, p, &p.diff()));
        s.push('\n');
    }
    s
}

fn lore_page(version: u32, ps: &[GenPatch]) -> String {
    let n = ps.len();
    let mut s = String::from("lore mirror of a thread\n");
    for (i, p) in ps.iter().enumerate() {
        let _ = write!(
            s,
            "* {}\n@ 2026-01-12 10:00 A Developer\n\
             From: A Developer @ 2026-01-12 10:0{} UTC (permalink / raw)\n  To: list\n\n{}\n\
             ^ permalink raw reply related\t[flat|nested] {n}+ messages in thread\n\n",
            subject(version, i + 1, n, &p.title),
            i % 10,
            p.body(&p.diff())
        );
    }
    s
}

fn write_format_patch(dir: &Path, version: u32, ps: &[GenPatch]) {
    std::fs::create_dir_all(dir).unwrap();
    let n = ps.len();
    for (i, p) in ps.iter().enumerate() {
        std::fs::write(
            dir.join(format!("{:04}-p.patch", i + 1)),
            mail(version, i + 1, n, p, &p.diff()),
        )
        .unwrap();
    }
}

fn write_quilt(dir: &Path, ps: &[GenPatch]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut series = String::from("# written by the property test\n");
    for (i, p) in ps.iter().enumerate() {
        let name = format!("p{}.diff", i + 1);
        // Quilt patches: a header of free text, then the diff.
        std::fs::write(
            dir.join(&name),
            format!("{}\n\n{}", p.message.join("\n"), p.diff()),
        )
        .unwrap();
        let _ = writeln!(series, "{name}");
    }
    std::fs::write(dir.join("series"), series).unwrap();
}

// ------------------------------------------------------------ properties

/// What a series read back must hold: the generated diffs, files and (for
/// mail formats) subjects, in order.
fn check_read(s: &series::Series, ps: &[GenPatch], subjects: bool) -> Result<(), TestCaseError> {
    prop_assert_eq!(s.patches.len(), ps.len());
    for (i, (got, want)) in s.patches.iter().zip(ps).enumerate() {
        prop_assert_eq!((got.index, got.total), (i + 1, ps.len()));
        prop_assert_eq!(&got.diff, &want.diff());
        prop_assert_eq!(&got.files, &want.file_names());
        prop_assert_eq!(
            &got.sha256,
            &kharness::support::hash::sha256_hex(want.diff().as_bytes())
        );
        if subjects {
            prop_assert_eq!(&got.subject, &want.title);
            prop_assert!(
                got.message.starts_with(&want.message[0]),
                "{:?}",
                got.message
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(common::fuzz_config(64))]

    /// One series, four formats: each reads back to the same patches and
    /// the same patchset hashes.
    #[test]
    fn every_format_reads_back_the_series_written(ps in patches(), version in 1u32..4) {
        let tmp = tempfile::tempdir().unwrap();
        let mbox_path = tmp.path().join("s.mbox");
        std::fs::write(&mbox_path, mbox(version, &ps)).unwrap();
        let lore_path = tmp.path().join("thread.txt");
        std::fs::write(&lore_path, lore_page(version, &ps)).unwrap();
        write_format_patch(&tmp.path().join("fp"), version, &ps);
        write_quilt(&tmp.path().join("quilt"), &ps);

        let from_mbox = series::read(&mbox_path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_read(&from_mbox, &ps, true)?;
        prop_assert_eq!(from_mbox.version, version);
        let from_lore = series::read(&lore_path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_read(&from_lore, &ps, true)?;
        let from_fp = series::read(&tmp.path().join("fp")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_read(&from_fp, &ps, true)?;
        let from_quilt = series::read(&tmp.path().join("quilt")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_read(&from_quilt, &ps, false)?;
        let hashes = from_mbox.prefix_hashes();
        prop_assert_eq!(&from_lore.prefix_hashes(), &hashes);
        prop_assert_eq!(&from_fp.prefix_hashes(), &hashes);
        prop_assert_eq!(&from_quilt.prefix_hashes(), &hashes);
    }

    /// A hunk header whose counts are one off is refused with the patch's
    /// file and a line, never taken as a shorter or longer patch.
    #[test]
    fn a_hunk_count_off_by_one_is_refused(
        ps in patches(),
        which in any::<prop::sample::Index>(),
        hunk_at in any::<prop::sample::Index>(),
        delta in prop::sample::select(vec![(1i64, 0i64), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1)]),
    ) {
        let p = which.get(&ps);
        let h = hunk_at.index(p.hunks());
        let all: Vec<&Hunk> = p.files.iter().flat_map(|(_, hs)| hs).collect();
        let (old, new) = all[h].counts();
        prop_assume!(old as i64 + delta.0 >= 0 && new as i64 + delta.1 >= 0);
        // The one reading that is right: one old line more in the last
        // hunk takes the mail's `-- ` signature line as the removal of a
        // line "- ", as `git apply` does too.
        prop_assume!(!(h + 1 == p.hunks() && delta == (1, 0)));
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("0001-p.patch");
        std::fs::write(&path, mail(1, 1, 1, p, &p.diff_skewed(Some((h, delta.0, delta.1))))).unwrap();
        match series::read(tmp.path()) {
            Err(SeriesError::MalformedDiff { path: at, line, .. }) => {
                prop_assert_eq!(at, path);
                prop_assert!(line > 1);
            }
            other => prop_assert!(false, "hunk {} skewed by {:?} read as {:?}", h, delta, other.map(|s| s.patches[0].diff.clone())),
        }
    }

    /// Mangled mail (lines dropped, doubled, cut, bytes changed) is read or
    /// refused, never a panic; an error names the file it read.
    #[test]
    fn mangled_mail_never_panics(
        ps in patches(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..5, any::<u8>()), 1..6),
        as_lore in any::<bool>(),
    ) {
        let text = if as_lore { lore_page(2, &ps) } else { mbox(2, &ps) };
        let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
        for (at, op, byte) in edits {
            if lines.is_empty() {
                break;
            }
            let i = at.index(lines.len());
            match op {
                0 => { lines.remove(i); }
                1 => { let l = lines[i].clone(); lines.insert(i, l); }
                2 => { let l = &mut lines[i]; let n = l.len() / 2; l.truncate(n); }
                3 => { let l = &mut lines[i]; let n = at.index(l.len() + 1); l.insert(n, byte); }
                _ => { lines.truncate(i); }
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("mangled");
        std::fs::write(&path, lines.join(&b'\n')).unwrap();
        if let Err(e) = series::read(&path) {
            prop_assert_eq!(e.path(), path.as_path());
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// Arbitrary bytes as a series file: read or refused, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("any");
        std::fs::write(&path, &bytes).unwrap();
        let _ = series::read(&path);
    }

    /// A generated series.toml reads back equal to what was written.
    #[test]
    fn manifest_round_trips(m in manifest(3)) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        write_quilt(&dir, &[fixed_patch(), fixed_patch(), fixed_patch()]);
        let text = toml::to_string(&m).unwrap();
        std::fs::write(dir.join("series.toml"), &text).unwrap();
        let s = series::read(&dir).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(s.manifest.as_ref(), Some(&m), "{}", text);
    }

    /// Arbitrary text as series.toml: read or refused with its file and a
    /// line of it, never a panic.
    #[test]
    fn manifest_errors_name_a_line(text in manifest_text()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        write_quilt(&dir, &[fixed_patch()]);
        let path = dir.join("series.toml");
        std::fs::write(&path, &text).unwrap();
        if let Err(e) = series::read(&dir) {
            let msg = e.to_string();
            let prefix = format!("{}:", path.display());
            prop_assert!(msg.starts_with(&prefix), "{}", msg);
            let line: usize = msg[prefix.len()..].split(':').next().unwrap_or("").parse()
                .map_err(|_| TestCaseError::fail(format!("no line in {msg}")))?;
            prop_assert!(line >= 1 && line <= text.lines().count() + 1, "line {} of {:?}", line, text);
        }
    }
}

proptest! {
    #![proptest_config(common::fuzz_config(256))]

    /// `[PATCH vN i/n] title` says its version, position and title back;
    /// `Re:` makes it a reply.
    #[test]
    fn subjects_round_trip(
        version in 1u32..20, n in 1usize..40, i in 0usize..40,
        title in ("[a-z]{2,8}", words(1..6)).prop_map(|(a, w)| format!("{a}: {w}")),
        reply in any::<bool>(),
    ) {
        let raw = format!("{}{}", if reply { "Re: " } else { "" }, subject(version, i, n, &title));
        let s = parse_subject(&raw);
        prop_assert_eq!(s.reply, reply);
        prop_assert!(s.tagged_patch);
        prop_assert_eq!(s.version, version);
        prop_assert_eq!(s.position, Some((i, n)));
        prop_assert_eq!(&s.title, &title);
    }

    /// Any subject at all parses without a panic.
    #[test]
    fn any_subject_parses(raw in ".*") {
        let _ = parse_subject(&raw);
    }
}

/// A small patch for series whose content does not matter.
fn fixed_patch() -> GenPatch {
    GenPatch {
        title: "x: y".into(),
        message: vec!["Why.".into()],
        files: vec![(
            "fs/splice.c".into(),
            vec![Hunk {
                old_start: 1,
                lines: vec![('-', "a".into()), ('+', "b".into())],
            }],
        )],
    }
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        ".*".prop_map(Value::Text),
        prop::collection::vec(".*", 0..3).prop_map(Value::List),
    ]
}

/// A valid series.toml for a series of `patches` patches.
fn manifest(patches: usize) -> impl Strategy<Value = Manifest> {
    let status = || prop::sample::select(vec!["pass", "fail", "skip", "error"]);
    let expectation = (
        1..=patches,
        "[a-z_]{1,10}\\.[a-z0-9_]{1,20}",
        0u8..4,
        (status(), status(), proptest::option::of(value()), value()),
        ("[a-z_]{1,12}", proptest::option::of(".*")),
        (
            0.0f64..100.0,
            proptest::option::of(0.0f64..100.0),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(patch, test, kind, (from_st, to_st, from_v, to_v), (name, why), (lo, hi, lower))| {
                let mut e = Expectation {
                    patch,
                    test,
                    change: ChangeKind::Unchanged,
                    from: None,
                    to: None,
                    observation: None,
                    metric: None,
                    better: if lower {
                        series::Better::Lower
                    } else {
                        series::Better::Higher
                    },
                    min_percent: None,
                    max_percent: None,
                    why,
                };
                match kind {
                    0 => {
                        e.change = ChangeKind::Status;
                        e.from = Some(Value::Text(from_st.into()));
                        e.to = Some(Value::Text(to_st.into()));
                    }
                    1 => {
                        e.change = ChangeKind::Observation;
                        e.observation = Some(name);
                        e.from = from_v;
                        e.to = Some(to_v);
                    }
                    2 => {
                        e.change = ChangeKind::MetricRegression;
                        e.metric = Some(name);
                        e.min_percent = Some(lo);
                        e.max_percent = hi.map(|h| h.max(lo));
                    }
                    _ => e.observation = Some(name).filter(|_| lower),
                }
                e
            },
        );
    (
        proptest::option::of(".*"),
        proptest::option::of(".*"),
        proptest::option::of(
            (5u64..7, 0u64..20).prop_map(|(a, b)| format!(">={a}.{b}, <{}", a + 1)),
        ),
        prop::collection::vec(expectation, 0..5),
    )
        .prop_map(|(name, summary, kernel, expect)| Manifest {
            name,
            summary,
            base: series::ManifestBase {
                kernel: kernel.map(|k| k.parse().unwrap()),
                source: None,
            },
            expect,
        })
}

/// Text that is mostly series.toml: real keys and tables, mangled.
fn manifest_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[[expect]]".to_owned()),
        Just("[base]".to_owned()),
        Just("[base".to_owned()),
        (
            prop::sample::select(vec![
                "name",
                "summary",
                "kernel",
                "patch",
                "test",
                "change",
                "from",
                "to",
                "observation",
                "metric",
                "min-percent",
                "max-percent",
                "better",
                "why",
                "speed",
            ]),
            prop_oneof![
                Just("\"status\"".to_owned()),
                Just("\"unchanged\"".to_owned()),
                Just("\"metric-regression\"".to_owned()),
                Just("\"pass\"".to_owned()),
                Just("\">=6.12, <6.13\"".to_owned()),
                (-3i64..5).prop_map(|n| n.to_string()),
                Just("true".to_owned()),
                Just("1.5".to_owned()),
                Just("\"unterminated".to_owned()),
                "[ -~]{0,12}",
            ]
        )
            .prop_map(|(k, v)| format!("{k} = {v}")),
        "[ -~]{0,20}",
    ];
    prop::collection::vec(line, 0..16).prop_map(|l| l.join("\n"))
}
