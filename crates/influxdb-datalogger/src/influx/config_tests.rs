//! Tests of the connection-string and URL handling of `InfluxConfig`.

use super::*;
use crate::error::ErrorKind;

#[test]
fn connection_strings_carry_every_option_and_credentials_go_to_fields() {
    let c = InfluxConfig::from_conn_str(
        "http://ci%20user:p%40ss@127.0.0.1:8086/?db=tests&rp=week&gzip=off&timeout=500ms&dead_letter=/tmp/dl.lp",
    )
    .unwrap();
    assert_eq!(c.url, "http://127.0.0.1:8086");
    assert_eq!(
        (
            c.api(),
            c.database.as_deref(),
            c.retention_policy.as_deref()
        ),
        (Api::V1, Some("tests"), Some("week"))
    );
    assert_eq!(
        (
            c.username.as_deref(),
            c.password.as_ref().map(Secret::expose)
        ),
        (Some("ci user"), Some("p@ss"))
    );
    assert_eq!(
        (c.gzip_threshold, c.timeout),
        (None, Duration::from_millis(500))
    );
    assert_eq!(
        c.write_url(Precision::Nanoseconds),
        "http://127.0.0.1:8086/write?db=tests&rp=week&precision=n"
    );
}

#[test]
fn the_api_is_picked_from_what_is_given() {
    let v2 = InfluxConfig::from_conn_str("https://h:8086?bucket=b&org=o&token=t").unwrap();
    assert_eq!(v2.api(), Api::V2);
    assert_eq!(
        v2.write_url(Precision::Milliseconds),
        "https://h:8086/api/v2/write?org=o&bucket=b&precision=ms"
    );
    let v3 = InfluxConfig::from_conn_str("http://h:8181?db=d&token=t").unwrap();
    assert_eq!(v3.api(), Api::V3);
    assert_eq!(
        v3.write_url(Precision::Seconds),
        "http://h:8181/api/v3/write_lp?db=d&precision=second&accept_partial=true"
    );
    let forced = InfluxConfig::from_conn_str("http://h?api=v2&bucket=b&org=o").unwrap();
    assert_eq!(forced.api(), Api::V2);
}

#[test]
fn missing_pieces_are_named() {
    let err = InfluxConfig::from_conn_str("http://h?bucket=b").unwrap_err();
    assert_eq!(err.message(), "the V2 write API needs an org");
    let err = InfluxConfig::from_conn_str("http://h").unwrap_err();
    assert_eq!(err.message(), "the V1 write API needs a database");
    assert!(InfluxConfig::from_conn_str("ftp://h?db=x").is_err());
    assert!(InfluxConfig::from_conn_str("http://h?db=x&colour=red")
        .unwrap_err()
        .message()
        .contains("\"colour\""));
    assert!(InfluxConfig::from_conn_str("http://h?db=x&timeout=-1").is_err());
}

#[test]
fn the_environment_uses_the_official_clients_variable_names() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let v3 = InfluxConfig::from_vars(vars(&[
        ("INFLUX_HOST", "http://h:8181"),
        ("INFLUX_TOKEN", "t"),
        ("INFLUX_DATABASE", "d"),
    ]))
    .unwrap();
    assert_eq!(v3.api(), Api::V3);
    let v2 = InfluxConfig::from_vars(vars(&[
        ("INFLUXDB_V2_URL", "http://h:8086"),
        ("INFLUXDB_V2_ORG", "o"),
        ("INFLUXDB_V2_TOKEN", "t"),
        ("INFLUXDB_V2_BUCKET", "b"),
    ]))
    .unwrap();
    assert_eq!((v2.api(), v2.org.as_deref()), (Api::V2, Some("o")));
    let v1 = InfluxConfig::from_vars(vars(&[
        ("INFLUX_HOST", "http://h:8086"),
        ("INFLUX_DATABASE", "d"),
        ("INFLUX_USERNAME", "u"),
        ("INFLUX_PASSWORD", "p"),
    ]))
    .unwrap();
    assert_eq!(v1.api(), Api::V1);
    assert!(InfluxConfig::from_vars(|_| None)
        .unwrap_err()
        .message()
        .contains("INFLUX_HOST"));
}

#[test]
fn secrets_never_show() {
    let c = InfluxConfig::from_conn_str("http://u:hunter2@h?db=d&token=tok123").unwrap();
    let shown = format!("{c:?} {}", c.describe());
    assert!(
        !shown.contains("hunter2") && !shown.contains("tok123"),
        "{shown}"
    );
    assert!(!c.write_url(Precision::Nanoseconds).contains("hunter2"));
}

#[test]
fn gzip_is_off_to_loopback_unless_asked_for() {
    let local = |url: &str| InfluxConfig::new(url);
    for url in [
        "http://127.0.0.1:8086",
        "http://localhost:8086",
        "https://[::1]:8086",
        "http://127.9.0.1",
    ] {
        assert!(local(url).is_loopback(), "{url}");
        assert_eq!(local(url).effective_gzip_threshold(), None, "{url}");
    }
    assert_eq!(
        local("http://influx.example:8086").effective_gzip_threshold(),
        Some(4096)
    );
    assert!(!local("http://10.0.0.1").is_loopback());
    let asked = InfluxConfig::from_conn_str("http://127.0.0.1:8086?db=d&gzip=on").unwrap();
    assert_eq!(asked.effective_gzip_threshold(), Some(0));
    let sized = InfluxConfig::from_conn_str("http://127.0.0.1:8086?db=d&gzip=1000").unwrap();
    assert_eq!(sized.effective_gzip_threshold(), Some(1000));
}

#[test]
fn names_are_percent_encoded_in_urls() {
    let mut c = InfluxConfig::new("http://h");
    c.database = Some("my db&x".into());
    assert_eq!(
        c.write_url(Precision::Nanoseconds),
        "http://h/write?db=my%20db%26x&precision=n"
    );
}

#[test]
fn user_information_in_a_url_becomes_credentials_and_is_shown_nowhere() {
    let config = InfluxConfig::new("http://alice:S3cr%21t@127.0.0.1:8086/");
    assert_eq!(config.url, "http://127.0.0.1:8086");
    assert_eq!(config.username.as_deref(), Some("alice"));
    assert_eq!(config.password.as_ref().map(Secret::expose), Some("S3cr!t"));
    let mut config = InfluxConfig::from_conn_str("http://bob:pw@h:8086/x?db=d").unwrap();
    assert_eq!(config.url, "http://h:8086/x");
    assert_eq!(config.password.as_ref().map(Secret::expose), Some("pw"));
    config.url = "http://carol:hunter2@h:8086".into();
    assert!(
        !config.describe().contains("hunter2"),
        "{}",
        config.describe()
    );
    assert!(!format!("{config:?}").contains("hunter2"));
    config.url = "ftp://carol:hunter2@h".into();
    assert!(!config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("hunter2"));
}

#[test]
fn a_port_must_be_a_port() {
    for bad in [
        "http://h:99999",
        "http://h:0",
        "http://h:80x",
        "http://:8086",
        "http://",
    ] {
        let mut config = InfluxConfig::new(bad);
        config.database = Some("d".into());
        let err = config.validate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
    }
    let err = InfluxConfig::from_conn_str("http://h:99999?db=d").unwrap_err();
    assert!(
        err.message()
            .contains("port \"99999\" is not a port number"),
        "{err}"
    );
    for good in [
        "http://h:8086",
        "http://[::1]:8086",
        "http://[::1]",
        "https://h/path",
    ] {
        let mut config = InfluxConfig::new(good);
        config.database = Some("d".into());
        config.validate().unwrap();
    }
}
