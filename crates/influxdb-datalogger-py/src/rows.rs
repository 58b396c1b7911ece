//! Core events as the tuples the Python side turns into `Event`, and field values as Python
//! objects.

use influxdb_datalogger::{Event, FieldValue};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

pub(crate) fn field_object<'py>(
    py: Python<'py>,
    value: Option<&FieldValue>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        None => py.None().into_bound(py),
        Some(FieldValue::Float(v)) => v.into_pyobject(py)?.into_any(),
        Some(FieldValue::Int(v)) => v.into_pyobject(py)?.into_any(),
        Some(FieldValue::UInt(v)) => v.into_pyobject(py)?.into_any(),
        Some(FieldValue::Bool(v)) => v.into_pyobject(py)?.to_owned().into_any(),
        Some(FieldValue::Str(v)) => v.into_pyobject(py)?.into_any(),
        // A kind of value added later: as line protocol shows it.
        Some(other) => other.to_string().into_pyobject(py)?.into_any(),
    })
}

pub(crate) fn event_row<'py>(py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyTuple>> {
    let tags = PyDict::new(py);
    for (k, v) in &event.tags {
        tags.set_item(k, v)?;
    }
    PyTuple::new(
        py,
        [
            event.measurement.as_str().into_pyobject(py)?.into_any(),
            event.start.as_nanos().into_pyobject(py)?.into_any(),
            event.stop.as_nanos().into_pyobject(py)?.into_any(),
            tags.into_any(),
        ],
    )
}
