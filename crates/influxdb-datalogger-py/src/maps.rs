//! `FieldMap.build` and `TagMap.build` in Rust: the original README builds both maps in every
//! `log()` call, so their cost is part of every logged point (see the `log idiom` row of
//! `make bench-python`). Under the stable ABI of Python 3.9 every call passes a tuple, so the
//! hot calls avoid making more of them: `FieldMap.build` and `TagMap.build` are static functions
//! of their own (no class argument to slice off), and the new map comes from `dict.__new__`
//! with an argument tuple made once.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString, PyTuple, PyType};

use crate::errors::ValidationError;
use crate::registry::registry;

static DICT_NEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `dict.__new__`'s arguments for an instance of `cls`: `(cls,)`.
pub(crate) fn new_args<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(cls.py(), [cls])
}

/// An empty instance of the dict subclass whose `new_args` these are, its `__init__` not run.
pub(crate) fn new_dict<'py>(args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyDict>> {
    let py = args.py();
    let dict_new = DICT_NEW.get_or_try_init(py, || {
        py.get_type::<PyDict>()
            .getattr(intern!(py, "__new__"))
            .map(Bound::unbind)
    })?;
    Ok(dict_new.bind(py).call1(args)?.cast_into::<PyDict>()?)
}

/// One of our map classes, with what building one needs, looked up once.
struct MapClass {
    name: &'static str,
    key_type: Py<PyAny>,
    new_args: Py<PyTuple>,
}

static FIELD_MAP: PyOnceLock<MapClass> = PyOnceLock::new();
static TAG_MAP: PyOnceLock<MapClass> = PyOnceLock::new();

fn map_class<'a>(
    py: Python<'_>,
    cell: &'a PyOnceLock<MapClass>,
    name: &'static str,
    cls: impl FnOnce(&crate::registry::Registry) -> &Py<PyAny>,
) -> PyResult<&'a MapClass> {
    cell.get_or_try_init(py, || {
        let cls = cls(registry(py)?).bind(py).cast::<PyType>()?.clone();
        Ok(MapClass {
            name,
            key_type: cls.getattr(intern!(py, "key_type"))?.unbind(),
            new_args: new_args(&cls)?.unbind(),
        })
    })
}

/// `FieldMap.build(field, value, field, value, ...)`.
#[pyfunction]
#[pyo3(signature = (*items))]
pub fn _build_field_map<'py>(items: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyDict>> {
    let py = items.py();
    let class = map_class(py, &FIELD_MAP, "FieldMap", |r| &r.field_map)?;
    build_ours(class, items)
}

/// `TagMap.build(tag, value, tag, value, ...)`.
#[pyfunction]
#[pyo3(signature = (*items))]
pub fn _build_tag_map<'py>(items: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyDict>> {
    let py = items.py();
    let class = map_class(py, &TAG_MAP, "TagMap", |r| &r.tag_map)?;
    build_ours(class, items)
}

fn build_ours<'py>(class: &MapClass, items: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyDict>> {
    let py = items.py();
    check_pairs(class.name, items)?;
    let map = new_dict(class.new_args.bind(py))?;
    fill(&map, class.name, class.key_type.bind(py), true, items)?;
    Ok(map)
}

/// `cls.build(key, value, ...)` for any `DataLoggerMap` class (a subclass of the user's, or
/// `DataLoggerMap` itself): made through its `__init__`, as the original makes it, each key an
/// instance of `cls.key_type` and no value one.
#[pyfunction]
#[pyo3(signature = (cls, *items))]
pub fn _build_map<'py>(
    cls: &Bound<'py, PyType>,
    items: &Bound<'py, PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = cls.py();
    let name = cls.name()?.to_string();
    check_pairs(&name, items)?;
    let key_type = cls.getattr(intern!(py, "key_type"))?;
    let strict_str = key_type.cast::<PyType>().is_ok_and(|t| {
        !t.is(py.get_type::<PyString>()) && t.is_subclass_of::<PyString>().unwrap_or(false)
    });
    let built = cls.call0()?;
    fill(built.cast::<PyDict>()?, &name, &key_type, strict_str, items)?;
    Ok(built)
}

fn check_pairs(name: &str, items: &Bound<'_, PyTuple>) -> PyResult<()> {
    if items.len() % 2 == 0 {
        return Ok(());
    }
    Err(ValidationError::new_err(format!(
        "{name}.build needs pairs of key and value, got {} items: {}",
        items.len(),
        items.repr()?
    )))
}

fn fill(
    map: &Bound<'_, PyDict>,
    name: &str,
    key_type: &Bound<'_, PyAny>,
    strict_str: bool,
    items: &Bound<'_, PyTuple>,
) -> PyResult<()> {
    for pair in 0..items.len() / 2 {
        let key = items.get_item(2 * pair)?;
        let value = items.get_item(2 * pair + 1)?;
        if !is_a(&key, key_type, strict_str)? || is_a(&value, key_type, strict_str)? {
            return Err(ValidationError::new_err(format!(
                "{name}.build takes pairs of ({}, value), got ({}, {})",
                key_type.getattr(intern!(map.py(), "__name__"))?,
                key.repr()?,
                value.repr()?
            )));
        }
        map.set_item(key, value)?;
    }
    Ok(())
}

/// `isinstance(object, of)`, answered without Python's protocol where the type says it at once:
/// the exact class, or — when `of` is a strict subclass of `str`, as `Field` and `Tag` are — a
/// plain number or `str`, which is never one.
fn is_a(object: &Bound<'_, PyAny>, of: &Bound<'_, PyAny>, of_strict_str: bool) -> PyResult<bool> {
    if object.get_type().is(of) {
        return Ok(true);
    }
    if of_strict_str
        && (object.is_exact_instance_of::<PyFloat>()
            || object.is_exact_instance_of::<PyInt>()
            || object.is_exact_instance_of::<PyBool>()
            || object.is_exact_instance_of::<PyString>())
    {
        return Ok(false);
    }
    object.is_instance(of)
}
