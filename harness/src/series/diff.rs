//! Finding and checking the unified diff inside a patch: where it starts
//! and ends, which files it touches, and its hunks. A hunk whose line
//! counts do not match its body is a malformed diff, reported with its line.

/// One hunk of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// The file it changes (the new name, after stripping).
    pub file: String,
    /// The `@@ -a,b +c,d @@ ...` line as written.
    pub header: String,
    /// First line of the old side (the `a` above).
    pub old_start: u64,
    /// 0-based index of the header line among the lines scanned.
    pub line: usize,
}

/// What a scan of a diff found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// 0-based index of the first diff line.
    pub start: usize,
    /// 0-based index one past the last diff line.
    pub end: usize,
    /// Files touched, in order of appearance, without duplicates.
    pub files: Vec<String>,
    pub hunks: Vec<Hunk>,
}

/// A malformed diff: 0-based line index and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub why: String,
}

/// Index of the first line of the diff: a `diff ` line, or a `--- ` line
/// directly followed by `+++ `.
pub fn find_start(lines: &[&str]) -> Option<usize> {
    lines.iter().enumerate().find_map(|(i, l)| {
        let git = l.starts_with("diff --git ") || l.starts_with("diff -");
        let plain =
            l.starts_with("--- ") && lines.get(i + 1).is_some_and(|n| n.starts_with("+++ "));
        (git || plain).then_some(i)
    })
}

const EXTENDED_HEADERS: &[&str] = &[
    "index ",
    "old mode ",
    "new mode ",
    "deleted file mode ",
    "new file mode ",
    "similarity index ",
    "dissimilarity index ",
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
    "Binary files ",
];

/// Scans the diff that starts at `start`, stripping `strip` leading path
/// components from file names (1 for `a/` and `b/`).
pub fn scan(lines: &[&str], start: usize, strip: usize) -> Result<Scan, Malformed> {
    let mut files: Vec<String> = Vec::new();
    let mut hunks = Vec::new();
    let mut add_file = |files: &mut Vec<String>, name: &str| {
        if !files.iter().any(|f| f == name) {
            files.push(name.to_owned());
        }
    };
    let mut i = start;
    // The file whose hunks come next, once its ---/+++ pair was read.
    let mut current: Option<String> = None;
    // A `diff --git` header whose file is not known yet from ---/+++.
    let mut git_header: Option<(usize, Option<String>)> = None;
    let mut end = start;
    while i < lines.len() {
        let l = lines[i];
        if l.starts_with("diff ") {
            flush_git_header(&mut git_header, &mut files, &mut add_file);
            git_header = Some((i, git_header_name(l, strip)));
            current = None;
            i += 1;
            end = i;
            continue;
        }
        if git_header.is_some() && EXTENDED_HEADERS.iter().any(|h| l.starts_with(h)) {
            if let Some(name) = l.strip_prefix("rename to ").or(l.strip_prefix("copy to ")) {
                git_header = Some((i, Some(strip_path(&unquote(name), strip))));
            }
            i += 1;
            end = i;
            continue;
        }
        if git_header.is_some() && l == "GIT binary patch" {
            i = skip_binary(lines, i + 1);
            end = i;
            continue;
        }
        if l.starts_with("--- ") && lines.get(i + 1).is_some_and(|n| n.starts_with("+++ ")) {
            let old = path_field(&l[4..]);
            let new = path_field(&lines[i + 1][4..]);
            let name = if new == "/dev/null" {
                strip_path(&old, strip)
            } else {
                strip_path(&new, strip)
            };
            if name.is_empty() {
                return Err(Malformed {
                    line: i,
                    why: format!("no file name in `{}`", lines[i + 1]),
                });
            }
            git_header = None;
            add_file(&mut files, &name);
            current = Some(name);
            i += 2;
            end = i;
            continue;
        }
        if l.starts_with("@@ ") {
            let Some(file) = current.clone() else {
                return Err(Malformed {
                    line: i,
                    why: "hunk before any `--- `/`+++ ` file header".into(),
                });
            };
            let (old_start, mut old_left, mut new_left) =
                parse_hunk_header(l).ok_or_else(|| Malformed {
                    line: i,
                    why: format!("bad hunk header `{l}`"),
                })?;
            hunks.push(Hunk {
                file,
                header: l.to_owned(),
                old_start,
                line: i,
            });
            let header_line = i;
            i += 1;
            while old_left > 0 || new_left > 0 {
                let Some(body) = lines.get(i) else {
                    return Err(Malformed {
                        line: header_line,
                        why: format!(
                            "hunk `{l}` is cut short: the input ends with {old_left} old and {new_left} new lines missing"
                        ),
                    });
                };
                let (old, new) = match body.as_bytes().first() {
                    // Mailers drop the space of an empty context line.
                    Some(b' ') | None => (1, 1),
                    Some(b'-') => (1, 0),
                    Some(b'+') => (0, 1),
                    Some(b'\\') => (0, 0),
                    Some(_) => {
                        return Err(Malformed {
                            line: i,
                            why: format!(
                                "line is not part of hunk `{l}` ({old_left} old and {new_left} new lines missing)"
                            ),
                        });
                    }
                };
                if old > old_left || new > new_left {
                    return Err(Malformed {
                        line: i,
                        why: format!("hunk `{l}` has more lines than its header says"),
                    });
                }
                old_left -= old;
                new_left -= new;
                i += 1;
            }
            if lines.get(i).is_some_and(|n| n.starts_with("\\ ")) {
                i += 1;
            }
            // A hunk line right after the counted ones means the header's
            // counts are wrong; taking the hunk as it says would drop that
            // line, and every file after it, silently. (`-- ` ends a mailed
            // patch and `--- ` opens the next file; an empty line may end
            // the diff.)
            if let Some(extra) = lines.get(i).filter(|_| is_hunk_line_after_hunk(lines, i)) {
                return Err(Malformed {
                    line: i,
                    why: format!("hunk `{l}` has more lines than its header says: `{extra}`"),
                });
            }
            end = i;
            continue;
        }
        break;
    }
    flush_git_header(&mut git_header, &mut files, &mut add_file);
    if files.is_empty() {
        return Err(Malformed {
            line: start,
            why: "no file changes in the diff".into(),
        });
    }
    Ok(Scan {
        start,
        end,
        files,
        hunks,
    })
}

/// Whether line `i`, right after a hunk's counted lines, is one more line
/// of a hunk (so the header's counts are wrong). `--- ` opens the next file
/// and `-- ` is the mail signature. A bare `--` or `---` is ambiguous: a
/// signature whose space a mailer stripped, or the removal of a line `-`
/// or `--`; it is a signature only where no hunk line follows it.
fn is_hunk_line_after_hunk(lines: &[&str], i: usize) -> bool {
    let hunkish = |n: &str| n.starts_with([' ', '+', '-', '\\']);
    match lines.get(i) {
        None => false,
        Some(n) if n.starts_with("--- ") || *n == "-- " => false,
        Some(&"--") | Some(&"---") => lines.get(i + 1).is_some_and(|m| hunkish(m)),
        Some(n) => n.starts_with([' ', '+', '-']),
    }
}

/// A `diff --git` header with no ---/+++ (mode change, pure rename, binary)
/// still touches its file.
fn flush_git_header(
    header: &mut Option<(usize, Option<String>)>,
    files: &mut Vec<String>,
    add: &mut impl FnMut(&mut Vec<String>, &str),
) {
    if let Some((_, Some(name))) = header.take() {
        add(files, &name);
    }
}

/// The new name of `diff --git a/X b/Y`, when it can be told (unquoted
/// names without spaces, or quoted ones).
fn git_header_name(line: &str, strip: usize) -> Option<String> {
    let rest = line.strip_prefix("diff --git ")?;
    let new = if let Some(inner) = rest.strip_suffix('"') {
        let open = inner.rfind('"')?;
        unquote(&rest[open..])
    } else {
        rest.rsplit(' ').next()?.to_owned()
    };
    Some(strip_path(&new, strip))
}

fn skip_binary(lines: &[&str], mut i: usize) -> usize {
    while let Some(l) = lines.get(i) {
        if !(l.starts_with("literal ") || l.starts_with("delta ")) {
            break;
        }
        i += 1;
        while lines.get(i).is_some_and(|d| !d.is_empty()) {
            i += 1;
        }
        // The blank line that ends the block.
        if lines.get(i).is_some() {
            i += 1;
        }
    }
    i
}

/// The path of a `--- `/`+++ ` line: up to a tab (traditional diffs put a
/// date there), unquoted.
fn path_field(s: &str) -> String {
    let s = s.split('\t').next().unwrap_or(s).trim_end();
    unquote(s)
}

fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_owned();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

pub fn strip_path(path: &str, strip: usize) -> String {
    if path == "/dev/null" {
        return path.to_owned();
    }
    let mut rest = path;
    for _ in 0..strip {
        match rest.find('/') {
            Some(i) => rest = &rest[i + 1..],
            None => return rest.to_owned(),
        }
    }
    rest.to_owned()
}

/// `@@ -a[,b] +c[,d] @@` -> (a, b, d); a missing count is 1.
fn parse_hunk_header(l: &str) -> Option<(u64, u64, u64)> {
    let rest = l.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |r: &str| -> Option<(u64, u64)> {
        match r.split_once(',') {
            Some((s, n)) => Some((s.parse().ok()?, n.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    let (old_start, old_len) = range(old)?;
    let (_, new_len) = range(new)?;
    Some((old_start, old_len, new_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<&str> {
        s.lines().collect()
    }

    const TWO_FILES: &str = "\
diff --git a/fs/splice.c b/fs/splice.c
index 1111111..2222222 100644
--- a/fs/splice.c
+++ b/fs/splice.c
@@ -10,3 +10,3 @@ static int f(void)
 a
-b
+c

@@ -20 +20,2 @@
 x
+y
\\ No newline at end of file
diff --git a/include/linux/splice.h b/include/linux/splice.h
new file mode 100644
--- /dev/null
+++ b/include/linux/splice.h
@@ -0,0 +1 @@
+#pragma once
-- 
2.47.3
";

    #[test]
    fn scans_files_hunks_and_stops_at_the_signature() {
        let l = lines(TWO_FILES);
        let start = find_start(&l).expect("a diff");
        assert_eq!(start, 0);
        let s = scan(&l, start, 1).expect("well formed");
        assert_eq!(s.files, ["fs/splice.c", "include/linux/splice.h"]);
        assert_eq!(s.hunks.len(), 3);
        assert_eq!(s.hunks[0].old_start, 10);
        assert_eq!(s.hunks[1].header, "@@ -20 +20,2 @@");
        assert_eq!(l[s.end], "-- ");
    }

    #[test]
    fn a_signature_dash_line_inside_a_hunk_is_a_removed_line() {
        let d = "--- a/x\n+++ b/x\n@@ -1,2 +1 @@\n-- \n a\n-- \n2.4\n";
        let l = lines(d);
        let s = scan(&l, 0, 1).expect("well formed");
        assert_eq!(s.end, 5);
    }

    #[test]
    fn a_bare_double_dash_after_a_hunk_is_a_signature_only_where_no_hunk_line_follows() {
        // A signature whose trailing space a mailer stripped.
        let d = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n--\n2.47.3\n";
        assert_eq!(scan(&lines(d), 0, 1).expect("well formed").end, 5);
        // The removal of a line "-" (and the addition after it) beyond a
        // header that counts none: the proptest's find of 2026-12-07.
        let d = "--- a/x\n+++ b/x\n@@ -1,0 +1,0 @@\n--\n+\n-- \n2.47.3\n";
        let err = scan(&lines(d), 0, 1).expect_err("counts one short");
        assert_eq!(err.line, 3);
        assert!(
            err.why.contains("more lines than its header says"),
            "{}",
            err.why
        );
        // The removal of a line "-x" after the counted lines.
        let d = "--- a/x\n+++ b/x\n@@ -1 +0,0 @@\n-a\n--x\n";
        assert_eq!(
            scan(&lines(d), 0, 1)
                .expect_err("one removal too many")
                .line,
            4
        );
    }

    #[test]
    fn deletions_and_renames_name_their_files() {
        let d = "diff --git a/old b/old\ndeleted file mode 100644\n--- a/old\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\ndiff --git a/p b/q\nsimilarity index 100%\nrename from p\nrename to q\n";
        let s = scan(&lines(d), 0, 1).expect("well formed");
        assert_eq!(s.files, ["old", "q"]);
    }

    #[test]
    fn truncated_hunk_is_malformed_with_its_line() {
        let d = "intro\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n";
        let l = lines(d);
        let err = scan(&l, find_start(&l).expect("a diff"), 1).expect_err("cut short");
        assert_eq!(err.line, 3);
        assert!(err.why.contains("cut short"), "{}", err.why);
    }

    #[test]
    fn foreign_line_inside_hunk_is_malformed() {
        let d = "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n*b\n c\n";
        let err = scan(&lines(d), 0, 1).expect_err("bad line");
        assert_eq!(err.line, 4);
        let d = "--- a/x\n+++ b/x\n@@ -1,x +1 @@\n a\n";
        let err = scan(&lines(d), 0, 1).expect_err("bad header");
        assert!(err.why.contains("bad hunk header"), "{}", err.why);
    }

    #[test]
    fn a_changed_line_beyond_the_header_counts_is_malformed() {
        let d = "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n+d\n";
        let err = scan(&lines(d), 0, 1).expect_err("one line too many");
        assert_eq!(err.line, 6);
        assert!(
            err.why.contains("more lines than its header says"),
            "{}",
            err.why
        );
        let d = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n-c\n";
        assert_eq!(
            scan(&lines(d), 0, 1).expect_err("a removal too many").line,
            5
        );
        // Found by fuzz_series: a context line left over, and the next
        // file's diff after it, were dropped without a word.
        let d = "--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n-a\n+b\n c\ndiff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n";
        assert_eq!(
            scan(&lines(d), 0, 1)
                .expect_err("a context line too many")
                .line,
            5
        );
    }

    #[test]
    fn binary_patches_are_skipped_whole() {
        let d = "diff --git a/f.bin b/f.bin\nindex 1..2 100644\nGIT binary patch\nliteral 3\nKcmZQzWB>pF\n\nliteral 0\nHcmV?d00001\n\ndiff --git a/t b/t\n--- a/t\n+++ b/t\n@@ -1 +1 @@\n-a\n+b\n";
        let s = scan(&lines(d), 0, 1).expect("well formed");
        assert_eq!(s.files, ["f.bin", "t"]);
    }

    #[test]
    fn strip_levels() {
        assert_eq!(strip_path("a/fs/splice.c", 1), "fs/splice.c");
        assert_eq!(strip_path("fs/splice.c", 0), "fs/splice.c");
        assert_eq!(strip_path("x/y/z", 2), "z");
        assert_eq!(path_field("b/fs/a b.c\t2024-01-01"), "b/fs/a b.c");
        assert_eq!(unquote("\"b/sp\\tace\""), "b/sp\tace");
    }
}
