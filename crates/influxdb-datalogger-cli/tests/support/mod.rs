//! What the command line's test crates share: the binary run as a user runs it, its output as
//! text, InfluxQL queries, and the real servers.

#![allow(dead_code)] // each test crate uses part of it

use std::process::{Command, Output};

pub mod reports;
#[path = "../../../influxdb-datalogger/tests/support/servers.rs"]
pub mod servers;

pub fn cli(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_influxdb-datalogger"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// `curl`s an InfluxQL query to the database `tests`.
pub fn query(url: &str, q: &str, creds: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-XPOST",
            &format!("{url}/query?db=tests{creds}"),
            "--data-urlencode",
            &format!("q={q}"),
        ])
        .output()
        .unwrap();
    text(&out.stdout)
}
