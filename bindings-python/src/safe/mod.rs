//! Safe loading and inspection for Python: `safe_loads` (decode with `brinery-core`,
//! refuse any global outside an allowlist before anything runs, then build objects),
//! `scan` (the core scanner's findings as Python data) and `dis` (the core
//! disassembler). The public API and its defaults are in `python/brinery/safe.py`; this
//! module only exposes what that code needs. Not `pickle.Unpickler`: nothing here ever
//! imports a global that is not allowed, and nothing calls what a stream built.

mod allow;
mod build;

use brinery_core::scan::{self, Finding, Target};
use brinery_core::{DecodeError, DecodeOptions, Limits, Py2Strings};
use pyo3::exceptions::{PyMemoryError, PyRecursionError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

use build::{Builder, Failure, Refusal};

static UNPICKLING_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNSAFE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Registers the safe-loading functions on `brinery._brinery`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(safe_loads, m)?)?;
    m.add_function(wrap_pyfunction!(scan_stream, m)?)?;
    m.add_function(wrap_pyfunction!(dis, m)?)?;
    m.add_function(wrap_pyfunction!(default_allowlist, m)?)?;
    Ok(())
}

/// `brinery.UnpicklingError(msg, offset)`.
fn unpickling_error(py: Python<'_>, msg: String, offset: Option<usize>) -> PyErr {
    match UNPICKLING_ERROR.import(py, "brinery._errors", "UnpicklingError") {
        Ok(t) => PyErr::from_type(t.clone(), (msg, offset)),
        Err(e) => e,
    }
}

/// `brinery.UnsafePickleError(msg, global_name, offset)`.
fn unsafe_error(
    py: Python<'_>,
    msg: String,
    global: Option<String>,
    offset: Option<usize>,
) -> PyErr {
    match UNSAFE_ERROR.import(py, "brinery._errors", "UnsafePickleError") {
        Ok(t) => PyErr::from_type(t.clone(), (msg, global, offset)),
        Err(e) => e,
    }
}

fn decode_error(py: Python<'_>, e: DecodeError) -> PyErr {
    unpickling_error(py, e.to_string(), Some(e.offset))
}

/// The native `safe_loads`: `extra` maps `"module.name"` to an object or `None`.
#[pyfunction]
#[pyo3(signature = (data, extra, buffers, encoding, max_depth, max_memo, max_alloc))]
#[allow(clippy::too_many_arguments)]
fn safe_loads<'py>(
    py: Python<'py>,
    data: &[u8],
    extra: Option<Bound<'py, PyDict>>,
    buffers: Option<Vec<Bound<'py, PyAny>>>,
    encoding: &str,
    max_depth: usize,
    max_memo: usize,
    max_alloc: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let py2_strings = match encoding.to_ascii_lowercase().replace('_', "-").as_str() {
        "ascii" => Py2Strings::Ascii,
        "latin1" | "latin-1" | "iso-8859-1" => Py2Strings::Latin1,
        "bytes" => Py2Strings::Bytes,
        _ => {
            return Err(PyValueError::new_err(format!(
                "encoding must be 'ASCII', 'latin1' or 'bytes', not {encoding:?}"
            )))
        }
    };
    let mut opts = DecodeOptions::new();
    opts.limits = Limits {
        max_depth,
        max_memo,
        max_alloc,
    };
    opts.py2_strings = py2_strings;
    opts.buffers = buffers.as_ref().map(Vec::len);
    let tree = py
        .detach(|| brinery_core::decode(data, &opts))
        .map_err(|e| decode_error(py, e))?;
    let allow = allow::Allow::new(extra.as_ref())?;
    if let Some(refusal) = build::check(py, &tree, &allow)? {
        return Err(refuse(py, data, refusal));
    }
    let builder = Builder::new(
        py,
        &tree,
        &allow,
        buffers.unwrap_or_default(),
        max_depth,
        max_alloc,
    );
    builder.build().map_err(|f| match f {
        Failure::Py(e) => wrap_call_error(py, e),
        Failure::Args(why) => unsafe_error(py, format!("refused a call with {why}"), None, None),
        Failure::Depth(n) => {
            unpickling_error(py, format!("nesting deeper than the limit of {n}"), None)
        }
        Failure::Alloc(n) => unpickling_error(
            py,
            format!("building the objects exceeds the allocation limit of {n} bytes"),
            None,
        ),
    })
}

/// The error for a refused stream, with the offset the scanner finds for the culprit.
fn refuse(py: Python<'_>, data: &[u8], refusal: Refusal) -> PyErr {
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
            unsafe_error(py, msg, Some(name), offset)
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
            )
        }
        Refusal::PersistentId => unpickling_error(
            py,
            "A load persistent id instruction was encountered, but no persistent_load \
                 function was specified."
                .into(),
            None,
        ),
    }
}

/// Exceptions from allowed constructors become `brinery.UnpicklingError` with the
/// original as `__cause__`; memory and recursion errors pass through.
fn wrap_call_error(py: Python<'_>, e: PyErr) -> PyErr {
    if e.is_instance_of::<PyMemoryError>(py) || e.is_instance_of::<PyRecursionError>(py) {
        return e;
    }
    let new = unpickling_error(
        py,
        format!("building an object failed: {}", e.value(py)),
        None,
    );
    new.set_cause(py, Some(e));
    new
}

fn finding<'py>(py: Python<'py>, f: &Finding) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            f.offset.into_pyobject(py)?.into_any(),
            f.opcode.into_pyobject(py)?.into_any(),
            f.target.to_string().into_pyobject(py)?.into_any(),
            f.severity.name().into_pyobject(py)?.into_any(),
            f.reason.into_pyobject(py)?.into_any(),
        ],
    )
}

/// The scanner's report: `{"imports": [(offset, opcode, target, severity, reason)],
/// "calls": [...], "protocol", "end", "error": (message, offset) | None, "severity"}`.
#[pyfunction(name = "scan")]
fn scan_stream<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let s = py.detach(|| scan::scan(data));
    let out = PyDict::new(py);
    let imports = PyList::empty(py);
    for f in &s.imports {
        imports.append(finding(py, f)?)?;
    }
    let calls = PyList::empty(py);
    for f in &s.calls {
        calls.append(finding(py, f)?)?;
    }
    out.set_item("imports", imports)?;
    out.set_item("calls", calls)?;
    out.set_item("protocol", s.protocol)?;
    out.set_item("end", s.end)?;
    out.set_item(
        "error",
        s.error.as_ref().map(|e| (e.kind.to_string(), e.offset)),
    )?;
    out.set_item("severity", s.severity().name())?;
    Ok(out)
}

/// `pickletools.dis`-style disassembly; errors are `brinery.UnpicklingError` with the
/// offset.
#[pyfunction]
fn dis(py: Python<'_>, data: &[u8]) -> PyResult<String> {
    py.detach(|| brinery_core::dis(data))
        .map_err(|e| decode_error(py, e))
}

/// The default allowlist as `"module.name"` strings.
#[pyfunction]
fn default_allowlist() -> Vec<String> {
    allow::DEFAULT
        .iter()
        .map(|(m, n, _)| format!("{m}.{n}"))
        .collect()
}
