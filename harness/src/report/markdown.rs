//! `report.md`: plain text to paste into a reply on a mailing list. No
//! tables with pipes, no HTML, lines kept near 72 columns where the content
//! allows; kernels are `[1]`, `[2]`..., the steps of a series `base`,
//! `+1`, `+2`..., so columns stay narrow.
//!
//! A series report opens with its verdict, as the kernel test robots'
//! mails do: a subject line, each patch that changed something with the
//! evidence (the status and its reason; a metric's change with its
//! interval and p-value), and the command that reproduces it. Then, for
//! every run: which kernels ran, what failed and why, what differs between
//! the kernels (status, observations, headline metrics), and how to
//! reproduce the run.

use std::fmt::Write;

use kharness_record::Status;

use super::verdict::SeriesVerdict;
use super::view::{self, View};
use crate::results::compare::{self, DEFAULT_THRESHOLD, MetricDiff, Verdict, is_primary};
use crate::results::{KernelOutcome, RunResults};
use crate::support::quote::sh_quote;

const WIDTH: usize = 72;
/// Longest cell in the observation table before it is cut.
const CELL_MAX: usize = 24;

/// Renders `report.md`: of the metrics, throughput and latency.
pub fn markdown(res: &RunResults) -> String {
    render(res, false)
}

/// Renders `report.md` with every metric that is not zero everywhere in
/// its Performance table (`--verbose`); counts and the like then read
/// `-` in the change columns, as the statistics give no direction.
pub fn markdown_verbose(res: &RunResults) -> String {
    render(res, true)
}

fn render(res: &RunResults, all_metrics: bool) -> String {
    let v = View::new(res);
    let tags = v.tags();
    let mut s = String::new();
    if v.has_verdict() {
        verdict(&mut s, &v);
    } else {
        let title = format!(
            "kharness results: {} kernel{}, {} test{}, run {}",
            res.kernels.len(),
            plural(res.kernels.len()),
            v.ids.len(),
            plural(v.ids.len()),
            res.run_id
        );
        heading(&mut s, &title, '=');
    }
    kernels(&mut s, &v, &tags);
    failures(&mut s, &v, &tags);
    if res.kernels.len() > 1 {
        differences(&mut s, &v, &tags);
    }
    performance(&mut s, &v, &tags, all_metrics);
    reproduce(&mut s, &v, &tags);
    s
}

/// The head of a series report: subject, each patch that changed a
/// result with the evidence, the reproducer.
fn verdict(s: &mut String, v: &View<'_>) {
    let sv = SeriesVerdict::new(v);
    heading(s, &format!("{} (run {})", sv.subject, v.res.run_id), '=');
    if sv.base_bad > 0 {
        let _ = writeln!(
            s,
            "{}: {} test{} did not pass before any patch (What failed, below).",
            v.labels[0],
            sv.base_bad,
            plural(sv.base_bad)
        );
    }
    for p in &sv.found {
        s.push_str(&view::wrap(&v.titles[p.k], WIDTH, "", "    "));
        for (_, line) in &p.lines {
            s.push_str(&view::wrap(line, WIDTH, "  ", "    "));
        }
    }
    if !sv.quiet.is_empty() && !sv.found.is_empty() {
        let quiet: Vec<&str> = sv.quiet.iter().map(|&k| v.labels[k].as_str()).collect();
        let _ = writeln!(s, "No change in: {}.", quiet.join(", "));
    }
    s.push_str("\nReproduce (a bundle carries the run elsewhere):\n");
    s.push_str(&command_lines(&sv.repro));
    s.push_str(&command_lines(&sv.bundle));
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn heading(s: &mut String, title: &str, underline: char) {
    if !s.is_empty() {
        s.push('\n');
    }
    let _ = writeln!(s, "{title}");
    let _ = writeln!(s, "{}", underline.to_string().repeat(title.chars().count()));
}

fn kernels(s: &mut String, v: &View<'_>, tags: &[String]) {
    let res = v.res;
    heading(s, if v.is_series() { "Steps" } else { "Kernels" }, '-');
    for (k, kr) in v.kernels().iter().enumerate() {
        let sha = view::short_sha(&kr.identity.sha256);
        if v.steps[k].is_some() {
            s.push_str(&view::wrap(&v.titles[k], WIDTH, "", "    "));
            let _ = writeln!(s, "    {}, sha256 {sha}", kr.identity.release);
        } else {
            let _ = writeln!(s, "{} {}, sha256 {sha}", tags[k], kr.identity.release);
        }
        let how = match kr.outcome {
            KernelOutcome::Completed => format!("completed in {:.1} s", kr.wall_s),
            other => format!("{} after {:.1} s", other.as_str(), kr.wall_s),
        };
        let _ = writeln!(s, "    {how}: {}", tally(v, k));
        if let Some(d) = kr.detail.as_deref().and_then(|d| d.lines().next()) {
            s.push_str(&view::wrap(d, WIDTH, "    ", "      "));
        }
        if let Some(env) = view::environment_line(kr) {
            let line = format!("environment: {env}");
            s.push_str(&view::wrap(&line, WIDTH, "    ", "      "));
        }
    }
    let backend = view::backend(res);
    let mode = view::perf_mode(res)
        .map(|m| format!(", {m} timing"))
        .unwrap_or_default();
    let reps = v.max_reps();
    let each = if reps > 1 {
        format!("up to {reps} runs of a test")
    } else {
        "one run each".to_owned()
    };
    let tests = if res.filters.is_empty() {
        "all tests".to_owned()
    } else {
        format!("tests matching {}", res.filters.join(" "))
    };
    let text = format!(
        "Ran {} with kharness {} in QEMU ({backend}, {}{mode}); guest binary \
         sha256 {}; {tests}, {each}.",
        res.started,
        res.tool_version,
        res.accel.accel.as_str(),
        view::short_sha(&res.guest.sha256),
    );
    s.push('\n');
    s.push_str(&view::wrap(&text, WIDTH, "", ""));
}

/// `113 pass, 1 skip`, counting tests by their worst repetition, and
/// tests the guest never reached as `not run`.
fn tally(v: &View<'_>, k: usize) -> String {
    let mut parts: Vec<String> = v
        .tally(k)
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .map(|(st, n)| format!("{n} {st}"))
        .collect();
    let missed = v.not_run_ids(k).len();
    if missed > 0 {
        parts.push(format!("{missed} not run"));
    }
    if parts.is_empty() {
        "no tests".into()
    } else {
        parts.join(", ")
    }
}

fn failures(s: &mut String, v: &View<'_>, tags: &[String]) {
    heading(s, "What failed", '-');
    let mut any = false;
    // A test that failed the same way on several kernels is one line.
    for id in &v.ids {
        let lines: Vec<(usize, String)> = (0..tags.len())
            .filter_map(|k| {
                let r = v.worst(k, id)?;
                if !r.status.is_bad() || view::not_run(&v.kernels()[k], r) {
                    return None;
                }
                let reps = v.records(k, id).len();
                let which = if reps > 1 {
                    format!(" (rep {} of {reps})", v.sample_no(k, id, r))
                } else {
                    String::new()
                };
                let why = view::why(r).map(|w| format!(": {w}")).unwrap_or_default();
                Some((k, format!("{id}: {}{which}{why}", r.status)))
            })
            .collect();
        for (ks, text) in grouped(lines) {
            any = true;
            let line = format!("{} {text}", on(&ks, tags));
            s.push_str(&view::wrap(&line, WIDTH, "", "    "));
        }
    }
    for (k, kr) in v.kernels().iter().enumerate() {
        let missed = v.not_run_ids(k);
        if !missed.is_empty() {
            any = true;
            let line = format!(
                "{} not run, the guest stopped first ({}): {}",
                tags[k],
                missed.len(),
                missed.join(", ")
            );
            s.push_str(&view::wrap(&line, WIDTH, "", "    "));
        }
        if kr.outcome != KernelOutcome::Completed
            && kr.outcome != KernelOutcome::Pending
            && kr.detail.as_deref().is_some_and(|d| d.lines().count() > 1)
        {
            any = true;
            let _ = writeln!(s, "{} {}:", tags[k], kr.outcome.as_str());
            for line in kr.detail.as_deref().unwrap_or("").lines() {
                let _ = writeln!(s, "    {}", line.trim_end());
            }
        }
        for f in &kr.console_findings {
            any = true;
            let _ = writeln!(
                s,
                "{} kernel {} on the console ({}):",
                tags[k], f.kind, kr.console_log
            );
            for line in f.excerpt.lines() {
                let _ = writeln!(s, "    {}", line.trim_end());
            }
        }
    }
    if !any {
        s.push_str("Nothing: every test passed or was skipped for a reason.\n");
    }
    let flaky = flaky_lines(v, tags);
    if !flaky.is_empty() {
        s.push_str("\nFlaky (failed, then passed on a retry; not counted as passed):\n");
        s.push_str(&flaky);
    }
    let skips = skip_lines(v, tags);
    if !skips.is_empty() {
        s.push_str("\nSkipped:\n");
        s.push_str(&skips);
    }
}

/// Gathers (kernel, text) pairs into the kernels that share each text, in
/// the order the texts first appear.
fn grouped(items: Vec<(usize, String)>) -> Vec<(Vec<usize>, String)> {
    let mut out: Vec<(Vec<usize>, String)> = Vec::new();
    for (k, text) in items {
        match out.iter_mut().find(|(_, t)| *t == text) {
            Some((ks, _)) => ks.push(k),
            None => out.push((vec![k], text)),
        }
    }
    out
}

/// The kernels a line applies to: `[1]`, `base, +1, +2`.
fn on(ks: &[usize], tags: &[String]) -> String {
    ks.iter()
        .map(|&k| tags[k].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Flaky tests with their failed attempts, one line per kernel.
fn flaky_lines(v: &View<'_>, tags: &[String]) -> String {
    let mut out = String::new();
    for id in &v.ids {
        for (k, tag) in tags.iter().enumerate() {
            let Some(r) = v.worst(k, id).filter(|r| r.status == Status::Flaky) else {
                continue;
            };
            let line = format!("{tag} {id}: {}", r.retry_note().unwrap_or_default());
            out.push_str(&view::wrap(&line, WIDTH, "  ", "      "));
        }
    }
    out
}

/// Skips with their reasons, each reason once: with the tests it
/// applies to, and the kernels unless it is all of them.
fn skip_lines(v: &View<'_>, tags: &[String]) -> String {
    // (kernels, reason) -> tests, in the order they first appear.
    let mut groups: Vec<(Vec<usize>, String, Vec<&str>)> = Vec::new();
    for id in &v.ids {
        let skipped: Vec<(usize, String)> = (0..tags.len())
            .filter_map(|k| {
                let r = v.worst(k, id)?;
                (r.status == Status::Skip).then(|| {
                    (
                        k,
                        r.reason.as_deref().map(view::one_line).unwrap_or_default(),
                    )
                })
            })
            .collect();
        for (ks, why) in grouped(skipped) {
            match groups
                .iter_mut()
                .find(|(gk, gw, _)| *gk == ks && *gw == why)
            {
                Some((_, _, ids)) => ids.push(id),
                None => groups.push((ks, why, vec![id])),
            }
        }
    }
    let mut out = String::new();
    for (ks, why, ids) in groups {
        let on = if ks.len() == tags.len() {
            String::new()
        } else {
            format!("{} ", on(&ks, tags))
        };
        let line = format!("{on}{}: {why}", ids.join(", "));
        out.push_str(&view::wrap(&line, WIDTH, "  ", "      "));
    }
    out
}

fn differences(s: &mut String, v: &View<'_>, tags: &[String]) {
    let what = if v.is_series() {
        "What differs between the steps"
    } else {
        "What differs between the kernels"
    };
    heading(s, what, '-');
    let mut header = vec!["TEST".to_owned()];
    header.extend(tags.iter().cloned());
    let rows: Vec<Vec<String>> = v
        .ids
        .iter()
        .filter(|id| v.status_differs(id))
        .map(|id| {
            let mut row = vec![(*id).to_owned()];
            row.extend((0..tags.len()).map(|k| match v.worst(k, id) {
                None => "-".to_owned(),
                Some(r) if view::not_run(&v.kernels()[k], r) => "not run".to_owned(),
                Some(r) => r.status.as_str().to_owned(),
            }));
            row
        })
        .collect();
    if rows.is_empty() {
        s.push_str("Status: the same on every kernel.\n");
    } else {
        let _ = writeln!(s, "Status ({} test{}):", rows.len(), plural(rows.len()));
        s.push_str(&view::table("  ", &header, &rows));
    }

    let obs = v.observations();
    let mut rows = Vec::new();
    let mut count = 0;
    let mut last_id = "";
    for o in obs.iter().filter(|o| o.differs()) {
        count += 1;
        if o.id != last_id {
            rows.push(vec![o.id.to_owned()]);
            last_id = o.id;
        }
        let mut row = vec![format!("  {}", o.name)];
        row.extend(
            o.values
                .iter()
                .map(|x| x.map_or("-".to_owned(), |x| cell(&x.to_string(), x))),
        );
        rows.push(row);
        if let Some(text) = view::list_difference(tags, &o.values) {
            rows.push(vec![
                view::wrap(&text, WIDTH - 2, "    ", "      ")
                    .trim_end()
                    .to_owned(),
            ]);
        }
        if let Some(why) = o.changed_in {
            rows.push(vec![
                view::wrap(&format!("changed in {why}"), WIDTH - 2, "    ", "      ")
                    .trim_end()
                    .to_owned(),
            ]);
        }
    }
    if count == 0 {
        let _ = writeln!(
            s,
            "\nObservations: all {} the same on every kernel.",
            obs.len()
        );
    } else {
        let _ = writeln!(s, "\nObservations ({count} of {}):", obs.len());
        let mut header = vec!["TEST / OBSERVATION".to_owned()];
        header.extend(tags.iter().cloned());
        s.push_str(&view::table("  ", &header, &rows));
    }
}

fn cell(text: &str, value: &kharness_record::Value) -> String {
    let t = match value {
        kharness_record::Value::List(l) if text.chars().count() > CELL_MAX => {
            format!("[{} items]", l.len())
        }
        _ => text.to_owned(),
    };
    if t.chars().count() > CELL_MAX {
        let cut: String = t.chars().take(CELL_MAX - 1).collect();
        format!("{cut}~")
    } else {
        t
    }
}

/// Headline metrics only (see [`is_primary`]): a median per kernel and,
/// against the reference kernel, the statistics' verdict; a change they
/// do not call significant reads `no change`, never a percentage.
fn performance(s: &mut String, v: &View<'_>, tags: &[String], all_metrics: bool) {
    let n = tags.len();
    // With several kernels, a metric only one of them has compares nothing.
    let rows: Vec<_> = v
        .metrics()
        .into_iter()
        .filter(|m| (all_metrics || is_primary(m.name, m.unit)) && !m.all_zero())
        .filter(|m| n == 1 || m.samples.iter().filter(|x| !x.is_empty()).count() > 1)
        .collect();
    if rows.is_empty() {
        return;
    }
    heading(s, "Performance", '-');
    let diffs = v.metric_diffs();
    let reps = v.max_reps();
    let mut note = if reps > 1 {
        format!("Median of up to {reps} runs per kernel")
    } else {
        "One run per kernel".to_owned()
    };
    if n > 1 {
        let against = if v.is_series() {
            "the step before".to_owned()
        } else {
            tags[0].clone()
        };
        note.push_str(&format!(
            ", change against {against}: a percentage only where a \
             Mann-Whitney test (p < 0.05) and a 95% bootstrap interval say it \
             moved by {:.0}% or more, else \"no change\" (\"n<{}\": too few runs \
             to tell, use --reps {})",
            100.0 * DEFAULT_THRESHOLD,
            compare::MIN_SAMPLES,
            compare::MIN_SAMPLES
        ));
    }
    note.push_str(if all_metrics {
        ". Every metric that is not zero everywhere (--verbose)."
    } else {
        ". Throughput and latency only; every metric is in results.json \
         (and here with --verbose)."
    });
    s.push_str(&view::wrap(&note, WIDTH, "", ""));
    let mut header = vec!["TEST / METRIC (UNIT)".to_owned()];
    header.extend(tags.iter().cloned());
    header.extend((1..n).map(|k| format!("{} vs {}", tags[k], tags[v.reference(k)])));
    let mut table_rows = Vec::new();
    let mut last_id = "";
    for m in &rows {
        if m.id != last_id {
            table_rows.push(vec![m.id.to_owned()]);
            last_id = m.id;
        }
        let mut row = vec![format!("  {} ({})", m.name, m.unit)];
        row.extend(
            m.samples
                .iter()
                .map(|x| view::stats(x).map_or("-".to_owned(), |x| view::num(x.median))),
        );
        for d in &diffs {
            let found = d.iter().find(|x| x.test == m.id && x.metric == m.name);
            row.push(found.map_or("-".to_owned(), verdict_cell));
        }
        table_rows.push(row);
    }
    s.push_str(&view::table("  ", &header, &table_rows));
}

/// A metric's change as the statistics judge it.
fn verdict_cell(m: &MetricDiff) -> String {
    match m.verdict {
        Verdict::Regression => format!("{:+.1}% worse", 100.0 * m.rel_change),
        Verdict::Improvement => format!("{:+.1}% better", 100.0 * m.rel_change),
        Verdict::NoChange => "no change".to_owned(),
        Verdict::TooFewSamples => format!("n<{}", compare::MIN_SAMPLES),
        Verdict::NotDirectional => "-".to_owned(),
        Verdict::WallTime => "wall time, not judged".to_owned(),
    }
}

fn reproduce(s: &mut String, v: &View<'_>, tags: &[String]) {
    let res = v.res;
    heading(s, "How to reproduce", '-');
    let mut words: Vec<String> = vec!["kharness".into(), "run".into()];
    for kr in v.kernels() {
        let path = kr.identity.path.to_string_lossy();
        let boot = format!(
            "{}/vmlinuz-{}",
            crate::kernel::BOOT_DIR,
            kr.identity.release
        );
        words.push("--kernel".into());
        words.push(if path == boot {
            kr.identity.release.clone()
        } else {
            path.into_owned()
        });
    }
    if let Some(b) = res.backend {
        words.extend(["--backend".into(), b.as_str().into()]);
    }
    words.extend(["--accel".into(), res.accel.accel.as_str().into()]);
    if let Some(m) = view::perf_mode(res) {
        words.extend(["--perf-mode".into(), m.into()]);
    }
    for f in &res.filters {
        words.extend(["--filter".into(), f.clone()]);
    }
    let reps = v.max_reps();
    if reps > 1 {
        words.extend(["--reps".into(), reps.to_string()]);
    }
    s.push_str(&command_lines(&words));
    let _ = writeln!(
        s,
        "\nOr rerun exactly what did not pass from the run's recipe.json, here\n\
         or from a bundle elsewhere:\n  kharness repro {dir}\n  \
         kharness bundle {dir} -o {id}.tar.gz",
        dir = res.dir_shown(),
        id = res.run_id
    );
    s.push_str(
        "\nEach kernel's VM command, as run (command.sh in its directory of\n\
         the run directory):\n",
    );
    for (k, kr) in v.kernels().iter().enumerate() {
        let dir = std::path::Path::new(&kr.console_log)
            .parent()
            .map(|p| p.join("command.sh").to_string_lossy().into_owned())
            .unwrap_or_else(|| "command.sh".into());
        let _ = writeln!(s, "{} {dir}", tags[k]);
        let _ = writeln!(s, "    {}", kr.command);
    }
}

/// A shell command quoted word by word, an option and its value kept
/// together, broken with `\\` so it stays one command when pasted.
fn command_lines(words: &[String]) -> String {
    let mut units: Vec<String> = Vec::new();
    for w in words {
        let q = sh_quote(w).into_owned();
        match units.last_mut() {
            Some(u) if !w.starts_with("--") && u.starts_with("--") && !u.contains(' ') => {
                u.push(' ');
                u.push_str(&q);
            }
            _ => units.push(q),
        }
    }
    let mut out = String::from("  ");
    let mut col = 2;
    for (i, u) in units.iter().enumerate() {
        let len = u.chars().count();
        if i > 0 {
            if u.starts_with("--") && col + 1 + len > WIDTH - 2 {
                out.push_str(" \\\n      ");
                col = 6;
            } else {
                out.push(' ');
                col += 1;
            }
        }
        out.push_str(u);
        col += len;
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::tests::{rec, run};
    use serde_json::json;

    #[test]
    fn a_clean_single_kernel_run_is_short() {
        let res = run(&[(
            "6.12.107+deb12-amd64",
            "completed",
            &[
                rec("splice.a", "pass"),
                json!({"id": "io_uring.b", "status": "skip", "reason": "no SEND_ZC", "duration_us": 1}),
            ],
        )]);
        let md = markdown(&res);
        assert!(md.contains("[1] 6.12.107+deb12-amd64, sha256 000000000000\n    completed in 10.0 s: 1 pass, 1 skip\n"), "{md}");
        assert!(md.contains("What failed\n-----------\nNothing: every test passed or was skipped for a reason.\n"), "{md}");
        assert!(md.contains("Skipped:\n  io_uring.b: no SEND_ZC\n"), "{md}");
        assert!(!md.contains("What differs"), "{md}");
        assert!(
            md.contains("  kharness run --kernel 6.12.107+deb12-amd64 --accel tcg\n"),
            "{md}"
        );
    }

    #[test]
    fn steps_are_named_even_from_old_labels_and_a_rerun_step_has_no_verdict() {
        let mut res = run(&[
            ("6.12", "completed", &[rec("a.b", "pass")]),
            ("6.12", "completed", &[rec("a.b", "fail")]),
        ]);
        res.kernels[0].label = Some("base".into());
        res.kernels[1].label = Some("+1".into());
        let md = markdown(&res);
        assert!(
            md.starts_with("kharness: regression in +1 of a 1-patch series"),
            "{md}"
        );
        assert!(
            md.contains("\n+1\n  a.b: pass -> fail (regression)\n"),
            "{md}"
        );
        assert!(md.contains("  TEST  base  +1\n"), "{md}");
        // `kharness repro` of step +1 alone: named, but nothing to judge it by.
        res.kernels.remove(0);
        let md = markdown(&res);
        assert!(md.starts_with("kharness results: 1 kernel"), "{md}");
        assert!(md.contains("\n+1\n    6.12, sha256 "), "{md}");
        assert!(md.contains("\n+1 a.b: fail\n"), "{md}");
    }

    #[test]
    fn only_headline_metrics_unless_verbose() {
        let m = json!({"id": "perf.a", "status": "pass", "duration_us": 1,
            "metrics": [{"name": "throughput", "value": 3.0, "unit": "MiB/s"},
                        {"name": "task_clock", "value": 9.0, "unit": "ns"}]});
        let res = run(&[("6.1", "completed", &[m])]);
        let md = markdown(&res);
        assert!(md.contains("    throughput (MiB/s)  3\n"), "{md}");
        assert!(!md.contains("task_clock"), "{md}");
        let full = markdown_verbose(&res);
        assert!(full.contains("    task_clock (ns)     9\n"), "{full}");
    }

    #[test]
    fn reproduction_quotes_what_a_shell_would_split() {
        let mut res = run(&[("x", "completed", &[])]);
        res.kernels[0].identity.path = "/home/me/my linux/bzImage".into();
        res.filters = vec!["splice.*".into(), "tag:perf".into()];
        let md = markdown(&res);
        assert!(
            md.contains("  kharness run --kernel '/home/me/my linux/bzImage' --accel tcg \\\n      --filter 'splice.*' --filter tag:perf\n"),
            "{md}"
        );
    }

    #[test]
    fn flaky_tests_have_their_own_list_and_count() {
        let res = run(&[(
            "6.1",
            "completed",
            &[
                rec("a.pass", "pass"),
                json!({"id": "a.flaky", "status": "flaky", "duration_us": 2,
                    "attempts": [{"status": "timeout", "duration_us": 1}]}),
            ],
        )]);
        let md = markdown(&res);
        assert!(md.contains(": 1 pass, 1 flaky\n"), "{md}");
        assert!(
            md.contains("Flaky (failed, then passed on a retry; not counted as passed):\n  [1] a.flaky: passed on attempt 2 after attempt 1 timeout\n"),
            "{md}"
        );
    }
}
