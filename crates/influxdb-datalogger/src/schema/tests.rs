use super::*;
use crate::error::{ErrorKind, Result};
use crate::value::{FieldValue, Precision, Timestamp};
use crate::{fields, tags};

fn encode<F: FieldInput>(m: &Measurement, fields: &[F], tags: &[(&str, &str)]) -> Result<String> {
    let mut out = Vec::new();
    m.encode(
        &mut out,
        fields,
        tags,
        Timestamp::from_nanos(7),
        Precision::Nanoseconds,
    )?;
    Ok(String::from_utf8(out).unwrap())
}

fn cpu() -> Measurement {
    Measurement::builder("cpu")
        .field(Field::new("value"))
        .field(Field::new("count").with_default(1))
        .tag(Tag::new("zone"))
        .tag(Tag::new("host").with_func(|| "h1"))
        .optional_tag(Tag::new("extra"))
        .build()
        .unwrap()
}

#[test]
fn tags_are_sorted_and_defaults_and_funcs_fill_in() {
    let line = encode(&cpu(), fields!("value" => 0.5), tags!("zone" => "z")).unwrap();
    assert_eq!(line, "cpu,host=h1,zone=z value=0.5,count=1i 7\n");
}

#[test]
fn given_values_win_over_funcs_and_defaults() {
    let line = encode(
        &cpu(),
        fields!("value" => 1.0, "count" => 5),
        tags!("zone" => "z", "host" => "mine"),
    )
    .unwrap();
    assert_eq!(line, "cpu,host=mine,zone=z value=1.0,count=5i 7\n");
}

#[test]
fn a_key_given_twice_is_refused() {
    let err = encode(
        &cpu(),
        fields!("value" => 1.0, "value" => 2.0),
        tags!("zone" => "a"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        err.message(),
        "measurement \"cpu\": field \"value\" is given twice in one point; give each once"
    );
    let err = encode(
        &cpu(),
        fields!("value" => 1.0),
        tags!("zone" => "a", "zone" => "b"),
    )
    .unwrap_err();
    assert!(
        err.message().contains("tag \"zone\" is given twice"),
        "{err}"
    );
}

#[test]
fn an_empty_value_for_a_required_tag_is_refused() {
    let err = encode(&cpu(), fields!("value" => 1.0), tags!("zone" => "")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert!(
        err.message()
            .contains("tag \"zone\" is required and its value is empty"),
        "{err}"
    );
}

#[test]
fn empty_tag_values_are_omitted() {
    let line = encode(
        &cpu(),
        fields!("value" => 1.0),
        tags!("zone" => "z", "extra" => ""),
    )
    .unwrap();
    assert_eq!(line, "cpu,host=h1,zone=z value=1.0,count=1i 7\n");
}

#[test]
fn unknown_names_are_refused_with_the_known_ones() {
    let err = encode(&cpu(), fields!("valeu" => 1.0), tags!("zone" => "z")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownField);
    assert_eq!(
        err.message(),
        "measurement \"cpu\" has no field \"valeu\" (its fields: value, count)"
    );
    let err = encode(&cpu(), fields!("value" => 1.0), tags!("zoen" => "z")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownTag);
    assert!(
        err.message().contains("(its tags: extra, host, zone)"),
        "{err}"
    );
}

#[test]
fn missing_values_are_named() {
    let err = encode(&cpu(), fields!(), tags!("zone" => "z")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IncompletePoint);
    assert_eq!(
        err.message(),
        "measurement \"cpu\": field \"value\" has no value; the point was not logged"
    );
    let err = encode(&cpu(), fields!("value" => 1.0), tags!()).unwrap_err();
    assert_eq!(
        err.message(),
        "measurement \"cpu\": tag \"zone\" has no value; the point was not logged"
    );
}

#[test]
fn explicit_none_overrides_a_default() {
    let m = cpu();
    let resolved = m
        .resolve(
            &[("value", Some(FieldValue::Float(1.0))), ("count", None)],
            &[("zone", "z")],
        )
        .unwrap();
    let missing: Vec<_> = resolved.missing().collect();
    assert_eq!(missing, vec![("field", "count")]);
}

#[test]
fn bad_values_name_measurement_key_and_value() {
    let err = encode(&cpu(), fields!("value" => f64::NAN), tags!("zone" => "z")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert_eq!(
        err.message(),
        "measurement \"cpu\", field \"value\": value NaN is not a finite number; line protocol has no NaN or infinity"
    );
    let err = encode(&cpu(), fields!("value" => 1.0), tags!("zone" => "a\nb")).unwrap_err();
    assert!(
        err.message()
            .starts_with("measurement \"cpu\", tag \"zone\": value \"a\\nb\" contains '\\n'"),
        "{err}"
    );
}

#[test]
fn a_failed_encode_leaves_the_buffer_alone() {
    let mut out = b"x\n".to_vec();
    let err = cpu().encode(
        &mut out,
        fields!("value" => 1.0),
        tags!("zone" => "bad\\"),
        Timestamp::from_nanos(0),
        Precision::Nanoseconds,
    );
    assert!(err.is_err());
    assert_eq!(out, b"x\n");
}

#[test]
fn schema_errors() {
    let both = Measurement::builder("m")
        .field(Field::new("f"))
        .tag(Tag::new("t").with_default("a").with_func(|| "b"))
        .build();
    assert_eq!(both.unwrap_err().kind(), ErrorKind::Schema);
    let twice = Measurement::builder("m")
        .field(Field::new("f"))
        .field(Field::new("f"))
        .build();
    assert!(twice
        .unwrap_err()
        .message()
        .contains("field \"f\" is defined twice"));
    let clash = Measurement::builder("m")
        .field(Field::new("x"))
        .tag(Tag::new("x"))
        .build();
    assert!(clash
        .unwrap_err()
        .message()
        .contains("both a field and a tag"));
    let reserved = Measurement::builder("m")
        .field(Field::new("time"))
        .build()
        .unwrap_err();
    assert_eq!(
        reserved.message(),
        "measurement \"m\": field key \"time\" is 'time', which InfluxDB reserves"
    );
    let comment = Measurement::builder("#m")
        .field(Field::new("f"))
        .build()
        .unwrap_err();
    assert_eq!(comment.kind(), ErrorKind::InvalidName);
    let bad_default = Measurement::builder("m")
        .field(Field::new("f").with_default(f64::INFINITY))
        .build();
    assert_eq!(bad_default.unwrap_err().kind(), ErrorKind::InvalidValue);
    let bad_tag_default = Measurement::builder("m")
        .field(Field::new("f"))
        .tag(Tag::new("t").with_default("a\tb"))
        .build();
    assert_eq!(bad_tag_default.unwrap_err().kind(), ErrorKind::InvalidValue);
}

#[test]
fn a_measurement_without_fields_cannot_encode_a_point() {
    let m = Measurement::builder("m")
        .tag(Tag::new("t"))
        .build()
        .unwrap();
    let err = encode(&m, fields!(), tags!("t" => "v")).unwrap_err();
    assert!(err.message().contains("at least one field"), "{err}");
}

#[test]
fn funcs_run_only_when_no_value_is_given() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let m = Measurement::builder("m")
        .field(Field::new("f"))
        .tag(Tag::new("t").with_func(|| {
            CALLS.fetch_add(1, Ordering::Relaxed);
            "computed"
        }))
        .build()
        .unwrap();
    encode(&m, fields!("f" => 1), tags!("t" => "given")).unwrap();
    assert_eq!(CALLS.load(Ordering::Relaxed), 0);
    assert_eq!(
        encode(&m, fields!("f" => 1), tags!()).unwrap(),
        "m,t=computed f=1i 7\n"
    );
    assert_eq!(CALLS.load(Ordering::Relaxed), 1);
}

#[test]
fn names_by_position_follow_the_order_of_fields_and_the_sorted_tags() {
    let m = cpu();
    let fields: Vec<_> = (0..3).map(|i| m.field_name(i)).collect();
    assert_eq!(fields, [Some("value"), Some("count"), None]);
    let tags: Vec<_> = (0..4).map(|i| m.tag_name(i)).collect();
    assert_eq!(tags, [Some("extra"), Some("host"), Some("zone"), None]);
    for (i, tag) in m.tags().enumerate() {
        assert_eq!(m.tag_index(tag.name()), Some(i));
    }
}
