//! `safe_loads` for Python: decode with `brinery-core` (the core's allowlist checked at
//! the opcode that names each global, `Limits::for_input` for what the caller left
//! out), refuse any global outside the allowlist before anything runs, then build
//! objects ([`build`], with [`allow`] resolving each allowed name). The public API and
//! its defaults are in `python/brinery/safe.py`; this module only exposes what that code
//! needs, and mirrors the C and Node bindings' `decode.rs`. Not `pickle.Unpickler`:
//! nothing here ever imports a global that is not allowed, and nothing calls what a
//! stream built. The exceptions users see are shaped in [`crate::error`]; the scanner is
//! [`crate::scan`], the disassembler [`crate::dis`].

mod allow;
mod build;

use brinery_core::{DecodeOptions, Limits, Py2Strings};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error;
use build::Builder;
pub use build::{Failure, Refusal};

/// Registers the safe-loading functions on `brinery._brinery`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(safe_loads, m)?)?;
    m.add_function(wrap_pyfunction!(default_allowlist, m)?)?;
    m.add_function(wrap_pyfunction!(default_limits, m)?)?;
    Ok(())
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
    max_depth: Option<usize>,
    max_memo: Option<usize>,
    max_alloc: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let _inside = crate::fork_gate::enter();
    // The core's input-relative defaults for what the caller left out.
    let defaults = Limits::for_input(data.len());
    let max_depth = max_depth.unwrap_or(defaults.max_depth);
    let max_memo = max_memo.unwrap_or(defaults.max_memo);
    let max_alloc = max_alloc.unwrap_or(defaults.max_alloc);
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
    let allow = allow::Allow::new(py, extra.as_ref())?;
    opts.allow = Some(allow.decoder_list().clone());
    // Hashing a key, comparing, `str()` and `repr()` walk a value as a tree: a DAG of
    // a few hundred bytes would take 2**60 steps. Its expanded size is bounded by the
    // allocation limit, as if each node written out cost a byte.
    let tree = py
        .detach(|| {
            let (tree, used) = brinery_core::decode::decode_prefix(data, &opts)?;
            tree.check_expanded(max_alloc, used - 1)?;
            Ok(tree)
        })
        .map_err(|e| error::decode_error(py, e))?;
    if let Some(refusal) = build::check(&tree, &allow)? {
        return Err(error::refusal(py, data, refusal));
    }
    let builder = Builder::new(
        py,
        &tree,
        &allow,
        buffers.unwrap_or_default(),
        max_depth,
        max_alloc,
    );
    builder.build().map_err(|f| error::build_failure(py, f))
}

/// The core's default limits for a stream of `size` bytes: `(max_depth, max_memo,
/// max_alloc)`.
#[pyfunction]
fn default_limits(size: usize) -> (usize, usize, usize) {
    let l = Limits::for_input(size);
    (l.max_depth, l.max_memo, l.max_alloc)
}

/// The default allowlist as `"module.name"` strings: the core's known-safe list.
#[pyfunction]
fn default_allowlist() -> Vec<String> {
    brinery_core::allow::SAFE_GLOBALS
        .iter()
        .map(|(m, n)| format!("{m}.{n}"))
        .collect()
}
