//! Test filters, one definition for both sides: the guest selects the
//! tests to run with them, the host selects stored results (`repro`,
//! `bundle`) with the same words.
//!
//! A filter is a glob over the id (`splice.*`, `*zero*`), an area name
//! (`io_uring`, the part of the id before the first dot), or `tag:NAME`.

/// Whether `filter` selects the test `id` carrying `tags`.
pub fn matches(filter: &str, id: &str, tags: &[&str]) -> bool {
    match filter.strip_prefix("tag:") {
        Some(tag) => tags.contains(&tag),
        None => id_matches(filter, id),
    }
}

/// Whether a filter that is not a `tag:` selects `id`: its area name or a
/// glob over it.
pub fn id_matches(filter: &str, id: &str) -> bool {
    let area = id.split('.').next().unwrap_or(id);
    filter == area || glob_match(filter, id)
}

/// `*` matches any run of characters, `?` one character; nothing else is
/// special.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Two cursors; on a mismatch, go back to just after the last `*` and
    // let it swallow one more character.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("splice.*", "splice.file_roundtrip"));
        assert!(glob_match("*zero*", "splice.from_dev_zero"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("splice.*", "tee.dup"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "a_x_b_y_c"));
        assert!(!glob_match("a*b*c", "a_x_c_y_b"));
    }

    #[test]
    fn areas_globs_and_tags() {
        assert!(matches("io_uring", "io_uring.splice_basic", &[]));
        assert!(!matches("io_urin", "io_uring.splice_basic", &[]));
        assert!(!matches("io_uring", "tee.io_uring", &[]));
        assert!(matches("tag:perf", "perf.x", &["perf"]));
        assert!(!matches("tag:perf", "perf.x", &[]));
        assert!(!id_matches("tag:perf", "perf.x"));
    }
}
