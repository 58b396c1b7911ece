//! Escaping, values and the line builder.

use super::*;

fn esc(text: &str, part: Part) -> Result<String, Problem> {
    let mut out = Vec::new();
    write_escaped(&mut out, text, part).map(|()| String::from_utf8(out).unwrap())
}

#[test]
fn measurement_escapes_comma_and_space_only() {
    assert_eq!(esc("a,b c=d", Part::Measurement).unwrap(), r"a\,b\ c=d");
}

#[test]
fn tags_and_field_keys_escape_comma_equals_space() {
    for part in [Part::TagKey, Part::TagValue, Part::FieldKey] {
        assert_eq!(esc("a,b c=d", part).unwrap(), r"a\,b\ c\=d");
    }
}

#[test]
fn is_plain_finds_every_special_byte_at_every_position() {
    for len in 1..=48 {
        let plain = vec![b'a'; len];
        assert!(is_plain(&plain));
        for pos in 0..len {
            for special in [b',', b'=', b' ', b'\\', b'\n', b'\r', b'\t', 0, 0x1f] {
                let mut text = plain.clone();
                text[pos] = special;
                assert!(!is_plain(&text), "{special:#x} at {pos} of {len}");
            }
            let mut text = plain.clone();
            text[pos] = 0xc3; // UTF-8 lead byte: plain
            assert!(is_plain(&text));
        }
    }
    assert!(is_plain(b"ci-runner-07_test.login/~"));
}

#[test]
fn the_portable_sixteen_byte_check_agrees_with_the_one_in_use() {
    let words = |bytes: &[u8; 16]| {
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        (word(0), word(8))
    };
    for byte in 0..=255u8 {
        for pos in 0..16 {
            let mut text = *b"abcdefghijklmnop";
            text[pos] = byte;
            let (low, high) = words(&text);
            let plain = byte > b' ' && ![b',', b'=', b'\\'].contains(&byte);
            assert_eq!(sixteen_are_plain(low, high), plain, "{byte:#x} at {pos}");
            assert_eq!(
                sixteen_are_plain_portable(low, high),
                plain,
                "{byte:#x} at {pos}"
            );
        }
    }
}

#[test]
fn plain_text_is_copied() {
    assert_eq!(
        esc("héllo-wörld_1.0", Part::TagValue).unwrap(),
        "héllo-wörld_1.0"
    );
}

#[test]
fn lone_backslash_before_an_ordinary_character_is_kept() {
    assert_eq!(esc(r"C:\temp", Part::TagValue).unwrap(), r"C:\temp");
    assert_eq!(esc(r"a\=b", Part::Measurement).unwrap(), r"a\=b");
}

#[test]
fn backslashes_that_parsers_disagree_on_are_refused() {
    assert_eq!(
        esc(r"a\\b", Part::TagValue),
        Err(Problem::BackslashBefore('\\'))
    );
    assert_eq!(
        esc(r"a\,b", Part::TagValue),
        Err(Problem::BackslashBefore(','))
    );
    assert_eq!(
        esc(r"a\ b", Part::FieldKey),
        Err(Problem::BackslashBefore(' '))
    );
    assert_eq!(
        esc(r"a\=b", Part::TagKey),
        Err(Problem::BackslashBefore('='))
    );
    assert_eq!(
        esc(r"a\,b", Part::Measurement),
        Err(Problem::BackslashBefore(','))
    );
}

#[test]
fn trailing_backslash_is_refused_everywhere() {
    for part in [
        Part::Measurement,
        Part::TagKey,
        Part::TagValue,
        Part::FieldKey,
    ] {
        assert_eq!(
            esc(r"abc\", part),
            Err(Problem::TrailingBackslash),
            "{part:?}"
        );
    }
}

#[test]
fn control_characters_are_refused() {
    for c in ['\n', '\r', '\t', '\0'] {
        let text = format!("a{c}b");
        for part in [
            Part::Measurement,
            Part::TagKey,
            Part::TagValue,
            Part::FieldKey,
        ] {
            assert_eq!(
                esc(&text, part),
                Err(Problem::ControlChar(c)),
                "{part:?} {c:?}"
            );
        }
    }
}

#[test]
fn hash_is_refused_only_at_the_start_of_a_measurement() {
    assert_eq!(esc("#cpu", Part::Measurement), Err(Problem::CommentStart));
    assert_eq!(esc("c#pu", Part::Measurement).unwrap(), "c#pu");
    assert_eq!(esc("#tag", Part::TagValue).unwrap(), "#tag");
}

#[test]
fn empty_and_reserved_names_are_refused() {
    assert_eq!(esc("", Part::TagKey), Err(Problem::Empty));
    assert_eq!(esc("time", Part::TagKey), Err(Problem::ReservedKey));
    assert_eq!(esc("time", Part::FieldKey), Err(Problem::ReservedKey));
    assert_eq!(esc("time", Part::TagValue).unwrap(), "time");
    assert_eq!(esc("time", Part::Measurement).unwrap(), "time");
}

#[test]
fn failed_escape_appends_nothing() {
    let mut out = b"keep".to_vec();
    assert!(write_escaped(&mut out, "a,b\n", Part::TagValue).is_err());
    assert_eq!(out, b"keep");
}

fn value(v: impl Into<FieldValue>) -> Result<String, Problem> {
    let mut out = Vec::new();
    write_field_value(&mut out, &v.into()).map(|()| String::from_utf8(out).unwrap())
}

#[test]
fn field_values_carry_their_type() {
    assert_eq!(value(1.0).unwrap(), "1.0");
    assert_eq!(value(-0.25).unwrap(), "-0.25");
    assert_eq!(value(1e300).unwrap(), "1e300");
    assert_eq!(value(-1.25e16).unwrap(), "-1.25e16");
    assert_eq!(value(f64::MAX).unwrap(), "1.7976931348623157e308");
    assert_eq!(value(5e-324).unwrap(), "5e-324");
    assert_eq!(value(123456.789).unwrap(), "123456.789");
    assert_eq!(value(1.5e-7).unwrap(), "1.5e-7");
    assert_eq!(value(-42i64).unwrap(), "-42i");
    assert_eq!(value(i64::MIN).unwrap(), "-9223372036854775808i");
    assert_eq!(value(u64::MAX).unwrap(), "18446744073709551615u");
    assert_eq!(value(true).unwrap(), "true");
    assert_eq!(value(false).unwrap(), "false");
}

#[test]
fn strings_escape_quote_and_backslash() {
    assert_eq!(
        value(r#"say "hi" \ bye"#).unwrap(),
        r#""say \"hi\" \\ bye""#
    );
    assert_eq!(value("multi\nline\ttab").unwrap(), "\"multi\nline\ttab\"");
    assert_eq!(value("").unwrap(), "\"\"");
}

#[test]
fn non_finite_floats_and_long_strings_are_refused() {
    assert_eq!(value(f64::NAN), Err(Problem::NotFinite));
    assert_eq!(value(f64::INFINITY), Err(Problem::NotFinite));
    assert_eq!(value(f64::NEG_INFINITY), Err(Problem::NotFinite));
    let long = "x".repeat(MAX_STRING_FIELD_BYTES + 1);
    assert_eq!(
        value(long),
        Err(Problem::StringTooLong(MAX_STRING_FIELD_BYTES + 1))
    );
    assert!(value("x".repeat(MAX_STRING_FIELD_BYTES)).is_ok());
}

#[test]
fn builder_writes_a_line_and_skips_empty_tags() {
    let mut buf = Vec::new();
    LineBuilder::new(&mut buf, "m")
        .unwrap()
        .tag("empty", "")
        .unwrap()
        .tag("t", "v")
        .unwrap()
        .field("a", 1)
        .unwrap()
        .field("b", "s")
        .unwrap()
        .finish(Timestamp::from_nanos(-1_500), Precision::Microseconds)
        .unwrap();
    assert_eq!(String::from_utf8(buf).unwrap(), "m,t=v a=1i,b=\"s\" -2\n");
}

#[test]
fn builder_rewinds_on_error() {
    let mut buf = b"before\n".to_vec();
    let result = (|| -> Result<()> {
        LineBuilder::new(&mut buf, "m")?
            .tag("t", "v")?
            .field("bad", f64::NAN)?
            .finish(Timestamp::from_nanos(0), Precision::Nanoseconds)
    })();
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert!(err.message().contains("field \"bad\""), "{err}");
    assert_eq!(buf, b"before\n");
}

#[test]
fn builder_refuses_a_line_without_fields() {
    let mut buf = Vec::new();
    let err = LineBuilder::new(&mut buf, "m")
        .unwrap()
        .finish(Timestamp::from_nanos(0), Precision::Nanoseconds)
        .unwrap_err();
    assert!(err.message().contains("at least one field"));
    assert!(buf.is_empty());
}

#[test]
fn builder_refuses_tags_after_fields() {
    let mut buf = Vec::new();
    let err = LineBuilder::new(&mut buf, "m")
        .unwrap()
        .field("f", 1)
        .unwrap()
        .tag("t", "v");
    assert_eq!(err.unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(buf.is_empty());
}

#[test]
fn series_keys_end_at_the_first_unescaped_space() {
    assert_eq!(series_key_len(b"m,t=a\\ b f=1 1\n"), Some(8));
    assert_eq!(series_key_len(b"m\\\\ f=1 1\n"), Some(3));
    assert_eq!(series_key_len(b"m"), None);
}

#[test]
fn timestamps_are_rescaled() {
    assert_eq!(
        rescale_timestamp(
            b"m s=\"a b\" 1500000\n",
            Precision::Microseconds,
            Precision::Milliseconds
        )
        .unwrap(),
        b"m s=\"a b\" 1500\n"
    );
}
