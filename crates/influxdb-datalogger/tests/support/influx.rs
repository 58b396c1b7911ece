//! InfluxDB 1.x helpers of the real-server test crates: queries, configurations, the `tests`
//! database.

#![allow(dead_code)] // each test crate uses part of it

use std::path::Path;

use influxdb_datalogger::{DeliveryOptions, InfluxConfig, InfluxDBWriter};
use serde_json::Value;

use super::servers::Servers;

pub fn influx_query(url: &str, db: &str, q: &str, auth: Option<(&str, &str)>) -> Value {
    let mut request = ureq::post(format!("{url}/query")).query("q", q);
    if !db.is_empty() {
        request = request.query("db", db);
    }
    if let Some((user, password)) = auth {
        request = request.query("u", user).query("p", password);
    }
    let mut response = request.send_empty().unwrap();
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

pub fn v1_config(url: &str, db: &str, dead_letter: &Path) -> InfluxConfig {
    let mut config = InfluxConfig::new(url);
    config.database = Some(db.into());
    config.dead_letter = dead_letter.to_path_buf();
    config
}

/// The real servers, the InfluxDB URL with the database `tests` created, and a scratch
/// directory.
pub fn with_tests_database() -> (Servers, String, tempfile::TempDir) {
    let servers = Servers::start(false);
    let url = servers.influxdb();
    influx_query(&url, "", "CREATE DATABASE tests", None);
    (servers, url, tempfile::tempdir().unwrap())
}

/// A background writer to the database `tests` at `url`, refused lines set aside in `dir`.
pub fn background_to_tests(url: &str, dir: &Path) -> influxdb_datalogger::BackgroundWriter {
    InfluxDBWriter::new(v1_config(url, "tests", &dir.join("dead.lp")))
        .unwrap()
        .in_background(DeliveryOptions::default())
}
