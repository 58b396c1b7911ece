//! The one place where core errors become Python exceptions. The exception classes are defined
//! in `influxdb_datalogger/exceptions.py`, which draws the tree.

use influxdb_datalogger::{Error, ErrorKind};
use pyo3::prelude::*;

pyo3::import_exception!(influxdb_datalogger.exceptions, DataLoggerError);
pyo3::import_exception!(influxdb_datalogger.exceptions, DataLoggerTypeError);
pyo3::import_exception!(influxdb_datalogger.exceptions, ValidationError);
pyo3::import_exception!(influxdb_datalogger.exceptions, InvalidNameError);
pyo3::import_exception!(influxdb_datalogger.exceptions, InvalidValueError);
pyo3::import_exception!(influxdb_datalogger.exceptions, UnknownFieldError);
pyo3::import_exception!(influxdb_datalogger.exceptions, UnknownTagError);
pyo3::import_exception!(influxdb_datalogger.exceptions, SchemaError);
pyo3::import_exception!(influxdb_datalogger.exceptions, IncompletePointError);
pyo3::import_exception!(influxdb_datalogger.exceptions, ArgumentError);
pyo3::import_exception!(influxdb_datalogger.exceptions, ParseError);
pyo3::import_exception!(influxdb_datalogger.exceptions, WriterError);
pyo3::import_exception!(influxdb_datalogger.exceptions, SpoolFullError);

/// Maps a core error to its Python exception, keeping the message.
pub fn to_py(err: Error) -> PyErr {
    // With its causes (an I/O error's reason, say), each once.
    let message = format!("{err:#}");
    match err.kind() {
        ErrorKind::InvalidName => InvalidNameError::new_err(message),
        ErrorKind::InvalidValue => InvalidValueError::new_err(message),
        ErrorKind::UnknownField => UnknownFieldError::new_err(message),
        ErrorKind::UnknownTag => UnknownTagError::new_err(message),
        ErrorKind::Schema => SchemaError::new_err(message),
        ErrorKind::IncompletePoint => IncompletePointError::new_err(message),
        ErrorKind::InvalidArgument => ArgumentError::new_err(message),
        ErrorKind::Parse => ParseError::new_err(message),
        ErrorKind::Writer | ErrorKind::Io => WriterError::new_err(message),
        ErrorKind::SpoolFull => SpoolFullError::new_err(message),
        _ => DataLoggerError::new_err(message),
    }
}

/// `to_py` for results.
pub trait IntoPyResult<T> {
    fn into_py_result(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn into_py_result(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// A wrong argument type: a `TypeError` that is also an `AssertionError`, as the Python package
/// this replaces asserted types.
pub fn type_error(message: impl Into<String>) -> PyErr {
    DataLoggerTypeError::new_err(message.into())
}

/// A value for a message, shortened: a huge value must not make a huge exception.
pub fn quoted(text: &str) -> String {
    influxdb_datalogger::shorten(text)
}
