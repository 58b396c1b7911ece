//! The pieces of reading that need no server: quoting and selectors.

use super::*;

#[test]
fn identifiers_and_json_values_are_read_as_the_server_means_them() {
    assert_eq!(quote_identifier("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
    assert_eq!(json_field(&serde_json::json!(3)), Some(FieldValue::Int(3)));
    assert_eq!(
        json_field(&serde_json::json!(u64::MAX)),
        Some(FieldValue::UInt(u64::MAX))
    );
    assert_eq!(
        json_field(&serde_json::json!(1.5)),
        Some(FieldValue::Float(1.5))
    );
    assert_eq!(
        json_field(&serde_json::json!("x")),
        Some(FieldValue::Str("x".into()))
    );
    assert_eq!(
        json_field(&serde_json::json!(true)),
        Some(FieldValue::Bool(true))
    );
    assert_eq!(json_field(&serde_json::Value::Null), None);
}

#[test]
fn victoria_metrics_selectors_match_only_the_measurement_named() {
    assert_eq!(victoria::regex_escape("a.b+c"), "a\\\\.b\\\\+c");
    assert_eq!(victoria::regex_escape("q\"x"), "q\\\"x");
}
