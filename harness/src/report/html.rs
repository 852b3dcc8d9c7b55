//! `report.html`: one self-contained page (inline CSS and SVG, no script,
//! nothing fetched) with, for a series, what each patch changed; then the
//! summary, what did not pass, what differs between kernels side by side,
//! a strip plot of every sample of each headline metric, and the full
//! per-test table of each kernel.
//!
//! All markup comes from `maud::html!`, which escapes every spliced value:
//! test ids, reasons, observations, metric names and console excerpts come
//! from kernels and must not become markup in a page people share.
//! `PreEscaped` wraps only constants written here (the stylesheet).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use kharness_record::{Status, TestRecord, Value};

use super::verdict::SeriesVerdict;
use super::view::{self, MetricRow, Stats, View};
use crate::results::compare::{MetricDiff, Verdict};
use crate::results::{KernelOutcome, KernelRun, RunResults};

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
svg .med { stroke-width: 3; }
svg .pt { stroke: #fff; stroke-width: 0.5; }
svg .regressed { fill: #f4a3a3; }
svg .improved { fill: #cfeccf; }
svg text.verdict { font-weight: 600; }
details > summary { cursor: pointer; font-weight: 600; margin: 8px 0; }
ins { background: #d9f2d9; text-decoration: none; }
del { background: #f9d6d6; }
li.worse { color: #a00; font-weight: 600; }
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
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "kharness run " (res.run_id) }
                style { (PreEscaped(CSS)) }
            }
            body {
                (header(&v))
                @if v.has_verdict() {
                    (verdict(&v))
                }
                (summary(&v))
                (problems(&v))
                @if res.kernels.len() > 1 {
                    (differences(&v))
                }
                (charts(&v))
                (all_tests(&v))
            }
        }
    };
    let mut s = page.into_string();
    s.push('\n');
    s
}

fn colour(k: usize) -> &'static str {
    PALETTE[k % PALETTE.len()]
}

/// The class that colours a status.
fn st_class(st: impl std::fmt::Display) -> String {
    format!("st-{st}")
}

/// A coordinate to one decimal, as SVG attributes take it.
fn d1(x: f64) -> String {
    format!("{x:.1}")
}

fn swatch(k: usize) -> Markup {
    html! { span.swatch style={ "background:" (colour(k)) } {} }
}

/// A kernel's colour and label, as every table names it.
fn kernel_name(v: &View<'_>, k: usize) -> Markup {
    html! {
        (swatch(k))
        // A series step's column is `+2`; its patch subject on hover.
        @if v.titles[k] != v.labels[k] {
            span title=(v.titles[k]) { (v.labels[k]) }
        } @else {
            (v.labels[k])
        }
    }
}

fn header(v: &View<'_>) -> Markup {
    let res = v.res;
    let n = res.kernels.len();
    html! {
        header {
            h1 {
                @if v.has_verdict() {
                    (SeriesVerdict::new(v).subject)
                } @else {
                    "kharness results: " (n) " kernel" @if n != 1 { "s" } ", " (v.ids.len()) " tests"
                }
            }
            p.meta {
                "Run " code { (res.run_id) } " started " (res.started)
                @if let Some(f) = &res.finished { ", finished " (f) }
                ", kharness " (res.tool_version) "; QEMU via " (view::backend(res))
                " (" (res.accel.accel.as_str())
                @if let Some(m) = view::perf_mode(res) { ", " (m) " timing" }
                "); guest binary sha256 " code { (view::short_sha(&res.guest.sha256)) } "; "
                @if res.filters.is_empty() {
                    "whole suite"
                } @else {
                    "filters " code { (res.filters.join(" ")) }
                }
                "."
                @if res.interrupted { " " strong { "Interrupted: results are partial." } }
            }
        }
    }
}

/// A series' verdict: the patches that changed a result, each change
/// with its evidence, and the commands that reproduce them.
fn verdict(v: &View<'_>) -> Markup {
    let sv = SeriesVerdict::new(v);
    let quote = |words: &[String]| {
        words
            .iter()
            .map(|w| crate::support::quote::sh_quote(w).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    html! {
        section #verdict {
            h2 { "What each patch changed" }
            @if sv.found.is_empty() {
                p { "No patch changed a status, an observation or a headline metric." }
            }
            @for p in &sv.found {
                h3 { (swatch(p.k)) (v.titles[p.k]) }
                ul {
                    @for (worse, line) in &p.lines {
                        li.worse[*worse] { (line) }
                    }
                }
            }
            @if !sv.quiet.is_empty() && !sv.found.is_empty() {
                p {
                    "No change in: "
                    (sv.quiet.iter().map(|&k| v.labels[k].as_str()).collect::<Vec<_>>().join(", "))
                    "."
                }
            }
            p { "Reproduce (a bundle carries the run elsewhere):" }
            pre { (quote(&sv.repro)) "\n" (quote(&sv.bundle)) }
        }
    }
}

fn summary(v: &View<'_>) -> Markup {
    html! {
        section #summary {
            h2 { "Summary" }
            table {
                tr {
                    th { "kernel" } th { "image sha256" } th { "outcome" }
                    @for st in view::TALLY_ORDER { th { (st) } }
                    th { "not run" } th { "VM time" }
                }
                @for (k, kr) in v.kernels().iter().enumerate() {
                    (summary_row(v, k, kr))
                }
            }
        }
    }
}

fn summary_row(v: &View<'_>, k: usize, kr: &KernelRun) -> Markup {
    let outcome_class = if kr.outcome == KernelOutcome::Completed {
        "st-pass"
    } else {
        "st-crashed"
    };
    html! {
        tr {
            td {
                (swatch(k)) strong { (v.titles[k]) } div.small { (kr.identity.banner) }
                // Facts of the test environment, not of the kernel's
                // semantics: one line per kernel, never a difference.
                @if let Some(env) = view::environment_line(kr) {
                    div.small.environment { "environment: " (env) }
                }
            }
            td { code { (view::short_sha(&kr.identity.sha256)) } }
            td class=(outcome_class) {
                (kr.outcome.as_str())
                @if let Some(d) = kr.detail.as_deref().and_then(|d| d.lines().next()) {
                    div.small { (d) }
                }
            }
            @for (st, n) in v.tally(k) {
                td.n.(st_class(st))[n > 0 && st != Status::Pass && st != Status::Skip] { (n) }
            }
            td.n { (v.not_run_ids(k).len()) }
            td.n { (format!("{:.1} s", kr.wall_s)) }
        }
    }
}

fn problems(v: &View<'_>) -> Markup {
    let mut rows: Vec<Markup> = Vec::new();
    // A test that did not pass the same way on several kernels is one row
    // naming them all.
    for id in &v.ids {
        let mut same: Vec<(Status, String, Vec<usize>)> = Vec::new();
        for (k, kr) in v.kernels().iter().enumerate() {
            let Some(r) = v.worst(k, id) else { continue };
            if r.status == Status::Pass || view::not_run(kr, r) {
                continue;
            }
            let reps = v.records(k, id).len();
            let mut why = view::why(r).unwrap_or_default();
            if reps > 1 {
                why.push_str(&format!(" (rep {} of {reps})", v.sample_no(k, id, r)));
            }
            match same
                .iter_mut()
                .find(|(st, w, _)| *st == r.status && *w == why)
            {
                Some((_, _, ks)) => ks.push(k),
                None => same.push((r.status, why, vec![k])),
            }
        }
        for (st, why, ks) in same {
            rows.push(html! {
                tr {
                    td.k {
                        @for (i, k) in ks.iter().enumerate() {
                            @if i > 0 { br; }
                            (kernel_name(v, *k))
                        }
                    }
                    td.id { (id) }
                    td class=(st_class(st)) { (st) }
                    td { (why) }
                }
            });
        }
    }
    for k in 0..v.kernels().len() {
        let missed = v.not_run_ids(k);
        if !missed.is_empty() {
            rows.push(html! {
                tr {
                    td.k { (kernel_name(v, k)) }
                    td.id { (missed.len()) " tests" }
                    td.st-error { "not run" }
                    td { "the guest stopped first: " code { (missed.join(" ")) } }
                }
            });
        }
    }
    html! {
        section #problems {
            h2 { "What did not pass" }
            @if rows.is_empty() {
                p { "Every test passed." }
            } @else {
                table {
                    tr { th { "kernel" } th { "test" } th { "status" } th { "reason" } }
                    @for row in &rows { (row) }
                }
            }
            @for (k, kr) in v.kernels().iter().enumerate() {
                @if kr.outcome != KernelOutcome::Completed {
                    @if let Some(d) = &kr.detail {
                        h3 { (kernel_name(v, k)) ": " (kr.outcome.as_str()) }
                        pre { (d) }
                    }
                }
                @for f in &kr.console_findings {
                    h3 {
                        (kernel_name(v, k)) ": kernel " (f.kind) " on the console ("
                        code { (kr.console_log) } ")"
                    }
                    pre { (f.excerpt) }
                }
            }
        }
    }
}

fn kernel_headers(v: &View<'_>) -> Markup {
    html! {
        @for k in 0..v.labels.len() { th { (kernel_name(v, k)) } }
    }
}

fn differences(v: &View<'_>) -> Markup {
    let differing: Vec<&str> = v
        .ids
        .iter()
        .copied()
        .filter(|id| v.status_differs(id))
        .collect();
    let obs = v.observations();
    let diff: Vec<_> = obs.iter().filter(|o| o.differs()).collect();
    html! {
        section #differences {
            h2 { "What differs between the kernels" }
            h3 { "Status" }
            @if differing.is_empty() {
                p { "Every test has the same status on every kernel." }
            } @else {
                table {
                    tr { th { "test" } (kernel_headers(v)) }
                    @for id in differing {
                        tr {
                            td.id { (id) }
                            @for (k, kr) in v.kernels().iter().enumerate() {
                                @match v.worst(k, id) {
                                    Some(r) if view::not_run(kr, r) => td.st-error { "not run" },
                                    r => (status_cell(r)),
                                }
                            }
                        }
                    }
                }
            }
            h3 { "Observations (" (diff.len()) " of " (obs.len()) " differ)" }
            @if diff.is_empty() {
                p { "Every observation is the same on every kernel." }
            } @else {
                table {
                    tr { th { "test" } th { "observation" } (kernel_headers(v)) }
                    @for o in diff {
                        tr {
                            td.id { (o.id) }
                            td.id {
                                (o.name)
                                @if let Some(why) = o.changed_in {
                                    br; small.changed { "changed in " (why) }
                                }
                            }
                            @let first = o.values.first().copied().flatten();
                            @for (k, val) in o.values.iter().enumerate() {
                                td class=[(k > 0 && *val != first).then_some("diff")] {
                                    (value_html(*val, first, k > 0))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A value; a list against the first kernel's list shows what it adds
/// (`ins`) and lacks (`del`).
fn value_html(val: Option<&Value>, first: Option<&Value>, compare: bool) -> Markup {
    match (val, first) {
        (None, _) => html! { span.st-missing { "-" } },
        (Some(Value::List(l)), Some(Value::List(base))) if compare => html! {
            (l.len()) " items"
            @for x in l.iter().filter(|x| !base.contains(x)) { " " ins { "+" (x) } }
            @for x in base.iter().filter(|x| !l.contains(x)) { " " del { "-" (x) } }
        },
        (Some(Value::List(l)), _) => html! {
            details { summary { (l.len()) " items" } code { (l.join(" ")) } }
        },
        (Some(x), _) => html! { code { (x) } },
    }
}

fn status_cell(r: Option<&TestRecord>) -> Markup {
    match r {
        Some(r) => html! {
            td class=(st_class(r.status)) title=(view::why(r).unwrap_or_default()) { (r.status) }
        },
        None => html! { td.st-missing { "-" } },
    }
}

fn charts(v: &View<'_>) -> Markup {
    // Headline figures only: counters and CPU times stay in results.json.
    let rows: Vec<MetricRow<'_>> = v
        .metrics()
        .into_iter()
        .filter(|m| crate::results::compare::is_primary(m.name, m.unit))
        .collect();
    if rows.is_empty() {
        return html! {};
    }
    html! {
        section #perf {
            h2 { "Metrics" }
            p {
                "Throughput and latency; every metric is in results.json. "
                @if v.max_reps() > 1 {
                    "A dot per run of the test, a line at the median of a kernel's runs."
                } @else {
                    "One run per kernel (run with " code { "--reps N" } " for medians and spread)."
                }
                " A shaded column is a change kharness's statistics call significant against "
                @if v.is_series() { "the step before" } @else { "the first kernel" }
                " (red: worse, green: better). Hover a dot for its figures."
                @if let Some(m) = view::perf_mode(v.res) { " Timing mode: " (m) "." }
            }
            p {
                // A series' steps are short already; releases are not, and
                // the axes say [1], [2]...
                @for (k, l) in v.titles.iter().enumerate() {
                    (swatch(k))
                    @if !v.is_series() { "[" (k + 1) "] " }
                    (l) " \u{a0} "
                }
            }
            @let diffs = v.metric_diffs();
            @for group in rows.chunk_by(|a, b| a.id == b.id) {
                (metric_group(v, group, &diffs))
            }
        }
    }
}

/// The charts of one test's metrics.
fn metric_group(v: &View<'_>, group: &[MetricRow<'_>], diffs: &[Vec<MetricDiff>]) -> Markup {
    let id = group[0].id;
    let zero: Vec<&str> = group
        .iter()
        .filter(|m| m.all_zero())
        .map(|m| m.name)
        .collect();
    html! {
        h3.id { code { (id) } }
        div.charts {
            @for m in group.iter().filter(|m| !m.all_zero()) {
                @let verdicts: Vec<_> = (0..v.labels.len())
                    .map(|k| judged(k.checked_sub(1).and_then(|i| {
                        diffs[i].iter().find(|d| d.test == id && d.metric == m.name)
                    })))
                    .collect();
                figure {
                    (strip_chart(&v.tags(), &v.labels, &m.samples, &verdicts, m.unit, &format!("{id}: {}", m.name)))
                    figcaption { (m.name) " (" (m.unit) ")" }
                }
            }
        }
        @if !zero.is_empty() {
            p.small { "Zero on every kernel: " (zero.join(", ")) "." }
        }
    }
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

/// The value axis of a chart: from the lowest tick to the highest.
struct Scale {
    lo: f64,
    hi: f64,
}

impl Scale {
    /// The SVG y of a value.
    fn y(&self, val: f64) -> f64 {
        let plot_h = CHART_H - PAD_T - PAD_B;
        PAD_T + plot_h * (self.hi - val) / (self.hi - self.lo)
    }
}

/// Ticks over the samples' own range (not from 0: a strip plot shows
/// spread and overlap), at round steps; a flat series gets a span around
/// its value.
fn span_ticks(min: f64, max: f64) -> Vec<f64> {
    let (min, max) = if max > min {
        (min, max)
    } else {
        let pad = (min.abs() * 0.05).max(0.5);
        (min - pad, max + pad)
    };
    let step = nice_step((max - min) / 4.0);
    let lo = (min / step).floor() as i64;
    let hi = ((max / step).ceil() as i64).max(lo + 1);
    (lo..=hi).map(|i| i as f64 * step).collect()
}

/// How a kernel's samples of one metric are judged against its reference
/// kernel's, for a chart: the class of its column and the words over it.
fn judged(d: Option<&MetricDiff>) -> Option<(&'static str, String)> {
    let d = d?;
    let pct = 100.0 * d.rel_change;
    match d.verdict {
        Verdict::Regression => Some(("regressed", format!("worse {pct:+.1}%"))),
        Verdict::Improvement => Some(("improved", format!("better {pct:+.1}%"))),
        _ => None,
    }
}

/// One SVG strip plot: every sample of a metric as a dot per kernel, a
/// line at each kernel's median; a kernel whose metric the statistics
/// call worse than its reference kernel's has its column shaded.
fn strip_chart(
    axis: &[String],
    labels: &[String],
    samples: &[Vec<f64>],
    verdicts: &[Option<(&'static str, String)>],
    unit: &str,
    title: &str,
) -> Markup {
    let plot_w = CHART_W - PAD_L - PAD_R;
    let finite = || samples.iter().flatten().copied().filter(|x| x.is_finite());
    let min = finite().fold(f64::INFINITY, f64::min);
    let max = finite().fold(f64::NEG_INFINITY, f64::max);
    let tick = if min.is_finite() {
        span_ticks(min, max)
    } else {
        vec![0.0, 1.0]
    };
    let scale = Scale {
        lo: tick[0],
        hi: tick[tick.len() - 1],
    };
    let slot = plot_w / labels.len().max(1) as f64;
    let med_w = (slot * 0.6).min(48.0).floor();
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width=(CHART_W) height=(CHART_H)
            viewBox={ "0 0 " (CHART_W) " " (CHART_H) } role="img" {
            title { (title) }
            @for (k, judged) in verdicts.iter().enumerate() {
                @if let Some((class, words)) = judged {
                    @let x0 = PAD_L + slot * k as f64;
                    rect class=(class) x=(d1(x0)) y=(PAD_T) width=(d1(slot))
                        height=(CHART_H - PAD_T - PAD_B) {}
                    text.verdict x=(d1(x0 + slot / 2.0)) y=(PAD_T - 5.0) text-anchor="middle" { (words) }
                }
            }
            @for val in &tick {
                @let yy = scale.y(*val).round();
                line.grid x1=(PAD_L) x2=(CHART_W - PAD_R) y1=(yy) y2=(yy) {}
                text x=(PAD_L - 4.0) y=(yy + 3.0) text-anchor="end" { (view::si(*val)) }
            }
            @for (k, xs) in samples.iter().enumerate() {
                @let cx = PAD_L + slot * (k as f64 + 0.5);
                text x=(d1(cx)) y=(CHART_H - 6.0) text-anchor="middle" { (axis[k]) }
                @match view::stats(xs) {
                    Some(st) => (strip(&scale, cx, med_w, k, &labels[k], xs, &st, unit)),
                    None => text x=(d1(cx)) y=(CHART_H / 2.0) text-anchor="middle" { "no data" },
                }
            }
            line.axis x1=(PAD_L) x2=(PAD_L) y1=(PAD_T) y2=(CHART_H - PAD_B) {}
        }
    }
}

/// Kernel `k`'s samples centred on `cx`: a dot each, spread sideways in
/// sample order so equal values stay countable, and the median line.
#[expect(clippy::too_many_arguments, reason = "one column's geometry and text")]
fn strip(
    scale: &Scale,
    cx: f64,
    med_w: f64,
    k: usize,
    label: &str,
    xs: &[f64],
    st: &Stats,
    unit: &str,
) -> Markup {
    let n = xs.len();
    let spread = med_w * 0.8;
    let dx = |i: usize| {
        if n > 1 {
            -spread / 2.0 + spread * i as f64 / (n - 1) as f64
        } else {
            0.0
        }
    };
    let med_y = scale.y(st.median);
    let tip = if n > 1 {
        format!(
            "{label}: median {} {unit} of {n} runs, {} to {}",
            view::num(st.median),
            view::num(st.min),
            view::num(st.max)
        )
    } else {
        format!("{label}: {} {unit}", view::num(st.median))
    };
    html! {
        line.med.(format!("k{k}")) x1=(d1(cx - med_w / 2.0)) x2=(d1(cx + med_w / 2.0))
            y1=(d1(med_y)) y2=(d1(med_y)) stroke=(colour(k)) {
            title { (tip) }
        }
        @for (i, x) in xs.iter().enumerate().filter(|(_, x)| x.is_finite()) {
            circle.pt.(format!("k{k}")) cx=(d1(cx + dx(i))) cy=(d1(scale.y(*x))) r="3.5"
                fill=(colour(k)) {
                title { (label) ": run " (i + 1) ", " (view::num(*x)) " " (unit) }
            }
        }
    }
}

fn all_tests(v: &View<'_>) -> Markup {
    html! {
        section #tests {
            h2 { "All tests" }
            @for (k, kr) in v.kernels().iter().enumerate() {
                details open {
                    summary {
                        (kernel_name(v, k)) " ("
                        (v.ids.iter().filter(|id| !v.records(k, id).is_empty()).count())
                        " tests, " (kr.outcome.as_str()) ")"
                    }
                    table {
                        tr {
                            th { "test" } th { "status" } th { "time" } th { "reason" }
                            th { "observations" } th { "metrics" }
                        }
                        @for id in &v.ids {
                            @if let Some(worst) = v.worst(k, id) {
                                (test_row(v.records(k, id), id, worst))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A test's row on one kernel: its worst run's status and reason, its
/// first run's observations, and the median of each metric over its runs.
fn test_row(recs: &[&TestRecord], id: &str, worst: &TestRecord) -> Markup {
    let total_us: u64 = recs.iter().map(|r| r.duration_us).sum();
    let first = recs.first();
    let observations = first.map(|r| &r.observations);
    let metrics: Vec<(&str, &str, Stats)> = first
        .map(|r| r.metrics.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter_map(|m| {
            let samples: Vec<f64> = recs
                .iter()
                .flat_map(|r| r.metrics.iter().filter(|x| x.name == m.name))
                .map(|x| x.value)
                .collect();
            view::stats(&samples).map(|st| (m.name.as_str(), m.unit.as_str(), st))
        })
        .collect();
    html! {
        tr {
            td.id { (id) }
            (status_cell(Some(worst)))
            td.n {
                (view::num(total_us as f64 / 1000.0)) " ms"
                @if recs.len() > 1 { " (" (recs.len()) " runs)" }
            }
            td { (worst.reason.as_deref().unwrap_or("")) }
            td.small {
                @for (i, (n, x)) in observations.into_iter().flatten().enumerate() {
                    @if i > 0 { "; " }
                    (n) "\u{a0}=\u{a0}" (short_value(x))
                }
            }
            td.small {
                @for (i, (name, unit, st)) in metrics.iter().enumerate() {
                    @if i > 0 { "; " }
                    (name) "\u{a0}" (view::num(st.median)) "\u{a0}" (unit)
                }
            }
        }
    }
}

fn short_value(x: &Value) -> Markup {
    match x {
        Value::List(l) if l.len() > 6 => html! {
            details { summary { (l.len()) " items" } (l.join(" ")) }
        },
        other => html! { (other) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::tests::{rec, run};
    use serde_json::json;

    /// Text a kernel (or a hostile test) could send, tagged with the field
    /// it travels in so the test can tell the places apart.
    fn evil(field: &str) -> String {
        format!(r#"<script>{field}</script></pre>"onload=x &amp;"#)
    }

    /// `evil(field)` as it must appear in the page: escaped, so the `&amp;`
    /// it carries shows as text, not as `&`.
    fn shown(field: &str) -> String {
        format!("&lt;script&gt;{field}&lt;/script&gt;&lt;/pre&gt;&quot;onload=x &amp;amp;")
    }

    /// Every element the renderer writes; anything else in the page was
    /// injected.
    const OUR_TAGS: &[&str] = &[
        "!DOCTYPE",
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "header",
        "h1",
        "h2",
        "h3",
        "p",
        "code",
        "strong",
        "section",
        "table",
        "tr",
        "th",
        "td",
        "span",
        "div",
        "pre",
        "details",
        "summary",
        "ins",
        "del",
        "figure",
        "figcaption",
        "svg",
        "line",
        "text",
        "rect",
        "circle",
        "br",
        "ul",
        "li",
    ];

    fn tags(page: &str) -> Vec<&str> {
        page.split('<')
            .skip(1)
            .map(|t| {
                let t = t.strip_prefix('/').unwrap_or(t);
                t.split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                    .next()
                    .unwrap_or("")
            })
            .collect()
    }

    /// A crashed run where every field a kernel or a test controls is
    /// hostile, on two kernels so the differences section shows too.
    fn hostile_run() -> RunResults {
        let list = |tag: &str, n: usize| -> Vec<String> {
            (0..n).map(|i| evil(&format!("{tag}{i}"))).collect()
        };
        let record = |k: usize| {
            json!({
                "id": evil("id"), "status": "fail", "duration_us": 1,
                "reason": evil("reason"),
                "attempts": [{"status": "fail", "reason": evil("attempt"), "duration_us": 1}],
                "observations": {
                    evil("obs-name"): evil(&format!("obs-text{k}")),
                    "short": list(&format!("short{k}-"), 2),
                    "long": list(&format!("long{k}-"), 8),
                },
                "metrics": [
                    {"name": evil("metric"), "value": 3.0 + k as f64, "unit": format!("{}/s", evil("unit"))},
                    {"name": evil("zero-metric"), "value": 0.0, "unit": "count"},
                ],
            })
        };
        let left = json!({"id": evil("left"), "status": "error", "duration_us": 0,
                          "reason": "not run: the guest stopped first (guest crashed)"});
        let mut res = run(&[
            (&evil("release0"), "crashed", &[record(0), left]),
            (&evil("release1"), "completed", &[record(1)]),
        ]);
        res.run_id = evil("run-id");
        res.started = evil("started");
        res.finished = Some(evil("finished"));
        res.tool_version = evil("version");
        res.filters = vec![evil("filter")];
        let kr = &mut res.kernels[0];
        kr.identity.banner = evil("banner");
        kr.detail = Some(evil("detail"));
        kr.console_log = evil("console-log");
        kr.console_findings = vec![crate::vm::console::ConsoleFinding {
            kind: evil("kind"),
            fatal: true,
            excerpt: format!("Oops: {}\n{}", evil("excerpt"), evil("excerpt-line2")),
            ..Default::default()
        }];
        res
    }

    #[test]
    fn kernel_text_cannot_inject_markup_into_the_report() {
        let page = html(&hostile_run());
        for t in tags(&page) {
            assert!(OUR_TAGS.contains(&t), "<{t} got into the page:\n{page}");
        }
        assert!(
            !page.contains("\"onload"),
            "an attribute broke out:\n{page}"
        );
        assert!(
            !page.contains("x &amp;\""),
            "an entity came through raw:\n{page}"
        );
        assert_eq!(page.matches("<pre>").count(), 2, "{page}");
        assert_eq!(page.matches("</pre>").count(), 2, "{page}");
        // Each field is shown, escaped, in every place that shows it.
        let places = [
            // The title and the header.
            ("run-id", 2),
            ("started", 1),
            ("finished", 1),
            ("version", 1),
            ("filter", 1),
            // Summary; problems: two rows and two headings; the headers
            // of both differences tables; the chart legend, its median's
            // and its dot's tooltips (the axis says [1]); the per-test table.
            ("release0", 11),
            // As release0 with one problem row and no headings, plus the
            // banner (made from the release).
            ("release1", 9),
            ("banner", 1),
            // The summary's first line and the crash log.
            ("detail", 2),
            ("kind", 1),
            ("console-log", 1),
            ("excerpt", 1),
            ("excerpt-line2", 1),
            // Problems (one row: the same failure on both kernels), three
            // observation rows, chart heading and title, the per-test tables.
            ("id", 8),
            // The not-run list, the status differences, the per-test table.
            ("left", 3),
            // Problems once, then the status cells' titles and the reason
            // column on both kernels.
            ("reason", 5),
            // Through the retry note: problems once and both titles.
            ("attempt", 3),
            ("obs-name", 3),
            ("obs-text0", 2),
            ("obs-text1", 2),
            // The first kernel's list, what the second lacks (del), the
            // per-test table.
            ("short0-0", 3),
            ("long0-0", 3),
            // What the second kernel adds (ins), the per-test table.
            ("short1-0", 2),
            ("long1-0", 2),
            // Chart title, caption, both per-test tables.
            ("metric", 4),
            // Caption, two median and two dot tooltips, both per-test tables.
            ("unit", 7),
            // Both per-test tables (a count is not charted, so not in
            // the zero list either).
            ("zero-metric", 2),
        ];
        for (field, n) in places {
            assert_eq!(
                page.matches(&shown(field)).count(),
                n,
                "{field} is not shown escaped in its {n} places:\n{page}"
            );
        }
    }

    #[test]
    fn a_patch_subject_cannot_inject_markup_either() {
        let mut res = run(&[
            ("6.12", "completed", &[rec("a.b", "pass")]),
            ("6.12", "completed", &[rec("a.b", "fail")]),
        ]);
        for (k, kr) in res.kernels.iter_mut().enumerate() {
            kr.step = Some(crate::plan::StepInfo {
                patches: k,
                subject: (k > 0).then(|| evil("subject")),
                patchset_hash: String::new(),
            });
        }
        let page = html(&res);
        for t in tags(&page) {
            assert!(OUR_TAGS.contains(&t), "<{t} got into the page:\n{page}");
        }
        // The verdict's heading, the summary, the legend of no chart (no
        // metrics), the span titles of the column headings.
        assert!(page.matches(&shown("subject")).count() >= 2, "{page}");
        assert!(
            page.contains("kharness: regression in +1 of a 1-patch series"),
            "{page}"
        );
        assert!(
            page.contains("<li class=\"worse\">a.b: pass -&gt; fail (regression)</li>"),
            "{page}"
        );
        assert!(
            page.contains("kharness repro kharness-runs/20270101T000000Z --filter a.b"),
            "{page}"
        );
    }

    #[test]
    fn axis_ticks_span_the_samples() {
        assert_eq!(span_ticks(0.0, 7.0), [0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(span_ticks(4200.0, 5050.0), [4000.0, 4500.0, 5000.0, 5500.0]);
        let flat = span_ticks(100.0, 100.0);
        assert!(flat[0] < 100.0 && *flat.last().unwrap() > 100.0, "{flat:?}");
    }

    #[test]
    fn every_sample_is_a_dot_and_a_regression_is_shaded() {
        let labels = ["base".to_owned(), "+1".to_owned()];
        let svg = strip_chart(
            &labels,
            &labels,
            &[vec![50.0, 40.0, 60.0], vec![30.0]],
            &[None, Some(("regressed", "worse -40.0%".to_owned()))],
            "MiB/s",
            "t: m",
        )
        .into_string();
        assert_eq!(svg.matches("<circle class=\"pt k0\"").count(), 3, "{svg}");
        assert_eq!(svg.matches("<circle class=\"pt k1\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("<line class=\"med").count(), 2, "{svg}");
        assert!(
            svg.contains("base: median 50 MiB/s of 3 runs, 40 to 60"),
            "{svg}"
        );
        assert!(svg.contains("+1: run 1, 30 MiB/s"), "{svg}");
        assert_eq!(svg.matches("<rect class=\"regressed\"").count(), 1, "{svg}");
        assert!(svg.contains(">worse -40.0%</text>"), "{svg}");
    }

    #[test]
    fn missing_data_is_said_not_drawn() {
        let svg = strip_chart(
            &["[1]".to_owned(), "[2]".to_owned()],
            &["a".to_owned(), "b".to_owned()],
            &[vec![1.0], vec![]],
            &[None, None],
            "ns",
            "t",
        )
        .into_string();
        assert_eq!(svg.matches("<circle").count(), 1);
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
        // A count is no headline figure: not charted, not listed.
        assert!(!page.contains("faults."), "{page}");
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
