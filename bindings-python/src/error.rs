//! The one place Python exceptions are shaped for users: errors raised while walking get
//! the path of the object being saved. `TypeError`s and pickling errors become
//! `brinery.PicklingError` (declared once, in `brinery/_errors.py`) with the original as
//! `__cause__`; other exceptions keep their type and get the path as a note; recursion
//! and memory errors pass through untouched, like CPython's pickler.

use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyRecursionError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static PICKLING_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STOCK_PICKLING_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `brinery.PicklingError`.
pub fn pickling_error(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    PICKLING_ERROR.import(py, "brinery._errors", "PicklingError")
}

/// A new `brinery.PicklingError` with `msg`.
pub fn new_pickling_error(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    match pickling_error(py) {
        Ok(t) => PyErr::from_type(t.clone(), msg.into()),
        Err(e) => e,
    }
}

/// Gives `err`, raised while saving the object at `path`, its path.
pub fn with_path(py: Python<'_>, err: PyErr, path: &str) -> PyErr {
    if err.is_instance_of::<PyRecursionError>(py)
        || err.is_instance_of::<PyMemoryError>(py)
        || err.is_instance_of::<PyKeyboardInterrupt>(py)
    {
        return err;
    }
    let stock = STOCK_PICKLING_ERROR.import(py, "pickle", "PicklingError");
    let wrap = err.is_instance_of::<PyTypeError>(py) || stock.is_ok_and(|t| err.is_instance(py, t));
    if wrap {
        let msg = err
            .value(py)
            .str()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let new = new_pickling_error(py, format!("{path}: {msg}"));
        new.set_cause(py, Some(err));
        new
    } else {
        let note = format!("when pickling {path}");
        let _ = err.value(py).call_method1("add_note", (note,));
        err
    }
}
