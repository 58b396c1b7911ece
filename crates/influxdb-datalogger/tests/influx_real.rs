//! The InfluxDB writer against real servers — Debian's InfluxDB 1.6 and VictoriaMetrics,
//! started on loopback by `scripts/servers.py` — checked by querying the data back.
//!
//! Run with `make test-integration` (which installs the servers), or `cargo test --test
//! influx_real -- --ignored` with `influxd` and `victoria-metrics` installed.
#![cfg(feature = "http")]

use std::path::Path;

use influxdb_datalogger::{
    fields, tags, Api, Batch, DataLogger, DatabaseWriter, ErrorKind, Field, FieldValue,
    InfluxConfig, InfluxDBWriter, Measurement, Precision, Secret, Tag, Timestamp,
};
use serde_json::Value;

#[path = "support/servers.rs"]
mod servers;

use servers::Servers;

#[path = "support/influx.rs"]
mod influx;

use influx::*;

/// A VictoriaMetrics metric name and the value point `i` should have.
type Expectation = (&'static str, fn(i64) -> f64);

fn all_types() -> Measurement {
    Measurement::builder("cpu load,total")
        .fields([
            Field::new("value"),
            Field::new("count"),
            Field::new("ok"),
            Field::new("note"),
            Field::new("big"),
        ])
        .tag(Tag::new("host name"))
        .tag(Tag::new("region"))
        .build()
        .unwrap()
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn v1_writes_to_influxdb_read_back_exactly_with_escaped_names_and_every_type() {
    let (_servers, url, dir) = with_tests_database();
    let writer =
        InfluxDBWriter::new(v1_config(&url, "tests", &dir.path().join("dead.lp"))).unwrap();
    let logger = DataLogger::builder().writer(writer).build();
    let m = all_types();
    for i in 0..100i64 {
        let note = format!("run \"{i}\", with, commas = and \\ backslash");
        logger
            .log_at(
                &m,
                fields!("value" => i as f64 * 0.25 + 1e-9, "count" => i, "ok" => i % 2 == 0, "note" => note.as_str(), "big" => 1e300),
                tags!("host name" => "node a,b=c", "region" => "eu"),
                Timestamp::from_nanos(1_700_000_000_000_000_000 + i),
            )
            .unwrap();
    }
    logger.write_data().unwrap();

    let result = influx_query(
        &url,
        "tests",
        r#"SELECT * FROM "cpu load,total" ORDER BY time"#,
        None,
    );
    let series = &result["results"][0]["series"][0];
    let columns: Vec<&str> = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "time",
            "big",
            "count",
            "host name",
            "note",
            "ok",
            "region",
            "value"
        ]
    );
    let rows = series["values"].as_array().unwrap();
    assert_eq!(rows.len(), 100);
    for (i, row) in rows.iter().enumerate() {
        let i = i as i64;
        assert_eq!(row[1].as_f64(), Some(1e300));
        assert_eq!(row[2].as_i64(), Some(i));
        assert_eq!(row[3].as_str(), Some("node a,b=c"));
        assert_eq!(
            row[4].as_str(),
            Some(format!("run \"{i}\", with, commas = and \\ backslash").as_str())
        );
        assert_eq!(row[5].as_bool(), Some(i % 2 == 0));
        assert_eq!(row[6].as_str(), Some("eu"));
        assert_eq!(row[7].as_f64(), Some(i as f64 * 0.25 + 1e-9));
    }
    assert!(!dir.path().join("dead.lp").exists(), "nothing refused");
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn a_field_type_conflict_mid_batch_lands_the_good_lines_and_dead_letters_the_bad_one() {
    let (_servers, url, dir) = with_tests_database();
    let dead = dir.path().join("dead.lp");
    let writer = InfluxDBWriter::new(v1_config(&url, "tests", &dead)).unwrap();
    let logger = DataLogger::builder().writer(writer).build();
    // A schema that leaves type conflicts to the server (as the Python bindings' do).
    let m = Measurement::builder("conflict")
        .check_field_types(false)
        .field(Field::new("f"))
        .tag(Tag::new("n"))
        .build()
        .unwrap();
    for i in 0..20i64 {
        // Line 10 writes an integer where the others write floats.
        let value = if i == 10 {
            FieldValue::Int(7)
        } else {
            FieldValue::Float(i as f64 + 0.5)
        };
        let n = i.to_string();
        logger
            .log_at(
                &m,
                &[("f", value)],
                tags!("n" => n),
                Timestamp::from_nanos(1_000 + i),
            )
            .unwrap();
    }
    logger.write_data().unwrap();

    let result = influx_query(&url, "tests", "SELECT count(f) FROM conflict", None);
    assert_eq!(
        result["results"][0]["series"][0]["values"][0][1].as_i64(),
        Some(19)
    );
    let dead_text = std::fs::read_to_string(&dead).unwrap();
    let lines: Vec<&str> = dead_text.lines().collect();
    assert_eq!(lines.len(), 2, "{dead_text}");
    assert!(
        lines[0].starts_with("# refused (http 400): partial write: field type conflict"),
        "{dead_text}"
    );
    assert_eq!(lines[1], "conflict,n=10 f=7i 1010");
    assert_eq!(
        logger.stats().writers[0].backlog_points,
        0,
        "nothing is retried forever"
    );
    assert_eq!(
        logger.stats().writers[0].points_written,
        19,
        "the refused point is not counted as written"
    );
    let err = logger.close().unwrap_err();
    assert!(
        err.message().starts_with(
            "1 points were refused by the database and set aside in the dead-letter file"
        ),
        "{err}"
    );
}

/// InfluxDB's count of write requests, from its own statistics.
fn write_requests(url: &str) -> i64 {
    let stats = influx_query(url, "", "SHOW STATS FOR 'httpd'", None);
    let series = &stats["results"][0]["series"][0];
    let column = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == "writeReq")
        .unwrap();
    series["values"][0][column].as_i64().unwrap()
}

/// A batch with `refused` lines whose field `v` is a string where the measurement has floats,
/// interleaved with `good` lines; sent to the database `tests`, whose `persistent` already has
/// `v` as a float. Returns the requests it took, the lines that landed and the dead letters.
fn send_with_refusals(good: i64, refused: i64) -> (i64, i64, Vec<String>) {
    let (_servers, url, dir) = with_tests_database();
    let dead = dir.path().join("dead.lp");
    let mut writer = InfluxDBWriter::new(v1_config(&url, "tests", &dead)).unwrap();
    writer
        .write_data(
            &Batch::from_lines([&b"persistent v=0.5 1\n"[..]], Precision::Nanoseconds).unwrap(),
        )
        .unwrap();
    let lines: Vec<String> = (0..good.max(refused))
        .flat_map(|i| {
            let good = (i < good).then(|| format!("persistent,i={i} v={i}.5 {}\n", 10 + 2 * i));
            let bad =
                (i < refused).then(|| format!("persistent,i={i} v=\"x{i}\" {}\n", 11 + 2 * i));
            good.into_iter().chain(bad)
        })
        .collect();
    let batch =
        Batch::from_lines(lines.iter().map(String::as_bytes), Precision::Nanoseconds).unwrap();
    let before = write_requests(&url);
    let started = std::time::Instant::now();
    writer.write_data(&batch).unwrap();
    let took = started.elapsed();
    let requests = write_requests(&url) - before;
    println!("{good} good and {refused} refused lines: {requests} requests, {took:?}");
    let landed = influx_query(&url, "tests", "SELECT count(v) FROM persistent", None)["results"][0]
        ["series"][0]["values"][0][1]
        .as_i64()
        .unwrap();
    let dead_text = std::fs::read_to_string(&dead).unwrap_or_default();
    (
        requests,
        landed,
        dead_text.lines().map(str::to_string).collect(),
    )
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn a_batch_whose_every_line_is_refused_is_dead_lettered_after_one_request() {
    let (requests, landed, dead) = send_with_refusals(0, 20_000);
    assert_eq!(requests, 1);
    assert_eq!(landed, 1, "only the line written before");
    let refused: Vec<&String> = dead.iter().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(refused.len(), 20_000);
    let unique: std::collections::HashSet<&String> = refused.iter().copied().collect();
    assert_eq!(unique.len(), 20_000, "each refused line once");
    assert!(
        dead[0].starts_with("# refused (http 400): partial write: field type conflict"),
        "{}",
        dead[0]
    );
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn refused_lines_among_good_ones_are_found_from_the_servers_reason_and_the_good_all_land() {
    let (requests, landed, dead) = send_with_refusals(20_000, 20_000);
    assert_eq!(requests, 1, "the reason describes every refused line");
    assert_eq!(landed, 20_001);
    let refused: Vec<&String> = dead.iter().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(refused.len(), 20_000);
    assert!(
        refused.iter().all(|l| l.contains("v=\"x")),
        "only the refused lines"
    );
    let unique: std::collections::HashSet<&String> = refused.iter().copied().collect();
    assert_eq!(unique.len(), 20_000, "each refused line once");
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn wrong_credentials_and_a_missing_database_are_clear_errors_and_nothing_is_lost() {
    let servers = Servers::start(true);
    let url = servers.influxdb();
    influx_query(
        &url,
        "",
        "CREATE DATABASE tests",
        Some(("admin", "admin-password")),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = v1_config(&url, "tests", &dir.path().join("dead.lp"));
    config.username = Some("admin".into());
    config.password = Some(Secret::new("wrong-password"));
    let logger = DataLogger::builder()
        .writer(InfluxDBWriter::new(config).unwrap())
        .close_on_drop(false)
        .build();
    let m = Measurement::builder("auth")
        .field(Field::new("f"))
        .build()
        .unwrap();
    logger
        .log_at(&m, fields!("f" => 1.5), tags!(), Timestamp::from_nanos(1))
        .unwrap();
    let err = logger.write_data().unwrap_err();
    assert_eq!(
        (err.status(), err.is_retriable(), err.kind()),
        (Some(401), false, ErrorKind::Writer)
    );
    assert!(err.message().contains("refused the credentials"), "{err}");
    assert!(
        !err.to_string().contains("wrong-password"),
        "no secret in errors"
    );
    assert_eq!(
        logger.stats().writers[0].backlog_points,
        1,
        "kept for the next attempt"
    );

    let mut config = v1_config(&url, "missing", &dir.path().join("dead.lp"));
    config.username = Some("admin".into());
    config.password = Some(Secret::new("admin-password"));
    let mut writer = InfluxDBWriter::new(config).unwrap();
    let batch_logger = DataLogger::builder()
        .writer(influxdb_datalogger::MemoryWriter::new())
        .build();
    batch_logger
        .log_at(&m, fields!("f" => 1.5), tags!(), Timestamp::from_nanos(1))
        .unwrap();
    let batch = batch_logger.pending_batch();
    let err = influxdb_datalogger::DatabaseWriter::write_data(&mut writer, &batch).unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.message().contains("database not found"), "{err}");
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn v1_and_v2_writes_to_victoria_metrics_read_back() {
    let servers = Servers::start(false);
    let url = servers.victoria_metrics();
    let dir = tempfile::tempdir().unwrap();
    let m = Measurement::builder("vm")
        .fields([Field::new("f"), Field::new("i"), Field::new("b")])
        .tag(Tag::new("api"))
        .build()
        .unwrap();

    let v1 = v1_config(&url, "tests", &dir.path().join("dead.lp"));
    let mut v2 = InfluxConfig::new(&url);
    v2.api = Some(Api::V2);
    v2.bucket = Some("tests".into());
    v2.org = Some("org".into());
    v2.token = Some(Secret::new("unused"));
    for (config, api) in [(v1, "v1"), (v2, "v2")] {
        let logger = DataLogger::builder()
            .writer(InfluxDBWriter::new(config).unwrap())
            .build();
        for i in 0..10i64 {
            logger
                .log_at(
                    &m,
                    fields!("f" => i as f64 / 4.0, "i" => i, "b" => i % 2 == 1),
                    tags!("api" => api),
                    Timestamp::from_nanos((1_700_000_000 + i) * 1_000_000_000),
                )
                .unwrap();
        }
        logger.write_data().unwrap();
    }
    ureq::get(format!("{url}/internal/force_flush"))
        .call()
        .unwrap();
    for api in ["v1", "v2"] {
        let expectations: [Expectation; 3] = [
            ("vm_f", |i| i as f64 / 4.0),
            ("vm_i", |i| i as f64),
            ("vm_b", |i| (i % 2) as f64),
        ];
        for (metric, expected) in expectations {
            // VictoriaMetrics makes fresh samples searchable a moment later.
            let export = || {
                let mut response = ureq::post(format!("{url}/api/v1/export"))
                    .query("match[]", format!(r#"{{__name__="{metric}",api="{api}"}}"#))
                    .send_empty()
                    .unwrap();
                response.body_mut().read_to_string().unwrap()
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let mut text = export();
            while text.trim().is_empty() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(200));
                text = export();
            }
            let series: Value =
                serde_json::from_str(text.lines().next().unwrap_or("null")).unwrap();
            let values: Vec<f64> = series["values"]
                .as_array()
                .unwrap_or(&Vec::new())
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let wanted: Vec<f64> = (0..10).map(expected).collect();
            assert_eq!(values, wanted, "{metric} via {api}: {text}");
        }
    }
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn a_field_keeps_its_type_so_the_server_refuses_nothing() {
    let (_servers, url, dir) = with_tests_database();
    let dead = dir.path().join("dead.lp");
    let writer = InfluxDBWriter::new(v1_config(&url, "tests", &dead)).unwrap();
    let logger = DataLogger::builder().writer(writer).build();
    let m = Measurement::builder("typed")
        .field(Field::new("duration"))
        .field(Field::new("count").with_type(influxdb_datalogger::FieldType::Integer))
        .build()
        .unwrap();
    logger
        .log_at(
            &m,
            fields!("duration" => 0.5, "count" => 1),
            tags!(),
            Timestamp::from_nanos(1),
        )
        .unwrap();
    // An integer for a float field is written as a float.
    logger
        .log_at(
            &m,
            fields!("duration" => 2i64, "count" => 2),
            tags!(),
            Timestamp::from_nanos(2),
        )
        .unwrap();
    let err = logger
        .log_at(
            &m,
            fields!("duration" => "slow", "count" => 3),
            tags!(),
            Timestamp::from_nanos(3),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert!(
        err.message()
            .contains("field \"duration\": the field holds floats")
            && err.message().contains("\"slow\" is a string"),
        "{err}"
    );
    let err = logger
        .log_at(
            &m,
            fields!("duration" => 1.0, "count" => 2.5),
            tags!(),
            Timestamp::from_nanos(4),
        )
        .unwrap_err();
    assert!(err.message().contains("the field holds integers"), "{err}");
    logger.write_data().unwrap();

    let result = influx_query(
        &url,
        "tests",
        "SELECT \"duration\", \"count\" FROM typed",
        None,
    );
    let rows = &result["results"][0]["series"][0]["values"];
    let got: Vec<(f64, i64)> = (0..2)
        .map(|r| (rows[r][1].as_f64().unwrap(), rows[r][2].as_i64().unwrap()))
        .collect();
    assert_eq!(got, [(0.5, 1), (2.0, 2)], "{result}");
    let keys = influx_query(&url, "tests", "SHOW FIELD KEYS FROM typed", None);
    assert_eq!(
        keys["results"][0]["series"][0]["values"],
        serde_json::json!([["count", "integer"], ["duration", "float"]]),
        "{keys}"
    );
    assert!(!dead.exists(), "nothing was refused by the server");
    let stats = logger.stats();
    assert_eq!(
        (
            stats.writers[0].points_written,
            stats.writers[0].dead_lettered,
            stats.log_errors
        ),
        (2, 0, 2)
    );
}

/// The README's and the docs' Rust examples, as the programs a reader would copy: each ```rust block (hidden
/// `# ` lines shown) built as a crate of its own against this one, run with the README's server
/// address pointing at the real InfluxDB, and checked for what it logged.

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn the_readme_rust_examples_run_against_influxdb() {
    let servers = Servers::start(false);
    let url = servers.influxdb();
    influx_query(&url, "", "CREATE DATABASE tests", None);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The README and the docs, which hold the rest of the README's examples.
    let mut readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let mut docs: Vec<_> = std::fs::read_dir(repo.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for doc in docs {
        readme.push_str(&std::fs::read_to_string(doc).unwrap());
    }
    let mut blocks = Vec::new();
    let mut block: Option<String> = None;
    for line in readme.lines() {
        match &mut block {
            // `rust,ignore`: a fragment, not a program (a test function, say).
            None if line.starts_with("```rust") && !line.contains("ignore") => {
                block = Some(String::new())
            }
            Some(_) if line.starts_with("```") => blocks.push(block.take().unwrap()),
            Some(code) => {
                let shown = line
                    .strip_prefix("# ")
                    .or(line.strip_prefix('#').filter(|l| l.is_empty()));
                code.push_str(shown.unwrap_or(line));
                code.push('\n');
            }
            None => {}
        }
    }
    assert!(
        blocks.len() >= 3,
        "the README's Rust examples: {}",
        blocks.len()
    );
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .unwrap();
    // Their own target directory: the running tests' build directory may be locked.
    let target = repo.join("target/readme-examples");
    for (i, code) in blocks.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            format!(
                "[package]\nname = \"readme-example-{i}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\ninfluxdb-datalogger = {{ path = {:?} }}\n\n[workspace]\n",
                crate_dir
            ),
        )
        .unwrap();
        std::fs::copy(repo.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        std::fs::write(
            dir.path().join("src/main.rs"),
            code.replace("http://127.0.0.1:8086", &url),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO"))
            .args(["run", "--quiet"])
            .current_dir(dir.path())
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README example {i} failed:\n{code}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let logged = dir.path().join("influxdb-datalogger.lp");
        if code.contains("LineProtocolFileWriter::new(\"influxdb-datalogger.lp\")") {
            let lines = std::fs::read_to_string(&logged).unwrap();
            assert_eq!(lines.lines().count(), 3, "{lines}");
            assert!(
                lines.lines().all(|l| l.starts_with("request,endpoint=/")),
                "{lines}"
            );
        }
    }
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn an_incomplete_point_is_refused_and_every_other_point_arrives() {
    let (_servers, url, dir) = with_tests_database();
    let writer = background_to_tests(&url, dir.path());
    let logger = DataLogger::builder()
        .writer(writer)
        .continuous_write(true)
        .build();
    let m = Measurement::builder("incomplete")
        .field(Field::new("duration"))
        .field(Field::new("count"))
        .build()
        .unwrap();
    for i in 0..1_000i64 {
        let at = Timestamp::from_nanos(1_700_000_000_000_000_000 + i);
        logger
            .log_at(&m, fields!("duration" => 0.5, "count" => i), tags!(), at)
            .unwrap();
        if i == 500 {
            let err = logger
                .log_at(&m, fields!("duration" => 0.5), tags!(), at)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::IncompletePoint);
        }
    }
    logger.close().unwrap();
    let result = influx_query(
        &url,
        "tests",
        "SELECT count(\"count\") FROM incomplete",
        None,
    );
    assert_eq!(
        result["results"][0]["series"][0]["values"][0][1].as_i64(),
        Some(1_000)
    );
}
