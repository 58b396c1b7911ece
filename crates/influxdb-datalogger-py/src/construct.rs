//! Making the core logger a `LoggerBase` holds: its spool, its writers (built-in ones as core
//! writers, Python ones called back), its post-processors — at construction, and again in a
//! forked child.

use std::sync::Arc;

use influxdb_datalogger::{
    DataLogger, Error, ErrorKind, SpoolFromEnv, SpoolOptions, DEFAULT_SPOOL_DIR,
};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyTuple};

use crate::errors::{type_error, IntoPyResult};
use crate::python_writer::{PythonWriter, Shared};
use crate::writers::NativeWriter;

/// The spool a logger gets: `spool_dir` if given (`False` for none; a path, or a connection
/// string with settings after `?`), else what `INFLUXDB_DATALOGGER_SPOOL` says, else the
/// default directory under the working directory when a writer delivers to a database.
/// Also says whether the spool was asked for (by argument or environment), rather than the
/// default.
pub(crate) fn spool_options(
    spool_dir: Option<&Bound<'_, PyAny>>,
    has_database: bool,
) -> PyResult<(Option<SpoolOptions>, bool)> {
    if let Some(given) = spool_dir.filter(|v| !v.is_none()) {
        if given.is_instance_of::<PyBool>() {
            return match given.extract::<bool>()? {
                false => Ok((None, true)),
                true => Ok((Some(SpoolOptions::new(DEFAULT_SPOOL_DIR)), true)),
            };
        }
        let path: std::path::PathBuf = given.extract().map_err(|_| {
            type_error(format!(
                "spool_dir must be a path, a connection string or False, not {}",
                given
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        return SpoolOptions::parse(&path.to_string_lossy())
            .map(|options| (Some(options), true))
            .into_py_result();
    }
    match SpoolOptions::from_env().into_py_result()? {
        SpoolFromEnv::On(options) => Ok((Some(options), true)),
        SpoolFromEnv::Off => Ok((None, true)),
        SpoolFromEnv::Unset => Ok((
            has_database.then(|| SpoolOptions::new(DEFAULT_SPOOL_DIR)),
            false,
        )),
    }
}

pub(crate) fn native_writer<'py>(
    writer: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, NativeWriter>>> {
    let native = writer.getattr_opt(intern!(writer.py(), "_native_writer"))?;
    Ok(native.and_then(|n| n.cast_into::<NativeWriter>().ok()))
}

/// The core logger for these writers: built-in writers become core writers (each with its own
/// delivery thread), Python writers are called back.
pub(crate) fn build_core(
    py: Python<'_>,
    database_writers: &Bound<'_, PyTuple>,
    continuous_write: bool,
    spool: Option<SpoolOptions>,
    shared: &Arc<Shared>,
) -> PyResult<DataLogger> {
    let mut builder = DataLogger::builder()
        .continuous_write(continuous_write)
        .close_on_drop(false);
    let mut has_python_writer = false;
    for writer in database_writers.iter() {
        match native_writer(&writer)? {
            Some(native) => builder = builder.boxed_writer(native.get().to_core()?),
            None => {
                has_python_writer = true;
                let name = writer.get_type().name()?.to_string();
                builder = builder.writer(PythonWriter {
                    object: writer.unbind(),
                    shared: Arc::clone(shared),
                    name,
                });
            }
        }
    }
    // Writers written in Python cannot run before this object exists: what the spool replays
    // for them waits for the first write.
    let builder = builder.spool(spool).hand_over_replay(!has_python_writer);
    // Opening the spool replays what dead processes left, over the network: without the GIL.
    py.detach(|| builder.try_build()).into_py_result()
}

/// Registers a Python post-processor on a core logger; it runs the Python `_run_post_processing`.
pub(crate) fn add_post_processor(core: &DataLogger, shared: &Arc<Shared>, func: Py<PyAny>) {
    let shared = Arc::clone(shared);
    core.add_post_processing(&[], move |_, _| {
        Python::attach(|py| {
            let logger = shared
                .logger(py)
                .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "the DataLogger is gone"))?;
            logger
                .call_method1(intern!(py, "_run_post_processing"), (func.bind(py),))
                .map(drop)
                .map_err(|e| shared.keep(e, "a post-processing function raised".into()))
        })
    });
}
