//! `influxdb_datalogger._native`: the Rust core, seen from Python. This crate only converts
//! values, releases the GIL around work that may block, and maps errors; behaviour lives in
//! the core crate and the Python front in `python/influxdb_datalogger`.

#![allow(missing_debug_implementations)] // pyclasses hold Python objects; Python shows them with repr()

mod convert;
mod errors;
mod logger;
mod registry;
mod schema;
mod writers;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<schema::Schema>()?;
    m.add_class::<logger::LoggerBase>()?;
    m.add_class::<logger::BlockMeasurer>()?;
    m.add_class::<logger::Ready>()?;
    m.add_class::<writers::NativeWriter>()?;
    m.add_function(wrap_pyfunction!(registry::_register, m)?)?;
    Ok(())
}
