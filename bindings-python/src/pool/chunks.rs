//! A map's chunks written as stock pickles straight from the caller's list: for chunk
//! `[start, stop)` of `items`, the bytes `pickle.dumps((kind, head, items[start:stop]), 5)`
//! would load as, without the slice, its increfs, nor the C pickler's per-item dispatch.
//! Only exact `None`, bools, ints that fit in 64 bits, floats and UTF-8-encodable `str`
//! of under 256 bytes (not memoized: a long one repeated would be written each time)
//! are written here; at anything else the chunk is left to Python (`None` returned).
//! A `starmap`'s chunk of equal-length tuples is written as its columns (the worker runs
//! `map(fn, *columns)`), taken from the tuples as they are written.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

const PROTO5: &[u8] = b"\x80\x05";
const MARK: u8 = b'(';
const EMPTY_LIST: u8 = b']';
const APPENDS: u8 = b'e';
const TUPLE: u8 = b't';
/// Items per `MARK ... APPENDS` run, as CPython's pickler batches them.
const BATCH: usize = 1000;

/// Appends the pickle opcodes of one scalar; false for anything this writer leaves to
/// Python (the caller then gives up on the chunk).
///
/// # Safety
/// `obj` is a valid object and the GIL is held.
unsafe fn scalar(out: &mut Vec<u8>, obj: *mut ffi::PyObject) -> bool {
    unsafe {
        let t = ffi::Py_TYPE(obj);
        if t == std::ptr::addr_of_mut!(ffi::PyLong_Type) {
            let mut overflow = 0;
            let v = ffi::PyLong_AsLongLongAndOverflow(obj, &mut overflow);
            if overflow != 0 {
                return false;
            }
            if (0..256).contains(&v) {
                out.push(b'K');
                out.push(v as u8);
            } else if (0..65536).contains(&v) {
                out.push(b'M');
                out.extend_from_slice(&(v as u16).to_le_bytes());
            } else if i32::try_from(v).is_ok() {
                out.push(b'J');
                out.extend_from_slice(&(v as i32).to_le_bytes());
            } else {
                // LONG1: eight bytes of little-endian two's complement (not the shortest
                // form, which any unpickler reads the same).
                out.extend_from_slice(b"\x8a\x08");
                out.extend_from_slice(&v.to_le_bytes());
            }
            true
        } else if t == std::ptr::addr_of_mut!(ffi::PyFloat_Type) {
            out.push(b'G');
            out.extend_from_slice(&ffi::PyFloat_AS_DOUBLE(obj).to_be_bytes());
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
            let Ok(n) = u8::try_from(size) else {
                return false;
            };
            out.push(0x8c);
            out.push(n);
            out.extend_from_slice(std::slice::from_raw_parts(
                data as *const u8,
                usize::from(n),
            ));
            true
        } else if obj == ffi::Py_None() {
            out.push(b'N');
            true
        } else if obj == ffi::Py_True() {
            out.push(0x88);
            true
        } else if obj == ffi::Py_False() {
            out.push(0x89);
            true
        } else {
            false
        }
    }
}

/// A list's opcodes for `n` values, each written by `one(out, i)`; false as soon as one
/// is not written.
fn list_of(out: &mut Vec<u8>, n: usize, mut one: impl FnMut(&mut Vec<u8>, usize) -> bool) -> bool {
    out.push(EMPTY_LIST);
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        out.push(MARK);
        while i < end {
            if !one(out, i) {
                return false;
            }
            i += 1;
        }
        out.push(APPENDS);
    }
    true
}

/// The messages of the chunks of `items` starting at each of `starts`, `size` items each
/// (fewer at the end of the list), each the protocol header, `prefix` (the opcodes of
/// `kind, head,`, e.g. `K\x01K\x07`), the chunk, then `end` (e.g. `TUPLE3 STOP`). With `columns`, each item
/// must be a tuple of one length k ≥ 1 (the same for the whole chunk) and the chunk is
/// written as a tuple of k lists; otherwise as a list of the items. Stops at the first
/// chunk that is not written (an item of another type; with `columns`, an item not a
/// tuple of the chunk's length) or is empty: the returned list holds the messages of the
/// chunks before it.
#[pyfunction]
pub fn chunk_pickles<'py>(
    items: &Bound<'py, PyList>,
    starts: Vec<usize>,
    size: usize,
    prefix: &[u8],
    columns: bool,
    end: &[u8],
) -> PyResult<Bound<'py, PyList>> {
    let _inside = crate::fork_gate::enter();
    let py = items.py();
    let list = items.as_ptr();
    let found = PyList::empty(py);
    let mut out = Vec::new();
    for start in starts {
        // No Python code runs while a chunk is written (only type checks and reads of
        // immutable scalars), so the list's length holds for the chunk.
        let len = items.len();
        let stop = start.saturating_add(size).min(len);
        if start >= stop {
            break;
        }
        out.clear();
        out.extend_from_slice(PROTO5);
        out.extend_from_slice(prefix);
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
                    out.push(MARK);
                    let ok = (0..k).all(|j| {
                        list_of(&mut out, stop - start, |out, i| {
                            scalar(out, ffi::PyTuple_GET_ITEM(item(i), j as ffi::Py_ssize_t))
                        })
                    });
                    out.push(TUPLE);
                    ok
                }
            } else {
                list_of(&mut out, stop - start, |out, i| scalar(out, item(i)))
            }
        };
        if !written {
            break;
        }
        out.extend_from_slice(end);
        found.append(PyBytes::new(py, &out))?;
    }
    Ok(found)
}

/// Reads `n` bytes at `*at` of `data`, moving past them; None past the end.
fn take<'a>(data: &'a [u8], at: &mut usize, n: usize) -> Option<&'a [u8]> {
    let got = data.get(*at..at.checked_add(n)?)?;
    *at += n;
    Some(got)
}

/// The value of one scalar opcode `op` (its argument read from `data` at `*at`), as
/// [`scalar`] writes them; None for anything else, or a short stream.
///
/// # Safety
/// The GIL is held.
unsafe fn value(py: Python<'_>, op: u8, data: &[u8], at: &mut usize) -> Option<Py<PyAny>> {
    let fixed = |at: &mut usize, n: usize| -> Option<[u8; 8]> {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(take(data, at, n)?);
        Some(b)
    };
    // SAFETY: each constructor returns a new reference or null (with an error set,
    // cleared by the caller's fallback).
    let ptr = unsafe {
        match op {
            b'K' => ffi::PyLong_FromLong(take(data, at, 1)?[0] as _),
            b'M' => {
                ffi::PyLong_FromLong(u16::from_le_bytes(take(data, at, 2)?.try_into().ok()?) as _)
            }
            b'J' => {
                ffi::PyLong_FromLong(i32::from_le_bytes(take(data, at, 4)?.try_into().ok()?) as _)
            }
            0x8a => {
                let n = *take(data, at, 1)?.first()? as usize;
                if n == 0 || n > 8 {
                    return None;
                }
                let b = fixed(at, n)?;
                // (sign-extended from its top byte)
                let shift = 64 - 8 * n as u32;
                ffi::PyLong_FromLongLong((i64::from_le_bytes(b) << shift) >> shift)
            }
            b'G' => {
                ffi::PyFloat_FromDouble(f64::from_be_bytes(take(data, at, 8)?.try_into().ok()?))
            }
            // (Only SHORT_BINUNICODE: [`scalar`] leaves longer strs to the stock pickler.)
            0x8c => {
                let n = take(data, at, 1)?[0] as usize;
                let s = take(data, at, n)?;
                ffi::PyUnicode_DecodeUTF8(
                    s.as_ptr().cast(),
                    s.len() as _,
                    c"surrogatepass".as_ptr(),
                )
            }
            b'N' => ffi::Py_NewRef(ffi::Py_None()),
            0x88 => ffi::Py_NewRef(ffi::Py_True()),
            0x89 => ffi::Py_NewRef(ffi::Py_False()),
            _ => return None,
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
    let mut at = 0;
    if take(data, &mut at, 4)? != b"\x80\x05\x88]" {
        return None;
    }
    let mut values = Vec::new();
    loop {
        match take(data, &mut at, 1)?[0] {
            MARK => loop {
                let op = take(data, &mut at, 1)?[0];
                if op == APPENDS {
                    break;
                }
                // SAFETY: the GIL is held (`py`).
                values.push(unsafe { value(py, op, data, &mut at) }?);
            },
            0x86 if &data[at..] == b"." => return Some(values),
            _ => return None,
        }
    }
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
