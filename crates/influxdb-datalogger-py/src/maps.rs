//! `FieldMap.build` and `TagMap.build` in Rust: the original README builds both maps in every
//! `log()` call, so their cost is part of every logged point (see the `log idiom` row of
//! `make bench-python`). Both are `METH_FASTCALL` functions of their own (see [`fastcall`]:
//! no argument tuple, no class argument to slice off), and the new map comes from the class's
//! `tp_new` slot (see [`DictMaker`]).
//!
//! [`fastcall`]: crate::fastcall

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString, PyTuple, PyType};
use smallvec::SmallVec;
use std::ffi::CStr;

use crate::fastcall::FastFunction;

use crate::errors::ValidationError;
use crate::registry::registry;

/// Makes empty instances of one dict subclass without running its `__init__`, as `dict.__new__`
/// would: through the class's own `tp_new` slot, which skips the argument tuple and the call
/// protocol of `dict.__new__(cls)` (see the `log idiom` row of `make bench-python`).
pub(crate) struct DictMaker {
    cls: Py<PyType>,
    tp_new: pyo3::ffi::newfunc,
    /// The (empty) argument tuple `tp_new` is given, made once.
    args: Py<PyTuple>,
}

impl DictMaker {
    #[allow(unsafe_code)]
    pub(crate) fn new(cls: &Bound<'_, PyType>) -> PyResult<Self> {
        let py = cls.py();
        // SAFETY: `cls` is a live type object, and the stable ABI of 3.10 answers
        // `PyType_GetSlot` for every type; a NULL slot means no instances can be made.
        let slot = unsafe { pyo3::ffi::PyType_GetSlot(cls.as_type_ptr(), pyo3::ffi::Py_tp_new) };
        if slot.is_null() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "cannot create '{}' instances",
                cls.name()?
            )));
        }
        Ok(Self {
            cls: cls.clone().unbind(),
            // SAFETY: the `Py_tp_new` slot holds a `newfunc`.
            tp_new: unsafe {
                std::mem::transmute::<*mut std::ffi::c_void, pyo3::ffi::newfunc>(slot)
            },
            args: PyTuple::empty(py).unbind(),
        })
    }

    /// An empty instance, its `__init__` not run.
    #[allow(unsafe_code)]
    pub(crate) fn make<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        // SAFETY: `tp_new` is the class's own slot, called as `type.__call__` calls it: the
        // class, an argument tuple, no keywords; it returns a new reference or NULL with an
        // exception set.
        let made = unsafe {
            Bound::from_owned_ptr_or_err(
                py,
                (self.tp_new)(
                    self.cls.as_ptr().cast(),
                    self.args.as_ptr(),
                    std::ptr::null_mut(),
                ),
            )?
        };
        Ok(made.cast_into::<PyDict>()?)
    }
}

/// One of our map classes, with what building one needs, looked up once.
struct MapClass {
    name: &'static str,
    key_type: Py<PyAny>,
    maker: DictMaker,
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
            maker: DictMaker::new(&cls)?,
        })
    })
}

/// `FieldMap.build(field, value, field, value, ...)`.
pub(crate) struct BuildFieldMap;

impl FastFunction for BuildFieldMap {
    const NAME: &'static CStr = c"_build_field_map";
    const DOC: &'static CStr =
        c"_build_field_map(*items)\n--\n\nFieldMap.build: pairs of Field and value.";
    fn call<'py>(
        py: Python<'py>,
        items: &[Borrowed<'_, 'py, PyAny>],
    ) -> PyResult<Bound<'py, PyAny>> {
        let class = map_class(py, &FIELD_MAP, "FieldMap", |r| &r.field_map)?;
        build_ours(py, class, items)
    }
}

/// `TagMap.build(tag, value, tag, value, ...)`.
pub(crate) struct BuildTagMap;

impl FastFunction for BuildTagMap {
    const NAME: &'static CStr = c"_build_tag_map";
    const DOC: &'static CStr =
        c"_build_tag_map(*items)\n--\n\nTagMap.build: pairs of Tag and value.";
    fn call<'py>(
        py: Python<'py>,
        items: &[Borrowed<'_, 'py, PyAny>],
    ) -> PyResult<Bound<'py, PyAny>> {
        let class = map_class(py, &TAG_MAP, "TagMap", |r| &r.tag_map)?;
        build_ours(py, class, items)
    }
}

fn build_ours<'py>(
    py: Python<'py>,
    class: &MapClass,
    items: &[Borrowed<'_, 'py, PyAny>],
) -> PyResult<Bound<'py, PyAny>> {
    check_pairs(py, class.name, items)?;
    let map = class.maker.make(py)?;
    fill(&map, class.name, class.key_type.bind(py), true, items)?;
    Ok(map.into_any())
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
    let items: SmallVec<[Borrowed<'_, 'py, PyAny>; 8]> = items.iter_borrowed().collect();
    check_pairs(py, &name, &items)?;
    let key_type = cls.getattr(intern!(py, "key_type"))?;
    let strict_str = key_type.cast::<PyType>().is_ok_and(|t| {
        !t.is(py.get_type::<PyString>()) && t.is_subclass_of::<PyString>().unwrap_or(false)
    });
    let built = cls.call0()?;
    fill(
        built.cast::<PyDict>()?,
        &name,
        &key_type,
        strict_str,
        &items,
    )?;
    Ok(built)
}

fn check_pairs(py: Python<'_>, name: &str, items: &[Borrowed<'_, '_, PyAny>]) -> PyResult<()> {
    if items.len().is_multiple_of(2) {
        return Ok(());
    }
    Err(ValidationError::new_err(format!(
        "{name}.build needs pairs of key and value, got {} items: {}",
        items.len(),
        PyTuple::new(py, items)?.repr()?
    )))
}

fn fill(
    map: &Bound<'_, PyDict>,
    name: &str,
    key_type: &Bound<'_, PyAny>,
    strict_str: bool,
    items: &[Borrowed<'_, '_, PyAny>],
) -> PyResult<()> {
    for pair in items.chunks_exact(2) {
        let (key, value) = (&pair[0], &pair[1]);
        if !is_a(key, key_type, strict_str)? || is_a(value, key_type, strict_str)? {
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
