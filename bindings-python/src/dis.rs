//! `dis` for Python: the core disassembler's text for a stream, as `pickletools.dis`
//! prints it, with decode errors raised as `brinery.UnpicklingError` carrying the offset
//! (shaped in [`crate::error`]). Mirrors the C and Node bindings' `dis.rs`.

use pyo3::prelude::*;

use crate::error;

/// Registers `dis` on `brinery._brinery`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dis, m)?)?;
    Ok(())
}

/// `pickletools.dis`-style disassembly; errors are `brinery.UnpicklingError` with the
/// offset.
#[pyfunction]
fn dis(py: Python<'_>, data: &[u8]) -> PyResult<String> {
    let _inside = crate::fork_gate::enter();
    py.detach(|| brinery_core::dis(data))
        .map_err(|e| error::decode_error(py, e))
}
