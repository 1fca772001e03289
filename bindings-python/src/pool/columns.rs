//! A `starmap` chunk as columns: a list of argument tuples all of one length `k` becomes
//! `k` lists, so neither side pickles or builds a tuple per call (the worker runs
//! `map(fn, *columns)`). It only regroups references; pickling stays Python's.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// The columns of `chunk` when every item is exactly a tuple and all have the same
/// length, at least 1: a tuple of that many lists, column `j` holding the items' `j`-th
/// values. None for an empty chunk or anything else.
#[pyfunction]
pub fn columns<'py>(chunk: &Bound<'py, PyList>) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let _inside = crate::fork_gate::enter();
    let py = chunk.py();
    let list = chunk.as_ptr();
    let n = chunk.len();
    let mut k = 0;
    for i in 0..n {
        // SAFETY: i < len with the GIL held, and no Python code runs in this loop, so
        // the list cannot change under it; the item is only looked at.
        let len = unsafe {
            let item = ffi::PyList_GET_ITEM(list, i as ffi::Py_ssize_t);
            if ffi::PyTuple_CheckExact(item) == 0 {
                return Ok(None);
            }
            ffi::PyTuple_GET_SIZE(item) as usize
        };
        if len == 0 || (i > 0 && len != k) {
            return Ok(None);
        }
        k = len;
    }
    if n == 0 {
        return Ok(None);
    }
    let mut cols = Vec::with_capacity(k);
    for _ in 0..k {
        // SAFETY: a new list of n empty slots, each filled below before it is handed out.
        cols.push(unsafe {
            Bound::from_owned_ptr_or_err(py, ffi::PyList_New(n as ffi::Py_ssize_t))?
        });
    }
    for i in 0..n {
        // SAFETY: as above, the list and its tuples (checked to be k long) are unchanged
        // since the check; each value gets the reference its new slot owns.
        unsafe {
            let item = ffi::PyList_GET_ITEM(list, i as ffi::Py_ssize_t);
            for (j, col) in cols.iter().enumerate() {
                let v = ffi::PyTuple_GET_ITEM(item, j as ffi::Py_ssize_t);
                ffi::Py_INCREF(v);
                ffi::PyList_SET_ITEM(col.as_ptr(), i as ffi::Py_ssize_t, v);
            }
        }
    }
    PyTuple::new(py, cols).map(Some)
}
