//! The test catalogue: every area's table, and filter matching.

use kharness_record::TestInfo;

use crate::framework::Test;

/// Every registered test, in catalogue order.
pub fn all() -> Vec<&'static Test> {
    [
        crate::splice::TESTS,
        crate::tee::TESTS,
        crate::vmsplice::TESTS,
        crate::sendfile::TESTS,
        crate::io_uring::TESTS,
        crate::zerocopy::TESTS,
        crate::signals::TESTS,
        crate::perf::TESTS,
        crate::selftest::TESTS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The tests any filter selects (all of them when there is no filter).
///
/// A filter is a glob over the id (`splice.*`, `*zero*`), an area name
/// (`io_uring`), or `tag:NAME`. Tests tagged `destructive` (they crash or
/// hang the guest on purpose) run only when a filter names their exact id.
pub fn select(filters: &[String]) -> Vec<&'static Test> {
    all()
        .into_iter()
        .filter(|t| {
            if t.has_tag("destructive") {
                return filters.iter().any(|f| f == t.id);
            }
            filters.is_empty() || filters.iter().any(|f| matches(f, t))
        })
        .collect()
}

/// Whether one filter selects one test.
pub fn matches(filter: &str, t: &Test) -> bool {
    if let Some(tag) = filter.strip_prefix("tag:") {
        return t.has_tag(tag);
    }
    let area = t.id.split('.').next().unwrap_or(t.id);
    filter == area || glob_match(filter, t.id)
}

/// `*` matches any run of characters, `?` one character; nothing else is
/// special.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer match with backtracking to the last `*`.
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

/// The catalogue entry of a test.
pub fn info(t: &Test) -> TestInfo {
    TestInfo {
        id: t.id.to_owned(),
        tags: t.tags.iter().map(|s| (*s).to_owned()).collect(),
        about: t.about.to_owned(),
        see: t.see.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for t in all() {
            assert!(seen.insert(t.id), "duplicate id {}", t.id);
            let (area, name) = t.id.split_once('.').expect("id is area.name");
            assert!(!area.is_empty() && !name.is_empty(), "{}", t.id);
            assert!(
                t.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c)),
                "id {} uses characters outside [a-z0-9._]",
                t.id
            );
            assert!(!t.about.is_empty(), "{} has no description", t.id);
        }
    }

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
    fn area_and_tag_filters() {
        let splice = select(&["splice".into()]);
        assert!(!splice.is_empty());
        assert!(splice.iter().all(|t| t.id.starts_with("splice.")));
        assert!(select(&["no.such.test".into()]).is_empty());
        let destructive = all().iter().filter(|t| t.has_tag("destructive")).count();
        assert!(destructive > 0);
        assert_eq!(select(&[]).len(), all().len() - destructive);
        assert!(
            select(&["selftest".into()]).is_empty(),
            "an area filter must not pick destructive tests"
        );
        assert_eq!(select(&["selftest.hang".into()]).len(), 1);
    }
}
