//! Property tests of the record format: the results channel and the PID 1
//! argv encoding survive a round trip, and reading never panics.
//!
//! Each property runs `KHARNESS_FUZZ_CASES` cases (default 256, a second
//! or so); set it higher for a longer hunt.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use kharness_record::{
    Event, Metric, SCHEMA_VERSION, Status, TestRecord, Value, decode_argv, encode_argv, event_line,
    ktap_result_line, parse_event_bytes, parse_events,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config() -> ProptestConfig {
    let cases = std::env::var("KHARNESS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // Failures found are kept as named regression tests below.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..ProptestConfig::default()
    }
}

fn status() -> impl Strategy<Value = Status> {
    prop::sample::select(Status::ALL.to_vec())
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        ".*".prop_map(Value::Text),
        prop::collection::vec(".*", 0..4).prop_map(Value::List),
    ]
}

/// Any f64 a test could compute, NaN and infinities included.
fn metric_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

fn record() -> impl Strategy<Value = TestRecord> {
    (
        "[a-z_]{1,12}\\.[a-z0-9_]{1,24}",
        status(),
        proptest::option::of(".*"),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::btree_map("[a-z_]{1,16}", value(), 0..4),
        prop::collection::vec(("[a-z_]{1,16}", metric_value(), "[A-Za-z/%]{0,6}"), 0..3),
    )
        .prop_map(
            |(id, status, reason, duration_us, rep, boot, observations, metrics)| TestRecord {
                id,
                status,
                reason,
                duration_us,
                rep,
                boot,
                changed_in: observations
                    .keys()
                    .map(|k| (k.clone(), format!("v6.7, {k} \u{e9}\n\"q\"")))
                    .collect(),
                observations,
                kernel_findings: Vec::new(),
                attempts: Vec::new(),
                metrics: metrics
                    .into_iter()
                    .map(|(name, value, unit)| Metric { name, value, unit })
                    .collect(),
            },
        )
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (".*", ".*", any::<usize>(), prop::option::of(any::<u32>())).prop_map(
            |(g, k, total, ms)| Event::Suite {
                schema: SCHEMA_VERSION,
                guest_version: g,
                kernel_release: k,
                total,
                uptime_s: ms.map(|ms| f64::from(ms) / 1000.0),
            }
        ),
        "[a-z_.]{1,30}".prop_map(|id| Event::Start { id }),
        record().prop_map(Event::Result),
        any::<usize>().prop_map(|total| Event::Done { total }),
    ]
}

/// Equality where a non-finite metric counts as the same non-finite value
/// when it comes back as NaN (JSON has no NaN or infinity).
fn same(a: &Event, b: &Event) -> bool {
    match (a, b) {
        (Event::Result(x), Event::Result(y)) => {
            x.metrics.len() == y.metrics.len()
                && x.metrics.iter().zip(&y.metrics).all(|(m, n)| {
                    m.name == n.name
                        && m.unit == n.unit
                        && (m.value == n.value || (!m.value.is_finite() && n.value.is_nan()))
                })
                && TestRecord {
                    metrics: vec![],
                    ..x.clone()
                } == TestRecord {
                    metrics: vec![],
                    ..y.clone()
                }
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(config())]

    /// Every event written comes back, in order, whatever its strings and
    /// numbers hold.
    #[test]
    fn events_round_trip(evs in prop::collection::vec(event(), 0..12)) {
        let text: String = evs.iter().map(event_line).collect();
        prop_assert_eq!(text.lines().count(), evs.len(), "one line per event");
        let (back, bad) = parse_events(&text);
        prop_assert!(bad.is_empty(), "{:?}", bad);
        prop_assert_eq!(back.len(), evs.len());
        for (a, b) in evs.iter().zip(&back) {
            prop_assert!(same(a, b), "{:?}\n!=\n{:?}", a, b);
        }
    }

    /// Garbage between the lines and a torn last line never panic and
    /// never cost a good line; bad lines are reported with their numbers.
    #[test]
    fn torn_and_foreign_lines_are_set_aside(
        evs in prop::collection::vec(event(), 1..8),
        junk in prop::collection::vec("[^\n]*", 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut lines: Vec<String> = evs.iter().map(|e| event_line(e).trim_end().to_owned()).collect();
        let mut junk_at = Vec::new();
        for (k, j) in junk.iter().enumerate() {
            // Only lines that are not themselves an event.
            if serde_json::from_str::<Event>(j.trim()).is_ok() || j.trim().is_empty() {
                continue;
            }
            let at = (k * 3).min(lines.len());
            lines.insert(at, j.clone());
            junk_at.push(at);
        }
        // Cut anywhere, inside a character too: the guest died mid-write.
        let last = event_line(&evs[0]);
        let torn = &last.as_bytes()[..cut.index(last.len() - 2) + 1];
        let mut bytes = format!("{}\n", lines.join("\n")).into_bytes();
        bytes.extend_from_slice(torn);
        let (back, bad) = parse_event_bytes(&bytes);
        prop_assert_eq!(back.len(), evs.len());
        prop_assert_eq!(bad.last().map(|b| b.line), Some(lines.len() + 1), "the torn line");
        prop_assert_eq!(bad.len(), junk_at.len() + 1);
    }

    /// Reading arbitrary text never panics.
    #[test]
    fn parse_events_never_panics(text in ".*") {
        let (evs, bad) = parse_events(&text);
        prop_assert!(evs.len() + bad.len() <= text.lines().count());
    }

    /// The PID 1 argv survives the kernel command line encoding, whatever
    /// the filters hold.
    #[test]
    fn argv_round_trips(argv in prop::collection::vec(".*", 0..8)) {
        let hex = encode_argv(&argv);
        prop_assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        prop_assert_eq!(decode_argv(&hex).unwrap(), argv);
    }

    /// Decoding arbitrary text never panics (an error is an `Err`).
    #[test]
    fn decode_argv_never_panics(s in ".*") {
        let _ = decode_argv(&s);
    }

    /// A KTAP result line is one line, numbered, `ok` exactly for pass and
    /// skip, whatever the reason holds.
    #[test]
    fn ktap_result_lines_are_single_well_formed_lines(n in 1usize..10_000, rec in record()) {
        let line = ktap_result_line(n, &rec);
        prop_assert!(!line.contains('\n') && !line.contains('\r'), "{:?}", line);
        let ok = matches!(rec.status, Status::Pass | Status::Skip | Status::Flaky);
        let head = if ok { format!("ok {n} {}", rec.id) } else { format!("not ok {n} {}", rec.id) };
        prop_assert!(line.starts_with(&head), "{:?}", line);
        match rec.status {
            Status::Pass => prop_assert_eq!(&line, &head),
            Status::Skip => prop_assert!(line.starts_with(&format!("{head} # SKIP")), "{:?}", line),
            Status::Flaky => prop_assert!(line.starts_with(&format!("{head} # flaky")), "{:?}", line),
            s => {
                let directive = format!("{head} # {}", s.as_str().to_uppercase());
                prop_assert!(line.starts_with(&directive), "{:?}", line);
            }
        }
    }
}

/// Found by `torn_and_foreign_lines_are_set_aside`: the host read the
/// results file as UTF-8 text, and a line torn inside a character made the
/// whole file unreadable, every finished record with it.
#[test]
fn regression_line_torn_inside_a_character() {
    let done = event_line(&Event::Done { total: 1 });
    let mut bytes = event_line(&Event::Start { id: "a.b".into() }).into_bytes();
    bytes.extend_from_slice(&"{\"event\":\"start\",\"id\":\"ü".as_bytes()[..24]);
    let (evs, bad) = parse_event_bytes(&bytes);
    assert_eq!(evs, [Event::Start { id: "a.b".into() }]);
    assert_eq!(bad.len(), 1);
    assert!(parse_event_bytes(done.as_bytes()).1.is_empty());
}

/// Found by `events_round_trip`: a metric read back from JSON differed
/// from the one written in its last digit (serde_json's fast float
/// parsing); `float_roundtrip` makes it exact.
#[test]
fn regression_metric_reads_back_exactly() {
    let v = -1.2733204617586657e-124;
    let m: Metric = serde_json::from_str(
        &serde_json::to_string(&Metric {
            name: "a".into(),
            value: v,
            unit: String::new(),
        })
        .unwrap(),
    )
    .unwrap();
    assert_eq!(m.value.to_bits(), v.to_bits());
}

/// Found by `events_round_trip`: a metric that is not a finite number (a
/// rate over a zero duration) was written as JSON `null`, which did not
/// read back, and the whole test record was lost.
#[test]
fn regression_non_finite_metric_keeps_its_record() {
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let ev = Event::Result(TestRecord {
            id: "perf.x".into(),
            status: Status::Pass,
            reason: None,
            duration_us: 0,
            rep: 0,
            boot: 0,
            observations: BTreeMap::new(),
            changed_in: Default::default(),
            kernel_findings: Vec::new(),
            attempts: Vec::new(),
            metrics: vec![Metric {
                name: "throughput".into(),
                value: v,
                unit: "MiB/s".into(),
            }],
        });
        let (back, bad) = parse_events(&event_line(&ev));
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(back.len(), 1);
        assert!(same(&ev, &back[0]), "{ev:?} != {:?}", back[0]);
    }
}
