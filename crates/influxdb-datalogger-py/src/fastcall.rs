//! Module functions called with `METH_FASTCALL` and `*args`: the arguments arrive as the
//! caller's array, where PyO3's `*args` first copies them into a new tuple. Only for the calls
//! the original README makes for every logged point (`FieldMap.build`, `TagMap.build`; see the
//! `log idiom` row of `make bench-python`).

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyModule;
use smallvec::SmallVec;

/// A module function taking `*args` only.
pub(crate) trait FastFunction {
    const NAME: &'static CStr;
    /// Starts with the text signature (`name(*items)\n--\n\n`), as `inspect.signature` reads it.
    const DOC: &'static CStr;
    fn call<'py>(py: Python<'py>, args: &[Borrowed<'_, 'py, PyAny>])
        -> PyResult<Bound<'py, PyAny>>;
}

/// Adds `F` to `module` under its name.
#[allow(unsafe_code)]
pub(crate) fn add<F: FastFunction>(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    // The definition must outlive the function object: one per function, made once.
    let definition = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: F::NAME.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFast: trampoline::<F>,
        },
        ml_flags: ffi::METH_FASTCALL,
        ml_doc: F::DOC.as_ptr(),
    }));
    let module_name = module.name()?;
    // SAFETY: `definition` lives for the rest of the process; the function object returned is
    // a new reference, or NULL with an exception set.
    let function = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyCFunction_NewEx(definition, std::ptr::null_mut(), module_name.as_ptr()),
        )?
    };
    module.add(F::NAME.to_str().expect("names are ASCII"), function)
}

/// What CPython calls: `nargs` borrowed arguments at `args`, the interpreter attached.
#[allow(unsafe_code)]
unsafe extern "C" fn trampoline<F: FastFunction>(
    _module: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a METH_FASTCALL function with the thread attached.
    let py = unsafe { Python::assume_attached() };
    let raw: &[*mut ffi::PyObject] = match usize::try_from(nargs) {
        Ok(n) if n > 0 => {
            // SAFETY: CPython passes `nargs` valid object pointers at `args`.
            unsafe { std::slice::from_raw_parts(args, n) }
        }
        _ => &[],
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let borrowed: SmallVec<[Borrowed<'_, '_, PyAny>; 8]> = raw
            .iter()
            // SAFETY: each is a live object the caller holds for the call's duration.
            .map(|&object| unsafe { Borrowed::from_ptr(py, object) })
            .collect();
        F::call(py, &borrowed)
    }));
    let error = match outcome {
        Ok(Ok(made)) => return made.into_ptr(),
        Ok(Err(error)) => error,
        Err(_) => PyRuntimeError::new_err(format!(
            "influxdb_datalogger: {} panicked (a bug: please report it)",
            F::NAME.to_string_lossy()
        )),
    };
    error.restore(py);
    std::ptr::null_mut()
}
