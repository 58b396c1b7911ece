//! The built-in writers, as descriptions the logger turns into core writers: their points go
//! from the core to the file or server without a Python object per point.

use std::path::PathBuf;
use std::time::Duration;

use crate::errors::ArgumentError;
use influxdb_datalogger::{
    BackgroundWriter, DatabaseWriter, DeliveryOptions, GrafanaAnnotationWriter, InfluxConfig,
    InfluxDBWriter, JsonLinesFileWriter, LineProtocolFileWriter, Secret,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::IntoPyResult;

#[pyclass(frozen, module = "influxdb_datalogger._native")]
pub struct NativeWriter {
    kind: Kind,
}

enum Kind {
    LineProtocol(PathBuf),
    JsonLines(PathBuf),
    /// Delivered in the background.
    InfluxDb(Box<(InfluxConfig, DeliveryOptions)>),
    /// Events as Grafana annotations, delivered in the background.
    Grafana {
        url: String,
        token: Secret,
        dashboard_uid: Option<String>,
        panel_id: Option<u64>,
    },
}

#[pymethods]
impl NativeWriter {
    /// `kind` is `"line_protocol"` or `"json_lines"`.
    #[new]
    fn new(kind: &str, path: PathBuf) -> PyResult<Self> {
        let kind = match kind {
            "line_protocol" => Kind::LineProtocol(path),
            "json_lines" => Kind::JsonLines(path),
            other => {
                return Err(ArgumentError::new_err(format!(
                    "unknown writer kind {other:?}"
                )))
            }
        };
        Ok(NativeWriter { kind })
    }

    /// An InfluxDB writer for `url` (a connection string), with options by their
    /// connection-string names that override it (values as text; `None` values are skipped), and the delivery options `batch_size`,
    /// `flush_interval`, `flush_timeout` and `retry_budget` (seconds).
    #[staticmethod]
    fn influxdb(url: &str, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut config = InfluxConfig::parse_conn_str(url).into_py_result()?;
        let mut delivery = DeliveryOptions::default();
        let seconds = |value: &Bound<'_, PyAny>, key: &str| -> PyResult<Duration> {
            let s: f64 = value.extract()?;
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    ArgumentError::new_err(format!(
                        "{key} must be a positive number of seconds, not {s}"
                    ))
                })
        };
        for (key, value) in options.iter() {
            if value.is_none() {
                continue;
            }
            let key: String = key.extract()?;
            match key.as_str() {
                "batch_size" => {
                    let n: i64 = value.extract()?;
                    if n < 1 {
                        return Err(ArgumentError::new_err(format!(
                            "batch_size must be at least 1, not {n}"
                        )));
                    }
                    delivery.max_points = usize::try_from(n).unwrap_or(usize::MAX);
                }
                "flush_interval" => delivery.interval = seconds(&value, &key)?,
                "flush_timeout" => delivery.flush_timeout = seconds(&value, &key)?,
                "retry_budget" => delivery.retry.budget = seconds(&value, &key)?,
                _ => config
                    .set(&key, &value.str()?.extract::<String>()?)
                    .into_py_result()?,
            }
        }
        Self::checked(config, delivery)
    }

    /// An InfluxDB writer from a connection string.
    #[staticmethod]
    fn influxdb_from_url(connection_string: &str) -> PyResult<Self> {
        Self::checked(
            InfluxConfig::from_conn_str(connection_string).into_py_result()?,
            DeliveryOptions::default(),
        )
    }

    /// An InfluxDB writer from the environment variables of InfluxDB's own clients.
    #[staticmethod]
    fn influxdb_from_env() -> PyResult<Self> {
        Self::checked(
            InfluxConfig::from_env().into_py_result()?,
            DeliveryOptions::default(),
        )
    }

    /// A writer of events as Grafana annotations.
    #[staticmethod]
    #[pyo3(signature = (url, token, dashboard_uid = None, panel_id = None))]
    fn grafana(
        url: &str,
        token: &str,
        dashboard_uid: Option<String>,
        panel_id: Option<u64>,
    ) -> PyResult<Self> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(crate::errors::ArgumentError::new_err(format!(
                "url {url:?} must start with http:// or https://"
            )));
        }
        Ok(NativeWriter {
            kind: Kind::Grafana {
                url: url.to_string(),
                token: Secret::new(token),
                dashboard_uid,
                panel_id,
            },
        })
    }

    /// What the writer writes to, without secrets.
    fn describe(&self) -> String {
        match &self.kind {
            Kind::LineProtocol(path) | Kind::JsonLines(path) => path.display().to_string(),
            Kind::InfluxDb(options) => options.0.describe(),
            Kind::Grafana { url, .. } => format!("Grafana at {url}"),
        }
    }

    fn __repr__(&self) -> String {
        format!("NativeWriter({:?})", self.describe())
    }
}

impl NativeWriter {
    fn checked(config: InfluxConfig, delivery: DeliveryOptions) -> PyResult<Self> {
        InfluxDBWriter::new(config.clone()).into_py_result()?;
        Ok(NativeWriter {
            kind: Kind::InfluxDb(Box::new((config, delivery))),
        })
    }

    /// Whether it delivers to a database (and so deserves a spool by default).
    pub(crate) fn is_database(&self) -> bool {
        matches!(self.kind, Kind::InfluxDb(_) | Kind::Grafana { .. })
    }

    pub(crate) fn to_core(&self) -> PyResult<Box<dyn DatabaseWriter>> {
        Ok(match &self.kind {
            Kind::LineProtocol(path) => Box::new(LineProtocolFileWriter::new(path)),
            Kind::JsonLines(path) => Box::new(JsonLinesFileWriter::new(path)),
            Kind::InfluxDb(options) => {
                let (config, delivery) = &**options;
                Box::new(
                    InfluxDBWriter::new(config.clone())
                        .into_py_result()?
                        .in_background(delivery.clone()),
                )
            }
            Kind::Grafana {
                url,
                token,
                dashboard_uid,
                panel_id,
            } => {
                let mut writer = GrafanaAnnotationWriter::new(url, token.clone());
                if let Some(uid) = dashboard_uid {
                    writer = writer.with_dashboard(uid, *panel_id);
                }
                Box::new(BackgroundWriter::new(writer, DeliveryOptions::default()))
            }
        })
    }
}
