//! Property tests for the encoder: every point it accepts reads back with the same values
//! under IOx's `influxdb-line-protocol` parser (the InfluxDB 3 parser), under a tokenizer that
//! follows the InfluxDB 1.x/2.x unescaping rules, and under our own parser; and it refuses
//! exactly the inputs that one of them would read differently.

use std::collections::BTreeMap;

use influxdb_datalogger::line_protocol::parse_line;
use influxdb_datalogger::{ErrorKind, Field, FieldValue, Measurement, Precision, Tag, Timestamp};
use influxdb_line_protocol as iox;
use proptest::prelude::*;

/// Mostly plain text with the characters the escaping rules care about sprinkled in, so that
/// both accepted and refused inputs are common.
fn tricky_text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '\\', ',', ' ', '=', '"', '#', 'é', '\t', '\r', '\n', '\0', '_',
    ]);
    let character = prop_oneof![12 => prop::char::range('a', 'z'), 2 => special];
    prop_oneof![
        40 => prop::collection::vec(character, 1..7).prop_map(|c| c.into_iter().collect::<String>()),
        1 => Just(String::new()),
        1 => Just("time".to_string()),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Where {
    Measurement,
    Key,
    TagValue,
}

/// Whether `text` can be written so that both parser families read it back unchanged: the
/// test's own statement of the rules, written independently of the encoder.
fn representable(text: &str, at: Where) -> bool {
    if text.is_empty() && at != Where::TagValue {
        return false;
    }
    if at == Where::Measurement && text.starts_with('#') {
        return false;
    }
    if at == Where::Key && text == "time" {
        return false;
    }
    if text.chars().any(|c| matches!(c, '\n' | '\r' | '\t' | '\0')) {
        return false;
    }
    let escaped = |c: char| c == ',' || c == ' ' || (at != Where::Measurement && c == '=');
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '\\' {
            match chars.get(i + 1) {
                None => return false,
                Some(&n) if n == '\\' || escaped(n) => return false,
                Some(_) => {}
            }
        }
    }
    true
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<f64>().prop_map(FieldValue::Float),
        prop_oneof![
            Just(1e300),
            Just(-1e-300),
            Just(5e-324),
            Just(f64::MAX),
            Just(-0.0)
        ]
        .prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Int),
        any::<u64>().prop_map(FieldValue::UInt),
        (i64::MAX as u64..=u64::MAX).prop_map(FieldValue::UInt),
        any::<bool>().prop_map(FieldValue::Bool),
        r#"[a-z"\\\n\t ,=é]{0,12}"#.prop_map(FieldValue::Str),
    ]
}

fn precision() -> impl Strategy<Value = Precision> {
    prop_oneof![
        Just(Precision::Nanoseconds),
        Just(Precision::Microseconds),
        Just(Precision::Milliseconds),
        Just(Precision::Seconds)
    ]
}

#[derive(Debug, Clone)]
struct Case {
    measurement: String,
    tags: BTreeMap<String, String>,
    fields: BTreeMap<String, FieldValue>,
    time: i64,
    precision: Precision,
}

fn case() -> impl Strategy<Value = Case> {
    (
        tricky_text(),
        prop::collection::btree_map(tricky_text(), tricky_text(), 0..4),
        prop::collection::btree_map(tricky_text(), field_value(), 1..4),
        prop_oneof![
            any::<i64>(),
            -2_000_000_000_000_000_000i64..2_000_000_000_000_000_000
        ],
        precision(),
    )
        .prop_map(|(measurement, tags, fields, time, precision)| Case {
            measurement,
            tags,
            fields,
            time,
            precision,
        })
}

fn same_value(ours: &FieldValue, theirs: &iox::FieldValue<'_>) -> bool {
    match (ours, theirs) {
        (FieldValue::Float(a), iox::FieldValue::F64(b)) => a.to_bits() == b.to_bits(),
        (FieldValue::Int(a), iox::FieldValue::I64(b)) => a == b,
        (FieldValue::UInt(a), iox::FieldValue::U64(b)) => a == b,
        (FieldValue::Bool(a), iox::FieldValue::Boolean(b)) => a == b,
        (FieldValue::Str(a), iox::FieldValue::String(b)) => a == b.as_str(),
        _ => false,
    }
}

/// Splits at the first byte in `stops` that is not escaped; a backslash escapes the next byte
/// (the InfluxDB 1.x scanner's rule).
fn split_unescaped<'a>(text: &'a str, stops: &[u8]) -> (&'a str, Option<&'a str>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if stops.contains(&bytes[i]) {
            return (&text[..i], Some(&text[i + 1..]));
        }
        i += 1;
    }
    (text, None)
}

/// The InfluxDB 1.x/2.x unescaping: only `\,` and `\ ` (and `\=` outside measurements).
fn unescape_v1(raw: &str, measurement: bool) -> String {
    let mut out = raw.replace("\\,", ",").replace("\\ ", " ");
    if !measurement {
        out = out.replace("\\=", "=");
    }
    out
}

/// Reads measurement and tags the way InfluxDB 1.x/2.x does.
fn series_v1(line: &str) -> (String, BTreeMap<String, String>) {
    let (series, _) = split_unescaped(line, b" ");
    let (measurement, mut rest) = split_unescaped(series, b",");
    let mut tags = BTreeMap::new();
    while let Some(r) = rest {
        let (pair, next) = split_unescaped(r, b",");
        let (key, value) = split_unescaped(pair, b"=");
        tags.insert(
            unescape_v1(key, false),
            unescape_v1(value.unwrap_or(""), false),
        );
        rest = next;
    }
    (unescape_v1(measurement, true), tags)
}

fn build(case: &Case) -> Result<Measurement, influxdb_datalogger::Error> {
    Measurement::builder(case.measurement.clone())
        .fields(case.fields.keys().map(Field::new))
        .tags(case.tags.keys().map(Tag::new))
        .build()
}

/// How many cases got past every refusal, to check the generator tests the round trip often.
static ACCEPTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

const CASES: u32 = 10_000;

#[test]
fn encoded_points_read_back_identically() {
    let config = ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    if let Err(e) = runner.run(&case(), check_round_trip) {
        panic!("{e}");
    }
    let accepted = ACCEPTED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        accepted >= CASES as usize / 4,
        "only {accepted} of {CASES} cases reached the round trip; the generator refuses too much"
    );
}

fn check_round_trip(case: Case) -> Result<(), TestCaseError> {
    let names_ok = representable(&case.measurement, Where::Measurement)
        && case
            .tags
            .keys()
            .chain(case.fields.keys())
            .all(|k| representable(k, Where::Key))
        && !case.tags.keys().any(|k| case.fields.contains_key(k));
    let measurement = match build(&case) {
        Ok(m) => m,
        Err(e) => {
            prop_assert!(!names_ok, "refused a representable schema: {e}");
            prop_assert!(
                matches!(e.kind(), ErrorKind::InvalidName | ErrorKind::Schema),
                "{e}"
            );
            return Ok(());
        }
    };
    prop_assert!(
        names_ok,
        "accepted a schema that cannot round-trip: {case:?}"
    );

    // Every tag here is required, and a required tag may not be empty.
    let values_ok = case
        .tags
        .values()
        .all(|v| !v.is_empty() && representable(v, Where::TagValue))
        && case.fields.values().all(|v| match v {
            FieldValue::Float(f) => f.is_finite(),
            FieldValue::Str(s) => s.len() <= 65_536,
            _ => true,
        });
    let fields: Vec<(&str, FieldValue)> = case
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let tags: Vec<(&str, &str)> = case
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut out = b"previous line\n".to_vec();
    let result = measurement.encode(
        &mut out,
        &fields,
        &tags,
        Timestamp::from_nanos(case.time),
        case.precision,
    );
    let Ok(()) = result else {
        prop_assert!(!values_ok, "refused representable values: {result:?}");
        prop_assert_eq!(
            &out,
            b"previous line\n",
            "a refused point left bytes behind"
        );
        return Ok(());
    };
    prop_assert!(
        values_ok,
        "accepted values that cannot round-trip: {case:?}"
    );
    ACCEPTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let text = std::str::from_utf8(&out["previous line\n".len()..]).unwrap();
    prop_assert!(text.ends_with('\n'));
    let line = &text[..text.len() - 1];

    let expected_tags: BTreeMap<String, String> = case
        .tags
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let expected_time = case.time.div_euclid(case.precision.nanos_per_unit());

    // InfluxDB 3 (IOx) parser.
    let parsed: Vec<_> = iox::parse_lines(text).collect();
    prop_assert_eq!(parsed.len(), 1, "{}", text);
    let parsed = parsed
        .into_iter()
        .next()
        .unwrap()
        .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
    prop_assert_eq!(
        parsed.series.measurement.as_str(),
        case.measurement.as_str()
    );
    let iox_tags: BTreeMap<String, String> = parsed
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    prop_assert_eq!(&iox_tags, &expected_tags);
    prop_assert_eq!(parsed.field_set.len(), case.fields.len());
    for (k, v) in &parsed.field_set {
        let ours = &case.fields[k.as_str()];
        prop_assert!(
            same_value(ours, v),
            "field {}: {:?} read back as {:?}",
            k,
            ours,
            v
        );
    }
    prop_assert_eq!(parsed.timestamp, Some(expected_time));

    // InfluxDB 1.x/2.x unescaping of names and tags.
    let (v1_measurement, v1_tags) = series_v1(line);
    prop_assert_eq!(&v1_measurement, &case.measurement);
    prop_assert_eq!(&v1_tags, &expected_tags);

    // Our own parser.
    let ours = parse_line(line).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
    prop_assert_eq!(ours.measurement.as_ref(), case.measurement.as_str());
    let our_tags: BTreeMap<String, String> = ours
        .tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    prop_assert_eq!(&our_tags, &expected_tags);
    for (k, v) in &ours.fields {
        let expected = &case.fields[k.as_ref()];
        let same = match (v, expected) {
            (FieldValue::Float(a), FieldValue::Float(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        };
        prop_assert!(same, "field {}: {:?} read back as {:?}", k, expected, v);
    }
    prop_assert_eq!(ours.timestamp, Some(expected_time));
    Ok(())
}

#[test]
fn tag_keys_come_out_sorted() {
    let m = Measurement::builder("m")
        .field(Field::new("f"))
        .tags(["zeta", "alpha", "Mid", "beta"].map(Tag::new))
        .build()
        .unwrap();
    let mut out = Vec::new();
    m.encode(
        &mut out,
        &[("f", FieldValue::Int(1))],
        &[("zeta", "1"), ("alpha", "2"), ("Mid", "3"), ("beta", "4")],
        Timestamp::from_nanos(0),
        Precision::Seconds,
    )
    .unwrap();
    assert_eq!(out, b"m,Mid=3,alpha=2,beta=4,zeta=1 f=1i 0\n");
}

/// `check` (which skips building the escaped copy for plain text) and `write_escaped` agree
/// with each other and with the rules, also for texts long enough for the 8-bytes-at-a-time scan.
#[test]
fn check_agrees_with_escaping_and_with_the_rules() {
    use influxdb_datalogger::line_protocol::{check, write_escaped, Part};
    let special = prop::sample::select(vec![
        '\\', ',', ' ', '=', '"', '#', 'é', '\t', '\r', '\n', '\0', '\x01', '_',
    ]);
    let character = prop_oneof![30 => prop::char::range('a', 'z'), 1 => special];
    let text = prop_oneof![
        20 => prop::collection::vec(character, 1..24).prop_map(|c| c.into_iter().collect::<String>()),
        1 => tricky_text(),
    ];
    let part = prop::sample::select(vec![
        Part::Measurement,
        Part::TagKey,
        Part::TagValue,
        Part::FieldKey,
    ]);
    let config = ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let (plain, refused) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let result = runner.run(&(text, part), |(text, part)| {
        let checked = check(&text, part);
        let written = write_escaped(&mut Vec::new(), &text, part);
        prop_assert_eq!(&checked, &written);
        let at = match part {
            Part::Measurement => Where::Measurement,
            Part::TagValue => Where::TagValue,
            _ => Where::Key,
        };
        if !text.is_empty() {
            prop_assert_eq!(
                checked.is_ok(),
                representable(&text, at),
                "{:?} as {:?}",
                text,
                part
            );
        }
        plain.set(
            plain.get()
                + usize::from(text.len() >= 8 && text.bytes().all(|b| b.is_ascii_lowercase())),
        );
        refused.set(refused.get() + usize::from(checked.is_err()));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The cases must reach both the plain fast path (long) and refusals.
    let (plain, refused) = (plain.get(), refused.get());
    assert!(
        plain >= 500 && refused >= 500,
        "plain {plain}, refused {refused}"
    );
}
