//! The native `Pickler` class and the `dumps`/`dump` functions behind `brinery.Pickler`,
//! `brinery.dumps` and `brinery.dump`.
//! A subclass's `persistent_id`, `reducer_override` and `dispatch_table` are looked up on
//! the instance when `dump()` starts, as `_pickle.c` does, so they win exactly as with
//! `pickle.Pickler`; this class defines none of them itself.
//!
//! Like `pickle.Pickler`, a pickler keeps its memo from one `dump()` to the next (an
//! object dumped again is written as a memo `GET`) until `clear_memo()`; the `memo`
//! property of `brinery.Pickler` reads and replaces it. By-value functions of later
//! dumps share the globals dicts rebuilt by earlier ones. `dumps()`, brinery's own, writes
//! a self-contained stream and neither reads nor changes the memo.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::error::new_pickling_error;
use crate::output::Stream;
use crate::stdlib;
use crate::walker::{recycle_memo, Options, SavedMemo, Walker};

fn resolve_protocol(py: Python<'_>, protocol: Option<i64>) -> PyResult<u8> {
    let highest = brinery_core::HIGHEST_PROTOCOL as i64;
    let p = match protocol {
        None => {
            let _ = py;
            brinery_core::DEFAULT_PROTOCOL as i64
        }
        Some(p) if p < 0 => highest,
        Some(p) => p,
    };
    if p > highest {
        return Err(PyValueError::new_err(format!(
            "pickle protocol must be <= {highest}"
        )));
    }
    Ok(p as u8)
}

fn by_value_modules(
    st: &stdlib::Stdlib,
    py: Python<'_>,
    extra: &[String],
) -> PyResult<Vec<String>> {
    let mut out: Vec<String> = extra.to_vec();
    let registered = st.by_value.bind(py);
    if registered.is_empty() {
        return Ok(out);
    }
    for m in registered.iter() {
        out.push(m.extract()?);
    }
    Ok(out)
}

fn optional<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    match obj.getattr(name) {
        Ok(v) if v.is_none() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(obj.py()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `obj.name`, or None when `obj` has no such attribute.
fn present<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    match obj.getattr(name) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(obj.py()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `dumps(obj, protocol=None, buffer_callback=None, by_value=())` without a Pickler.
#[pyfunction]
#[pyo3(signature = (obj, protocol=None, buffer_callback=None, by_value=Vec::new(), namespaces=false, fix_imports=true, cross_version=false))]
#[allow(clippy::too_many_arguments)]
pub fn dumps<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    protocol: Option<i64>,
    buffer_callback: Option<Bound<'py, PyAny>>,
    by_value: Vec<String>,
    namespaces: bool,
    fix_imports: bool,
    cross_version: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    plain_walker(
        py,
        protocol,
        buffer_callback,
        &by_value,
        namespaces,
        fix_imports,
        cross_version,
    )?
    .dump(obj)?
    .into_bytes(py)
}

/// `dump(obj, file, protocol=None, buffer_callback=None, by_value=())` without a Pickler
/// (whose memo would be kept for a next dump that never comes): frames go to
/// `file.write` as they are committed.
#[pyfunction]
#[pyo3(signature = (obj, file, protocol=None, buffer_callback=None, by_value=Vec::new(), fix_imports=true, cross_version=false))]
#[allow(clippy::too_many_arguments)]
pub fn dump<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    file: &Bound<'py, PyAny>,
    protocol: Option<i64>,
    buffer_callback: Option<Bound<'py, PyAny>>,
    by_value: Vec<String>,
    fix_imports: bool,
    cross_version: bool,
) -> PyResult<()> {
    let write = write_method(file)?;
    let mut walker = plain_walker(
        py,
        protocol,
        buffer_callback,
        &by_value,
        false,
        fix_imports,
        cross_version,
    )?;
    walker.set_sink(Some(write.clone()));
    walker.dump(obj)?.write_to(&write)
}

fn plain_walker<'py>(
    py: Python<'py>,
    protocol: Option<i64>,
    buffer_callback: Option<Bound<'py, PyAny>>,
    by_value: &[String],
    namespaces: bool,
    fix_imports: bool,
    cross_version: bool,
) -> PyResult<Walker<'py>> {
    let st = stdlib::get(py)?;
    let proto = resolve_protocol(py, protocol)?;
    let buffer_callback = buffer_callback.filter(|b| !b.is_none());
    if buffer_callback.is_some() && proto < 5 {
        return Err(PyValueError::new_err("buffer_callback needs protocol >= 5"));
    }
    let opts = Options {
        proto,
        persistent_id: None,
        reducer_override: None,
        dispatch_table: None,
        buffer_callback,
        by_value: by_value_modules(st, py, by_value)?,
        namespaces,
        fix_imports,
        fast: false,
        cross_version,
    };
    Walker::new(py, st, opts)
}

/// `file.write`, or the `TypeError` `pickle` gives for a file without one.
fn write_method<'py>(file: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    match file.getattr(pyo3::intern!(file.py(), "write")) {
        Ok(w) => Ok(w),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(file.py()) => Err(
            pyo3::exceptions::PyTypeError::new_err("file must have a 'write' attribute"),
        ),
        Err(e) => Err(e),
    }
}

/// The native base of `brinery.Pickler`.
#[pyclass(subclass, module = "brinery._brinery")]
pub struct Pickler {
    write: Option<Py<PyAny>>,
    proto: u8,
    buffer_callback: Option<Py<PyAny>>,
    by_value: Vec<String>,
    namespaces: bool,
    fix_imports: bool,
    cross_version: bool,
    memo: SavedMemo,
}

#[pymethods]
impl Pickler {
    #[new]
    #[pyo3(signature = (file=None, protocol=None, *, fix_imports=true, buffer_callback=None, by_value=Vec::new(), namespaces=false, cross_version=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        file: Option<Bound<'_, PyAny>>,
        protocol: Option<i64>,
        fix_imports: bool,
        buffer_callback: Option<Py<PyAny>>,
        by_value: Vec<String>,
        namespaces: bool,
        cross_version: bool,
    ) -> PyResult<Self> {
        let proto = resolve_protocol(py, protocol)?;
        let write = match file {
            Some(f) if !f.is_none() => Some(write_method(&f)?.unbind()),
            _ => None,
        };
        if buffer_callback.is_some() && proto < 5 {
            return Err(PyValueError::new_err("buffer_callback needs protocol >= 5"));
        }
        Ok(Pickler {
            write,
            proto,
            buffer_callback,
            by_value,
            namespaces,
            fix_imports,
            cross_version,
            memo: SavedMemo::default(),
        })
    }

    /// The protocol this pickler writes.
    #[getter]
    fn protocol(&self) -> u8 {
        self.proto
    }

    /// Writes the pickle of `obj` to the file given at construction.
    fn dump(slf: &Bound<'_, Self>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let write = slf.borrow().write.as_ref().map(|w| w.clone_ref(py));
        let Some(write) = write else {
            return Err(new_pickling_error(
                py,
                "Pickler has no file (was Pickler.__init__ given one?); use dumps() or pass a file",
            ));
        };
        let write = write.bind(py);
        Self::dump_stream(slf, obj, Some(write.clone()), true)?.write_to(write)
    }

    /// The pickle of `obj` as bytes (ignores the file and the memo).
    fn dumps<'py>(
        slf: &Bound<'py, Self>,
        obj: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        Self::dump_stream(slf, obj, None, false)?.into_bytes(slf.py())
    }

    /// Forgets what earlier `dump()` calls memoized.
    fn clear_memo(&mut self) {
        recycle_memo(std::mem::take(&mut self.memo).map);
    }

    /// The memo as `pickle.Pickler.memo.copy()` gives it: `{id(obj): (index, obj)}`.
    fn _memo_copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for obj in &self.memo.objs {
            let id = obj.as_ptr() as usize;
            if let Some(idx) = self.memo.map.get(&id) {
                out.set_item(id, (idx, obj.bind(py)))?;
            }
        }
        Ok(out)
    }

    /// Replaces the memo with `memo`, `{any key: (index, obj)}` as `pickle.Pickler`
    /// takes it (the keys are not used; each object is memoized under its own id).
    fn _set_memo(&mut self, memo: &Bound<'_, PyDict>) -> PyResult<()> {
        let mut new = SavedMemo::default();
        for (_, value) in memo.iter() {
            let pair = value
                .cast::<PyTuple>()
                .ok()
                .filter(|t| t.len() == 2)
                .ok_or_else(|| {
                    pyo3::exceptions::PyTypeError::new_err("'memo' values must be 2-item tuples")
                })?;
            let idx: u32 = pair.get_item(0)?.extract()?;
            let obj = pair.get_item(1)?;
            new.map.insert(obj.as_ptr() as usize, idx);
            new.objs.push(obj.unbind());
        }
        new.next = new.map.len() as u32;
        self.memo = new;
        Ok(())
    }
}

impl Drop for Pickler {
    fn drop(&mut self) {
        recycle_memo(std::mem::take(&mut self.memo.map));
    }
}

impl Pickler {
    fn dump_stream<'py>(
        slf: &Bound<'py, Self>,
        obj: &Bound<'py, PyAny>,
        sink: Option<Bound<'py, PyAny>>,
        keep_memo: bool,
    ) -> PyResult<Stream<'py>> {
        let py = slf.py();
        let st = stdlib::get(py)?;
        let me = slf.borrow();
        let any = slf.as_any();
        let dispatch_table = optional(any, "dispatch_table")?;
        let opts = Options {
            proto: me.proto,
            persistent_id: optional(any, "persistent_id")?,
            // Present means called, as in CPython's pickler: `reducer_override = None` on
            // an instance is a TypeError when dumping, not "no override".
            reducer_override: present(any, "reducer_override")?,
            dispatch_table,
            buffer_callback: me.buffer_callback.as_ref().map(|b| b.bind(py).clone()),
            by_value: by_value_modules(st, py, &me.by_value)?,
            namespaces: me.namespaces,
            fix_imports: me.fix_imports,
            cross_version: me.cross_version,
            fast: match optional(any, "_fast_mode")? {
                Some(f) => f.is_truthy()?,
                None => false,
            },
        };
        drop(me);
        let mut walker = Walker::new(py, st, opts)?;
        walker.set_sink(sink);
        if keep_memo {
            let saved = std::mem::take(&mut slf.borrow_mut().memo);
            let (stream, after) = walker.dump_with_memo(obj, saved);
            slf.borrow_mut().memo = after;
            stream
        } else {
            walker.dump(obj)
        }
    }
}
