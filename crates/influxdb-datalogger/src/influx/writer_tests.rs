//! Tests of the writer's pieces: bodies split into lines, messages read from answers, dead
//! letters, credentials kept out of `Debug`.

use super::*;
use crate::influx::client::base64;
use crate::value::Precision;

#[test]
fn requests_resolve_without_a_thread_each() {
    let mut config = InfluxConfig::new("http://127.0.0.1:8086");
    config.database = Some("db".into());
    let writer = InfluxDBWriter::new(config).unwrap();
    let agent = format!("{:?}", writer.agent);
    assert!(agent.contains("ReusingResolver"), "{agent}");
}

#[test]
fn debug_shows_no_credentials() {
    for (api, token, username) in [
        (Api::V1, None, Some("user")),
        (Api::V2, Some("tok-v2-secret"), None),
        (Api::V3, Some("tok-v3-secret"), None),
    ] {
        let mut config = InfluxConfig::new("http://127.0.0.1:8086");
        config.api = Some(api);
        config.database = Some("db".into());
        config.bucket = Some("bucket".into());
        config.org = Some("org".into());
        config.token = token.map(Secret::new);
        config.username = username.map(String::from);
        config.password = Some(Secret::new("pw-secret"));
        let shown = format!("{:?}", InfluxDBWriter::new(config).unwrap());
        for secret in [
            "tok-v2-secret",
            "tok-v3-secret",
            "pw-secret",
            "Basic ",
            "Token ",
            "Bearer ",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("authorization: Some(***)"), "{shown}");
    }
}

#[test]
fn timestamps_are_coarsened_towards_minus_infinity() {
    use crate::line_protocol::rescale_timestamp;
    let ns = Precision::Nanoseconds;
    let coarse = |line: &[u8], from, to| rescale_timestamp(line, from, to).unwrap();
    assert_eq!(
        coarse(b"m f=1 1700000000123456789\n", ns, Precision::Milliseconds),
        b"m f=1 1700000000123\n"
    );
    assert_eq!(
        coarse(b"m f=\"a b\" -1500000000\n", ns, Precision::Seconds),
        b"m f=\"a b\" -2\n"
    );
    assert_eq!(
        coarse(
            b"m f=1 12345\n",
            Precision::Microseconds,
            Precision::Milliseconds
        ),
        b"m f=1 12\n"
    );
}

#[test]
fn bodies_split_into_whole_lines_even_with_newlines_in_strings() {
    let body = b"m f=1i 1\nm s=\"a\nb\" 2\nm f=3i 3\n";
    assert_eq!(
        split_lines(body),
        vec![
            &b"m f=1i 1\n"[..],
            &b"m s=\"a\nb\" 2\n"[..],
            &b"m f=3i 3\n"[..]
        ]
    );
    assert_eq!(split_lines(b"m f=1i 1"), vec![&b"m f=1i 1"[..]]);
}

#[test]
fn base64_matches_the_rfc_examples() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, encoded) in cases {
        assert_eq!(base64(plain.as_bytes()), encoded);
    }
}

#[test]
fn server_messages_come_from_json_or_text() {
    assert_eq!(
        server_message(r#"{"error":"database not found: \"x\""}"#),
        "database not found: \"x\""
    );
    assert_eq!(
        server_message(r#"{"code":"invalid","message":"bad"}"#),
        "bad"
    );
    assert_eq!(server_message(" plain text\n"), "plain text");
}

#[test]
fn v3_line_errors_are_read() {
    let body = r#"{"error":"partial write of line protocol occurred","data":[{"original_line":"m f=x","line_number":2,"error_message":"invalid column type"}]}"#;
    assert_eq!(
        v3_refused_lines(body),
        Some(vec![(2, "invalid column type".to_string())])
    );
    assert_eq!(v3_refused_lines(r#"{"error":"x"}"#), None);
}

#[test]
fn dead_letters_are_commented_line_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dl/dead.lp");
    append_dead_letter(&path, b"m f=1i 1\n", 400, "field type conflict:\nx").unwrap();
    append_dead_letter(&path, b"m f=2i 2", 422, "bad").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, "# refused (http 400): field type conflict: x\nm f=1i 1\n# refused (http 422): bad\nm f=2i 2\n");
    let parsed: Vec<_> = crate::line_protocol::Lines::new(&text).collect();
    assert_eq!(parsed.len(), 2);
}
