//! `BlockMeasurer`: the context manager `measure_block` returns, and `Ready`, the awaitable its
//! async form returns.

use std::sync::Mutex;
use std::time::Instant;

use influxdb_datalogger::{FieldValue, Outcome, Timestamp};
use pyo3::exceptions::PyStopIteration;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::inputs::{FieldIn, Fields};
use crate::logger::{lock, schema_of, LoggerBase};
use crate::registry::registry;
use crate::schema::Schema;

/// Times a `with` block (or `async with`) and logs its duration in seconds when it ends, also
/// when it raises; with `outcome_tag`, the outcome (`ok` or `error`) goes into that tag.
#[pyclass(frozen, module = "influxdb_datalogger._native")]
pub struct BlockMeasurer {
    pub(crate) schema: Py<Schema>,
    #[pyo3(get)]
    pub(crate) datalogger: Py<LoggerBase>,
    #[pyo3(get)]
    pub(crate) measurement: Py<PyAny>,
    #[pyo3(get)]
    pub(crate) field: Py<PyAny>,
    pub(crate) field_index: usize,
    #[pyo3(get)]
    pub(crate) tags_map: Option<Py<PyAny>>,
    #[pyo3(get)]
    pub(crate) event_tags: Option<Py<PyAny>>,
    #[pyo3(get)]
    pub(crate) logger: Option<Py<PyAny>>,
    #[pyo3(get)]
    pub(crate) log_lvl: i32,
    #[pyo3(get)]
    pub(crate) log_start: Option<Py<PyAny>>,
    #[pyo3(get)]
    pub(crate) log_end: Option<Py<PyAny>>,
    pub(crate) outcome_index: Option<usize>,
    pub(crate) started: Mutex<Option<(Instant, Timestamp)>>,
}

impl BlockMeasurer {
    /// A block measurement for `datalogger` (see `DataLogger.measure_block`): the field and the
    /// outcome tag are looked up in the measurement now, so a wrong one fails before the block.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create(
        datalogger: &Bound<'_, LoggerBase>,
        measurement: &Bound<'_, PyAny>,
        field: &Bound<'_, PyAny>,
        tags_map: Option<&Bound<'_, PyAny>>,
        event_tags: Option<&Bound<'_, PyAny>>,
        logger: Option<&Bound<'_, PyAny>>,
        log_lvl: i32,
        log_start: Option<&Bound<'_, PyAny>>,
        log_end: Option<&Bound<'_, PyAny>>,
        outcome_tag: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let py = datalogger.py();
        let schema = schema_of(measurement)?;
        let field_index = schema.get().field_slot(field)?;
        let outcome_index = outcome_tag
            .filter(|t| !t.is_none())
            .map(|t| schema.get().tag_slot(t))
            .transpose()?;
        let keep =
            |o: Option<&Bound<'_, PyAny>>| o.filter(|o| !o.is_none()).map(|o| o.clone().unbind());
        let default_message = |verb: &str| -> PyResult<Py<PyAny>> {
            Ok(pyo3::types::PyString::new(
                py,
                &format!("{verb} block-measurement for {}", measurement.str()?),
            )
            .into_any()
            .unbind())
        };
        let logger = keep(logger);
        let (log_start, log_end) = match &logger {
            Some(_) => (
                Some(keep(log_start).map_or_else(|| default_message("Starting"), Ok)?),
                Some(keep(log_end).map_or_else(|| default_message("Stopping"), Ok)?),
            ),
            None => (keep(log_start), keep(log_end)),
        };
        Ok(BlockMeasurer {
            schema: schema.clone().unbind(),
            datalogger: datalogger.clone().unbind(),
            measurement: measurement.clone().unbind(),
            field: field.clone().unbind(),
            field_index,
            tags_map: keep(tags_map),
            event_tags: keep(event_tags),
            logger,
            log_lvl,
            log_start,
            log_end,
            outcome_index,
            started: Mutex::new(None),
        })
    }

    fn say(&self, py: Python<'_>, message: &Option<Py<PyAny>>) -> PyResult<()> {
        if let (Some(logger), Some(message)) = (&self.logger, message) {
            logger
                .bind(py)
                .call_method1(intern!(py, "log"), (self.log_lvl, message.bind(py)))?;
        }
        Ok(())
    }

    fn start(&self, py: Python<'_>) -> PyResult<()> {
        self.say(py, &self.log_start)?;
        *lock(&self.started) = Some((Instant::now(), Timestamp::now()));
        Ok(())
    }

    /// Ends the block. When the block raised, its exception is the one the caller sees: a
    /// duration that could not be recorded then is only counted (`stats()["log_errors"]`).
    fn finish(&self, py: Python<'_>, exc_type: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let failed = exc_type.is_some_and(|t| !t.is_none());
        match self.stop(py, failed) {
            Err(_) if failed => Ok(()),
            result => result,
        }
    }

    fn stop(&self, py: Python<'_>, failed: bool) -> PyResult<()> {
        let (started, started_at) = lock(&self.started).take().ok_or_else(|| {
            crate::errors::ArgumentError::new_err("the block measurement was not started")
        })?;
        let elapsed = started.elapsed();
        let datalogger = self.datalogger.bind(py);
        let logger = datalogger.get();
        let measurement = self.measurement.bind(py);
        if let Some(event_tags) = self
            .event_tags
            .as_ref()
            .map(|t| t.bind(py))
            .filter(|t| t.is_truthy().unwrap_or(false))
        {
            let stop = started_at.saturating_add(elapsed);
            logger.record_event(
                &crate::convert::utf8(&measurement.str()?)?,
                started_at,
                stop,
                Some(event_tags),
            )?;
        }
        let schema = self.schema.bind(py);
        let fields: Fields<'_> = smallvec::smallvec![FieldIn::new(
            schema.get(),
            self.field_index,
            Some(FieldValue::Float(elapsed.as_secs_f64()))
        )];
        let fields_map = if schema.get().has_funcs {
            let map = PyDict::new(py);
            map.set_item(self.field.bind(py), elapsed.as_secs_f64())?;
            Some(map)
        } else {
            None
        };
        let tags = match self.outcome_index {
            None => self.tags_map.as_ref().map(|t| t.bind(py).clone()),
            Some(index) => {
                let registry = registry(py)?;
                let map = registry.tag_map.bind(py).call0()?;
                if let Some(given) = &self.tags_map {
                    map.call_method1(intern!(py, "update"), (given.bind(py),))?;
                }
                let tag = schema
                    .get()
                    .measurement
                    .tags()
                    .nth(index)
                    .map(|t| t.name().to_string())
                    .unwrap_or_default();
                let outcome = if failed { Outcome::Error } else { Outcome::Ok };
                map.set_item(tag, outcome.as_str())?;
                Some(map)
            }
        };
        logger.log_point(
            datalogger,
            measurement,
            schema.get(),
            fields,
            fields_map.as_ref(),
            tags.as_ref(),
            None,
        )?;
        self.say(py, &self.log_end)
    }
}

#[pymethods]
impl BlockMeasurer {
    /// `BlockMeasurer(datalogger, measurement, field, tags_map=None, event_tags=None,
    /// logger=None, log_lvl=logging.INFO, log_start=None, log_end=None)`, as the original
    /// package's users construct it; `DataLogger.measure_block` makes the same.
    #[new]
    #[pyo3(signature = (
        datalogger, measurement, field, tags_map = None, event_tags = None, logger = None,
        log_lvl = 20, log_start = None, log_end = None, outcome_tag = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        datalogger: &Bound<'_, PyAny>,
        measurement: &Bound<'_, PyAny>,
        field: &Bound<'_, PyAny>,
        tags_map: Option<&Bound<'_, PyAny>>,
        event_tags: Option<&Bound<'_, PyAny>>,
        logger: Option<&Bound<'_, PyAny>>,
        log_lvl: i32,
        log_start: Option<&Bound<'_, PyAny>>,
        log_end: Option<&Bound<'_, PyAny>>,
        outcome_tag: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let datalogger = datalogger.cast::<LoggerBase>().map_err(|_| {
            crate::errors::type_error(format!(
                "'datalogger' must be a DataLogger, not {}",
                datalogger
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        Self::create(
            datalogger,
            measurement,
            field,
            tags_map,
            event_tags,
            logger,
            log_lvl,
            log_start,
            log_end,
            outcome_tag,
        )
    }

    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        slf.get().start(slf.py())?;
        Ok(slf.clone().unbind())
    }

    #[pyo3(signature = (exc_type = None, _exc = None, _traceback = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.finish(py, exc_type)?;
        Ok(false)
    }

    fn __aenter__(slf: &Bound<'_, Self>) -> PyResult<Ready> {
        slf.get().start(slf.py())?;
        Ok(Ready {
            value: Mutex::new(Some(slf.clone().into_any().unbind())),
        })
    }

    #[pyo3(signature = (exc_type = None, _exc = None, _traceback = None))]
    fn __aexit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Ready> {
        self.finish(py, exc_type)?;
        Ok(Ready {
            value: Mutex::new(Some(
                false.into_pyobject(py)?.to_owned().into_any().unbind(),
            )),
        })
    }
}

/// An awaitable that is done at once with a value: what `__aenter__`/`__aexit__` return.
#[pyclass(frozen, module = "influxdb_datalogger._native")]
pub struct Ready {
    value: Mutex<Option<Py<PyAny>>>,
}

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let value = lock(&self.value).take().unwrap_or_else(|| py.None());
        Err(PyStopIteration::new_err((value,)))
    }
}
