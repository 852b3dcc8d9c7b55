//! `report.html`: one self-contained page (inline CSS and SVG, no script,
//! nothing fetched) with the summary, what did not pass, what differs
//! between kernels side by side, bar charts of every metric, and the full
//! per-test table of each kernel.

use std::fmt::Write;

use kharness_record::{Status, TestRecord, Value};

use super::view::{self, MetricRow, Stats, View};
use crate::results::{KernelOutcome, RunResults};

/// Bar colours, one per kernel (Paul Tol's colour-blind safe "bright"
/// scheme); kernels past the seventh reuse them.
pub const PALETTE: [&str; 7] = [
    "#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb",
];

const CSS: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px; padding: 0 16px 48px; color: #222; }
h1 { font-size: 22px; margin: 20px 0 4px; }
h2 { font-size: 18px; border-bottom: 1px solid #ccc; margin-top: 28px; padding-bottom: 2px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #555; margin: 0; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, pre, td.id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: 6px 8px; overflow-x: auto; }
.st-pass { background: #e3f4e3; }
.st-skip { background: #eeeeee; color: #555; }
.st-fail, .st-crashed, .st-timeout, .st-warned { background: #fbd9d9; font-weight: 600; }
.st-error { background: #fde8c8; }
.st-flaky { background: #fff3b0; }
.st-missing { color: #999; }
td.diff { background: #fff4bf; }
td.k { white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; border-radius: 2px; }
.small { font-size: 12px; color: #444; }
.charts { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; border: 1px solid #e3e3e3; border-radius: 4px; padding: 4px; }
figcaption { font-size: 12px; text-align: center; max-width: 280px; overflow-wrap: anywhere; }
svg text { font: 10px system-ui, sans-serif; fill: #333; }
svg .grid { stroke: #e5e5e5; }
svg .axis { stroke: #888; }
svg .err { stroke: #222; stroke-width: 1.5; }
details > summary { cursor: pointer; font-weight: 600; margin: 8px 0; }
ins { background: #d9f2d9; text-decoration: none; }
del { background: #f9d6d6; }
"#;

/// Chart geometry, in SVG user units (pixels at 100% zoom).
const CHART_W: f64 = 280.0;
const CHART_H: f64 = 170.0;
const PAD_L: f64 = 48.0;
const PAD_R: f64 = 8.0;
const PAD_T: f64 = 18.0;
const PAD_B: f64 = 22.0;

/// Renders `report.html`.
pub fn html(res: &RunResults) -> String {
    let v = View::new(res);
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>kharness run {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&res.run_id)
    );
    header(&mut s, &v);
    summary(&mut s, &v);
    problems(&mut s, &v);
    if res.kernels.len() > 1 {
        differences(&mut s, &v);
    }
    charts(&mut s, &v);
    all_tests(&mut s, &v);
    s.push_str("</body>\n</html>\n");
    s
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn colour(k: usize) -> &'static str {
    PALETTE[k % PALETTE.len()]
}

fn swatch(k: usize) -> String {
    format!(
        "<span class=\"swatch\" style=\"background:{}\"></span>",
        colour(k)
    )
}

fn header(s: &mut String, v: &View<'_>) {
    let res = v.res;
    let backend = view::backend(res);
    let mode = view::perf_mode(res)
        .map(|m| format!(", {m} timing"))
        .unwrap_or_default();
    let filters = if res.filters.is_empty() {
        "whole suite".to_owned()
    } else {
        format!("filters <code>{}</code>", esc(&res.filters.join(" ")))
    };
    let _ = write!(
        s,
        "<header>\n<h1>kharness results: {} kernel{}, {} tests</h1>\n\
         <p class=\"meta\">Run <code>{}</code> started {}{}, kharness {}; QEMU via {} \
         ({}{mode}); guest binary sha256 <code>{}</code>; {filters}.{}</p>\n</header>\n",
        res.kernels.len(),
        if res.kernels.len() == 1 { "" } else { "s" },
        v.ids.len(),
        esc(&res.run_id),
        esc(&res.started),
        res.finished
            .as_deref()
            .map(|f| format!(", finished {}", esc(f)))
            .unwrap_or_default(),
        esc(&res.tool_version),
        backend,
        res.accel.accel.as_str(),
        view::short_sha(&res.guest.sha256),
        if res.interrupted {
            " <strong>Interrupted: results are partial.</strong>"
        } else {
            ""
        },
    );
}

fn summary(s: &mut String, v: &View<'_>) {
    s.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<table>\n<tr><th>kernel</th><th>image sha256</th><th>outcome</th>");
    let order = view::TALLY_ORDER;
    for st in order {
        let _ = write!(s, "<th>{st}</th>");
    }
    s.push_str("<th>not run</th><th>VM time</th></tr>\n");
    for (k, kr) in v.kernels().iter().enumerate() {
        let outcome_class = if kr.outcome == KernelOutcome::Completed {
            "st-pass"
        } else {
            "st-crashed"
        };
        let _ = write!(
            s,
            "<tr><td>{}<strong>{}</strong><div class=\"small\">{}</div></td><td><code>{}</code></td>\
             <td class=\"{outcome_class}\">{}{}</td>",
            swatch(k),
            esc(&v.labels[k]),
            esc(&kr.identity.banner),
            view::short_sha(&kr.identity.sha256),
            esc(kr.outcome.as_str()),
            kr.detail
                .as_deref()
                .and_then(|d| d.lines().next())
                .map(|d| format!("<div class=\"small\">{}</div>", esc(d)))
                .unwrap_or_default(),
        );
        let mut missed = 0;
        for st in order {
            let n = v
                .ids
                .iter()
                .filter_map(|id| v.worst(k, id))
                .filter(|r| r.status == st)
                .filter(|r| {
                    let nr = view::not_run(kr, r);
                    if nr && st == Status::Error {
                        missed += 1;
                    }
                    !nr
                })
                .count();
            let class = if n > 0 && st != Status::Pass && st != Status::Skip {
                format!(" st-{st}")
            } else {
                String::new()
            };
            let _ = write!(s, "<td class=\"n{class}\">{n}</td>");
        }
        let _ = writeln!(
            s,
            "<td class=\"n\">{missed}</td><td class=\"n\">{:.1} s</td></tr>",
            kr.wall_s
        );
    }
    s.push_str("</table>\n</section>\n");
}

fn problems(s: &mut String, v: &View<'_>) {
    s.push_str("<section id=\"problems\">\n<h2>What did not pass</h2>\n");
    let mut rows = String::new();
    for (k, kr) in v.kernels().iter().enumerate() {
        for id in &v.ids {
            let Some(r) = v.worst(k, id) else { continue };
            if r.status == Status::Pass || view::not_run(kr, r) {
                continue;
            }
            let why = view::why(r).unwrap_or_default();
            let reps = v.records(k, id).len();
            let which = if reps > 1 {
                format!(" (rep {} of {reps})", v.sample_no(k, id, r))
            } else {
                String::new()
            };
            let _ = writeln!(
                rows,
                "<tr><td class=\"k\">{}{}</td><td class=\"id\">{}</td><td class=\"st-{}\">{}</td><td>{}{which}</td></tr>",
                swatch(k),
                esc(&v.labels[k]),
                esc(id),
                r.status,
                r.status,
                esc(&why),
            );
        }
        let missed: Vec<&str> = v
            .ids
            .iter()
            .copied()
            .filter(|id| v.worst(k, id).is_some_and(|r| view::not_run(kr, r)))
            .collect();
        if !missed.is_empty() {
            let _ = writeln!(
                rows,
                "<tr><td class=\"k\">{}{}</td><td class=\"id\">{} tests</td><td class=\"st-error\">not run</td>\
                 <td>the guest stopped first: <code>{}</code></td></tr>",
                swatch(k),
                esc(&v.labels[k]),
                missed.len(),
                esc(&missed.join(" ")),
            );
        }
    }
    if rows.is_empty() {
        s.push_str("<p>Every test passed.</p>\n");
    } else {
        s.push_str(
            "<table>\n<tr><th>kernel</th><th>test</th><th>status</th><th>reason</th></tr>\n",
        );
        s.push_str(&rows);
        s.push_str("</table>\n");
    }
    for (k, kr) in v.kernels().iter().enumerate() {
        if kr.outcome != KernelOutcome::Completed {
            if let Some(d) = &kr.detail {
                let _ = writeln!(
                    s,
                    "<h3>{}{}: {}</h3>\n<pre>{}</pre>",
                    swatch(k),
                    esc(&v.labels[k]),
                    esc(kr.outcome.as_str()),
                    esc(d)
                );
            }
        }
        for f in &kr.console_findings {
            let _ = writeln!(
                s,
                "<h3>{}{}: kernel {} on the console (<code>{}</code>)</h3>\n<pre>{}</pre>",
                swatch(k),
                esc(&v.labels[k]),
                esc(&f.kind),
                esc(&kr.console_log),
                esc(&f.excerpt)
            );
        }
    }
    s.push_str("</section>\n");
}

fn kernel_headers(s: &mut String, v: &View<'_>) {
    for (k, l) in v.labels.iter().enumerate() {
        let _ = write!(s, "<th>{}{}</th>", swatch(k), esc(l));
    }
}

fn differences(s: &mut String, v: &View<'_>) {
    s.push_str("<section id=\"differences\">\n<h2>What differs between the kernels</h2>\n<h3>Status</h3>\n");
    let differing: Vec<&str> = v
        .ids
        .iter()
        .copied()
        .filter(|id| v.status_differs(id))
        .collect();
    if differing.is_empty() {
        s.push_str("<p>Every test has the same status on every kernel.</p>\n");
    } else {
        s.push_str("<table>\n<tr><th>test</th>");
        kernel_headers(s, v);
        s.push_str("</tr>\n");
        for id in differing {
            let _ = write!(s, "<tr><td class=\"id\">{}</td>", esc(id));
            for (k, kr) in v.kernels().iter().enumerate() {
                match v.worst(k, id) {
                    Some(r) if view::not_run(kr, r) => {
                        s.push_str("<td class=\"st-error\">not run</td>");
                    }
                    r => status_cell(s, r),
                }
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }
    let obs = v.observations();
    let diff: Vec<_> = obs.iter().filter(|o| o.differs()).collect();
    let _ = writeln!(
        s,
        "<h3>Observations ({} of {} differ)</h3>",
        diff.len(),
        obs.len()
    );
    if diff.is_empty() {
        s.push_str("<p>Every observation is the same on every kernel.</p>\n");
    } else {
        s.push_str("<table>\n<tr><th>test</th><th>observation</th>");
        kernel_headers(s, v);
        s.push_str("</tr>\n");
        for o in diff {
            let _ = write!(
                s,
                "<tr><td class=\"id\">{}</td><td class=\"id\">{}</td>",
                esc(o.id),
                esc(o.name)
            );
            let first = o.values.first().copied().flatten();
            for (k, val) in o.values.iter().enumerate() {
                let class = if k > 0 && *val != first {
                    " class=\"diff\""
                } else {
                    ""
                };
                let _ = write!(s, "<td{class}>{}</td>", value_html(*val, first, k > 0));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }
    s.push_str("</section>\n");
}

/// A value; a list against the first kernel's list shows what it adds
/// (`ins`) and lacks (`del`).
fn value_html(val: Option<&Value>, first: Option<&Value>, compare: bool) -> String {
    match (val, first) {
        (None, _) => "<span class=\"st-missing\">-</span>".into(),
        (Some(Value::List(l)), Some(Value::List(base))) if compare => {
            let added: Vec<String> = l
                .iter()
                .filter(|x| !base.contains(x))
                .map(|x| format!("<ins>+{}</ins>", esc(x)))
                .collect();
            let lacks: Vec<String> = base
                .iter()
                .filter(|x| !l.contains(x))
                .map(|x| format!("<del>-{}</del>", esc(x)))
                .collect();
            format!(
                "{} items {}",
                l.len(),
                added.into_iter().chain(lacks).collect::<Vec<_>>().join(" ")
            )
        }
        (Some(Value::List(l)), _) => format!(
            "<details><summary>{} items</summary><code>{}</code></details>",
            l.len(),
            esc(&l.join(" "))
        ),
        (Some(x), _) => format!("<code>{}</code>", esc(&x.to_string())),
    }
}

fn status_cell(s: &mut String, r: Option<&TestRecord>) {
    match r {
        Some(r) => {
            let _ = write!(
                s,
                "<td class=\"st-{}\" title=\"{}\">{}</td>",
                r.status,
                esc(&view::why(r).unwrap_or_default()),
                r.status
            );
        }
        None => s.push_str("<td class=\"st-missing\">-</td>"),
    }
}

fn charts(s: &mut String, v: &View<'_>) {
    let rows = v.metrics();
    if rows.is_empty() {
        return;
    }
    let reps = v.max_reps();
    let _ = writeln!(
        s,
        "<section id=\"perf\">\n<h2>Metrics</h2>\n<p>{} Hover a bar for its figures.{}</p>",
        if reps > 1 {
            "Bars: median of a kernel's runs of the test; whiskers: lowest to highest run."
        } else {
            "One run per kernel (run with <code>--reps N</code> for medians and spread)."
        },
        view::perf_mode(v.res)
            .map(|m| format!(" Timing mode: {m}."))
            .unwrap_or_default()
    );
    s.push_str("<p>");
    for (k, l) in v.labels.iter().enumerate() {
        let _ = write!(s, "{}[{}] {} &nbsp; ", swatch(k), k + 1, esc(l));
    }
    s.push_str("</p>\n");
    let mut i = 0;
    while i < rows.len() {
        let id = rows[i].id;
        let group: Vec<&MetricRow<'_>> = rows[i..].iter().take_while(|m| m.id == id).collect();
        i += group.len();
        let zero: Vec<&str> = group
            .iter()
            .filter(|m| m.all_zero())
            .map(|m| m.name)
            .collect();
        let _ = writeln!(
            s,
            "<h3 class=\"id\"><code>{}</code></h3>\n<div class=\"charts\">",
            esc(id)
        );
        for m in group.iter().filter(|m| !m.all_zero()) {
            let st: Vec<Option<Stats>> = m.samples.iter().map(|x| view::stats(x)).collect();
            let _ = writeln!(
                s,
                "<figure>{}<figcaption>{} ({})</figcaption></figure>",
                bar_chart(&v.labels, &st, m.unit, &format!("{id}: {}", m.name)),
                esc(m.name),
                esc(m.unit)
            );
        }
        s.push_str("</div>\n");
        if !zero.is_empty() {
            let _ = writeln!(
                s,
                "<p class=\"small\">Zero on every kernel: {}.</p>",
                esc(&zero.join(", "))
            );
        }
    }
    s.push_str("</section>\n");
}

/// Rounds up to 1, 2 or 5 times a power of ten: a tick step.
fn nice_step(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    for m in [1.0, 2.0, 5.0] {
        if m * p >= x * (1.0 - 1e-9) {
            return m * p;
        }
    }
    10.0 * p
}

/// Axis ticks from 0 (or below, for negative values) past `max`: at most
/// about five, at round steps.
fn ticks(min: f64, max: f64) -> Vec<f64> {
    let span = max.max(0.0) - min.min(0.0);
    let step = nice_step(if span > 0.0 { span / 4.0 } else { 0.25 });
    let lo = (min.min(0.0) / step).floor() as i64;
    let hi = ((max.max(0.0) / step).ceil() as i64).max(lo + 1);
    (lo..=hi).map(|i| i as f64 * step).collect()
}

/// One SVG bar chart: a bar per kernel at the median, a whisker from the
/// lowest to the highest sample when there are several.
fn bar_chart(labels: &[String], stats: &[Option<Stats>], unit: &str, title: &str) -> String {
    let plot_w = CHART_W - PAD_L - PAD_R;
    let plot_h = CHART_H - PAD_T - PAD_B;
    let max = stats.iter().flatten().map(|x| x.max).fold(0.0, f64::max);
    let min = stats.iter().flatten().map(|x| x.min).fold(0.0, f64::min);
    let tick = ticks(min, max);
    let (lo, hi) = (tick[0], tick[tick.len() - 1]);
    let y = |val: f64| PAD_T + plot_h * (hi - val) / (hi - lo);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_W}\" height=\"{CHART_H}\" \
         viewBox=\"0 0 {CHART_W} {CHART_H}\" role=\"img\"><title>{}</title>",
        esc(title)
    );
    for val in &tick {
        let yy = y(*val).round();
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{PAD_L}\" x2=\"{}\" y1=\"{yy}\" y2=\"{yy}\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            CHART_W - PAD_R,
            PAD_L - 4.0,
            yy + 3.0,
            view::si(*val)
        );
    }
    let base = y(0.0).round();
    let n = labels.len().max(1) as f64;
    let slot = plot_w / n;
    let bar_w = (slot * 0.6).min(48.0).floor();
    for (k, st) in stats.iter().enumerate() {
        let cx = PAD_L + slot * (k as f64 + 0.5);
        let _ = write!(
            s,
            "<text x=\"{cx:.1}\" y=\"{}\" text-anchor=\"middle\">[{}]</text>",
            CHART_H - 6.0,
            k + 1
        );
        let Some(st) = st else {
            let _ = write!(
                s,
                "<text x=\"{cx:.1}\" y=\"{}\" text-anchor=\"middle\">no data</text>",
                base - 4.0
            );
            continue;
        };
        let top = y(st.median).round();
        let (ry, rh) = if top <= base {
            (top, base - top)
        } else {
            (base, top - base)
        };
        let x0 = (cx - bar_w / 2.0).round();
        let tip = if st.n > 1 {
            format!(
                "{}: median {} {unit} of {} runs, {} to {}",
                labels[k],
                view::num(st.median),
                st.n,
                view::num(st.min),
                view::num(st.max)
            )
        } else {
            format!("{}: {} {unit}", labels[k], view::num(st.median))
        };
        let _ = write!(
            s,
            "<rect class=\"bar k{k}\" x=\"{x0}\" y=\"{ry}\" width=\"{bar_w}\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>",
            rh.max(1.0),
            colour(k),
            esc(&tip)
        );
        let mut label_y = ry;
        if st.n > 1 && st.max > st.min {
            let (y1, y2) = (y(st.max).round(), y(st.min).round());
            let cap = (bar_w / 4.0).max(3.0);
            let _ = write!(
                s,
                "<line class=\"err\" x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{y1}\" y2=\"{y2}\"/>\
                 <line class=\"err\" x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y1}\" y2=\"{y1}\"/>\
                 <line class=\"err\" x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y2}\" y2=\"{y2}\"/>",
                cx - cap,
                cx + cap,
                cx - cap,
                cx + cap
            );
            label_y = label_y.min(y1);
        }
        let _ = write!(
            s,
            "<text x=\"{cx:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            (label_y - 3.0).max(9.0),
            view::si(st.median)
        );
    }
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{PAD_L}\" x2=\"{}\" y1=\"{base}\" y2=\"{base}\"/></svg>",
        CHART_W - PAD_R
    );
    s
}

fn all_tests(s: &mut String, v: &View<'_>) {
    s.push_str("<section id=\"tests\">\n<h2>All tests</h2>\n");
    for (k, kr) in v.kernels().iter().enumerate() {
        let _ = writeln!(
            s,
            "<details open>\n<summary>{}{} ({} tests, {})</summary>\n<table>\n\
             <tr><th>test</th><th>status</th><th>time</th><th>reason</th><th>observations</th><th>metrics</th></tr>",
            swatch(k),
            esc(&v.labels[k]),
            v.ids
                .iter()
                .filter(|id| !v.records(k, id).is_empty())
                .count(),
            esc(kr.outcome.as_str())
        );
        for id in &v.ids {
            let recs = v.records(k, id);
            let Some(worst) = v.worst(k, id) else {
                continue;
            };
            let _ = write!(s, "<tr><td class=\"id\">{}</td>", esc(id));
            status_cell(s, Some(worst));
            let total_us: u64 = recs.iter().map(|r| r.duration_us).sum();
            let reps = if recs.len() > 1 {
                format!(" ({} runs)", recs.len())
            } else {
                String::new()
            };
            let _ = write!(
                s,
                "<td class=\"n\">{} ms{reps}</td><td>{}</td>",
                view::num(total_us as f64 / 1000.0),
                esc(worst.reason.as_deref().unwrap_or(""))
            );
            let obs: Vec<String> = recs
                .first()
                .map(|r| {
                    r.observations
                        .iter()
                        .map(|(n, x)| format!("{}&nbsp;=&nbsp;{}", esc(n), short_value(x)))
                        .collect()
                })
                .unwrap_or_default();
            let _ = write!(s, "<td class=\"small\">{}</td>", obs.join("; "));
            let mut mets: Vec<String> = Vec::new();
            for m in recs.first().map(|r| r.metrics.as_slice()).unwrap_or(&[]) {
                let samples: Vec<f64> = recs
                    .iter()
                    .flat_map(|r| r.metrics.iter().filter(|x| x.name == m.name))
                    .map(|x| x.value)
                    .collect();
                if let Some(st) = view::stats(&samples) {
                    mets.push(format!(
                        "{}&nbsp;{}&nbsp;{}",
                        esc(&m.name),
                        view::num(st.median),
                        esc(&m.unit)
                    ));
                }
            }
            let _ = writeln!(s, "<td class=\"small\">{}</td></tr>", mets.join("; "));
        }
        s.push_str("</table>\n</details>\n");
    }
    s.push_str("</section>\n");
}

fn short_value(x: &Value) -> String {
    match x {
        Value::List(l) if l.len() > 6 => format!(
            "<details><summary>{} items</summary>{}</details>",
            l.len(),
            esc(&l.join(" "))
        ),
        other => esc(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::tests::{rec, run};
    use serde_json::json;

    fn st(median: f64, min: f64, max: f64, n: usize) -> Option<Stats> {
        Some(Stats {
            n,
            median,
            min,
            max,
        })
    }

    #[test]
    fn kernel_text_cannot_inject_markup_into_the_report() {
        let evil = "<script>alert(1)</script>";
        let res = run(&[(
            "6.1<img src=x onerror=alert(2)>",
            "crashed",
            &[serde_json::json!({
                "id": "tee.a", "status": "fail", "duration_us": 1,
                "reason": format!("got {evil}"),
                "observations": {"note": evil},
            })],
        )]);
        let page = html(&res);
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn axis_ticks_are_round() {
        assert_eq!(ticks(0.0, 0.0), [0.0, 0.5]);
        assert_eq!(ticks(0.0, 7.0), [0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(ticks(0.0, 19.2e6), [0.0, 5e6, 10e6, 15e6, 20e6]);
        assert_eq!(ticks(0.0, 100.0), [0.0, 50.0, 100.0]);
        assert_eq!(ticks(-3.0, 5.0), [-4.0, -2.0, 0.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn bars_reach_their_medians_and_whiskers_span_the_runs() {
        let labels = ["a".to_owned(), "b".to_owned()];
        let svg = bar_chart(
            &labels,
            &[st(50.0, 40.0, 60.0, 3), st(100.0, 100.0, 100.0, 1)],
            "MiB/s",
            "t: m",
        );
        // Plot is 130 units tall from y=18; the axis tops at 100.
        assert!(
            svg.contains(
                r##"<rect class="bar k0" x="80" y="83" width="48" height="65" fill="#4477aa">"##
            ),
            "{svg}"
        );
        assert!(
            svg.contains(
                r##"<rect class="bar k1" x="192" y="18" width="48" height="130" fill="#ee6677">"##
            ),
            "{svg}"
        );
        assert_eq!(
            svg.matches("class=\"err\"").count(),
            3,
            "one whisker with two caps: {svg}"
        );
        assert!(
            svg.contains("a: median 50 MiB/s of 3 runs, 40 to 60"),
            "{svg}"
        );
    }

    #[test]
    fn missing_data_is_said_not_drawn() {
        let svg = bar_chart(
            &["a".to_owned(), "b".to_owned()],
            &[st(1.0, 1.0, 1.0, 1), None],
            "ns",
            "t",
        );
        assert_eq!(svg.matches("<rect").count(), 1);
        assert!(svg.contains("no data"));
    }

    #[test]
    fn the_page_is_self_contained() {
        let m = json!({"id": "perf.a", "status": "pass", "duration_us": 1,
                       "metrics": [{"name": "throughput", "value": 3.0, "unit": "MiB/s"},
                                   {"name": "faults", "value": 0.0, "unit": "count"}]});
        let page = html(&run(&[
            ("6.1", "completed", &[m.clone(), rec("a.b", "pass")]),
            ("6.12", "completed", &[m, rec("a.b", "fail")]),
        ]));
        for banned in ["<script", "<link", "src=", "url(", "@import"] {
            assert!(!page.contains(banned), "{banned} in page");
        }
        assert!(page.contains("Zero on every kernel: faults."));
        assert_eq!(page.matches("<svg class=\"chart\"").count(), 1);
        assert!(page.contains("<td class=\"st-fail\" title=\"\">fail</td>"));
    }

    #[test]
    fn flaky_tests_are_counted_and_listed_with_their_attempts() {
        let res = run(&[(
            "6.1",
            "completed",
            &[
                rec("a.b", "pass"),
                json!({"id": "a.flaky", "status": "flaky", "duration_us": 2,
                    "attempts": [{"status": "fail", "reason": "first", "duration_us": 1}]}),
            ],
        )]);
        let page = html(&res);
        assert!(page.contains("<th>flaky</th>"), "{page}");
        assert!(page.contains("<td class=\"n st-flaky\">1</td>"), "{page}");
        assert!(
            page.contains("<td class=\"st-flaky\">flaky</td><td>passed on attempt 2 after attempt 1 fail: first</td>"),
            "{page}"
        );
    }
}
