//! The built-in writers, as descriptions the logger turns into core writers: their points go
//! from the core to the file without a Python object per point.

use std::path::PathBuf;

use influxdb_datalogger::{DatabaseWriter, JsonLinesFileWriter, LineProtocolFileWriter};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

#[pyclass(frozen, module = "influxdb_datalogger._native")]
pub struct NativeWriter {
    kind: Kind,
    path: PathBuf,
}

#[derive(Clone, Copy)]
enum Kind {
    LineProtocol,
    JsonLines,
}

#[pymethods]
impl NativeWriter {
    /// `kind` is `"line_protocol"` or `"json_lines"`.
    #[new]
    fn new(kind: &str, path: PathBuf) -> PyResult<Self> {
        let kind = match kind {
            "line_protocol" => Kind::LineProtocol,
            "json_lines" => Kind::JsonLines,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown writer kind {other:?}"
                )))
            }
        };
        Ok(NativeWriter { kind, path })
    }

    fn __repr__(&self) -> String {
        let kind = match self.kind {
            Kind::LineProtocol => "line_protocol",
            Kind::JsonLines => "json_lines",
        };
        format!(
            "NativeWriter({kind:?}, {:?})",
            self.path.display().to_string()
        )
    }
}

impl NativeWriter {
    pub(crate) fn to_core(&self) -> Box<dyn DatabaseWriter> {
        match self.kind {
            Kind::LineProtocol => Box::new(LineProtocolFileWriter::new(&self.path)),
            Kind::JsonLines => Box::new(JsonLinesFileWriter::new(&self.path)),
        }
    }
}
