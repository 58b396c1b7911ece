use super::*;

#[test]
fn parses_every_part_and_type() {
    let line = parse_line(r#"cpu\ load,host=a\,b,region=us\=1 f=1.5,i=-3i,u=18446744073709551615u,b=t,s="q\"\\x" -17"#)
        .unwrap();
    assert_eq!(line.measurement, "cpu load");
    assert_eq!(
        line.tags,
        vec![
            ("host".into(), "a,b".into()),
            ("region".into(), "us=1".into())
        ]
    );
    assert_eq!(
        line.fields,
        vec![
            ("f".into(), FieldValue::Float(1.5)),
            ("i".into(), FieldValue::Int(-3)),
            ("u".into(), FieldValue::UInt(u64::MAX)),
            ("b".into(), FieldValue::Bool(true)),
            ("s".into(), FieldValue::Str(r#"q"\x"#.into())),
        ]
    );
    assert_eq!(line.timestamp, Some(-17));
}

#[test]
fn timestamps_span_the_whole_i64_range_and_no_further() {
    let at = |text: &str| parse_line(&format!("m v=1 {text}")).map(|l| l.timestamp);
    assert_eq!(at("-9223372036854775808"), Ok(Some(i64::MIN)));
    assert_eq!(at("9223372036854775807"), Ok(Some(i64::MAX)));
    assert_eq!(at("0"), Ok(Some(0)));
    assert_eq!(at("-0"), Ok(Some(0)));
    for bad in [
        "9223372036854775808",
        "-9223372036854775809",
        "-",
        "--1",
        "1-",
    ] {
        let err = at(bad).unwrap_err();
        assert!(err.message.contains("timestamp"), "{bad}: {err}");
    }
}

#[test]
fn a_line_parsed_into_a_used_one_leaves_nothing_of_it() {
    let mut line = parse_line(r"a\ b,t=1,u=2 f=1i,g=2i,h=3i 9").unwrap();
    parse_line_into("c v=0.5", &mut line).unwrap();
    assert_eq!(line, parse_line("c v=0.5").unwrap());
    assert_eq!(measurement_of(r"a\ b,t=1 f=1i").unwrap(), "a b");
    assert!(parse_line_into("c", &mut line).is_err());
    assert!(measurement_of(",t=1 f=1i").is_err());
}

#[test]
fn measurement_names_have_no_equals_escape() {
    let line = parse_line(r"a\=b,t=x\=y f=1").unwrap();
    assert_eq!(line.measurement, r"a\=b");
    assert_eq!(line.tags[0].1, "x=y");
}

#[test]
fn timestamp_is_optional_and_literal_backslashes_stay() {
    let line = parse_line(r"m,path=C:\temp v=1e300").unwrap();
    assert_eq!(line.tags[0].1, r"C:\temp");
    assert_eq!(line.fields[0].1, FieldValue::Float(1e300));
    assert_eq!(line.timestamp, None);
}

#[test]
fn malformed_lines_say_where() {
    let err = parse_line("m v=abc 1").unwrap_err();
    assert_eq!(err.column, 5);
    assert!(err.message.contains("\"abc\""), "{err}");
    assert!(parse_line("m")
        .unwrap_err()
        .message
        .contains("space before the fields"));
    assert!(parse_line("m v=1 12x")
        .unwrap_err()
        .message
        .contains("after the timestamp"));
    assert!(parse_line("m v=\"open")
        .unwrap_err()
        .message
        .contains("unterminated"));
    assert!(parse_line("m v=NaN").is_err());
    assert!(parse_line("m v=inf").is_err());
    assert!(parse_line("m v=99999999999999999999i").is_err());
}

#[test]
fn lines_skip_comments_and_blanks_and_count_newlines_in_strings() {
    let text = "# header\n\nm v=\"two\nlines\" 1\nbad line\r\nm v=2i 3\r\n";
    let items: Vec<_> = Lines::new(text).collect();
    assert_eq!(items.len(), 3);
    let (no, first) = items[0].as_ref().unwrap();
    assert_eq!(*no, 3);
    assert_eq!(first.fields[0].1, FieldValue::Str("two\nlines".into()));
    assert_eq!(items[1].as_ref().unwrap_err().line, 5);
    let (no, last) = items[2].as_ref().unwrap();
    assert_eq!((*no, last.timestamp), (6, Some(3)));
    let mut lines = Lines::new(text);
    lines.next();
    assert_eq!(&text[lines.span()], "m v=\"two\nlines\" 1");
}

#[test]
fn crlf_endings_and_a_byte_order_mark_are_not_part_of_a_line() {
    let text = "\u{feff}m,t=a v=1i 1\r\nm,t=b v=2i 2\r\n";
    let mut lines = Lines::new(text);
    let (_, first) = lines.next().unwrap().unwrap();
    assert_eq!(first.measurement, "m");
    assert_eq!(&text[lines.span()], "m,t=a v=1i 1");
    lines.next().unwrap().unwrap();
    assert_eq!(&text[lines.span()], "m,t=b v=2i 2");
    assert!(lines.next().is_none());
}
