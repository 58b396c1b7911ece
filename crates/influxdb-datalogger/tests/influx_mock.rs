//! The InfluxDB and Grafana writers against a scripted HTTP server on 127.0.0.1, for the
//! answers a real server cannot easily be made to give: 413, 429 with Retry-After, 503, 501,
//! InfluxDB 3's per-line errors; and what each API puts in its requests.
#![cfg(feature = "http")]

#[path = "support/mock.rs"]
mod mock;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use influxdb_datalogger::{
    fields, tags, Api, DataLogger, ErrorKind, Field, GrafanaAnnotationWriter, InfluxConfig,
    InfluxDBWriter, Measurement, Secret, Tag, Timestamp,
};

use mock::{MockServer, Request};

fn config(url: &str, dir: &tempfile::TempDir) -> InfluxConfig {
    let mut config = InfluxConfig::new(url);
    config.database = Some("db".into());
    config.gzip_threshold = None;
    config.dead_letter = dir.path().join("dead.lp");
    config
}

/// A logger whose one writer is an `InfluxDBWriter` for `config`.
fn logger_sending_to(config: InfluxConfig) -> DataLogger {
    DataLogger::builder()
        .writer(InfluxDBWriter::new(config).unwrap())
        .build()
}

fn measurement() -> Measurement {
    Measurement::builder("m")
        .field(Field::new("f"))
        .tag(Tag::new("n"))
        .build()
        .unwrap()
}

fn log_points(logger: &DataLogger, count: i64) {
    let m = measurement();
    for i in 0..count {
        let n = i.to_string();
        logger
            .log_at(
                &m,
                fields!("f" => i),
                tags!("n" => n),
                Timestamp::from_nanos(i),
            )
            .unwrap();
    }
}

#[test]
fn a_413_halves_the_batch_until_every_line_is_taken_once() {
    let server = MockServer::start(Box::new(|r: &Request| {
        if r.lines().len() > 3 {
            (413, vec![], r#"{"error":"request too large"}"#.into())
        } else {
            (204, vec![], String::new())
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let logger = logger_sending_to(config(&server.url, &dir));
    log_points(&logger, 10);
    logger.write_data().unwrap();
    let mut accepted: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.lines().len() <= 3)
        .flat_map(|r| r.lines())
        .collect();
    accepted.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("m,n={i} f={i}i {i}")).collect();
    expected.sort();
    assert_eq!(accepted, expected);
}

#[test]
fn a_429_is_retriable_with_its_retry_after_and_the_data_waits_for_the_next_write() {
    let calls = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&calls);
    let server = MockServer::start(Box::new(move |_: &Request| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        if *n == 1 {
            (
                429,
                vec![("Retry-After", "7".into())],
                r#"{"code":"too many requests","message":"slow down"}"#.into(),
            )
        } else {
            (204, vec![], String::new())
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let logger = logger_sending_to(config(&server.url, &dir));
    log_points(&logger, 2);
    let err = logger.write_data().unwrap_err();
    assert_eq!(
        (err.status(), err.is_retriable(), err.retry_after()),
        (Some(429), true, Some(Duration::from_secs(7)))
    );
    assert!(err.message().contains("slow down"), "{err}");
    log_points(&logger, 1);
    logger.write_data().unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].lines().len(),
        3,
        "the kept points and the new one, together"
    );
}

#[test]
fn a_503_is_retriable_and_a_501_is_not() {
    for (status, retriable) in [(503, true), (500, true), (501, false), (400, false)] {
        let server = MockServer::start(Box::new(move |_: &Request| {
            (status, vec![], "{\"error\":\"scripted\"}".into())
        }));
        let dir = tempfile::tempdir().unwrap();
        let logger = DataLogger::builder()
            .writer(InfluxDBWriter::new(config(&server.url, &dir)).unwrap())
            .close_on_drop(false)
            .build();
        log_points(&logger, 1);
        match logger.write_data() {
            // A single refused line with 400 is dead-lettered, not an error.
            Ok(()) => assert_eq!(status, 400),
            Err(err) => {
                assert_eq!(
                    (err.status(), err.is_retriable(), err.kind()),
                    (Some(status), retriable, ErrorKind::Writer)
                );
                assert_eq!(logger.stats().writers[0].backlog_points, 1);
            }
        }
    }
}

#[test]
fn v3_per_line_errors_dead_letter_exactly_those_lines_in_one_request() {
    let server = MockServer::start(Box::new(|_: &Request| {
        (
            400,
            vec![],
            r#"{"error":"partial write of line protocol occurred","data":[{"original_line":"m,n=1 f=1i 1","line_number":2,"error_message":"invalid column type for column 'f'"}]}"#
                .into(),
        )
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server.url, &dir);
    config.api = Some(Api::V3);
    config.token = Some(Secret::new("v3-token"));
    let writer = InfluxDBWriter::new(config).unwrap();
    let logger = DataLogger::builder().writer(writer).build();
    log_points(&logger, 3);
    logger.write_data().unwrap();
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("dead.lp")).unwrap(),
        "# refused (http 400): invalid column type for column 'f'\nm,n=1 f=1i 1\n"
    );
}

/// An InfluxDB 2.x answer to a partial write (422, the reason inside its JSON `message`): the
/// refused lines are found from the reason, without more requests, and the good ones landed.
#[test]
fn v2_partial_writes_are_sorted_out_from_the_reason_in_one_request() {
    let server = MockServer::start(Box::new(|r: &Request| {
        // Odd `n` are refused: a type conflict on field "f" of "m".
        let refused = r
            .lines()
            .iter()
            .filter(|l| {
                l.split(['=', ' '])
                    .nth(1)
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| n % 2 == 1)
            })
            .count();
        if refused == 0 {
            return (204, vec![], String::new());
        }
        (
            422,
            vec![],
            format!(
                r#"{{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \"f\" on measurement \"m\" is type integer, already exists as type float dropped={refused}"}}"#
            ),
        )
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server.url, &dir);
    config.database = None;
    config.bucket = Some("b".into());
    config.org = Some("o".into());
    config.token = Some(Secret::new("t"));
    let logger = DataLogger::builder()
        .writer(InfluxDBWriter::new(config).unwrap())
        .build();
    // Odd `n` write an integer `f` where the (modelled) server has floats.
    let m = Measurement::builder("m")
        .check_field_types(false)
        .field(Field::new("f"))
        .tag(Tag::new("n"))
        .build()
        .unwrap();
    for i in 0..10i64 {
        let value = if i % 2 == 1 {
            influxdb_datalogger::FieldValue::Int(i)
        } else {
            influxdb_datalogger::FieldValue::Float(i as f64 + 0.5)
        };
        let n = i.to_string();
        logger
            .log_at(
                &m,
                &[("f", value)],
                tags!("n" => n),
                Timestamp::from_nanos(i),
            )
            .unwrap();
    }
    let _ = logger.write_data();
    assert_eq!(
        server.requests().len(),
        1,
        "the reason names the refused lines"
    );
    let dead = std::fs::read_to_string(dir.path().join("dead.lp")).unwrap();
    let refused: Vec<&str> = dead.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(refused.len(), 5, "{dead}");
    assert!(
        dead.starts_with("# refused (http 422): failure writing points to database: partial write"),
        "{dead}"
    );
}

#[test]
fn each_api_sends_its_path_query_and_authorization() {
    let server = MockServer::start(Box::new(|_: &Request| (204, vec![], String::new())));
    let dir = tempfile::tempdir().unwrap();
    let mut v1 = config(&server.url, &dir);
    v1.username = Some("user".into());
    v1.password = Some(Secret::new("pass"));
    v1.retention_policy = Some("week".into());
    let mut v2 = config(&server.url, &dir);
    v2.database = None;
    v2.bucket = Some("b".into());
    v2.org = Some("my org".into());
    v2.token = Some(Secret::new("v2-token"));
    let mut v3 = config(&server.url, &dir);
    v3.token = Some(Secret::new("v3-token"));
    v3.no_sync = true;
    for config in [v1, v2, v3] {
        let logger = logger_sending_to(config);
        log_points(&logger, 1);
        logger.write_data().unwrap();
    }
    let requests = server.requests();
    let summary: Vec<(&str, Option<&str>)> = requests
        .iter()
        .map(|r| (r.target.as_str(), r.header("authorization")))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "/write?db=db&rp=week&precision=n",
                Some("Basic dXNlcjpwYXNz")
            ),
            (
                "/api/v2/write?org=my%20org&bucket=b&precision=ns",
                Some("Token v2-token")
            ),
            (
                "/api/v3/write_lp?db=db&precision=nanosecond&accept_partial=true&no_sync=true",
                Some("Bearer v3-token")
            ),
        ]
    );
    assert!(requests.iter().all(|r| r.lines() == ["m,n=0 f=0i 0"]));
}

#[test]
fn by_default_bodies_to_loopback_are_not_gzipped() {
    let server = MockServer::start(Box::new(|_: &Request| (204, vec![], String::new())));
    let dir = tempfile::tempdir().unwrap();
    let mut config = InfluxConfig::new(&server.url);
    config.database = Some("db".into());
    config.dead_letter = dir.path().join("dead.lp");
    assert_eq!(config.gzip_threshold, Some(4096), "the default threshold");
    let logger = logger_sending_to(config);
    log_points(&logger, 500);
    logger.write_data().unwrap();
    let requests = server.requests();
    assert!(requests[0].body.len() > 4096);
    assert_eq!(requests[0].header("content-encoding"), None);
}

#[test]
fn large_bodies_are_gzipped() {
    let server = MockServer::start(Box::new(|_: &Request| (204, vec![], String::new())));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server.url, &dir);
    config.gzip_threshold = Some(1000);
    config.gzip_loopback = true; // the mock is on loopback
    let logger = logger_sending_to(config);
    log_points(&logger, 5);
    logger.write_data().unwrap();
    log_points(&logger, 200);
    logger.write_data().unwrap();
    let requests = server.requests();
    assert_eq!(requests[0].header("content-encoding"), None);
    assert_eq!(requests[1].header("content-encoding"), Some("gzip"));
    assert!(
        requests[1].body.len() < 2000,
        "compressed: {} bytes",
        requests[1].body.len()
    );
    assert_eq!(requests[1].lines().len(), 200);
}

#[test]
fn an_unreachable_server_is_a_retriable_error_that_names_it_without_secrets() {
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&url, &dir);
    config.username = Some("u".into());
    config.password = Some(Secret::new("s3cret"));
    config.timeout = Duration::from_secs(2);
    let logger = DataLogger::builder()
        .writer(InfluxDBWriter::new(config).unwrap())
        .close_on_drop(false)
        .build();
    log_points(&logger, 1);
    let err = logger.write_data().unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert!(err.message().contains(&url), "{err}");
    assert!(!format!("{err} {err:?}").contains("s3cret"));
}

/// With a spool, closing does not wait out the writer's flush limit for a server that refuses
/// the connection: the points are in the spool, and the error says where.
#[test]
fn close_with_a_spool_does_not_wait_for_a_server_that_refuses() {
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let dir = tempfile::tempdir().unwrap();
    let mut options = influxdb_datalogger::DeliveryOptions::default();
    options.flush_timeout = Duration::from_secs(60);
    let logger = DataLogger::builder()
        .writer(
            InfluxDBWriter::new(config(&url, &dir))
                .unwrap()
                .in_background(options),
        )
        .spool(influxdb_datalogger::SpoolOptions::new(
            dir.path().join("spool"),
        ))
        .close_on_drop(false)
        .build();
    log_points(&logger, 10);
    let started = std::time::Instant::now();
    let err = logger.close().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "close() waited {:?}",
        started.elapsed()
    );
    let message = format!("{err:#}");
    assert!(message.contains("cannot be reached"), "{message}");
    assert!(message.contains("kept in the spool"), "{message}");
}

#[test]
fn grafana_annotations_have_the_documented_shape_and_are_not_posted_twice() {
    let calls = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&calls);
    let server = MockServer::start(Box::new(move |_: &Request| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        if *n == 2 {
            (503, vec![], r#"{"message":"busy"}"#.into())
        } else {
            (
                200,
                vec![],
                r#"{"message":"Annotation added","id":1}"#.into(),
            )
        }
    }));
    let writer = GrafanaAnnotationWriter::new(&server.url, Secret::new("glsa_token"))
        .with_dashboard("dash-1", Some(4));
    let logger = DataLogger::builder()
        .writer(writer)
        .close_on_drop(false)
        .build();
    let m = measurement();
    logger
        .log_at(
            &m,
            fields!("f" => 1),
            tags!("n" => "x"),
            Timestamp::from_nanos(1),
        )
        .unwrap();
    let ms = |n: i64| Timestamp::from_nanos(n * 1_000_000);
    logger
        .log_event(
            "deploy",
            ms(1_700_000_000_000),
            ms(1_700_000_002_500),
            tags!("host" => "h1", "run" => "7"),
        )
        .unwrap();
    logger
        .log_event(
            "test run",
            ms(1_700_000_010_000),
            ms(1_700_000_010_000),
            tags!(),
        )
        .unwrap();
    let err = logger.write_data().unwrap_err();
    assert_eq!((err.status(), err.is_retriable()), (Some(503), true));
    assert!(err.message().contains("busy"), "{err}");
    logger.write_data().unwrap();

    let requests = server.requests();
    assert_eq!(
        requests.len(),
        3,
        "the first annotation is not posted again"
    );
    for r in &requests {
        assert_eq!(r.target, "/api/annotations");
        assert_eq!(r.header("authorization"), Some("Bearer glsa_token"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let bodies: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        bodies[0],
        serde_json::json!({
            "time": 1_700_000_000_000i64, "timeEnd": 1_700_000_002_500i64, "text": "deploy",
            "tags": ["host:h1", "run:7"], "dashboardUID": "dash-1", "panelId": 4
        })
    );
    assert_eq!(bodies[1]["text"], "test run");
    assert_eq!(bodies[2], bodies[1], "the failed one is posted again");
}

#[test]
fn a_server_given_by_name_is_reached_through_the_lookup_and_again_from_memory() {
    let server = MockServer::start(Box::new(|_: &Request| (204, vec![], String::new())));
    let by_name = server.url.replace("127.0.0.1", "localhost");
    let dir = tempfile::tempdir().unwrap();
    let logger = logger_sending_to(config(&by_name, &dir));
    for _ in 0..2 {
        log_points(&logger, 3);
        logger.write_data().unwrap();
    }
    assert_eq!(server.requests().len(), 2);
    assert!(server.requests().iter().all(|r| r.lines().len() == 3));
}

#[test]
fn connection_errors_tell_refused_from_timed_out_and_keep_their_source() {
    let dir = tempfile::tempdir().unwrap();
    // Refused: nothing listens on a port just freed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut refused =
        InfluxDBWriter::new(config(&format!("http://127.0.0.1:{port}"), &dir)).unwrap();
    let logger = DataLogger::builder()
        .writer(influxdb_datalogger::MemoryWriter::new())
        .build();
    log_points(&logger, 1);
    let batch = logger.pending_batch();
    let err = influxdb_datalogger::DatabaseWriter::write_data(&mut refused, &batch).unwrap_err();
    assert!(
        err.is_connect() && !err.is_timeout() && err.is_retriable(),
        "{err:#}"
    );
    let source = std::error::Error::source(&err).expect("the transport error is the source");
    assert!(source.downcast_ref::<ureq::Error>().is_some(), "{source:?}");
    let shown = format!("{err:#}");
    assert_eq!(shown.matches("Connection refused").count(), 1, "{shown}");
    assert!(!err.to_string().contains("Connection refused"), "{err}");

    // Timed out: a server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut slow_config = config(&format!("http://{}", silent.local_addr().unwrap()), &dir);
    slow_config.timeout = Duration::from_millis(300);
    let mut slow = InfluxDBWriter::new(slow_config).unwrap();
    let err = influxdb_datalogger::DatabaseWriter::write_data(&mut slow, &batch).unwrap_err();
    assert!(err.is_timeout() && !err.is_connect(), "{err:#}");
    drop(silent);
}
