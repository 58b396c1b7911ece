//! Python values to core values: field values, tag values, timestamps.

use std::borrow::Cow;

use influxdb_datalogger::{FieldValue, Timestamp};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};

use crate::errors::{type_error, InvalidValueError};

/// A Python value as a field value; `None` stays "no value".
pub fn field_value(
    value: &Bound<'_, PyAny>,
    what: impl FnOnce() -> String,
) -> PyResult<Option<FieldValue>> {
    if value.is_none() {
        return Ok(None);
    }
    // bool before int: bool is an int subclass.
    if value.is_instance_of::<PyBool>() {
        return Ok(Some(FieldValue::Bool(value.is_truthy()?)));
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(Some(FieldValue::Float(value.extract::<f64>()?)));
    }
    if value.is_instance_of::<PyInt>() {
        return int_value(value, what);
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Some(FieldValue::Str(utf8(text)?.into_owned())));
    }
    // Numeric types from other libraries (numpy, decimal) convert the way Python converts them.
    let py = value.py();
    if value.hasattr(pyo3::intern!(py, "__index__"))? {
        let index = value.call_method0(pyo3::intern!(py, "__index__"))?;
        return int_value(&index, what);
    }
    if value.hasattr(pyo3::intern!(py, "__float__"))? {
        return Ok(Some(FieldValue::Float(
            value
                .call_method0(pyo3::intern!(py, "__float__"))?
                .extract()?,
        )));
    }
    Err(InvalidValueError::new_err(format!(
        "{}: value {} of type {} is not a float, int, bool or str",
        what(),
        crate::errors::quoted(&value.repr()?.to_string()),
        value.get_type().name()?
    )))
}

fn int_value(
    value: &Bound<'_, PyAny>,
    what: impl FnOnce() -> String,
) -> PyResult<Option<FieldValue>> {
    if let Ok(v) = value.extract::<i64>() {
        return Ok(Some(FieldValue::Int(v)));
    }
    if let Ok(v) = value.extract::<u64>() {
        return Ok(Some(FieldValue::UInt(v)));
    }
    Err(InvalidValueError::new_err(format!(
        "{}: integer {} does not fit 64 bits",
        what(),
        crate::errors::quoted(&value.repr()?.to_string())
    )))
}

/// A `str` as UTF-8; one that cannot be (a lone surrogate) is an `InvalidValueError` naming it.
pub fn utf8<'a>(text: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    text.to_cow().map_err(|_| {
        InvalidValueError::new_err(format!(
            "text {} cannot be written: it is not valid Unicode (it has a lone surrogate)",
            crate::errors::quoted(&text.repr().map(|r| r.to_string()).unwrap_or_default())
        ))
    })
}

/// A Python value as a tag value: text as it is, anything else as `str(value)`; `None` stays
/// "no value".
pub fn tag_value<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Option<Cow<'a, str>>> {
    if value.is_none() {
        return Ok(None);
    }
    match value.cast::<PyString>() {
        Ok(text) => Ok(Some(utf8(text)?)),
        Err(_) => Ok(Some(Cow::Owned(utf8(&value.str()?)?.into_owned()))),
    }
}

/// A name (a `str`, or a `Field`/`Tag`, which are `str` subclasses) as text.
pub fn name<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, str>> {
    match key.cast::<PyString>() {
        Ok(text) => utf8(text),
        Err(_) => Err(type_error(format!(
            "names must be str, Field or Tag, not {} ({})",
            key.get_type().name()?,
            key.repr()?
        ))),
    }
}

struct Epochs {
    naive: Py<PyAny>,
    utc: Py<PyAny>,
}

static EPOCHS: PyOnceLock<Epochs> = PyOnceLock::new();

/// A `datetime` (naive means UTC, aware is converted) or a number of seconds since the epoch,
/// as a timestamp, exactly to the microsecond.
pub fn timestamp(value: &Bound<'_, PyAny>) -> PyResult<Timestamp> {
    let py = value.py();
    if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        let seconds: f64 = value.extract()?;
        return Timestamp::from_secs_f64(seconds).map_err(crate::errors::to_py);
    }
    let epochs = EPOCHS.get_or_try_init(py, || -> PyResult<Epochs> {
        let datetime = py.import("datetime")?;
        let class = datetime.getattr("datetime")?;
        let utc = datetime.getattr("timezone")?.getattr("utc")?;
        Ok(Epochs {
            naive: class.call1((1970, 1, 1))?.unbind(),
            utc: class.call1((1970, 1, 1, 0, 0, 0, 0, utc))?.unbind(),
        })
    })?;
    let tzinfo = value.getattr(pyo3::intern!(py, "tzinfo")).map_err(|_| {
        type_error(format!(
            "time must be a datetime or seconds since the epoch, not {}",
            value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let epoch = if tzinfo.is_none() {
        epochs.naive.bind(py)
    } else {
        epochs.utc.bind(py)
    };
    let delta = value.call_method1(pyo3::intern!(py, "__sub__"), (epoch,))?;
    let days: i64 = delta.getattr(pyo3::intern!(py, "days"))?.extract()?;
    let seconds: i64 = delta.getattr(pyo3::intern!(py, "seconds"))?.extract()?;
    let micros: i64 = delta
        .getattr(pyo3::intern!(py, "microseconds"))?
        .extract()?;
    (days * 86_400 + seconds)
        .checked_mul(1_000_000)
        .and_then(|us| us.checked_add(micros))
        .and_then(|us| us.checked_mul(1_000))
        .map(Timestamp::from_nanos)
        .ok_or_else(|| {
            InvalidValueError::new_err(format!(
                "time {} is outside the years 1677 to 2262, which nanosecond timestamps cover",
                value.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })
}
