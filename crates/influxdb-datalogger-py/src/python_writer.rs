//! Writers written in Python, called from the core with the GIL, and the state they share with
//! their logger (the batch a writer is writing, an exception it raised).

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use influxdb_datalogger::{Batch, DatabaseWriter, Error, ErrorKind};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyWeakrefReference;

use crate::logger::lock;

/// State shared between a logger and the Python writers and post-processors it calls back.
#[derive(Default)]
pub(crate) struct Shared {
    /// A weak reference to the Python `DataLogger`, handed to Python writers.
    pub(crate) python_logger: Mutex<Option<Py<PyAny>>>,
    /// While a Python writer runs: the batch it is writing, which `dataset` and `events` show
    /// to that thread.
    pub(crate) view: Mutex<Option<(ThreadId, Batch)>>,
    /// The first Python exception raised by a writer or post-processor during a write, raised
    /// again to the caller as it was.
    pub(crate) python_error: Mutex<Option<PyErr>>,
}

impl Shared {
    pub(crate) fn remember_logger(&self, logger: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut slot = lock(&self.python_logger);
        if slot.is_none() {
            *slot = Some(PyWeakrefReference::new(logger)?.into_any().unbind());
        }
        Ok(())
    }

    pub(crate) fn logger<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        let weak = lock(&self.python_logger)
            .as_ref()
            .map(|w| w.clone_ref(py))?;
        weak.bind(py).cast::<PyWeakrefReference>().ok()?.upgrade()
    }

    /// Keeps a Python exception for the caller, and returns the core error that stands for it.
    pub(crate) fn keep(&self, err: PyErr, what: String) -> Error {
        let message = format!("{what}: {err}");
        let mut slot = lock(&self.python_error);
        if slot.is_none() {
            *slot = Some(err);
        }
        Error::new(ErrorKind::Writer, message)
    }

    pub(crate) fn view(&self) -> Option<Batch> {
        let view = lock(&self.view);
        view.as_ref()
            .filter(|(thread, _)| *thread == std::thread::current().id())
            .map(|(_, batch)| batch.clone())
    }
}

/// A user's Python `DatabaseWriter`, called with the GIL on the writing thread.
pub(crate) struct PythonWriter {
    pub(crate) object: Py<PyAny>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) name: String,
}

impl DatabaseWriter for PythonWriter {
    fn write_data(&mut self, batch: &Batch) -> influxdb_datalogger::Result<()> {
        Python::attach(|py| {
            let logger = self.shared.logger(py);
            *lock(&self.shared.view) = Some((std::thread::current().id(), batch.clone()));
            let result = self
                .object
                .bind(py)
                .call_method1(intern!(py, "write_data"), (logger,));
            *lock(&self.shared.view) = None;
            result
                .map(drop)
                .map_err(|e| self.shared.keep(e, format!("{} raised", self.name)))
        })
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}
