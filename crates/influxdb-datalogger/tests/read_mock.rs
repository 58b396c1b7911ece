//! The reader against a scripted HTTP server on 127.0.0.1, for what the real servers here
//! cannot answer: InfluxDB 3's SQL API, 2.x's token, errors by name, chunked answers.
#![cfg(feature = "http")]

#[path = "support/mock.rs"]
mod mock;

use influxdb_datalogger::read::{FieldType, ReadApi, Reader, Record};
use influxdb_datalogger::{Api, FieldValue, InfluxConfig, Secret};
use mock::MockServer;

fn read_all(reader: &Reader, measurement: &str, since: Option<i64>) -> Vec<Record> {
    let mut records = Vec::new();
    reader
        .read(measurement, since, &mut |r| records.push(r))
        .unwrap();
    records
}

#[test]
fn influxdb_3_is_read_with_sql_and_tags_told_from_fields_by_the_schema() {
    let server = MockServer::start(Box::new(|request| {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let sql = body["q"].as_str().unwrap_or_default();
        let rows = if sql.contains("information_schema.tables") {
            "{\"table_name\":\"cpu\"}\n{\"table_name\":\"events\"}\n"
        } else if sql.contains("information_schema.columns") {
            "{\"column_name\":\"host\",\"data_type\":\"Dictionary(Int32, Utf8)\"}\n\
             {\"column_name\":\"load\",\"data_type\":\"Float64\"}\n\
             {\"column_name\":\"note\",\"data_type\":\"Utf8\"}\n\
             {\"column_name\":\"time\",\"data_type\":\"Timestamp(Nanosecond, None)\"}\n"
        } else {
            "{\"host\":\"a\",\"load\":0.5,\"note\":\"n\",\"time\":\"2023-11-14T22:13:20.000000001\"}\n\
             {\"load\":1.5,\"time\":\"2023-11-14T22:13:21\"}\n"
        };
        (
            200,
            vec![("Content-Type", "application/jsonl".into())],
            rows.to_string(),
        )
    }));
    let mut config = InfluxConfig::new(&server.url);
    config.database = Some("tests".into());
    config.token = Some(Secret::new("tok-secret"));
    config.api = Some(Api::V3);
    let reader = Reader::new(config).unwrap();
    assert_eq!(reader.api(), ReadApi::Sql);
    assert_eq!(reader.measurements().unwrap(), ["cpu", "events"]);
    let schema = reader.schema("cpu").unwrap();
    assert_eq!(schema.tags, ["host"]);
    assert_eq!(
        schema.fields,
        vec![
            ("load".to_string(), FieldType::Number),
            ("note".to_string(), FieldType::Str)
        ]
    );
    let records = read_all(&reader, "cpu", Some(1_700_000_000_000_000_000));
    assert_eq!(
        records,
        vec![
            Record {
                measurement: "cpu".into(),
                tags: vec![("host".into(), "a".into())],
                time: 1_700_000_000_000_000_001,
                fields: vec![
                    ("load".into(), FieldValue::Float(0.5)),
                    ("note".into(), FieldValue::Str("n".into()))
                ],
            },
            Record {
                measurement: "cpu".into(),
                tags: vec![],
                time: 1_700_000_001_000_000_000,
                fields: vec![("load".into(), FieldValue::Float(1.5))],
            },
        ]
    );
    let requests = server.requests();
    let last = requests.last().unwrap();
    assert!(
        last.target.starts_with("/api/v3/query_sql"),
        "{}",
        last.target
    );
    assert_eq!(last.header("authorization"), Some("Bearer tok-secret"));
    let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["db"], "tests");
    assert_eq!(body["format"], "jsonl");
    assert!(body["q"]
        .as_str()
        .unwrap()
        .contains("to_timestamp_nanos(1700000000000000000)"));
}

#[test]
fn influxdb_2_is_read_with_influxql_and_its_token_and_chunks_are_joined() {
    let server = MockServer::start(Box::new(|request| {
        if request.target.starts_with("/ping") {
            return (
                204,
                vec![("X-Influxdb-Version", "v2.7.1".into())],
                String::new(),
            );
        }
        let chunks = "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\",\"dc\":\"\"},\"columns\":[\"time\",\"load\",\"n\"],\"values\":[[1,0.5,null],[2,null,3]]}],\"partial\":true}]}\n\
                      {\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"b\",\"dc\":\"x\"},\"columns\":[\"time\",\"load\",\"n\"],\"values\":[[3,1.5,4]]}]}]}\n";
        (200, vec![], chunks.to_string())
    }));
    let mut config = InfluxConfig::new(&server.url);
    config.bucket = Some("tests".into());
    config.org = Some("o".into());
    config.token = Some(Secret::new("tok-secret"));
    let reader = Reader::new(config).unwrap();
    assert_eq!(reader.api(), ReadApi::InfluxQl);
    let records = read_all(&reader, "cpu", None);
    let summary: Vec<(i64, usize, String)> = records
        .iter()
        .map(|r| {
            let tags = influxdb_datalogger::summary::tags_text(&r.tags);
            (r.time, r.fields.len(), tags)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, 1, "host=a".into()),
            (2, 1, "host=a".into()),
            (3, 2, "dc=x,host=b".into()),
        ]
    );
    assert_eq!(
        records[1].fields,
        vec![("n".to_string(), FieldValue::Int(3))]
    );
    let query = server.requests().pop().unwrap();
    assert!(query.target.contains("chunked=true"), "{}", query.target);
    assert!(query.target.contains("db=tests"), "{}", query.target);
    assert_eq!(query.header("authorization"), Some("Token tok-secret"));
}

#[test]
fn refusals_name_the_server_the_status_and_the_reason_without_secrets() {
    let server = MockServer::start(Box::new(|request| {
        if request.target.starts_with("/ping") {
            return (
                204,
                vec![("X-Influxdb-Version", "1.8.10".into())],
                String::new(),
            );
        }
        if request.target.contains("SHOW") {
            return (
                200,
                vec![],
                "{\"results\":[{\"statement_id\":0,\"error\":\"database not found: tests\"}]}"
                    .into(),
            );
        }
        (401, vec![], "{\"error\":\"authorization failed\"}".into())
    }));
    let url = server.url.replace("http://", "http://reader:pa55word@");
    let config = InfluxConfig::from_conn_str(&format!("{url}?db=tests")).unwrap();
    let reader = Reader::new(config).unwrap();
    let error = reader
        .read("cpu", None, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("HTTP 401") && error.contains("authorization failed"),
        "{error}"
    );
    assert!(error.contains("credentials were refused"), "{error}");
    assert!(!error.contains("pa55word"), "{error}");
    let error = reader.measurements().unwrap_err().to_string();
    assert!(error.contains("database not found: tests"), "{error}");
    let down = InfluxConfig::from_conn_str("http://127.0.0.1:9?db=tests").unwrap();
    let error = Reader::new(down).unwrap_err();
    assert!(error.is_connect(), "{error}");
}
