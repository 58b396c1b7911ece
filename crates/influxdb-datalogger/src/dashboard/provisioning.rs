//! Grafana provisioning files: mount the directory as `/etc/grafana/provisioning` of a stock
//! Grafana and the data source and the dashboards are there, with no clicks.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::influx::{Api, InfluxConfig};

/// Where Grafana reads provisioning from; the dashboards' path in the provider file is
/// under it.
const GRAFANA_PROVISIONING: &str = "/etc/grafana/provisioning";

/// The files [`provisioning`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionedFiles {
    /// `datasources/influxdb-datalogger.yaml`.
    pub datasource: PathBuf,
    /// `dashboards/influxdb-datalogger.yaml`.
    pub provider: PathBuf,
    /// `dashboards/influxdb-datalogger/<uid>.json`, one per dashboard.
    pub dashboards: Vec<PathBuf>,
}

/// Writes into `dir` a data source for `config`'s server and database (InfluxQL, with the
/// uid the dashboards use), a dashboard provider, and `dashboards` as JSON files.
///
/// Secrets are never written: a password or token is referred to as `$INFLUX_PASSWORD` or
/// `$INFLUX_TOKEN`, which Grafana reads from its environment.
///
/// # Errors
/// A file cannot be written.
pub fn provisioning(
    dir: &Path,
    config: &InfluxConfig,
    datasource_uid: &str,
    dashboards: &[Value],
) -> Result<ProvisionedFiles> {
    let database = config
        .database
        .as_deref()
        .or(config.bucket.as_deref())
        .unwrap_or("");
    let mut yaml = format!(
        "# Written by influxdb-datalogger: the InfluxDB data source its dashboards query.\n\
         apiVersion: 1\n\
         datasources:\n  - name: influxdb-datalogger\n    uid: {}\n    type: influxdb\n    access: proxy\n    url: {}\n    jsonData:\n      dbName: {}\n      httpMode: POST\n",
        yaml_string(datasource_uid),
        yaml_string(&config.url),
        yaml_string(database),
    );
    match config.api() {
        Api::V1 => {
            if let Some(user) = &config.username {
                yaml.push_str(&format!("    user: {}\n", yaml_string(user)));
            }
            if config.password.is_some() {
                yaml.push_str("    secureJsonData:\n      password: $INFLUX_PASSWORD\n");
            }
        }
        Api::V2 | Api::V3 => {
            if config.token.is_some() {
                yaml.push_str("    secureJsonData:\n      httpHeaderValue1: Token $INFLUX_TOKEN\n");
                yaml.push_str("    # with jsonData.httpHeaderName1: Authorization\n");
            }
        }
    }
    let datasource = dir.join("datasources").join("influxdb-datalogger.yaml");
    write(&datasource, &yaml)?;
    let provider = dir.join("dashboards").join("influxdb-datalogger.yaml");
    write(
        &provider,
        &format!(
            "# Written by influxdb-datalogger: the dashboards beside this file.\n\
             apiVersion: 1\n\
             providers:\n  - name: influxdb-datalogger\n    folder: influxdb-datalogger\n    type: file\n    disableDeletion: false\n    allowUiUpdates: true\n    options:\n      path: {GRAFANA_PROVISIONING}/dashboards/influxdb-datalogger\n      foldersFromFilesStructure: false\n"
        ),
    )?;
    let mut written = Vec::new();
    for dashboard in dashboards {
        let uid = dashboard["uid"].as_str().unwrap_or("influxdb-datalogger");
        let path = dir
            .join("dashboards")
            .join("influxdb-datalogger")
            .join(format!("{uid}.json"));
        write(
            &path,
            &serde_json::to_string_pretty(dashboard).unwrap_or_default(),
        )?;
        written.push(path);
    }
    Ok(ProvisionedFiles {
        datasource,
        provider,
        dashboards: written,
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format_args!("cannot create {}", parent.display()), e))?;
    }
    std::fs::write(path, text)
        .map_err(|e| Error::io(format_args!("cannot write {}", path.display()), e))
}

/// A YAML double-quoted string.
fn yaml_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
