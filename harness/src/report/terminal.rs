//! The terminal summary: one column per kernel, problems first, then the
//! observations, with those that differ between kernels marked.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use kharness_record::{Status, Value};

use crate::results::{KernelOutcome, RunResults};
use crate::support::text::one_line;

const CELL_MAX: usize = 36;

/// Renders the summary table of a run.
pub fn terminal(res: &RunResults, verbose: bool) -> String {
    let mut s = String::new();
    let cols: Vec<String> = res.kernels.iter().map(|k| k.name().to_owned()).collect();
    // Test ids in the order the guest ran them.
    let mut ids: Vec<String> = Vec::new();
    for k in &res.kernels {
        for r in &k.records {
            if !ids.contains(&r.id) {
                ids.push(r.id.clone());
            }
        }
    }
    let _ = writeln!(
        s,
        "\nkharness {}: {} kernel(s), {} test(s), accelerator {}",
        res.tool_version,
        cols.len(),
        ids.len(),
        res.accel.accel.as_str()
    );
    let view = crate::report::view::View::new(res);
    // With repetitions, the worst status of any rep stands.
    let status_of = |k: usize, id: &str| view.status(k, id);
    let bad_first = |id: &String| {
        let bad = (0..cols.len()).any(|k| status_of(k, id).is_some_and(|st| st.is_bad()));
        !bad
    };
    let mut ordered = ids.clone();
    ordered.sort_by_key(bad_first);

    let mut header = vec!["TEST".to_owned()];
    header.extend(cols.iter().cloned());
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut notable: Vec<Vec<String>> = Vec::new();
    for id in &ordered {
        let sts: Vec<Option<Status>> = (0..cols.len()).map(|k| status_of(k, id)).collect();
        let differs = sts.windows(2).any(|w| w[0] != w[1]);
        let mut row = vec![if differs {
            format!("{id} *")
        } else {
            id.clone()
        }];
        row.extend(
            sts.iter()
                .map(|st| st.map_or("-".to_owned(), |s| s.as_str().to_owned())),
        );
        if differs || sts.iter().any(|st| st.is_none_or(|x| x != Status::Pass)) {
            notable.push(row.clone());
        }
        rows.push(row);
    }

    // One line per area: the counts of each status, per kernel.
    let mut areas: Vec<&str> = Vec::new();
    for id in &ids {
        let a = id.split('.').next().unwrap_or(id);
        if !areas.contains(&a) {
            areas.push(a);
        }
    }
    let mut area_rows = Vec::new();
    for a in areas.iter().map(|a| Some(*a)).chain([None]) {
        let mut row = vec![a.unwrap_or("all").to_owned()];
        for k in 0..cols.len() {
            let mut counts: BTreeMap<Status, usize> = BTreeMap::new();
            for id in ids
                .iter()
                .filter(|id| a.is_none_or(|a| id.split('.').next() == Some(a)))
            {
                if let Some(st) = status_of(k, id) {
                    *counts.entry(st).or_default() += 1;
                }
            }
            let order = super::view::TALLY_ORDER;
            let text: Vec<String> = order
                .iter()
                .filter_map(|st| counts.get(st).map(|n| format!("{n} {st}")))
                .collect();
            row.push(if text.is_empty() {
                "-".to_owned()
            } else {
                text.join(", ")
            });
        }
        area_rows.push(row);
    }
    let mut area_header = vec!["AREA".to_owned()];
    area_header.extend(cols.iter().cloned());
    s.push('\n');
    s.push_str(&table(&area_header, &area_rows));
    if verbose {
        s.push('\n');
        s.push_str(&table(&header, &rows));
    } else if !notable.is_empty() {
        let what = if cols.len() > 1 {
            "did not pass or differ between kernels (*)"
        } else {
            "did not pass"
        };
        let _ = writeln!(s, "\nTests that {what}:");
        s.push_str(&table(&header, &notable));
    }

    // Why tests did not pass: each reason once, with the kernels it
    // applies to (none named when it is all of them).
    let mut reasons: Vec<(String, Vec<usize>)> = Vec::new();
    for (k, kr) in res.kernels.iter().enumerate() {
        for r in &kr.records {
            if r.status != Status::Pass {
                if let Some(why) = crate::report::view::why(r) {
                    let line = format!("{} {}: {why}", r.id, r.status);
                    match reasons.iter_mut().find(|(l, _)| *l == line) {
                        Some((_, ks)) if !ks.contains(&k) => ks.push(k),
                        Some(_) => {}
                        None => reasons.push((line, vec![k])),
                    }
                }
            }
        }
    }
    let mut notes = String::new();
    for (line, ks) in &reasons {
        let who = if ks.len() == cols.len() {
            String::new()
        } else {
            let names: Vec<&str> = ks.iter().map(|&k| cols[k].as_str()).collect();
            format!("[{}] ", names.join(", "))
        };
        let _ = writeln!(notes, "  {who}{line}");
    }
    if !notes.is_empty() {
        s.push_str("\nWhy tests did not pass:\n");
        s.push_str(&notes);
    }

    observations(&mut s, res, &cols, verbose);
    if verbose {
        metrics(&mut s, res, &cols);
    }

    s.push('\n');
    for (k, kr) in res.kernels.iter().enumerate() {
        // Tests, as in the tables above: each by its worst repetition.
        let count = |keep: &dyn Fn(Status) -> bool| {
            ids.iter()
                .filter_map(|id| status_of(k, id))
                .filter(|&st| keep(st))
                .count()
        };
        let boots = match kr.boots.len() {
            0 | 1 => String::new(),
            n => format!(" ({n} boots)"),
        };
        let flaky = match count(&|st| st == Status::Flaky) {
            0 => String::new(),
            n => format!(", {n} flaky"),
        };
        if crate::report::view::suite_started(kr) {
            let _ = writeln!(
                s,
                "{}: {} passed{flaky}, {} failed, {} skipped; {} in {:.1}s{boots}",
                kr.name(),
                count(&|st| st == Status::Pass),
                count(&|st| st.is_bad()),
                count(&|st| st == Status::Skip),
                kr.outcome.as_str(),
                kr.wall_s
            );
        } else {
            // Every record is one the host filled in: no test ran, so
            // none passed or failed.
            let _ = writeln!(
                s,
                "{}: the suite did not run ({} test(s) not run); {} in {:.1}s{boots}",
                kr.name(),
                kr.records.len(),
                kr.outcome.as_str(),
                kr.wall_s
            );
        }
        if let Some(env) = crate::report::view::environment_line(kr) {
            let _ = writeln!(s, "    environment: {env}");
        }
        if kr.outcome != KernelOutcome::Completed {
            if let Some(d) = &kr.detail {
                for line in d.lines() {
                    let _ = writeln!(s, "    {line}");
                }
            }
            // The console of the boot that stands for the column.
            let console = kr
                .boots
                .iter()
                .find(|b| b.outcome == kr.outcome)
                .map_or(&kr.console_log, |b| &b.console_log);
            let _ = writeln!(s, "    console: {console}");
        }
        for f in kr.console_findings.iter().filter(|f| !f.fatal) {
            let _ = writeln!(
                s,
                "    kernel {} on console: {}",
                f.kind,
                one_line(f.excerpt.lines().next().unwrap_or(""))
            );
        }
    }
    if res.interrupted {
        s.push_str("run interrupted: results above are partial\n");
    }
    s
}

fn observations(s: &mut String, res: &RunResults, cols: &[String], verbose: bool) {
    // (test id, observation name) -> value per kernel (first rep).
    let mut obs: BTreeMap<(String, String), Vec<Option<Value>>> = BTreeMap::new();
    // What changed it, where a test said.
    let mut changed_in: BTreeMap<(String, String), &str> = BTreeMap::new();
    for (k, kr) in res.kernels.iter().enumerate() {
        for r in kr.records.iter().filter(|r| r.rep == 0) {
            for (name, v) in &r.observations {
                let e = obs
                    .entry((r.id.clone(), name.clone()))
                    .or_insert_with(|| vec![None; cols.len()]);
                e[k] = Some(v.clone());
            }
            for (name, why) in &r.changed_in {
                changed_in
                    .entry((r.id.clone(), name.clone()))
                    .or_insert(why.as_str());
            }
        }
    }
    if obs.is_empty() {
        return;
    }
    let differs = |vals: &[Option<Value>]| vals.windows(2).any(|w| w[0] != w[1]);
    let mut rows = Vec::new();
    let mut diff_rows = Vec::new();
    for ((id, name), vals) in &obs {
        let d = cols.len() > 1 && differs(vals);
        let mut row = vec![format!("{id}: {name}{}", if d { " *" } else { "" })];
        row.extend(vals.iter().map(|v| v.as_ref().map_or("-".to_owned(), cell)));
        if d {
            diff_rows.push(row.clone());
            if let Some(text) = list_difference(cols, vals) {
                diff_rows.push(vec![format!("    {text}")]);
            }
            if let Some(why) = changed_in.get(&(id.clone(), name.clone())) {
                diff_rows.push(vec![format!("    changed in {why}")]);
            }
        }
        rows.push(row);
    }
    let mut header = vec!["OBSERVATION".to_owned()];
    header.extend(cols.iter().cloned());
    if cols.len() > 1 {
        if diff_rows.is_empty() {
            s.push_str("\nNo observation differs between the kernels.\n");
        } else {
            let _ = writeln!(
                s,
                "\nObservations that differ between kernels ({}):",
                diff_rows.iter().filter(|r| r.len() > 1).count()
            );
            s.push_str(&table(&header, &diff_rows));
        }
        if verbose {
            s.push_str("\nAll observations:\n");
            s.push_str(&table(&header, &rows));
        }
    } else if verbose {
        s.push_str("\nObservations:\n");
        s.push_str(&table(&header, &rows));
    } else {
        let _ = writeln!(
            s,
            "\n{} observations recorded (--verbose lists them; all are in results.json).",
            rows.len()
        );
    }
}

fn metrics(s: &mut String, res: &RunResults, cols: &[String]) {
    let mut m: BTreeMap<(String, String), Vec<Vec<f64>>> = BTreeMap::new();
    let mut units: BTreeMap<(String, String), String> = BTreeMap::new();
    for (k, kr) in res.kernels.iter().enumerate() {
        for r in &kr.records {
            for x in &r.metrics {
                let key = (r.id.clone(), x.name.clone());
                m.entry(key.clone())
                    .or_insert_with(|| vec![Vec::new(); cols.len()])[k]
                    .push(x.value);
                units.insert(key, x.unit.clone());
            }
        }
    }
    if m.is_empty() {
        return;
    }
    let mut rows = Vec::new();
    for (key, per) in &m {
        let mut row = vec![format!("{}: {} ({})", key.0, key.1, units[key])];
        for v in per {
            row.push(match v.len() {
                0 => "-".to_owned(),
                1 => format_num(v[0]),
                n => {
                    let mut sorted = v.clone();
                    sorted.sort_by(f64::total_cmp);
                    format!("{} (median of {n})", format_num(sorted[n / 2]))
                }
            });
        }
        rows.push(row);
    }
    let mut header = vec!["METRIC".to_owned()];
    header.extend(cols.iter().cloned());
    s.push_str("\nMetrics:\n");
    s.push_str(&table(&header, &rows));
}

fn format_num(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// For list observations, what each kernel has that the first lacks.
fn list_difference(cols: &[String], vals: &[Option<Value>]) -> Option<String> {
    let sets: Vec<Option<BTreeSet<&String>>> = vals
        .iter()
        .map(|v| match v {
            Some(Value::List(l)) => Some(l.iter().collect()),
            _ => None,
        })
        .collect();
    let base = sets.first()?.as_ref()?;
    let mut parts = Vec::new();
    for (k, set) in sets.iter().enumerate().skip(1) {
        let set = set.as_ref()?;
        let added: Vec<&str> = set.difference(base).map(|s| s.as_str()).collect();
        let removed: Vec<&str> = base.difference(set).map(|s| s.as_str()).collect();
        if !added.is_empty() {
            parts.push(format!("{} adds {}", cols[k], added.join(",")));
        }
        if !removed.is_empty() {
            parts.push(format!("{} lacks {}", cols[k], removed.join(",")));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn cell(v: &Value) -> String {
    let s = match v {
        Value::List(l) if v.to_string().chars().count() > CELL_MAX => {
            format!("[{} items]", l.len())
        }
        other => other.to_string(),
    };
    if s.chars().count() > CELL_MAX {
        let cut: String = s.chars().take(CELL_MAX - 1).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// Left-aligned columns separated by two spaces; a row with one cell spans.
fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let mut width = vec![0usize; n];
    for r in std::iter::once(header).chain(rows.iter().map(|r| r.as_slice())) {
        if r.len() == 1 && n > 1 {
            continue;
        }
        for (i, c) in r.iter().enumerate().take(n) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(header).chain(rows.iter().map(|r| r.as_slice())) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                let pad = width[i].saturating_sub(c.chars().count());
                line.push_str(c);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A".into(), "BB".into()],
            &[
                vec!["long name".into(), "x".into()],
                vec!["spanning row that is long".into()],
            ],
        );
        assert_eq!(
            t,
            "A          BB\nlong name  x\nspanning row that is long\n"
        );
    }

    #[test]
    fn the_kernel_line_counts_tests_not_repetitions() {
        use crate::report::view::tests::{rec, run};
        let rep = |id: &str, st: &str, rep: u32| serde_json::json!({"id": id, "status": st, "duration_us": 1, "rep": rep});
        let res = run(&[(
            "6.1",
            "completed",
            &[
                rep("perf.a", "pass", 0),
                rep("perf.a", "pass", 1),
                rep("perf.a", "pass", 2),
                rep("perf.b", "pass", 0),
                rep("perf.b", "fail", 1),
                rec("a.skip", "skip"),
            ],
        )]);
        let t = terminal(&res, false);
        // perf.b counts once, as failed: its worst repetition, as in the
        // AREA table ("1 pass, 1 fail, 1 skip").
        assert!(
            t.contains("\n6.1: 1 passed, 1 failed, 1 skipped; completed in "),
            "{t}"
        );
        assert!(t.contains("all   1 pass, 1 fail, 1 skip"), "{t}");
    }

    #[test]
    fn a_kernel_that_never_ran_the_suite_says_so_not_that_tests_failed() {
        use crate::report::view::tests::{rec, run};
        let not_run = |id: &str| {
            serde_json::json!({"id": id, "status": "error", "duration_us": 0,
                "reason": "not run: the guest stopped first (boot failed)"})
        };
        let res = run(&[
            (
                "6.1",
                "completed",
                &[rec("a.one", "pass"), rec("a.two", "fail")],
            ),
            ("6.12", "boot_failed", &[not_run("a.one"), not_run("a.two")]),
        ]);
        let t = terminal(&res, false);
        assert!(
            t.contains("\n6.12: the suite did not run (2 test(s) not run); boot failed in "),
            "{t}"
        );
        assert!(
            t.contains("\n6.1: 1 passed, 1 failed, 0 skipped; completed in "),
            "{t}"
        );
        assert!(!t.contains("6.12: 0 passed"), "{t}");
    }

    #[test]
    fn a_reason_shared_by_kernels_is_printed_once_naming_them() {
        use crate::report::view::tests::run;
        let skip = |why: &str, rep: u32| {
            serde_json::json!({"id": "io_uring.zc", "status": "skip", "reason": why,
                               "duration_us": 1, "rep": rep})
        };
        let res = run(&[
            (
                "6.1",
                "completed",
                &[skip("no SEND_ZC", 0), skip("no SEND_ZC", 1)],
            ),
            ("6.12", "completed", &[skip("no SEND_ZC", 0)]),
            ("6.13", "completed", &[skip("probe failed", 0)]),
        ]);
        let t = terminal(&res, false);
        assert!(
            t.contains("\n  [6.1, 6.12] io_uring.zc skip: no SEND_ZC\n  [6.13] io_uring.zc skip: probe failed\n"),
            "{t}"
        );
        let all = run(&[
            ("6.1", "completed", &[skip("no SEND_ZC", 0)]),
            ("6.12", "completed", &[skip("no SEND_ZC", 0)]),
        ]);
        assert!(terminal(&all, false).contains("\n  io_uring.zc skip: no SEND_ZC\n"));
    }

    #[test]
    fn a_difference_says_what_changed_it_where_the_test_knows() {
        use crate::report::view::tests::run;
        let rec = |result: &str| {
            serde_json::json!({"id": "splice.from_dev_zero", "status": "pass", "duration_us": 1,
                "observations": {"splice_result": result, "other": 1},
                "changed_in": {"splice_result": "v6.7, 1b057bd800c3"}})
        };
        let res = run(&[
            ("6.1", "completed", &[rec("EINVAL")]),
            ("6.12", "completed", &[rec("4096")]),
        ]);
        let t = terminal(&res, false);
        assert!(
            t.contains("splice.from_dev_zero: splice_result *")
                && t.contains("\n    changed in v6.7, 1b057bd800c3\n"),
            "{t}"
        );
        assert_eq!(t.matches("changed in").count(), 1, "{t}");
        let md = crate::report::markdown::markdown(&res);
        assert!(md.contains("changed in v6.7, 1b057bd800c3"), "{md}");
        // The same value everywhere: no difference, nothing said.
        let same = run(&[
            ("6.1", "completed", &[rec("4096")]),
            ("6.12", "completed", &[rec("4096")]),
        ]);
        assert!(!terminal(&same, false).contains("changed in"));
    }

    #[test]
    fn list_differences_name_what_changed() {
        let cols = ["6.1".to_owned(), "6.12".to_owned()];
        let vals = [
            Some(Value::List(vec!["NOP".into(), "SEND_ZC".into()])),
            Some(Value::List(vec![
                "NOP".into(),
                "SEND_ZC".into(),
                "BIND".into(),
            ])),
        ];
        assert_eq!(list_difference(&cols, &vals).unwrap(), "6.12 adds BIND");
    }

    #[test]
    fn flaky_tests_are_counted_apart_and_say_how_they_failed() {
        let res = crate::report::view::tests::run(&[(
            "6.1",
            "completed",
            &[
                crate::report::view::tests::rec("a.pass", "pass"),
                serde_json::json!({"id": "a.flaky", "status": "flaky", "duration_us": 2,
                    "attempts": [{"status": "fail", "reason": "first", "duration_us": 1}]}),
            ],
        )]);
        let text = terminal(&res, false);
        assert!(text.contains("1 pass, 1 flaky"), "{text}");
        assert!(
            text.contains("a.flaky flaky: passed on attempt 2 after attempt 1 fail: first"),
            "{text}"
        );
        assert!(
            text.contains("6.1: 1 passed, 1 flaky, 0 failed, 0 skipped"),
            "{text}"
        );
    }
}

/// Colours the statuses of a rendered summary for a terminal: table cells
/// and counts (`3 pass`) only, so prose that uses the same words stays as
/// it is. Escape codes take no room on screen, so columns stay aligned.
pub fn paint(text: &str) -> String {
    use anstyle::{AnsiColor, Style};
    static CELL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?m)(^|  |\d )(pass|fail|crashed|timeout|error|warned|flaky|skip|REGRESSION)\b",
        )
        .expect("a fixed pattern")
    });
    CELL.replace_all(text, |c: &regex::Captures<'_>| {
        let word = &c[2];
        let style = match word {
            "pass" => Style::new().fg_color(Some(AnsiColor::Green.into())),
            "skip" | "flaky" => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
            "warned" => Style::new().fg_color(Some(AnsiColor::Magenta.into())),
            _ => Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
        };
        format!("{}{style}{word}{style:#}", &c[1])
    })
    .into_owned()
}

/// `text` for standard output, painted: [`crate::support::stdout`] lets
/// the colour through only where `--color` and the environment say so
/// (files, pipes and CI logs stay plain).
pub fn for_stdout(text: &str) -> String {
    paint(text)
}

#[cfg(test)]
mod paint_tests {
    use super::paint;

    #[test]
    fn cells_and_counts_are_coloured_and_prose_is_not() {
        let t = "AREA  base\nsplice  3 pass, 1 fail\nx.y  crashed  pass\n  x.y fail: did not pass the check\n";
        let p = paint(t);
        assert!(
            p.contains("3 \x1b[32mpass\x1b[0m, 1 \x1b[1m\x1b[31mfail\x1b[0m"),
            "{p:?}"
        );
        assert!(
            p.contains("x.y  \x1b[1m\x1b[31mcrashed\x1b[0m  \x1b[32mpass\x1b[0m"),
            "{p:?}"
        );
        assert!(p.contains("did not pass the check"), "{p:?}");
        // Without escapes the text is unchanged.
        let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
            .unwrap()
            .replace_all(&p, "");
        assert_eq!(stripped, t);
    }
}
