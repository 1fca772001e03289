//! A dict's entries in the order `PyDict_Next` gives them, read straight from a combined
//! table where that is known to be safe: `PyDict_Next` is an out-of-line call of some
//! fifty instructions per entry, a fifth of what a small record costs to save.
//!
//! The table's layout (`struct _dictkeysobject` in CPython's `pycore_dict.h`) is the same
//! on CPython 3.11, 3.12 and 3.13: a header of five fields, the index array of
//! `1 << dk_log2_index_bytes` bytes, then the entries, `(key, value)` pairs when every
//! key is a `str` and `(hash, key, value)` triples otherwise; a deleted entry has no
//! value. Split tables (an instance's `__dict__` sharing its class's keys) keep their
//! values elsewhere and go through `PyDict_Next`.
//!
//! Nothing is assumed unchecked: [`register`] compares this reader with `PyDict_Next`
//! on dicts of both kinds, with deleted entries, at module creation, and any difference
//! (a build with another layout, a debug interpreter) turns the reader off for good, as
//! does an interpreter running without the GIL. A dict's table is surveyed once; every
//! step checks that the dict still has that table (else surveys the new one) and reads
//! its length afresh, as `PyDict_Next` does, so a dict changed by the code a value's
//! reduction runs is never read past its end or in a freed table.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The header of `struct _dictkeysobject` (3.11-3.13, with the GIL).
#[repr(C)]
struct KeysHead {
    refcnt: ffi::Py_ssize_t,
    log2_size: u8,
    log2_index_bytes: u8,
    kind: u8,
    version: u32,
    usable: ffi::Py_ssize_t,
    nentries: ffi::Py_ssize_t,
}

/// `DICT_KEYS_GENERAL`: `(hash, key, value)` entries.
const KIND_GENERAL: u8 = 0;
/// `DICT_KEYS_UNICODE`: `(key, value)` entries.
const KIND_UNICODE: u8 = 1;

/// Whether the check at module creation found the layout above.
static DIRECT: AtomicBool = AtomicBool::new(false);

/// A walk over one dict's entries, in `PyDict_Next`'s order and with its meaning of a
/// position, so a dict changed during the walk behaves as under `PyDict_Next`.
pub struct Entries {
    dict: *mut ffi::PyDictObject,
    pos: ffi::Py_ssize_t,
    /// The table `entries` and `width` were worked out for; null while `PyDict_Next`
    /// does the walking.
    keys: *const KeysHead,
    /// Its `dk_log2_index_bytes` and `dk_kind` then: another table allocated where a
    /// freed one was is read directly only when its entries start at the same place.
    shape: u16,
    /// Where the first entry's key is, and the entries' size in words.
    entries: *const *mut ffi::PyObject,
    width: usize,
    /// Whether tables are read directly at all (else every step is `PyDict_Next`).
    direct: bool,
}

impl Entries {
    /// A walk reading tables directly when the check at module creation allowed it.
    ///
    /// # Safety
    /// `dict` is a dict (or a subclass) that outlives the walk, walked with the GIL
    /// held.
    #[inline(always)]
    pub unsafe fn new(dict: *mut ffi::PyObject) -> Self {
        Self::reading(dict, DIRECT.load(Ordering::Relaxed))
    }

    /// A walk reading tables directly if `direct` (the check itself asks for it).
    ///
    /// # Safety
    /// As for [`Entries::new`].
    #[inline(always)]
    unsafe fn reading(dict: *mut ffi::PyObject, direct: bool) -> Self {
        let mut entries = Entries {
            dict: dict.cast(),
            pos: 0,
            keys: std::ptr::null(),
            shape: 0,
            entries: std::ptr::null(),
            width: 0,
            direct,
        };
        entries.survey();
        entries
    }

    /// [`Entries::next`] with a reference of its own to the key and to the value.
    ///
    /// # Safety
    /// As for [`Entries::new`].
    #[inline(always)]
    pub unsafe fn next_owned<'py>(
        &mut self,
        py: Python<'py>,
    ) -> Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let (k, v) = self.next()?;
        Some((
            Bound::from_borrowed_ptr(py, k),
            Bound::from_borrowed_ptr(py, v),
        ))
    }

    /// The next entry as borrowed `(key, value)` pointers, `None` at the end.
    ///
    /// # Safety
    /// As for [`Entries::new`]; the pointers are borrowed from the dict, so the caller
    /// owns a reference before running any Python code.
    #[inline(always)]
    pub unsafe fn next(&mut self) -> Option<(*mut ffi::PyObject, *mut ffi::PyObject)> {
        let keys = (*self.dict).ma_keys.cast::<KeysHead>().cast_const();
        if keys != self.keys || !(*self.dict).ma_values.is_null() || shape(keys) != self.shape {
            return self.next_fresh();
        }
        self.next_direct(keys)
    }

    #[inline(always)]
    unsafe fn next_direct(
        &mut self,
        keys: *const KeysHead,
    ) -> Option<(*mut ffi::PyObject, *mut ffi::PyObject)> {
        let n = (*keys).nentries;
        let mut i = self.pos;
        while i < n {
            let entry = self.entries.add(i as usize * self.width);
            let value = *entry.add(1);
            i += 1;
            if !value.is_null() {
                self.pos = i;
                return Some((*entry, value));
            }
        }
        None
    }

    /// A step after the dict got another table: works the table out again, or leaves
    /// the step to `PyDict_Next`.
    #[cold]
    #[inline(never)]
    unsafe fn next_fresh(&mut self) -> Option<(*mut ffi::PyObject, *mut ffi::PyObject)> {
        self.survey();
        match self.keys.is_null() {
            true => plain_next(self.dict.cast(), &mut self.pos),
            false => self.next_direct(self.keys),
        }
    }

    /// Works out where the dict's current table keeps its entries, or sets `keys` to
    /// null when `PyDict_Next` must read them.
    #[inline(always)]
    unsafe fn survey(&mut self) {
        let keys = (*self.dict).ma_keys.cast::<KeysHead>().cast_const();
        let (width, key_at) = match (*keys).kind {
            KIND_UNICODE => (2, 0),
            KIND_GENERAL => (3, 1),
            _ => (0, 0),
        };
        if !self.direct || !(*self.dict).ma_values.is_null() || width == 0 {
            self.keys = std::ptr::null();
            return;
        }
        self.keys = keys;
        self.shape = shape(keys);
        self.width = width;
        self.entries = keys
            .add(1)
            .cast::<u8>()
            .add(1usize << (*keys).log2_index_bytes)
            .cast::<*mut ffi::PyObject>()
            .add(key_at);
        self.pos = self.pos.max(0);
    }
}

/// `dk_log2_index_bytes` and `dk_kind` of a table, side by side.
#[inline(always)]
unsafe fn shape(keys: *const KeysHead) -> u16 {
    std::ptr::addr_of!((*keys).log2_index_bytes)
        .cast::<u16>()
        .read_unaligned()
}

/// `PyDict_Next` itself.
#[inline(never)]
unsafe fn plain_next(
    dict: *mut ffi::PyObject,
    pos: &mut ffi::Py_ssize_t,
) -> Option<(*mut ffi::PyObject, *mut ffi::PyObject)> {
    let mut k = std::ptr::null_mut();
    let mut v = std::ptr::null_mut();
    (ffi::PyDict_Next(dict, pos, &mut k, &mut v) != 0).then_some((k, v))
}

/// Turns the direct reader on when it gives exactly what `PyDict_Next` gives on dicts
/// of every kind it reads (and on one it must leave to `PyDict_Next`), and adds
/// `_direct_dict_reader()`, which says whether it is on (the tests expect it on every
/// supported CPython).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    DIRECT.store(layout_matches(m.py())?, Ordering::Relaxed);
    m.add_function(pyo3::wrap_pyfunction!(_direct_dict_reader, m)?)
}

#[pyfunction]
fn _direct_dict_reader() -> bool {
    DIRECT.load(Ordering::Relaxed)
}

fn layout_matches(py: Python<'_>) -> PyResult<bool> {
    let version = py.version_info();
    if (version.major, version.minor) < (3, 11) || (version.major, version.minor) > (3, 13) {
        return Ok(false);
    }
    // SAFETY: reading the size CPython gives its own dict type.
    let basic = unsafe { (*std::ptr::addr_of!(ffi::PyDict_Type)).tp_basicsize };
    if basic != std::mem::size_of::<ffi::PyDictObject>() as ffi::Py_ssize_t {
        return Ok(false);
    }
    // Without the GIL another thread may change a dict between two reads of its table
    // (`PyDict_Next` itself locks there): the reader is for interpreters with a GIL.
    if let Ok(gil) = py.import("sys")?.getattr("_is_gil_enabled") {
        if !gil.call0()?.is_truthy()? {
            return Ok(false);
        }
    }
    // Built here rather than by evaluating an expression: compiling one was most of
    // the check's cost at import.
    let mut samples = Vec::new();
    for n in [0, 1, 5, 9, 200] {
        let d = PyDict::new(py);
        for i in 0..n {
            d.set_item(format!("k{i}"), i)?;
        }
        samples.push(d);
    }
    for n in [1, 7, 300] {
        let d = PyDict::new(py);
        for i in 0..n {
            d.set_item(i, i.to_string())?;
        }
        samples.push(d);
    }
    let mixed = PyDict::new(py);
    mixed.set_item("a", 1)?;
    mixed.set_item(2, "b")?;
    mixed.set_item((3,), py.None())?;
    samples.push(mixed);
    for d in &samples {
        let keys: Vec<_> = d.keys().iter().collect();
        for (j, k) in keys.iter().enumerate() {
            if j == 0 || j % 3 == 1 || j + 1 == keys.len() && keys.len() > 2 {
                d.del_item(k)?;
            }
        }
    }
    for d in &samples {
        if !same_entries(d)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The reader, reading directly, against `PyDict_Next` on `d`.
fn same_entries(d: &Bound<'_, PyDict>) -> PyResult<bool> {
    let ptr = d.as_ptr();
    // SAFETY: `d` is a live dict and the GIL is held.
    let mut direct = unsafe { Entries::reading(ptr, true) };
    let mut b = 0;
    loop {
        // SAFETY: as above, and nothing runs in between.
        let (x, y) = unsafe { (direct.next(), plain_next(ptr, &mut b)) };
        if x != y || direct.pos != b {
            return Ok(false);
        }
        if x.is_none() {
            return Ok(true);
        }
    }
}
