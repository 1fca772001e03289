//! `scan` for Python: the core scanner's findings (`brinery_core::scan`) as Python data,
//! for `brinery.scan` and the `python -m brinery` command line. It only judges a stream
//! and never builds anything from it: loading is [`crate::decode`].

use brinery_core::scan::{self, Finding};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// Registers `scan` on `brinery._brinery`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan_stream, m)?)?;
    Ok(())
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
/// "calls": [...], "protocol", "end", "error": (message, offset) | None,
/// "limit": (message, offset) | None, "severity"}`.
#[pyfunction(name = "scan")]
fn scan_stream<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let _inside = crate::fork_gate::enter();
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
    out.set_item(
        "limit",
        s.limit.as_ref().map(|e| (e.kind.to_string(), e.offset)),
    )?;
    out.set_item("severity", s.severity().name())?;
    Ok(out)
}
