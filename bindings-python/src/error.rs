//! The one place Python exceptions are shaped for users (the classes are declared once,
//! in `brinery/_errors.py`).
//!
//! Pickling: errors raised while walking get the path of the object being saved.
//! `TypeError`s and pickling errors become `brinery.PicklingError` (a subclass of it keeps
//! its class) with the original as `__cause__`; other exceptions keep their type and get
//! the path as a note; recursion and memory errors pass through untouched, like CPython's
//! pickler.
//!
//! Safe loading: decode errors become `brinery.UnpicklingError(msg, offset)`; a refused
//! stream `brinery.UnsafePickleError(msg, global_name, offset)` with the offset the
//! scanner finds for the culprit; exceptions from allowed constructors
//! `brinery.UnpicklingError` with the original as `__cause__`.

use brinery_core::scan::{self, Target};
use brinery_core::{DecodeError, DecodeErrorKind};
use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyRecursionError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::decode::{Failure, Refusal};

static PICKLING_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STOCK_PICKLING_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNPICKLING_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNSAFE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

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

static RECURSION_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `brinery.PicklingRecursionError`: objects nested deeper than `limit`
/// (`sys.getrecursionlimit()`).
pub fn recursion_error(py: Python<'_>, limit: u32) -> PyErr {
    match RECURSION_ERROR.import(py, "brinery._errors", "PicklingRecursionError") {
        Ok(t) => PyErr::from_type(
            t.clone(),
            format!(
                "maximum recursion depth exceeded while pickling an object: objects nest \
                 deeper than sys.getrecursionlimit() ({limit})"
            ),
        ),
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
        // A `brinery.PicklingError` subclass (`SharedObjectError`...) keeps its class.
        let own = pickling_error(py)
            .ok()
            .filter(|t| err.is_instance(py, t))
            .map(|_| err.get_type(py));
        let msg = format!("{path}: {msg}");
        let new = match own {
            Some(t) => PyErr::from_type(t, msg),
            None => new_pickling_error(py, msg),
        };
        new.set_cause(py, Some(err));
        new
    } else {
        let note = format!("when pickling {path}");
        let _ = err.value(py).call_method1("add_note", (note,));
        err
    }
}

// ---- safe loading -----------------------------------------------------------------

/// `brinery.UnpicklingError(msg, offset, code)`; `code` is the core's
/// [`DecodeErrorKind::code`] when the failure is one of the core's kinds.
fn unpickling_error(
    py: Python<'_>,
    msg: String,
    offset: Option<usize>,
    code: Option<&'static str>,
) -> PyErr {
    match UNPICKLING_ERROR.import(py, "brinery._errors", "UnpicklingError") {
        Ok(t) => PyErr::from_type(t.clone(), (msg, offset, code)),
        Err(e) => e,
    }
}

/// `brinery.UnsafePickleError(msg, global_name, offset, code)`.
fn unsafe_error(
    py: Python<'_>,
    msg: String,
    global: Option<String>,
    offset: Option<usize>,
    code: Option<&'static str>,
) -> PyErr {
    match UNSAFE_ERROR.import(py, "brinery._errors", "UnsafePickleError") {
        Ok(t) => PyErr::from_type(t.clone(), (msg, global, offset, code)),
        Err(e) => e,
    }
}

/// The core's code for a refused global (what [`DecodeErrorKind::Forbidden`] gives).
fn forbidden_global() -> &'static str {
    DecodeErrorKind::Forbidden(String::new()).code()
}

/// A decode error: `UnsafePickleError` naming the global when the core's allowlist
/// refused it, `MemoryError` (as `pickle` raises) when the allocator refused memory,
/// `UnpicklingError` otherwise; all with the offset.
pub fn decode_error(py: Python<'_>, e: DecodeError) -> PyErr {
    if e.kind == DecodeErrorKind::OutOfMemory {
        return pyo3::exceptions::PyMemoryError::new_err(e.to_string());
    }
    let global = match &e.kind {
        DecodeErrorKind::Forbidden(name) => Some(name.clone()),
        DecodeErrorKind::ForbiddenExtension(code) => Some(format!("extension code {code}")),
        _ => None,
    };
    let code = Some(e.kind.code());
    match global {
        Some(name) => unsafe_error(py, e.to_string(), Some(name), Some(e.offset), code),
        None => unpickling_error(py, e.to_string(), Some(e.offset), code),
    }
}

/// A failure while `safe_loads` built objects, with the offset of the opcode that made
/// the object it was building (when that was an object).
pub fn build_failure(py: Python<'_>, f: Failure) -> PyErr {
    build_failure_at(py, f, None)
}

fn build_failure_at(py: Python<'_>, f: Failure, offset: Option<usize>) -> PyErr {
    let at = offset.map_or(String::new(), |o| format!(" at byte {o}"));
    match f {
        Failure::At(inner, o) => build_failure_at(py, *inner, Some(o)),
        Failure::Py(e) => wrap_call_error(py, e, offset),
        Failure::Args(why) => unsafe_error(
            py,
            format!("refused a call with {why}{at}"),
            None,
            offset,
            None,
        ),
        Failure::Depth(n) => unpickling_error(
            py,
            format!("nesting deeper than the limit of {n}{at}"),
            offset,
            Some(DecodeErrorKind::TooDeep(n).code()),
        ),
        Failure::Alloc(n) => unpickling_error(
            py,
            format!("building the objects exceeds the allocation limit of {n} bytes{at}"),
            offset,
            Some(DecodeErrorKind::AllocLimit(n).code()),
        ),
    }
}

/// The error for a refused stream, with the offset the scanner finds for the culprit.
pub fn refusal(py: Python<'_>, data: &[u8], refusal: Refusal) -> PyErr {
    let found = scan::scan(data);
    match refusal {
        Refusal::Global(name) => {
            let offset = found.imports.iter().find_map(|f| {
                let hit = match &f.target {
                    Target::Global { module, name: n } => format!("{module}.{n}") == name,
                    Target::Extension(code) => name.contains(&format!("extension code {code}")),
                    _ => false,
                };
                hit.then_some(f.offset)
            });
            let offset = offset.or_else(|| {
                // An extension resolved to a name: report the EXT opcode.
                found
                    .imports
                    .iter()
                    .find(|f| matches!(f.target, Target::Extension(_)))
                    .map(|f| f.offset)
            });
            let at = offset.map_or(String::new(), |o| format!(" at byte {o}"));
            let msg = format!("global {name} is not allowed{at}");
            unsafe_error(py, msg, Some(name), offset, Some(forbidden_global()))
        }
        Refusal::Call => {
            let offset = found
                .calls
                .iter()
                .find(|f| f.target == Target::Built)
                .map(|f| f.offset);
            let at = offset.map_or(String::new(), |o| format!(" at byte {o}"));
            unsafe_error(
                py,
                format!("call of an object the stream built{at}"),
                None,
                offset,
                None,
            )
        }
        Refusal::PersistentId => unpickling_error(
            py,
            "A load persistent id instruction was encountered, but no persistent_load \
                 function was specified."
                .into(),
            None,
            None,
        ),
    }
}

/// Exceptions from allowed constructors become `brinery.UnpicklingError` with the
/// original as `__cause__`; memory and recursion errors pass through.
fn wrap_call_error(py: Python<'_>, e: PyErr, offset: Option<usize>) -> PyErr {
    if e.is_instance_of::<PyMemoryError>(py) || e.is_instance_of::<PyRecursionError>(py) {
        return e;
    }
    let at = offset.map_or(String::new(), |o| format!(" at byte {o}"));
    let new = unpickling_error(
        py,
        format!("building an object failed: {}{at}", e.value(py)),
        offset,
        None,
    );
    new.set_cause(py, Some(e));
    new
}
