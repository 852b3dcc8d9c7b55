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

/// The tests any filter selects (all of them when there is no filter), in
/// the order of the filters: those the first filter selects, in catalogue
/// order, then those the second adds, and so on. So `run selftest.hang
/// tee` runs the hang first and the tee tests after it.
///
/// A filter is a glob over the id (`splice.*`, `*zero*`), an area name
/// (`io_uring`), or `tag:NAME`. Tests tagged `destructive` (they crash or
/// hang the guest on purpose) run only when a filter names their exact id.
pub fn select(filters: &[String]) -> Vec<&'static Test> {
    let tests = all();
    if filters.is_empty() {
        return tests
            .into_iter()
            .filter(|t| !t.has_tag("destructive"))
            .collect();
    }
    let mut out: Vec<&'static Test> = Vec::new();
    for f in filters {
        for t in &tests {
            let hit = if t.has_tag("destructive") {
                f == t.id
            } else {
                matches(f, t)
            };
            if hit && !out.iter().any(|o| o.id == t.id) {
                out.push(t);
            }
        }
    }
    out
}

/// The tests of a selection that come after `id`; `None` when `id` is not
/// in it. The host continues a suite in a fresh boot with this.
pub fn after<'a>(tests: &'a [&'static Test], id: &str) -> Option<&'a [&'static Test]> {
    let i = tests.iter().position(|t| t.id == id)?;
    Some(&tests[i + 1..])
}

/// Whether one filter selects one test (the grammar is
/// [`kharness_record::filter`]'s, shared with the host).
pub fn matches(filter: &str, t: &Test) -> bool {
    kharness_record::filter::matches(filter, t.id, t.tags)
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
    fn area_and_tag_filters() {
        let splice = select(&["splice".into()]);
        assert!(!splice.is_empty());
        assert!(splice.iter().all(|t| t.id.starts_with("splice.")));
        assert!(select(&["no.such.test".into()]).is_empty());
        let destructive = all().iter().filter(|t| t.has_tag("destructive")).count();
        assert!(destructive > 0);
        assert_eq!(select(&[]).len(), all().len() - destructive);
        assert!(
            select(&["selftest".into()])
                .iter()
                .all(|t| !t.has_tag("destructive")),
            "an area filter must not pick destructive tests"
        );
        assert_eq!(select(&["selftest.hang".into()]).len(), 1);
    }

    #[test]
    fn tests_run_in_filter_order_each_once() {
        let f = |v: &[&str]| -> Vec<&str> {
            select(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .iter()
                .map(|t| t.id)
                .collect()
        };
        let ids = f(&[
            "selftest.sysrq_crash",
            "tee.*",
            "tee",
            "splice.from_dev_zero",
        ]);
        assert_eq!(ids[0], "selftest.sysrq_crash");
        assert!(ids[1..ids.len() - 1].iter().all(|i| i.starts_with("tee.")));
        assert_eq!(ids.last(), Some(&"splice.from_dev_zero"));
        let tee = f(&["tee"]);
        assert_eq!(ids.len(), tee.len() + 2, "no test twice");
    }

    #[test]
    fn after_skips_up_to_and_including_the_id() {
        let sel = select(&["selftest.hang".into(), "tee".into()]);
        let rest = after(&sel, "selftest.hang").unwrap();
        assert_eq!(rest.len(), sel.len() - 1);
        assert!(rest.iter().all(|t| t.id.starts_with("tee.")));
        let last = sel.last().unwrap().id;
        assert!(after(&sel, last).unwrap().is_empty());
        assert!(after(&sel, "splice.nope").is_none());
    }
}
