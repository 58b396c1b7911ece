//! The fast paths against the general path: whatever a fast path takes, it writes exactly
//! what the general path writes.

use proptest::prelude::*;

use crate::{Field, FieldValue, Measurement, Precision, Tag, Timestamp};

/// Values of every type go to every field here: the paths must agree on what they write,
/// and fixed field types (tested on their own) would refuse most of them.
fn schema() -> Measurement {
    Measurement::builder("m e,as")
        .check_field_types(false)
        .field(Field::new("f"))
        .field(Field::new("count").with_default(1))
        .field(Field::new("seq").with_func(|| 7u64))
        .tag(Tag::new("zone"))
        .tag(Tag::new("host").with_func(|| "h1"))
        .tag(Tag::new("dc").with_default("eu"))
        .optional_tag(Tag::new("opt"))
        .build()
        .unwrap()
}

fn tag_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => "[a-z0-9_-]{1,12}".prop_map(Some),
        1 => r"[a-z ,=\\]{0,4}".prop_map(Some),
        1 => Just(None),
    ]
}

fn field_value() -> impl Strategy<Value = Option<FieldValue>> {
    prop_oneof![
        3 => any::<f64>().prop_map(|v| Some(FieldValue::Float(v))),
        2 => any::<i64>().prop_map(|v| Some(FieldValue::Int(v))),
        1 => any::<u64>().prop_map(|v| Some(FieldValue::UInt(v))),
        1 => any::<bool>().prop_map(|v| Some(FieldValue::Bool(v))),
        1 => "[a-z\"]{0,3}".prop_map(|v| Some(FieldValue::Str(v))),
        1 => Just(None),
    ]
}

fn keys(names: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(names)
}

type GivenTags = Vec<(&'static str, Option<String>)>;
type GivenFields = Vec<(&'static str, Option<FieldValue>)>;

fn inputs() -> impl Strategy<Value = (GivenTags, GivenFields, i64)> {
    // A complete point, then extra (possibly unknown, empty or refused) values on top.
    let tag_keys = prop_oneof![8 => keys(&["zone", "host", "dc", "opt"]), 1 => Just("nope")];
    let field_keys = prop_oneof![8 => keys(&["f", "count", "seq"]), 1 => Just("bad")];
    (
        (
            "[a-z0-9_-]{1,12}",
            prop::collection::vec((tag_keys, tag_value()), 0..3),
        ),
        (
            any::<f64>(),
            prop::collection::vec((field_keys, field_value()), 0..3),
        ),
        any::<i64>(),
    )
        .prop_map(|((zone, extra_tags), (f, extra_fields), time)| {
            let mut tags = vec![("zone", Some(zone))];
            tags.extend(extra_tags);
            let mut fields = vec![("f", Some(FieldValue::Float(f)))];
            fields.extend(extra_fields);
            (tags, fields, time)
        })
}

/// Every tag and field of `schema()` given once, in declared order, with values mostly
/// fit for the fast path; now and then two names swapped (then the slots path runs).
fn declared_order_inputs() -> impl Strategy<Value = (GivenTags, GivenFields, i64)> {
    let tag = prop_oneof![6 => "[a-z0-9_-]{1,12}".prop_map(Some), 1 => tag_value()];
    let field =
        prop_oneof![6 => any::<i64>().prop_map(|v| Some(FieldValue::Int(v))), 2 => field_value()];
    (
        prop::collection::vec(tag, 4),
        prop::collection::vec(field, 3),
        any::<i64>(),
        0..8usize,
    )
        .prop_map(|(tag_values, field_values, time, swap)| {
            let mut tags: GivenTags = ["zone", "host", "dc", "opt"]
                .into_iter()
                .zip(tag_values)
                .collect();
            let mut fields: GivenFields = ["f", "count", "seq"]
                .into_iter()
                .zip(field_values)
                .collect();
            match swap {
                0 => tags.swap(0, 3),
                1 => fields.swap(0, 2),
                _ => {}
            }
            (tags, fields, time)
        })
}

/// Runs `CASES` inputs through the fast paths; whenever one takes a point, it must write
/// exactly what the general path writes (split or not). Returns how many it took, and how
/// many of those were given in declared order.
fn fast_paths_agree_with_the_general_path(
    inputs: impl Strategy<Value = (GivenTags, GivenFields, i64)>,
) -> (u32, u32) {
    let m = schema();
    let (taken, in_order) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let config = ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let result =
        proptest::test_runner::TestRunner::new(config).run(&inputs, |(tags, fields, time)| {
            let tags: Vec<(&str, Option<&str>)> =
                tags.iter().map(|(k, v)| (*k, v.as_deref())).collect();
            let time = Timestamp::from_nanos(time);
            let mut line = b"kept".to_vec();
            let (mut series, mut rest) = (b"s".to_vec(), b"r".to_vec());
            let split = m.encode_fast_split(
                &mut series,
                &mut rest,
                &fields,
                &tags,
                time,
                Precision::Microseconds,
            );
            if let Some(series_len) =
                m.encode_fast(&mut line, &fields, &tags, time, Precision::Microseconds)
            {
                taken.set(taken.get() + 1);
                let mut quickest = Vec::new();
                if m.append_in_declared_order(
                    &mut quickest,
                    None,
                    &fields,
                    &tags,
                    time,
                    Precision::Microseconds,
                )
                .is_ok()
                {
                    in_order.set(in_order.get() + 1);
                }
                let mut general = Vec::new();
                m.encode_general(&mut general, &fields, &tags, time, Precision::Microseconds)
                    .unwrap();
                prop_assert_eq!(&line[4..], general.as_slice());
                prop_assert_eq!(
                    line[4 + series_len],
                    b' ',
                    "the series key ends before the fields"
                );
                prop_assert!(split, "the split path refused what the other took");
                prop_assert_eq!(&series[1..], &line[4..4 + series_len]);
                prop_assert_eq!(&rest[1..], &line[4 + series_len..]);
            } else {
                prop_assert_eq!(
                    line.as_slice(),
                    b"kept".as_slice(),
                    "a refused point left bytes behind"
                );
                prop_assert!(!split, "the split path took what the other refused");
                prop_assert_eq!((series.as_slice(), rest.as_slice()), (&b"s"[..], &b"r"[..]));
            }
            Ok(())
        });
    if let Err(e) = result {
        panic!("{e}");
    }
    (taken.get(), in_order.get())
}

const CASES: u32 = 5_000;

/// Points with some names given, in any order, unknown names and duplicates.
#[test]
fn fast_and_general_paths_agree() {
    let (taken, _) = fast_paths_agree_with_the_general_path(inputs());
    assert!(
        taken >= CASES / 4,
        "the fast path took only {taken} of {CASES} points"
    );
}

/// Points with every name given in declared order (or two swapped).
#[test]
fn the_declared_order_path_agrees_with_the_general_path() {
    let (taken, in_order) = fast_paths_agree_with_the_general_path(declared_order_inputs());
    assert!(
        in_order >= CASES / 5 && taken > in_order,
        "of {CASES} points, the fast paths took {taken}, {in_order} in declared order"
    );
}

#[test]
fn same_name_tells_names_apart_at_every_length() {
    let long = "abcdefghijklmnopqrstuvwxyz";
    for n in 0..=long.len() {
        let a = &long.as_bytes()[..n];
        assert!(super::same_name(a, a));
        for i in 0..n {
            let mut b = a.to_vec();
            b[i] = b'_';
            assert!(!super::same_name(a, &b), "{n} {i}");
        }
        assert!(!super::same_name(a, &long.as_bytes()[..n.saturating_sub(1)]) || n == 0);
    }
}

/// Inputs carrying their schema index, as the Python bindings pass them.
struct Indexed<V>(&'static str, usize, V);

impl crate::TagInput for Indexed<&'static str> {
    fn key(&self) -> &str {
        self.0
    }
    fn value(&self) -> Option<&str> {
        Some(self.2)
    }
    fn schema_index(&self) -> Option<usize> {
        Some(self.1)
    }
}

impl crate::FieldInput for Indexed<FieldValue> {
    fn key(&self) -> &str {
        self.0
    }
    fn value(&self) -> Option<&FieldValue> {
        Some(&self.2)
    }
    fn schema_index(&self) -> Option<usize> {
        Some(self.1)
    }
}

/// What the fast paths write for a point at time 1, and whether it was given in declared
/// order.
fn fast_line<F: crate::FieldInput, T: crate::TagInput>(
    m: &Measurement,
    fields: &[F],
    tags: &[T],
) -> (String, bool) {
    let mut line = Vec::new();
    let time = Timestamp::from_nanos(1);
    m.encode_fast(&mut line, fields, tags, time, Precision::Nanoseconds)
        .expect("a fast path takes it");
    let quickest = m
        .append_in_declared_order(
            &mut Vec::new(),
            None,
            fields,
            tags,
            time,
            Precision::Nanoseconds,
        )
        .is_ok();
    (String::from_utf8(line).unwrap(), quickest)
}

#[test]
fn every_name_in_declared_order_takes_the_quickest_path_by_name_or_index() {
    let m = schema();
    let expected = "m\\ e\\,as,dc=d,host=h,opt=o,zone=z f=0.5,count=2i,seq=3u 1\n".to_string();
    let by_name = fast_line(
        &m,
        &[
            ("f", FieldValue::Float(0.5)),
            ("count", FieldValue::Int(2)),
            ("seq", FieldValue::UInt(3)),
        ],
        &[("zone", "z"), ("host", "h"), ("dc", "d"), ("opt", "o")],
    );
    assert_eq!(by_name, (expected.clone(), true));

    // Tags are indexed in sorted order (dc, host, opt, zone), fields as declared.
    let fields = [
        Indexed("f", 0, FieldValue::Float(0.5)),
        Indexed("count", 1, FieldValue::Int(2)),
        Indexed("seq", 2, FieldValue::UInt(3)),
    ];
    let tags = [
        Indexed("zone", 3, "z"),
        Indexed("host", 1, "h"),
        Indexed("dc", 0, "d"),
        Indexed("opt", 2, "o"),
    ];
    assert_eq!(fast_line(&m, &fields, &tags), (expected.clone(), true));

    // In another order, the slots path writes the same.
    let mut reordered = tags;
    reordered.swap(0, 2);
    assert_eq!(fast_line(&m, &fields, &reordered), (expected, false));
}

#[test]
fn the_declared_order_path_says_which_path_should_take_what_it_does_not() {
    use super::NotTaken;
    let m = schema();
    let fields = [
        ("f", FieldValue::Float(0.5)),
        ("count", FieldValue::Int(2)),
        ("seq", FieldValue::UInt(3)),
    ];
    let not_taken = |tags: &[(&str, Option<&str>)]| {
        m.append_in_declared_order(
            &mut Vec::new(),
            None,
            &fields,
            tags,
            Timestamp::from_nanos(1),
            Precision::Nanoseconds,
        )
        .err()
    };
    let in_order = |zone, opt| {
        [
            ("zone", zone),
            ("host", Some("h")),
            ("dc", Some("d")),
            ("opt", opt),
        ]
    };
    assert_eq!(not_taken(&in_order(Some("z"), Some("o"))), None);
    // A value with a space or a comma is escaped on the way; one that is refused (a newline)
    // goes to the general path, which says why; the slots path is not tried.
    assert_eq!(not_taken(&in_order(Some("z 1,2"), Some("o"))), None);
    assert_eq!(
        not_taken(&in_order(Some("z\n1"), Some("o"))),
        Some(NotTaken::ForTheGeneralPath)
    );
    // No value for the optional tag, or two names swapped: the slots path takes them.
    assert_eq!(
        not_taken(&in_order(Some("z"), None)),
        Some(NotTaken::ForTheSlots)
    );
    let mut swapped = in_order(Some("z"), Some("o"));
    swapped.swap(1, 2);
    assert_eq!(not_taken(&swapped), Some(NotTaken::ForTheSlots));
    let mut line = Vec::new();
    let series_len = m.encode_fast(
        &mut line,
        &fields,
        &in_order(Some("z"), None),
        Timestamp::from_nanos(1),
        Precision::Nanoseconds,
    );
    assert!(series_len.is_some(), "the slots path took it");
    assert_eq!(
        line.as_slice(),
        b"m\\ e\\,as,dc=d,host=h,zone=z f=0.5,count=2i,seq=3u 1\n".as_slice()
    );
}

#[test]
fn the_fast_path_takes_the_common_case() {
    let m = schema();
    let mut line = Vec::new();
    let fields = [("f", FieldValue::Float(0.5))];
    let series_len = m.encode_fast(
        &mut line,
        &fields,
        &[("zone", "a")],
        Timestamp::from_nanos(1),
        Precision::Nanoseconds,
    );
    assert_eq!(series_len, Some(29));
    assert_eq!(
        line.as_slice(),
        b"m\\ e\\,as,dc=eu,host=h1,zone=a f=0.5,count=1i,seq=7u 1\n".as_slice()
    );
}
