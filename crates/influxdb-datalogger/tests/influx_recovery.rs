//! Faults and recovery against a real InfluxDB 1.6 (started on loopback by
//! `scripts/servers.py`): the server stopped mid-run and restarted, programs that end while it
//! is down or right after logging, checked by querying the data back.
//!
//! Run with `make test-integration` (which installs the servers), or `cargo test --test
//! influx_recovery -- --ignored` with `influxd` installed.
#![cfg(feature = "http")]

use std::path::Path;

use influxdb_datalogger::{
    fields, tags, DataLogger, DeliveryOptions, Field, InfluxDBWriter, Measurement, Tag, Timestamp,
};

#[path = "support/servers.rs"]
mod servers;

#[path = "support/child.rs"]
mod child;

use child::run_child_test;

#[path = "support/influx.rs"]
mod influx;

use influx::*;

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn influxdb_stopped_mid_run_and_restarted_gets_every_point_once() {
    let (servers, url, dir) = with_tests_database();
    let mut config = v1_config(&url, "tests", &dir.path().join("dead.lp"));
    config.timeout = std::time::Duration::from_secs(2);
    let mut options = DeliveryOptions::default();
    options.interval = std::time::Duration::from_millis(100);
    options.retry.initial_delay = std::time::Duration::from_millis(50);
    options.retry.budget = std::time::Duration::from_secs(1);
    options.flush_timeout = std::time::Duration::from_secs(60);
    let writer = InfluxDBWriter::new(config).unwrap().in_background(options);
    let logger = DataLogger::builder()
        .writer(writer)
        .continuous_write(true)
        .build();
    let m = Measurement::builder("outage")
        .field(Field::new("seq"))
        .build()
        .unwrap();
    let log = |from: i64, to: i64| {
        for i in from..to {
            logger
                .log_at(
                    &m,
                    fields!("seq" => i),
                    tags!(),
                    Timestamp::from_nanos(1_700_000_000_000_000_000 + i * 1000),
                )
                .unwrap();
        }
    };
    log(0, 500);
    std::thread::sleep(std::time::Duration::from_millis(300));
    servers.run("stop-influxdb");
    log(500, 1000);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let stats = logger.stats();
    assert_eq!(stats.log_errors, 0, "handing over never fails");
    assert!(
        stats.writers[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot write")),
        "the outage is reported: {:?}",
        stats.writers[0]
    );
    servers.run("start-influxdb");
    logger.flush().unwrap();

    let result = influx_query(
        &url,
        "tests",
        "SELECT count(seq), sum(seq) FROM outage",
        None,
    );
    let row = &result["results"][0]["series"][0]["values"][0];
    assert_eq!(
        (row[1].as_i64(), row[2].as_i64()),
        (Some(1000), Some(999 * 1000 / 2))
    );
}

/// The README's program, as a child process: 10 points through a background writer, handed
/// over as `how` says, then the end of `main`.

#[test]
#[ignore = "run by dropping_a_logger_at_the_end_of_main_delivers_what_it_was_handed"]
fn child_logs_ten_points_and_ends() {
    let (Ok(url), Ok(how), Ok(dir)) = (
        std::env::var("DROP_TEST_URL"),
        std::env::var("DROP_TEST_HOW"),
        std::env::var("DROP_TEST_DIR"),
    ) else {
        return;
    };
    let dir = Path::new(&dir);
    let config = v1_config(&url, "tests", &dir.join("dead.lp"));
    let writer = InfluxDBWriter::new(config)
        .unwrap()
        .in_background(DeliveryOptions::default());
    let mut builder = DataLogger::builder()
        .writer(writer)
        .continuous_write(how == "continuous_write");
    if how == "spooled" {
        builder = builder.spool(influxdb_datalogger::SpoolOptions::new(dir.join("spool")));
    }
    let logger = builder.build();
    let m = Measurement::builder("dropped")
        .field(Field::new("seq"))
        .tag(Tag::new("how"))
        .build()
        .unwrap();
    for i in 0..10i64 {
        logger
            .log_at(
                &m,
                fields!("seq" => i),
                tags!("how" => how),
                Timestamp::from_nanos(1_700_000_000_000_000_000 + i),
            )
            .unwrap();
    }
    if how != "continuous_write" {
        logger.write_data().unwrap();
    }
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn dropping_a_logger_at_the_end_of_main_delivers_what_it_was_handed() {
    let (_servers, url, dir) = with_tests_database();
    for how in ["write_data", "continuous_write", "spooled"] {
        let out = run_child_test(
            "child_logs_ten_points_and_ends",
            &[
                ("DROP_TEST_URL", url.as_ref()),
                ("DROP_TEST_HOW", how.as_ref()),
                ("DROP_TEST_DIR", dir.path().as_os_str()),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result = influx_query(
            &url,
            "tests",
            &format!("SELECT count(seq) FROM dropped WHERE how = '{how}'"),
            None,
        );
        assert_eq!(
            result["results"][0]["series"][0]["values"][0][1].as_i64(),
            Some(10),
            "{how}: {result}"
        );
    }
    assert!(
        influxdb_datalogger::spool_inventory(&dir.path().join("spool"))
            .unwrap()
            .is_empty(),
        "everything acknowledged, nothing left in the spool"
    );
}

/// A program whose InfluxDB is down: 100 points through a spooled background writer, then the
/// end of `main`.
#[test]
#[ignore = "run by a_program_ending_while_influxdb_is_down_leaves_its_points_for_the_next_run"]
fn child_logs_while_influxdb_is_down_and_ends() {
    let (Ok(url), Ok(dir)) = (
        std::env::var("DOWN_TEST_URL"),
        std::env::var("DOWN_TEST_DIR"),
    ) else {
        return;
    };
    let dir = Path::new(&dir);
    let writer = InfluxDBWriter::new(v1_config(&url, "tests", &dir.join("dead.lp")))
        .unwrap()
        .in_background(DeliveryOptions::default());
    let logger = DataLogger::builder()
        .writer(writer)
        .spool(influxdb_datalogger::SpoolOptions::new(dir.join("spool")))
        .build();
    let m = Measurement::builder("down_at_drop")
        .field(Field::new("seq"))
        .build()
        .unwrap();
    for i in 0..100i64 {
        logger
            .log_at(
                &m,
                fields!("seq" => i),
                tags!(),
                Timestamp::from_nanos(1_700_000_000_000_000_000 + i),
            )
            .unwrap();
    }
    logger.write_data().unwrap();
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn a_program_ending_while_influxdb_is_down_leaves_its_points_for_the_next_run() {
    let (servers, url, dir) = with_tests_database();
    servers.run("stop-influxdb");
    let started = std::time::Instant::now();
    let out = run_child_test(
        "child_logs_while_influxdb_is_down_and_ends",
        &[
            ("DOWN_TEST_URL", url.as_ref()),
            ("DOWN_TEST_DIR", dir.path().as_os_str()),
        ],
    );
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        took < influxdb_datalogger::DROP_FLUSH_TIMEOUT,
        "a refused connection is not waited for: {took:?}"
    );
    assert!(
        stderr.contains("when the logger was dropped")
            && stderr.contains("100 points not delivered")
            && stderr.contains("nothing is lost: the points are kept in the spool"),
        "{stderr}"
    );
    let spool = dir.path().join("spool");
    let left: u64 = influxdb_datalogger::spool_inventory(&spool)
        .unwrap()
        .iter()
        .map(|o| o.points)
        .sum();
    assert_eq!(left, 100, "the points wait in the spool");

    servers.run("start-influxdb");
    let writer = background_to_tests(&url, dir.path());
    let next = DataLogger::builder()
        .writer(writer)
        .spool(influxdb_datalogger::SpoolOptions::new(&spool))
        .build();
    assert_eq!(next.replay_report().points, 100);
    next.close().unwrap();
    let result = influx_query(&url, "tests", "SELECT count(seq) FROM down_at_drop", None);
    assert_eq!(
        result["results"][0]["series"][0]["values"][0][1].as_i64(),
        Some(100)
    );
}
