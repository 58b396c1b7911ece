//! The built-in writers, as descriptions the logger turns into core writers: their points go
//! from the core to the file or server without a Python object per point.

use std::path::PathBuf;

use influxdb_datalogger::{
    DatabaseWriter, InfluxConfig, InfluxDBWriter, JsonLinesFileWriter, LineProtocolFileWriter,
};
use pyo3::exceptions::PyValueError;
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
    InfluxDb(Box<InfluxConfig>),
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
                return Err(PyValueError::new_err(format!(
                    "unknown writer kind {other:?}"
                )))
            }
        };
        Ok(NativeWriter { kind })
    }

    /// An InfluxDB writer for `url`, with options by their connection-string names (values as
    /// text; `None` values are skipped).
    #[staticmethod]
    fn influxdb(url: &str, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut config = InfluxConfig::new(url);
        for (key, value) in options.iter() {
            if value.is_none() {
                continue;
            }
            let key: String = key.extract()?;
            let value: String = value.str()?.extract()?;
            config.set(&key, &value).py_err()?;
        }
        Self::checked(config)
    }

    /// An InfluxDB writer from a connection string.
    #[staticmethod]
    fn influxdb_from_url(connection_string: &str) -> PyResult<Self> {
        Self::checked(InfluxConfig::from_conn_str(connection_string).py_err()?)
    }

    /// An InfluxDB writer from the environment variables of InfluxDB's own clients.
    #[staticmethod]
    fn influxdb_from_env() -> PyResult<Self> {
        Self::checked(InfluxConfig::from_env().py_err()?)
    }

    /// What the writer writes to, without secrets.
    fn describe(&self) -> String {
        match &self.kind {
            Kind::LineProtocol(path) | Kind::JsonLines(path) => path.display().to_string(),
            Kind::InfluxDb(config) => config.describe(),
        }
    }

    fn __repr__(&self) -> String {
        format!("NativeWriter({:?})", self.describe())
    }
}

impl NativeWriter {
    fn checked(config: InfluxConfig) -> PyResult<Self> {
        InfluxDBWriter::new(config.clone()).py_err()?;
        Ok(NativeWriter {
            kind: Kind::InfluxDb(Box::new(config)),
        })
    }

    pub(crate) fn to_core(&self) -> PyResult<Box<dyn DatabaseWriter>> {
        Ok(match &self.kind {
            Kind::LineProtocol(path) => Box::new(LineProtocolFileWriter::new(path)),
            Kind::JsonLines(path) => Box::new(JsonLinesFileWriter::new(path)),
            Kind::InfluxDb(config) => Box::new(InfluxDBWriter::new((**config).clone()).py_err()?),
        })
    }
}
