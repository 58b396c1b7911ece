//! Dropping a logger whose database cannot be reached: a bounded wait, a message on stderr,
//! and the data kept in the spool. Runs itself as a child process to read that stderr.
#![cfg(feature = "http")]

#[path = "support/child.rs"]
mod child;

use child::run_child_test;

use influxdb_datalogger::{
    fields, tags, DataLogger, DeliveryOptions, Field, InfluxConfig, InfluxDBWriter, Measurement,
    SpoolOptions,
};

const CHILD: &str = "INFLUXDB_DATALOGGER_DROP_TEST_SPOOL";

/// The child: logs 10 points for a server that refuses connections, then drops the logger.
#[test]
#[ignore = "run by a_dropped_logger_with_its_server_down_keeps_the_points_and_says_where"]
fn child_drops_a_logger_whose_server_is_down() {
    let Ok(spool) = std::env::var(CHILD) else {
        return;
    };
    let mut config = InfluxConfig::new("http://127.0.0.1:9");
    config.database = Some("tests".into());
    let writer = InfluxDBWriter::new(config)
        .unwrap()
        .in_background(DeliveryOptions::default());
    let logger = DataLogger::builder()
        .writer(writer)
        .spool(SpoolOptions::new(spool))
        .build();
    let m = Measurement::builder("down")
        .field(Field::new("seq"))
        .build()
        .unwrap();
    for i in 0..10i64 {
        logger.log(&m, fields!("seq" => i), tags!()).unwrap();
    }
    logger.write_data().unwrap();
}

#[test]
fn a_dropped_logger_with_its_server_down_keeps_the_points_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let started = std::time::Instant::now();
    let out = run_child_test(
        "child_drops_a_logger_whose_server_is_down",
        &[(CHILD, spool.as_os_str())],
    );
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("when the logger was dropped")
            && stderr.contains("10 points not delivered"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nothing is lost: the points are kept in the spool"),
        "{stderr}"
    );
    assert!(
        took < influxdb_datalogger::DROP_FLUSH_TIMEOUT * 2,
        "the wait is bounded: {took:?}"
    );
    let owners = influxdb_datalogger::spool_inventory(&spool).unwrap();
    assert_eq!(
        owners.iter().map(|o| o.points).sum::<u64>(),
        10,
        "{owners:?}"
    );
}
