//! The file writers: line protocol and JSON lines, and a file that cannot be written.

use influxdb_datalogger::{
    fields, tags, DataLogger, ErrorKind, Field, JsonLinesFileWriter, LineProtocolFileWriter,
    Measurement, Tag, Timestamp,
};

#[path = "support/schemas.rs"]
mod schemas;
use schemas::*;

#[test]
fn line_protocol_file_writer_appends_points_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/points.lp");
    let logger = DataLogger::builder()
        .writer(LineProtocolFileWriter::new(&path))
        .build();
    let tt = time_taken();
    logger
        .log_at(
            &tt,
            fields!("duration" => 1.5),
            tags!("identifier" => "a b"),
            Timestamp::from_nanos(10),
        )
        .unwrap();
    logger
        .log_event(
            "time-taken",
            Timestamp::from_nanos(1_000_000),
            Timestamp::from_nanos(3_000_000),
            tags!("host" => "h"),
        )
        .unwrap();
    logger.write_data().unwrap();
    logger
        .log_at(
            &tt,
            fields!("duration" => 2.0),
            tags!("identifier" => "c"),
            Timestamp::from_nanos(20),
        )
        .unwrap();
    logger.close().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "time-taken,identifier=a\\ b duration=1.5 10\n\
         events,host=h text=\"time-taken\",duration=0.002,time_end=3i 1000000\n\
         time-taken,identifier=c duration=2.0 20\n"
    );
}

#[test]
fn json_lines_writer_writes_one_object_per_point_and_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.jsonl");
    let logger = DataLogger::builder()
        .writer(JsonLinesFileWriter::new(&path))
        .build();
    let m = Measurement::builder("m")
        .fields([
            Field::new("f"),
            Field::new("i"),
            Field::new("u"),
            Field::new("b"),
            Field::new("s"),
        ])
        .tag(Tag::new("t"))
        .build()
        .unwrap();
    logger
        .log_at(
            &m,
            fields!("f" => 0.5, "i" => -1, "u" => u64::MAX, "b" => true, "s" => "q\"\n"),
            tags!("t" => "v"),
            Timestamp::from_nanos(5),
        )
        .unwrap();
    logger
        .log_event(
            "m",
            Timestamp::from_nanos(1),
            Timestamp::from_nanos(2),
            tags!("k" => "v"),
        )
        .unwrap();
    logger.close().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"measurement\":\"m\",\"tags\":{\"t\":\"v\"},\"fields\":{\"f\":0.5,\"i\":-1,\"u\":18446744073709551615,\"b\":true,\"s\":\"q\\\"\\n\"},\"time\":5}\n\
         {\"event\":\"m\",\"start\":1,\"stop\":2,\"tags\":{\"k\":\"v\"}}\n"
    );
}

#[test]
fn an_unwritable_file_is_an_io_error_and_the_data_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let logger = DataLogger::builder()
        .writer(LineProtocolFileWriter::new(blocker.join("x.lp")))
        .close_on_drop(false)
        .build();
    logger
        .log(
            &time_taken(),
            fields!("duration" => 1.0),
            tags!("identifier" => "a"),
        )
        .unwrap();
    let err = logger.write_data().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("not-a-dir"), "{err}");
    assert_eq!(logger.stats().writers[0].backlog_points, 1);
}
