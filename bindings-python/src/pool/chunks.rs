//! A map's chunks written as stock pickles straight from the caller's list: for chunk
//! `[start, stop)` of `items`, the bytes `pickle.dumps((*lead, items[start:stop]), 5)`
//! would load as, without the slice, its increfs, nor the C pickler's per-item dispatch.
//! Only exact `None`, bools, ints that fit in 64 bits, floats and UTF-8-encodable `str`
//! of under 256 bytes (not memoized: a long one repeated would be written each time)
//! are written here; at anything else the chunk is left to Python (`None` returned).
//! A `starmap`'s chunk of equal-length tuples is written as its columns (the worker runs
//! `map(fn, *columns)`), taken from the tuples as they are written. The opcodes are the
//! core's (`Encoder`, unframed), and a reply written this way is read back with
//! `brinery_core::decode::flat`: this file only looks at Python objects.

use brinery_core::decode::flat::{visit_flat_tuple, Event, Scalar};
use brinery_core::Encoder;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// Items per `MARK ... APPENDS` run, as CPython's pickler batches them.
const BATCH: usize = 1000;

/// Writes one scalar; false for anything this writer leaves to Python (the caller then
/// gives up on the chunk).
///
/// # Safety
/// `obj` is a valid object and the GIL is held.
unsafe fn scalar(enc: &mut Encoder, obj: *mut ffi::PyObject) -> bool {
    unsafe {
        let t = ffi::Py_TYPE(obj);
        if t == std::ptr::addr_of_mut!(ffi::PyLong_Type) {
            let mut overflow = 0;
            let v = ffi::PyLong_AsLongLongAndOverflow(obj, &mut overflow);
            if overflow != 0 {
                return false;
            }
            enc.int(v);
            true
        } else if t == std::ptr::addr_of_mut!(ffi::PyFloat_Type) {
            enc.float(ffi::PyFloat_AS_DOUBLE(obj));
            true
        } else if t == std::ptr::addr_of_mut!(ffi::PyUnicode_Type) {
            let mut size: ffi::Py_ssize_t = 0;
            let data = ffi::PyUnicode_AsUTF8AndSize(obj, &mut size);
            if data.is_null() {
                // (lone surrogates: the stock pickler's own fallback writes those)
                ffi::PyErr_Clear();
                return false;
            }
            // Only short strs: they are not memoized here, so a long one repeated through
            // a chunk would be written out again each time (the stock pickler's memo
            // writes it once).
            if size >= 256 {
                return false;
            }
            enc.str_utf8(std::slice::from_raw_parts(data as *const u8, size as usize));
            true
        } else if obj == ffi::Py_None() {
            enc.none();
            true
        } else if obj == ffi::Py_True() {
            enc.bool(true);
            true
        } else if obj == ffi::Py_False() {
            enc.bool(false);
            true
        } else {
            false
        }
    }
}

/// A list of `n` values, each written by `one(enc, i)`; false as soon as one is not
/// written.
fn list_of(enc: &mut Encoder, n: usize, mut one: impl FnMut(&mut Encoder, usize) -> bool) -> bool {
    enc.empty_list();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        enc.mark();
        while i < end {
            if !one(enc, i) {
                return false;
            }
            i += 1;
        }
        enc.appends();
    }
    true
}

/// The messages of the chunks of `items` starting at each of `starts`, `size` items each
/// (fewer at the end of the list), each a tuple of `outer` items: the `outer - 1` whose
/// opcodes are `lead` (taken from what `pickle` writes for them), then the chunk. With
/// `columns`, each item must be a tuple of one length k ≥ 1 (the same for the whole
/// chunk) and the chunk is written as a tuple of k lists; otherwise as a list of the
/// items. Stops at the first
/// chunk that is not written (an item of another type; with `columns`, an item not a
/// tuple of the chunk's length) or is empty: the returned list holds the messages of the
/// chunks before it.
#[pyfunction]
pub fn chunk_pickles<'py>(
    items: &Bound<'py, PyList>,
    starts: Vec<usize>,
    size: usize,
    lead: &[u8],
    columns: bool,
    outer: usize,
) -> PyResult<Bound<'py, PyList>> {
    let _inside = crate::fork_gate::enter();
    let py = items.py();
    let list = items.as_ptr();
    let found = PyList::empty(py);
    let mut out = Vec::new();
    if outer == 0 {
        return Ok(found);
    }
    for start in starts {
        // No Python code runs while a chunk is written (only type checks and reads of
        // immutable scalars), so the list's length holds for the chunk.
        let len = items.len();
        let stop = start.saturating_add(size).min(len);
        if start >= stop {
            break;
        }
        let mut enc = Encoder::with_buffer(5, out).expect("protocol 5");
        enc.begin_unframed();
        enc.tuple_begin(outer);
        enc.raw(lead);
        // SAFETY: every index read is below the list's length, checked above with the
        // GIL held and no Python code run since; items are only looked at.
        let written = unsafe {
            let item = |i: usize| ffi::PyList_GET_ITEM(list, (start + i) as ffi::Py_ssize_t);
            if columns {
                let first = item(0);
                let k = if ffi::PyTuple_CheckExact(first) != 0 {
                    ffi::PyTuple_GET_SIZE(first) as usize
                } else {
                    0
                };
                let fits = k > 0
                    && (0..stop - start).all(|i| {
                        let t = item(i);
                        ffi::PyTuple_CheckExact(t) != 0 && ffi::PyTuple_GET_SIZE(t) as usize == k
                    });
                fits && {
                    enc.tuple_begin(k);
                    let ok = (0..k).all(|j| {
                        list_of(&mut enc, stop - start, |enc, i| {
                            scalar(enc, ffi::PyTuple_GET_ITEM(item(i), j as ffi::Py_ssize_t))
                        })
                    });
                    enc.tuple_end(k);
                    ok
                }
            } else {
                list_of(&mut enc, stop - start, |enc, i| scalar(enc, item(i)))
            }
        };
        enc.tuple_end(outer);
        out = enc.finish();
        if !written {
            break;
        }
        found.append(PyBytes::new(py, &out))?;
    }
    Ok(found)
}

/// A new reference to the value of `s`, or None if Python refuses it (the error is
/// dropped: the caller falls back).
///
/// # Safety
/// The GIL is held.
unsafe fn value(py: Python<'_>, s: Scalar<'_>) -> Option<Py<PyAny>> {
    // SAFETY: each constructor returns a new reference or null (with an error set,
    // cleared below).
    let ptr = unsafe {
        match s {
            Scalar::None => ffi::Py_NewRef(ffi::Py_None()),
            Scalar::Bool(true) => ffi::Py_NewRef(ffi::Py_True()),
            Scalar::Bool(false) => ffi::Py_NewRef(ffi::Py_False()),
            Scalar::Int(v) => ffi::PyLong_FromLongLong(v),
            Scalar::Float(v) => ffi::PyFloat_FromDouble(v),
            Scalar::Str(u) if u.is_ascii() => {
                // (checked already: ASCII needs no decoding, only a copy)
                let s = ffi::PyUnicode_New(u.len() as _, 127);
                if !s.is_null() {
                    std::ptr::copy_nonoverlapping(
                        u.as_ptr(),
                        ffi::PyUnicode_DATA(s).cast::<u8>(),
                        u.len(),
                    );
                }
                s
            }
            Scalar::Str(u) => ffi::PyUnicode_DecodeUTF8(
                u.as_ptr().cast(),
                u.len() as _,
                c"surrogatepass".as_ptr(),
            ),
        }
    };
    if ptr.is_null() {
        // SAFETY: the GIL is held; the error is dropped (the caller falls back).
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    // SAFETY: a new reference, owned from here.
    Some(unsafe { Bound::from_owned_ptr(py, ptr) }.unbind())
}

/// The values of a worker's reply as the worker writes it with [`chunk_pickles`] (`True`
/// and a list of scalars), or None for any other stream.
fn results(py: Python<'_>, data: &[u8]) -> Option<Vec<Py<PyAny>>> {
    let mut values = Vec::new();
    let mut seen = 0;
    visit_flat_tuple(data, |e| {
        match (seen, e) {
            (0, Event::Scalar(Scalar::Bool(true))) | (1, Event::List) => seen += 1,
            // SAFETY: the GIL is held (`py`).
            (2, Event::Append(s)) => values.push(unsafe { value(py, s) }?),
            _ => return None,
        }
        Some(())
    })?;
    (seen == 2).then_some(values)
}

/// Puts the values of a worker's reply written by [`chunk_pickles`] (`(True, [values])`)
/// into `out` from index `at` on, in place of what is there; false (and `out` unchanged)
/// if `data` is any other stream, or the values do not fit: the caller then decodes it
/// as any other reply.
#[pyfunction]
pub fn place_results(data: &Bound<'_, PyAny>, out: &Bound<'_, PyList>, at: usize) -> bool {
    let _inside = crate::fork_gate::enter();
    let py = out.py();
    let Ok(data) = data.cast::<PyBytes>() else {
        return false;
    };
    let Some(values) = results(py, data.as_bytes()) else {
        return false;
    };
    if !at
        .checked_add(values.len())
        .is_some_and(|end| end <= out.len())
    {
        return false;
    }
    for (i, v) in values.into_iter().enumerate() {
        // SAFETY: `at + i` is below the length checked above; the list is the pool's own
        // (no code that could resize it runs here but the old items' deallocation, and
        // those are the placeholders `None`). The slot takes the new reference.
        unsafe {
            ffi::PyList_SetItem(out.as_ptr(), (at + i) as ffi::Py_ssize_t, v.into_ptr());
        }
    }
    true
}

/// The list of values of a worker's reply written by [`chunk_pickles`]
/// (`(True, [values])`), or None if `data` is any other stream.
#[pyfunction]
pub fn plain_results<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyList>>> {
    let _inside = crate::fork_gate::enter();
    let Ok(data) = data.cast::<PyBytes>() else {
        return Ok(None);
    };
    match results(py, data.as_bytes()) {
        Some(values) => PyList::new(py, values).map(Some),
        None => Ok(None),
    }
}
