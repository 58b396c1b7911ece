//! Real servers for integration tests: Debian's InfluxDB 1.6 and VictoriaMetrics, started on
//! free loopback ports by `scripts/servers.py` and stopped by it (by PID) when dropped. Shared
//! by the test crates with `#[path = "…/support/servers.rs"] mod servers;`.

#![allow(dead_code)] // each test crate uses part of it

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Servers {
    state: PathBuf,
    pub info: serde_json::Value,
    _dir: tempfile::TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/servers.py")
}

impl Servers {
    /// Starts both servers; with `auth`, InfluxDB requires the user `admin`,
    /// password `admin-password`.
    pub fn start(auth: bool) -> Servers {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let mut command = Command::new("python3");
        command.arg(script()).arg("up").arg("--state").arg(&state);
        if auth {
            command.arg("--auth");
        }
        let output = command.output().expect("python3 runs scripts/servers.py");
        assert!(
            output.status.success(),
            "servers.py up failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let info = serde_json::from_slice(&output.stdout).unwrap();
        Servers {
            state,
            info,
            _dir: dir,
        }
    }

    pub fn influxdb(&self) -> String {
        self.info["influxdb"]["url"].as_str().unwrap().to_string()
    }

    pub fn victoria_metrics(&self) -> String {
        self.info["victoria_metrics"]["url"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Runs another action of the script (`stop-influxdb`, `start-influxdb`).
    pub fn run(&self, action: &str) {
        let status = Command::new("python3")
            .arg(script())
            .arg(action)
            .arg("--state")
            .arg(&self.state)
            .status()
            .unwrap();
        assert!(status.success(), "servers.py {action}");
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        let _ = Command::new("python3")
            .arg(script())
            .arg("down")
            .arg("--state")
            .arg(&self.state)
            .status();
    }
}
