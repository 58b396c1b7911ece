//! Tests of values and timestamps: conversions, formatting and parsing.

use super::*;

#[test]
fn times_are_read_as_test_reports_write_them_and_round_trip() {
    let cases = [
        ("1970-01-01T00:00:00Z", 0),
        ("2023-11-14T22:13:20Z", 1_700_000_000_000_000_000),
        ("2023-11-14 22:13:20.123456", 1_700_000_000_123_456_000),
        ("2023-11-14T23:13:20.5+01:00", 1_700_000_000_500_000_000),
        ("2023-11-14T21:13:20-01:00", 1_700_000_000_000_000_000),
        ("2000-02-29T00:00:00.000000001Z", 951_782_400_000_000_001),
        ("1969-12-31T23:59:59.999999999Z", -1),
    ];
    for (text, nanos) in cases {
        assert_eq!(
            text.parse::<Timestamp>().unwrap(),
            Timestamp::from_nanos(nanos),
            "{text}"
        );
    }
    for nanos in [0, -1, 1_700_000_000_123_456_789, 951_782_400_000_000_000] {
        let t = Timestamp::from_nanos(nanos);
        assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
    }
    for bad in [
        "",
        "2023-11-14",
        "2023-13-01T00:00:00Z",
        "2023-11-14T22:13:20+0100",
        "x023-11-14T22:13:20Z",
        "2023-11-14T22:13:20.",
    ] {
        let err = bad.parse::<Timestamp>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue, "{bad}");
    }
    assert_eq!(
        "3000-01-01T00:00:00Z"
            .parse::<Timestamp>()
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidValue
    );
}

#[test]
fn conversions_pick_the_type_every_server_accepts() {
    assert_eq!(FieldValue::from(3), FieldValue::Int(3));
    assert_eq!(FieldValue::from(3u32), FieldValue::Int(3));
    assert_eq!(FieldValue::from(u64::MAX), FieldValue::UInt(u64::MAX));
    assert_eq!(FieldValue::from(7usize), FieldValue::Int(7));
    assert_eq!(
        FieldValue::from(usize::MAX),
        FieldValue::UInt(usize::MAX as u64)
    );
    assert_eq!(FieldValue::from(1.5f32), FieldValue::Float(1.5));
    assert_eq!(FieldValue::from(0.1f32), FieldValue::Float(0.1));
    assert_eq!(FieldValue::from(f32::MAX), FieldValue::Float(3.4028235e38));
    let far = UNIX_EPOCH + Duration::from_secs(400 * 365 * 86_400);
    let err = Timestamp::try_from(far).unwrap_err();
    assert!(
        err.message().contains("outside the years 1677 to 2262"),
        "{err}"
    );
    assert_eq!(FieldValue::from("a"), FieldValue::Str("a".into()));
    assert_eq!(
        FieldValue::from(Duration::from_millis(1500)),
        FieldValue::Float(1.5)
    );
}

#[test]
fn precision_rounds_towards_minus_infinity_before_1970() {
    let t = Timestamp::from_nanos(-1_500_000_001);
    assert_eq!(t.in_precision(Precision::Seconds), -2);
    assert_eq!(t.in_precision(Precision::Milliseconds), -1501);
    assert_eq!(
        Timestamp::from_nanos(1_999).in_precision(Precision::Microseconds),
        1
    );
}

#[test]
fn timestamps_before_the_epoch_are_negative() {
    let t = Timestamp::try_from(UNIX_EPOCH - Duration::from_secs(3)).unwrap();
    assert_eq!(t.as_nanos(), -3_000_000_000);
}

#[test]
fn from_secs_refuses_out_of_range() {
    assert!(Timestamp::from_secs_f64(f64::NAN).is_err());
    assert!(Timestamp::from_secs_f64(1e12).is_err());
    assert_eq!(
        Timestamp::from_secs_f64(1.5).unwrap().as_nanos(),
        1_500_000_000
    );
}

#[test]
fn precision_parses_v1_and_v2_names() {
    assert_eq!("n".parse::<Precision>().unwrap(), Precision::Nanoseconds);
    assert_eq!("us".parse::<Precision>().unwrap(), Precision::Microseconds);
    let err = "minutes".parse::<Precision>().unwrap_err();
    assert!(err.message().contains("\"minutes\""), "{err}");
}

#[cfg(feature = "chrono")]
#[test]
fn chrono_times_convert_exactly_or_are_refused() {
    use chrono::{TimeZone, Utc};
    let t = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
    assert_eq!(
        Timestamp::try_from(t).unwrap().as_nanos(),
        1_700_000_000_123_456_789
    );
    let far = Utc.with_ymd_and_hms(2300, 1, 1, 0, 0, 0).unwrap();
    assert!(Timestamp::try_from(far).is_err());
}

#[cfg(feature = "time")]
#[test]
fn time_crate_times_convert_exactly_or_are_refused() {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
    assert_eq!(
        Timestamp::try_from(t).unwrap().as_nanos(),
        1_700_000_000_123_456_789
    );
    let far = time::OffsetDateTime::from_unix_timestamp(10_000_000_000).unwrap();
    assert!(Timestamp::try_from(far).is_err());
}

#[test]
fn timestamps_show_as_rfc_3339_and_convert_to_system_time() {
    assert_eq!(
        Timestamp::from_nanos(1_700_000_000_000_000_001).to_string(),
        "2023-11-14T22:13:20.000000001Z"
    );
    assert_eq!(
        Timestamp::from_nanos(0).to_string(),
        "1970-01-01T00:00:00.000000000Z"
    );
    assert_eq!(
        Timestamp::from_nanos(-1).to_string(),
        "1969-12-31T23:59:59.999999999Z"
    );
    assert_eq!(
        Timestamp::from_nanos(951_782_400_000_000_000).to_string(),
        "2000-02-29T00:00:00.000000000Z"
    );
    assert_eq!(
        Timestamp::from_nanos(i64::MIN).to_string(),
        "1677-09-21T00:12:43.145224192Z"
    );
    // Windows' clock counts 100 ns intervals; the others nanoseconds.
    let resolution = if cfg!(windows) { 100 } else { 1 };
    for nanos in [0i64, 1, -3_000_000_000, 1_700_000_000_123_456_789] {
        let t = Timestamp::from_nanos(nanos - nanos.rem_euclid(resolution));
        assert_eq!(Timestamp::try_from(SystemTime::from(t)).unwrap(), t);
    }
    assert_eq!(
        Timestamp::from_nanos(1) + Duration::from_secs(1),
        Timestamp::from_nanos(1_000_000_001)
    );
    assert_eq!(
        FieldValue::from(Duration::from_millis(1500)),
        FieldValue::Float(1.5)
    );
    assert_eq!(
        FieldValue::from(Duration::from_secs(2).as_millis()),
        FieldValue::Int(2000)
    );
    assert_eq!(
        FieldValue::from(u128::from(u64::MAX)),
        FieldValue::UInt(u64::MAX)
    );
    assert_eq!(FieldValue::from(-5i128), FieldValue::Int(-5));
    let s = String::from("text");
    assert_eq!(FieldValue::from(&s), FieldValue::Str("text".into()));
}
