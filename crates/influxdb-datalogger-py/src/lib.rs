//! `influxdb_datalogger._native`: the Rust core, seen from Python. This crate only converts
//! values, releases the GIL around work that may block, and maps errors; behaviour lives in
//! the core crate and the Python front in `python/influxdb_datalogger`.

#![allow(missing_debug_implementations)] // pyclasses hold Python objects; Python shows them with repr()

/// A Python dict of `key => value` pairs: `py_dict!(py, { "a" => 1, "b" => "x" })`. Inside a
/// function returning `PyResult`.
macro_rules! py_dict {
    ($py:expr, { $($key:literal => $value:expr),* $(,)? }) => {{
        let dict = pyo3::types::PyDict::new($py);
        $( dict.set_item($key, $value)?; )*
        dict
    }};
}

mod block;
mod construct;
mod convert;
mod dataset;
mod errors;
mod fastcall;
mod inputs;
mod logger;
mod maps;
mod python_writer;
mod registry;
mod regress;
mod rows;
mod schema;
mod stats;
mod writers;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The one version of the crates, the command line and the wheel (Cargo's spelling).
    m.add("_crate_version", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<schema::Schema>()?;
    m.add_class::<logger::LoggerBase>()?;
    m.add_class::<block::BlockMeasurer>()?;
    m.add_class::<block::Ready>()?;
    m.add_class::<writers::NativeWriter>()?;
    m.add_function(wrap_pyfunction!(registry::_register, m)?)?;
    m.add_function(wrap_pyfunction!(_flush_detached, m)?)?;
    m.add_function(wrap_pyfunction!(spool_inventory, m)?)?;
    m.add_function(wrap_pyfunction!(_read_line_protocol, m)?)?;
    m.add_function(wrap_pyfunction!(_run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(_run_cli_captured, m)?)?;
    m.add_function(wrap_pyfunction!(_cpu_model, m)?)?;
    m.add_function(wrap_pyfunction!(_ci_job, m)?)?;
    m.add_function(wrap_pyfunction!(regress::change_points, m)?)?;
    m.add_function(wrap_pyfunction!(regress::compare, m)?)?;
    m.add_function(wrap_pyfunction!(maps::_build_map, m)?)?;
    fastcall::add::<maps::BuildFieldMap>(m)?;
    fastcall::add::<maps::BuildTagMap>(m)?;
    Ok(())
}

/// Runs the `influxdb-datalogger` command line with `args` (the first being the program name),
/// printing to this process's standard output and error, and returns its exit status: the
/// same commands and statuses as the native binary. The GIL is released meanwhile.
#[pyfunction]
fn _run_cli(py: Python<'_>, args: Vec<std::ffi::OsString>) -> u8 {
    use std::io::Write;
    py.detach(|| {
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        let status = influxdb_datalogger_cli::run(args, &mut out, &mut err);
        // The interpreter, not Rust's runtime, ends this process: nothing else flushes.
        let _ = out.flush();
        status
    })
}

/// Runs the command line like [`_run_cli`], capturing what it prints: `(status, stdout,
/// stderr)`. For the Python functions that are a command (`report`, `dashboard`).
#[pyfunction]
fn _run_cli_captured(py: Python<'_>, args: Vec<std::ffi::OsString>) -> (u8, String, String) {
    py.detach(|| {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = influxdb_datalogger_cli::run(args, &mut out, &mut err);
        (
            status,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    })
}

/// The CPU's model name, for the `cpu` run tag (see `influxdb_datalogger::testing::cpu_model`).
#[pyfunction]
fn _cpu_model() -> Option<String> {
    influxdb_datalogger::testing::cpu_model()
}

/// The CI provider and job this process runs in, or None (see
/// `influxdb_datalogger::testing::ci_job`).
#[pyfunction]
fn _ci_job() -> Option<(&'static str, String)> {
    influxdb_datalogger::testing::ci_job()
}

/// Waits (at most `timeout` seconds) for the delivery threads of writers that were dropped with
/// data still undelivered; called at interpreter exit.
#[pyfunction]
fn _flush_detached(py: Python<'_>, timeout: f64) -> PyResult<()> {
    let timeout = std::time::Duration::try_from_secs_f64(timeout).map_err(|_| {
        errors::ArgumentError::new_err(format!("timeout must be >= 0 seconds, not {timeout}"))
    })?;
    py.detach(|| influxdb_datalogger::flush_detached(timeout))
        .map_err(errors::to_py)
}

/// What each process has not had acknowledged in spool directory `dir`: a list of dicts with
/// `owner`, `alive`, `target`, `segments`, `points`, `events`, `bytes`, `oldest_ns`, `damaged`.
/// Reads only.
#[pyfunction]
fn spool_inventory<'py>(
    py: Python<'py>,
    dir: std::path::PathBuf,
) -> PyResult<Bound<'py, pyo3::types::PyList>> {
    let owners = py
        .detach(|| influxdb_datalogger::spool_inventory(&dir))
        .map_err(errors::to_py)?;
    let out = pyo3::types::PyList::empty(py);
    for o in owners {
        out.append(py_dict!(py, {
            "owner" => o.owner,
            "alive" => o.alive,
            "target" => o.target,
            "segments" => o.segments,
            "points" => o.points,
            "events" => o.events,
            "bytes" => o.bytes,
            "oldest_ns" => o.oldest.map(|t| t.as_nanos()),
            "damaged" => o.damaged,
        }))?;
    }
    Ok(out)
}

/// The points of line protocol `text` whose measurement is `measurement`, as tuples of
/// (tags dict, fields dict, timestamp or None); malformed lines are skipped.
#[pyfunction]
fn _read_line_protocol<'py>(
    py: Python<'py>,
    text: &str,
    measurement: &str,
) -> PyResult<Bound<'py, pyo3::types::PyList>> {
    let out = pyo3::types::PyList::empty(py);
    for (_, line) in influxdb_datalogger::line_protocol::Lines::new(text).flatten() {
        if line.measurement != measurement {
            continue;
        }
        let tags = pyo3::types::PyDict::new(py);
        for (key, value) in &line.tags {
            tags.set_item(key.as_ref(), value.as_ref())?;
        }
        let fields = pyo3::types::PyDict::new(py);
        for (key, value) in &line.fields {
            fields.set_item(key.as_ref(), rows::field_object(py, Some(value))?)?;
        }
        out.append((tags, fields, line.timestamp))?;
    }
    Ok(out)
}
