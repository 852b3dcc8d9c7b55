//! Text for people: one line, escaped, shortened.

/// `s` on one line: runs of whitespace and control characters (which some
/// readers take for line breaks, e.g. `\x1c`) become one space.
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` with control characters escaped (`\n`, `\t`, `\u{1b}`): a message
/// that must stay one line even when a path or a filter holds a newline.
pub fn escape_controls(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' => "\\n".to_owned(),
            '\t' => "\\t".to_owned(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The first line of `s` (empty for an empty `s`).
pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// A name safe for a directory: odd characters replaced by `_`.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_folds_whitespace_and_controls() {
        assert_eq!(one_line(" a\n b\x1cc\t "), "a b c");
        assert_eq!(escape_controls("a\nb\tc\x1b"), "a\\nb\\tc\\u{1b}");
        assert_eq!(first_line("x\ny"), "x");
        assert_eq!(first_line(""), "");
    }

    #[test]
    fn slugs_are_plain() {
        assert_eq!(slug("6.12.107+deb12-amd64"), "6.12.107+deb12-amd64");
        assert_eq!(slug("a b/c"), "a_b_c");
    }
}
