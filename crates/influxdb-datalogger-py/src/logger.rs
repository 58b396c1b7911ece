//! `LoggerBase`, the native half of the Python `DataLogger` (which subclasses it), and
//! `BlockMeasurer`. The hot calls — `log` and `measure_block` — are native methods, so a Python
//! call goes straight to Rust.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use influxdb_datalogger::{DataLogger, DatabaseWriter, SpoolOptions, Timestamp};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::block::BlockMeasurer;
use crate::construct::{add_post_processor, build_core, native_writer, spool_options};
use crate::convert;
use crate::errors::{to_py, type_error, IntoPyResult};
use crate::inputs::{field_context, merge_computed, tag_inputs, FieldIn, Fields};
use crate::python_writer::Shared;
use crate::registry::registry;
use crate::rows::event_row;
use crate::schema::Schema;
use crate::stats::stats_dict;
use crate::writers::NativeWriter;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[pyclass(subclass, frozen, weakref, module = "influxdb_datalogger._native")]
pub struct LoggerBase {
    /// The core logger; replaced in a forked child at its first use (see [`Self::core`]).
    core: ArcSwap<DataLogger>,
    shared: Arc<Shared>,
    writers: Py<PyTuple>,
    continuous_write: bool,
    spool: Option<SpoolOptions>,
    /// The Python post-processors, registered again on a core made after a fork.
    post_processors: Mutex<Vec<Py<PyAny>>>,
    /// The Measurement objects logged, by name, so that entries read back carry the very
    /// object that was logged; `last_schema` saves the look-up when it is the same as before.
    measurements: Mutex<Vec<(usize, String, Py<PyAny>)>>,
    last_schema: AtomicUsize,
    /// The Measurement object `log` was last given, with its schema: a loop logs the same one
    /// again and again, and reading `_schema` off a `str` subclass is a dictionary look-up
    /// through its type (see the `log idiom` row of `make bench-python`).
    last_logged: Mutex<Option<(Py<PyAny>, Py<Schema>)>>,
}

#[pymethods]
impl LoggerBase {
    #[new]
    #[pyo3(signature = (*database_writers, continuous_write = false, spool_dir = None, **_kwargs))]
    fn new(
        py: Python<'_>,
        database_writers: &Bound<'_, PyTuple>,
        continuous_write: bool,
        spool_dir: Option<&Bound<'_, PyAny>>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let registry = registry(py)?;
        let mut has_database = false;
        for writer in database_writers.iter() {
            if !writer.is_instance(registry.database_writer.bind(py))? {
                return Err(type_error(format!(
                    "a database writer passed to a DataLogger must inherit from influxdb_datalogger.DatabaseWriter, not {}",
                    writer.get_type().name()?
                )));
            }
            if let Some(native) = native_writer(&writer)? {
                has_database |= native.get().is_database();
            }
        }
        let shared = Arc::new(Shared::default());
        let (mut spool, asked_for) = spool_options(spool_dir, has_database)?;
        let core = match build_core(
            py,
            database_writers,
            continuous_write,
            spool.clone(),
            &shared,
        ) {
            // A spool nobody asked for (the default beside a database writer) must not stop a
            // drop-in user whose working directory is read-only: without it, with a warning.
            Err(error) if !asked_for && spool.is_some() => {
                py.import(intern!(py, "logging"))?
                    .call_method1(intern!(py, "getLogger"), ("influxdb_datalogger",))?
                    .call_method1(
                        intern!(py, "warning"),
                        (
                            "running without a spool (points not yet delivered are lost if the process dies): %s; \
                             pass spool_dir= a writable directory, or spool_dir=False",
                            error.value(py).to_string(),
                        ),
                    )?;
                spool = None;
                build_core(py, database_writers, continuous_write, None, &shared)?
            }
            built => built?,
        };
        Ok(LoggerBase {
            core: ArcSwap::from_pointee(core),
            shared,
            writers: database_writers.clone().unbind(),
            continuous_write,
            spool,
            post_processors: Mutex::new(Vec::new()),
            measurements: Mutex::new(Vec::new()),
            last_schema: AtomicUsize::new(0),
            last_logged: Mutex::new(None),
        })
    }

    /// Whether every log is written at once.
    #[getter]
    fn continuous_write(&self) -> bool {
        self.continuous_write
    }

    /// The writers, in the order given.
    #[getter]
    fn db_writers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.writers.bind(py).iter())
    }

    /// Logs one point. See the Python `DataLogger.log`.
    #[pyo3(signature = (measurement, fields_map, tags_map = None, time = None))]
    fn log(
        slf: &Bound<'_, Self>,
        measurement: &Bound<'_, PyAny>,
        fields_map: &Bound<'_, PyAny>,
        tags_map: Option<&Bound<'_, PyAny>>,
        time: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let registry = registry(py)?;
        if !fields_map.is_instance(registry.field_map.bind(py))? {
            return Err(type_error(format!(
                "'fields_map' must be of type FieldMap, not {}",
                fields_map.get_type().name()?
            )));
        }
        let schema = slf.get().schema_logged(measurement)?;
        let schema = schema.get();
        let fields_dict = fields_map.cast::<PyDict>()?;
        let mut fields = Fields::new();
        for (key, value) in fields_dict.iter() {
            let index = schema.field_slot(&key)?;
            let value = convert::field_value(&value, || field_context(schema, &key))?;
            fields.push(FieldIn::new(schema, index, value));
        }
        let time = time
            .filter(|t| !t.is_none())
            .map(convert::timestamp)
            .transpose()?;
        slf.get().log_point(
            slf,
            measurement,
            schema,
            fields,
            Some(fields_dict),
            tags_map,
            time,
        )
    }

    /// Records an event; `start_time` and `stop_time` are datetimes (naive means UTC) or
    /// seconds since the epoch.
    #[pyo3(signature = (measurement, start_time, stop_time, event_tags_map = None))]
    fn log_event(
        &self,
        measurement: &Bound<'_, PyAny>,
        start_time: &Bound<'_, PyAny>,
        stop_time: &Bound<'_, PyAny>,
        event_tags_map: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let start = convert::timestamp(start_time)?;
        let stop = convert::timestamp(stop_time)?;
        self.record_event(
            &crate::convert::utf8(&measurement.str()?)?,
            start,
            stop,
            event_tags_map,
        )
    }

    /// `log_event` with times in nanoseconds since the epoch.
    fn _log_event_ns(
        &self,
        measurement: &Bound<'_, PyAny>,
        start_ns: i64,
        stop_ns: i64,
        event_tags_map: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let name = crate::convert::utf8(&measurement.str()?)?.into_owned();
        self.record_event(
            &name,
            Timestamp::from_nanos(start_ns),
            Timestamp::from_nanos(stop_ns),
            event_tags_map,
        )
    }

    /// A context manager that logs the duration of its block (also when the block raises).
    #[pyo3(signature = (
        measurement, field, tags_map = None, event_tags = None, logger = None, log_lvl = 20,
        log_start = None, log_end = None, outcome_tag = None, tag_map = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn measure_block(
        slf: &Bound<'_, Self>,
        measurement: &Bound<'_, PyAny>,
        field: &Bound<'_, PyAny>,
        tags_map: Option<&Bound<'_, PyAny>>,
        event_tags: Option<&Bound<'_, PyAny>>,
        logger: Option<&Bound<'_, PyAny>>,
        log_lvl: i32,
        log_start: Option<&Bound<'_, PyAny>>,
        log_end: Option<&Bound<'_, PyAny>>,
        outcome_tag: Option<&Bound<'_, PyAny>>,
        tag_map: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<BlockMeasurer> {
        BlockMeasurer::create(
            slf,
            measurement,
            field,
            tags_map.filter(|t| !t.is_none()).or(tag_map),
            event_tags,
            logger,
            log_lvl,
            log_start,
            log_end,
            outcome_tag,
        )
    }

    /// Validates, post-processes and hands everything pending to every writer.
    fn write_data(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        this.shared.remember_logger(slf.as_any())?;
        let core = this.core_arc(slf.py())?;
        let result = slf.py().detach(|| core.write_data());
        this.raise(result)
    }

    /// Writes what is pending and waits (at most `timeout` seconds, else each writer's own
    /// limit) until every writer has it delivered.
    #[pyo3(signature = (timeout = None))]
    fn flush(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<()> {
        let this = slf.get();
        this.shared.remember_logger(slf.as_any())?;
        let core = this.core_arc(slf.py())?;
        let timeout = timeout.map(seconds).transpose()?;
        let result = slf.py().detach(|| match timeout {
            Some(timeout) => core.flush_within(timeout),
            None => core.flush(),
        });
        this.raise(result)
    }

    /// Writes what is pending and waits (at most `timeout` seconds, else each writer's own
    /// limit) until the writers delivered it; with a spool, not for a server that cannot be
    /// reached, whose points wait in the spool: what `close()` does.
    #[pyo3(signature = (timeout = None))]
    fn _flush_to_close(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<()> {
        let this = slf.get();
        this.shared.remember_logger(slf.as_any())?;
        let core = this.core_arc(slf.py())?;
        let deadline = timeout
            .map(seconds)
            .transpose()?
            .map(|t| std::time::Instant::now() + t);
        let result = slf
            .py()
            .detach(|| core.write_data().and(core.flush_writers_to_close(deadline)));
        this.raise(result)
    }

    /// Waits (at most `timeout` seconds) until the writers delivered what they were given,
    /// handing them nothing new: what happens at interpreter exit.
    fn _flush_writers(slf: &Bound<'_, Self>, timeout: f64) -> PyResult<()> {
        let this = slf.get();
        let core = this.core.load_full();
        if core.is_forked_copy() {
            // The parent's logger, never used in this (forked) process: the parent delivers it.
            return Ok(());
        }
        let deadline = std::time::Instant::now() + seconds(timeout)?;
        let result = slf.py().detach(|| core.flush_writers_at_exit(deadline));
        this.raise(result)
    }

    /// Registers a Python post-processor, run by the Python `_run_post_processing`.
    fn _add_post_processing(slf: &Bound<'_, Self>, func: Py<PyAny>) -> PyResult<()> {
        let this = slf.get();
        this.shared.remember_logger(slf.as_any())?;
        let core = this.core(slf.py())?;
        add_post_processor(&core, &this.shared, func.clone_ref(slf.py()));
        lock(&this.post_processors).push(func);
        Ok(())
    }

    /// The pending entries (or those a Python writer is writing) as `entry_cls` (`DataEntry`)
    /// objects, grouped by measurement (with `last_only`, the last of them alone); `named` finds
    /// the measurement object for a name that was not logged here.
    #[pyo3(signature = (entry_cls, named, last_only = false))]
    fn _entries<'py>(
        &self,
        py: Python<'py>,
        entry_cls: &Bound<'py, pyo3::types::PyType>,
        named: &Bound<'py, PyAny>,
        last_only: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let batch = match self.shared.view() {
            Some(batch) => batch,
            None => self.core(py)?.pending_batch(),
        };
        let known = self._measurements(py)?;
        crate::dataset::entries(py, &batch, entry_cls, &known, named, last_only)
    }

    /// The pending events (or those a Python writer is writing) as
    /// `(measurement, start_ns, stop_ns, tags)` tuples.
    fn _event_rows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let events = match self.shared.view() {
            Some(batch) => batch.events().to_vec(),
            None => self.core(py)?.events(),
        };
        let rows = PyList::empty(py);
        for event in events {
            rows.append(event_row(py, &event)?)?;
        }
        Ok(rows)
    }

    /// Writes what is pending (or being written) with a built-in writer, purging nothing: what
    /// a built-in writer's `write_data(datalogger)` does when called directly.
    fn _write_with(&self, py: Python<'_>, writer: &Bound<'_, NativeWriter>) -> PyResult<()> {
        let batch = match self.shared.view() {
            Some(batch) => batch,
            None => self.core(py)?.pending_batch(),
        };
        let mut core_writer = writer.get().to_core()?;
        py.detach(|| core_writer.write_data(&batch))
            .into_py_result()
    }

    /// The Measurement objects logged, by name.
    fn _measurements<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (_, name, object) in lock(&self.measurements).iter() {
            out.set_item(name, object.bind(py))?;
        }
        Ok(out)
    }

    /// Counters: points logged, pending, written per writer, failures, the last error; the
    /// spool's numbers and what was replayed from it.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let core = self.core(py)?;
        stats_dict(py, core.stats(), core.replay_report())
    }
}

fn seconds(value: f64) -> PyResult<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(value).map_err(|_| {
        crate::errors::ArgumentError::new_err(format!(
            "timeout must be a number of seconds >= 0, not {value}"
        ))
    })
}

pub(crate) fn schema_of<'py>(measurement: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Schema>> {
    let py = measurement.py();
    let registry = registry(py)?;
    if !measurement.is_instance(registry.measurement.bind(py))? {
        return Err(type_error(format!(
            "'measurement' must be of type Measurement, not {}",
            measurement.get_type().name()?
        )));
    }
    Ok(measurement
        .getattr(intern!(py, "_schema"))?
        .cast_into::<Schema>()?)
}

impl LoggerBase {
    /// The core logger of this process. In a child forked after it was made, the parent's copy
    /// can deliver nothing (its threads were not copied, its spool is the parent's): at the
    /// first use there, a new core with the same writers and settings takes its place, with its
    /// own delivery threads and spool owner. What was pending at the fork stays the parent's.
    #[inline]
    fn core(&self, py: Python<'_>) -> PyResult<arc_swap::Guard<Arc<DataLogger>>> {
        let core = self.core.load();
        if !core.is_forked_copy() {
            return Ok(core);
        }
        drop(core);
        self.renew_after_fork(py)?;
        Ok(self.core.load())
    }

    /// [`Self::core`], as an `Arc` to use without the GIL.
    fn core_arc(&self, py: Python<'_>) -> PyResult<Arc<DataLogger>> {
        Ok(Arc::clone(&*self.core(py)?))
    }

    fn renew_after_fork(&self, py: Python<'_>) -> PyResult<()> {
        // Under the GIL, which this holds: no other thread renews at the same time.
        if !self.core.load().is_forked_copy() {
            return Ok(());
        }
        let core = build_core(
            py,
            self.writers.bind(py),
            self.continuous_write,
            self.spool.clone(),
            &self.shared,
        )?;
        for func in lock(&self.post_processors).iter() {
            add_post_processor(&core, &self.shared, func.clone_ref(py));
        }
        // The parent's copy drops without touching the parent's threads or files.
        drop(self.core.swap(Arc::new(core)));
        // A multiprocessing child leaves through os._exit, past atexit: the Python side
        // delivers at the child's exit through multiprocessing's own exit hooks.
        py.import(intern!(py, "influxdb_datalogger._datalogger"))?
            .call_method0(intern!(py, "_deliver_at_child_exit"))?;
        Ok(())
    }

    /// The common end of `log` and a finished block: merges in Python-computed values, converts
    /// the tags, and logs (releasing the GIL when the log may write).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn log_point<'s>(
        &self,
        slf: &Bound<'_, Self>,
        measurement: &Bound<'_, PyAny>,
        schema: &'s Schema,
        mut fields: Fields<'s>,
        fields_map: Option<&Bound<'_, PyDict>>,
        tags_map: Option<&Bound<'_, PyAny>>,
        time: Option<Timestamp>,
    ) -> PyResult<()> {
        let py = slf.py();
        self.remember_measurement(schema, measurement);
        let tags_map = tags_map.filter(|t| !t.is_none());
        if let Some(tags) = tags_map {
            if !tags.is_instance(registry(py)?.tag_map.bind(py))? {
                return Err(type_error(format!(
                    "'tags_map' must be None or of type TagMap, not {}",
                    tags.get_type().name()?
                )));
            }
        }
        let tags = merge_computed(measurement, schema, &mut fields, fields_map, tags_map)?;
        let time = time.unwrap_or_else(Timestamp::now);
        let tags = tag_inputs(schema, &tags)?;
        let result = if self.continuous_write {
            // A continuous write calls writers, which may need the GIL on this or another thread
            // and may log this measurement again: no lock may be held.
            self.shared.remember_logger(slf.as_any())?;
            let core = self.core_arc(py)?;
            py.detach(|| core.log_at(&schema.measurement, &fields, &tags, time))
        } else {
            self.core(py)?
                .log_at(&schema.measurement, &fields, &tags, time)
        };
        self.raise(result)
    }

    /// [`schema_of`] `measurement`, answered from [`Self::last_logged`] when it is the same
    /// object (held there, so its address cannot have been reused).
    fn schema_logged<'py>(&self, measurement: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Schema>> {
        let py = measurement.py();
        if let Some((object, schema)) = lock(&self.last_logged).as_ref() {
            if object.as_ptr() == measurement.as_ptr() {
                return Ok(schema.bind(py).clone());
            }
        }
        let schema = schema_of(measurement)?;
        let before = lock(&self.last_logged)
            .replace((measurement.clone().unbind(), schema.clone().unbind()));
        // Released with the lock free: a `__del__` may log.
        drop(before);
        Ok(schema)
    }

    fn remember_measurement(&self, schema: &Schema, measurement: &Bound<'_, PyAny>) {
        let key = schema as *const Schema as usize;
        if self.last_schema.load(Ordering::Relaxed) == key {
            return;
        }
        let mut known = lock(&self.measurements);
        if !known.iter().any(|(k, _, _)| *k == key) {
            let name = schema.measurement.name().to_string();
            known.retain(|(_, n, _)| *n != name);
            known.push((key, name, measurement.clone().unbind()));
        }
        self.last_schema.store(key, Ordering::Relaxed);
    }

    pub(crate) fn record_event(
        &self,
        name: &str,
        start: Timestamp,
        stop: Timestamp,
        tags_map: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut tags: Vec<(String, Option<String>)> = Vec::new();
        if let Some(map) = tags_map.filter(|t| !t.is_none()) {
            for (key, value) in map.cast::<PyDict>()?.iter() {
                tags.push((
                    convert::name(&key)?.into_owned(),
                    convert::tag_value(&value)?.map(std::borrow::Cow::into_owned),
                ));
            }
        }
        Python::attach(|py| self.core(py))?
            .log_event(name, start, stop, &tags)
            .into_py_result()
    }

    /// Raises the Python exception a writer or post-processor raised, as it was, or else the
    /// core error.
    fn raise<T>(&self, result: influxdb_datalogger::Result<T>) -> PyResult<T> {
        // Only a failed call takes the kept exception: a call that succeeded meanwhile (a
        // writer logging, another thread) must not throw away the one a failed write raises.
        let error = match result {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        match lock(&self.shared.python_error).take() {
            Some(original) => Err(original),
            None => Err(to_py(error)),
        }
    }
}
