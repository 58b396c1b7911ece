//! The Python classes the native code checks arguments against, registered once by the
//! package's `__init__` (they are defined in Python).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::errors::DataLoggerError;

pub struct Registry {
    pub measurement: Py<PyAny>,
    pub field_map: Py<PyAny>,
    pub tag_map: Py<PyAny>,
    pub database_writer: Py<PyAny>,
}

static REGISTRY: PyOnceLock<Registry> = PyOnceLock::new();

pub fn registry(py: Python<'_>) -> PyResult<&'static Registry> {
    REGISTRY.get(py).ok_or_else(|| {
        DataLoggerError::new_err(
            "influxdb_datalogger._native is used without importing influxdb_datalogger",
        )
    })
}

/// Called by `influxdb_datalogger/__init__.py`.
#[pyfunction]
pub fn _register(
    py: Python<'_>,
    measurement: Py<PyAny>,
    field_map: Py<PyAny>,
    tag_map: Py<PyAny>,
    database_writer: Py<PyAny>,
) {
    let _ = REGISTRY.set(
        py,
        Registry {
            measurement,
            field_map,
            tag_map,
            database_writer,
        },
    );
}
