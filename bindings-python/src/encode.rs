//! Pickling for Python: the native `Pickler` class and the `dumps`/`dump` functions
//! behind `brinery.Pickler`, `brinery.dumps` and `brinery.dump` (mirroring the C and Node
//! bindings' `encode.rs`), over the walker and its reducers in `encode/`:
//!
//! - [`walker`]: one dump's state and the memo policy; [`dispatch`]: CPython's `save()`
//!   for one object and the leaves; [`containers`]: tuples, lists, dicts and sets with
//!   `_pickle.c`'s batching, a dict's entries read by [`dict_entries`]; [`memo`]: the
//!   memo, over its table [`addr_table`]; [`output`]: the finished stream;
//! - everything the walker does not write itself, one file per concept: [`reduce`]
//!   (`__reduce_ex__`, `copyreg`, reduce tuples), [`global`] (by reference),
//!   [`function`] and [`namespace`] (functions by value and their globals), [`class`]
//!   (classes and modules by value), [`init_subclass`], [`submodules`], [`bytecode`],
//!   [`instance`] and [`instance_dict`] (plain instances), [`weak_proxy`], with the
//!   objects they name in [`stdlib`] and the object path of errors in [`path`].
//!
//! A new reducer or by-value rule goes beside its siblings here. Every opcode goes
//! through `brinery_core::Encoder`.
//!
//! A subclass's `persistent_id`, `reducer_override` and `dispatch_table` are looked up on
//! the instance when `dump()` starts, as `_pickle.c` does, so they win exactly as with
//! `pickle.Pickler`; this class defines none of them itself.
//!
//! Like `pickle.Pickler`, a pickler keeps its memo from one `dump()` to the next (an
//! object dumped again is written as a memo `GET`) until `clear_memo()`; the `memo`
//! property of `brinery.Pickler` reads and replaces it. By-value functions of later
//! dumps share the globals dicts rebuilt by earlier ones. `dumps()`, brinery's own, writes
//! a self-contained stream and neither reads nor changes the memo.

pub mod addr_table;
pub mod bytecode;
pub mod class;
pub mod containers;
pub mod dict_entries;
pub mod dispatch;
pub mod dump_buffer;
pub mod fast_call;
pub mod function;
pub mod global;
pub mod init_subclass;
pub mod instance;
pub mod instance_dict;
pub mod memo;
pub mod namespace;
pub mod output;
pub mod path;
pub mod reduce;
pub mod stdlib;
pub mod submodules;
pub mod walker;
pub mod weak_proxy;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::error::new_pickling_error;
use output::Stream;
use walker::{Options, SavedMemo, Walker};

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

/// Return the pickle of ``obj`` as bytes.
///
/// ``protocol`` defaults to ``pickle.DEFAULT_PROTOCOL``; ``fix_imports`` and
/// ``buffer_callback`` are as in ``pickle.dumps`` (Python 2 names for globals below
/// protocol 3; out-of-band buffers at protocol 5); ``by_value`` names extra modules (or
/// module objects) whose functions and classes are stored by value for this call.
/// ``cross_version=True`` makes by-value functions load on every supported CPython
/// minor version, not only the one that wrote them: each carries its source beside its
/// bytecode (a ``PicklingError`` where the source cannot be had).
//
// `brinery.dumps` is this function itself, not a Python wrapper around it: a Python
// frame cost about as much as a whole `pickle.dumps(None)`. `dumps(obj)` and
// `dumps(obj, protocol)` reach it through `fast_call`, without PyO3's parser.
#[pyfunction]
#[pyo3(
    signature = (obj, protocol=None, *, fix_imports=Truth(true), buffer_callback=None, by_value=None, cross_version=Truth(false)),
    text_signature = "(obj, protocol=None, *, fix_imports=True, buffer_callback=None, by_value=(), cross_version=False)"
)]
pub fn dumps<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    protocol: Option<i64>,
    fix_imports: Truth,
    buffer_callback: Option<Bound<'py, PyAny>>,
    by_value: Option<Bound<'py, PyAny>>,
    cross_version: Truth,
) -> PyResult<Bound<'py, PyBytes>> {
    let _inside = crate::fork_gate::enter();
    let st = stdlib::get(py)?;
    let opts = plain_options(
        py,
        st,
        protocol,
        buffer_callback,
        by_value,
        fix_imports,
        cross_version,
    )?;
    Walker::new(py, st, opts).dump_to_bytes(obj)
}

/// Write the pickle of ``obj`` to the binary file ``file`` (its ``write`` method is
/// called with each 64 KiB frame as it is done, as ``pickle.dump`` does); the keywords
/// are ``dumps``'.
//
// No Pickler (whose memo would be kept for a next dump that never comes): frames go to
// `file.write` as they are committed.
#[pyfunction]
#[pyo3(
    signature = (obj, file, protocol=None, *, fix_imports=Truth(true), buffer_callback=None, by_value=None, cross_version=Truth(false)),
    text_signature = "(obj, file, protocol=None, *, fix_imports=True, buffer_callback=None, by_value=(), cross_version=False)"
)]
#[allow(clippy::too_many_arguments)]
pub fn dump<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    file: &Bound<'py, PyAny>,
    protocol: Option<i64>,
    fix_imports: Truth,
    buffer_callback: Option<Bound<'py, PyAny>>,
    by_value: Option<Bound<'py, PyAny>>,
    cross_version: Truth,
) -> PyResult<()> {
    let _inside = crate::fork_gate::enter();
    let write = write_method(file)?;
    let st = stdlib::get(py)?;
    let opts = plain_options(
        py,
        st,
        protocol,
        buffer_callback,
        by_value,
        fix_imports,
        cross_version,
    )?;
    let mut walker = Walker::new(py, st, opts);
    walker.set_sink(Some(write.clone()));
    walker.dump(obj)?.write_to(&write)
}

/// A keyword taken by its truth value, as `pickle` takes `fix_imports`.
#[derive(Clone, Copy)]
pub struct Truth(pub bool);

impl FromPyObject<'_, '_> for Truth {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        obj.is_truthy().map(Truth)
    }
}

/// The module names of a `by_value=` argument: modules by their `__name__`, anything
/// else by `str()`.
fn module_names(by_value: Option<Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(by_value) = by_value.filter(|b| !b.is_none()) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for m in by_value.try_iter()? {
        let m = m?;
        let name = if m.is_instance_of::<pyo3::types::PyModule>() {
            m.getattr(pyo3::intern!(m.py(), "__name__"))?.str()?
        } else {
            m.str()?
        };
        names.push(name.to_str()?.to_owned());
    }
    Ok(names)
}

/// The options of `dumps` and `dump`, which have no `Pickler` to consult. Inlined, so
/// the options are built where the walker takes them rather than moved out of a
/// `PyResult`.
#[inline(always)]
fn plain_options<'py>(
    py: Python<'py>,
    st: &stdlib::Stdlib,
    protocol: Option<i64>,
    buffer_callback: Option<Bound<'py, PyAny>>,
    by_value: Option<Bound<'py, PyAny>>,
    fix_imports: Truth,
    cross_version: Truth,
) -> PyResult<Options<'py>> {
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
        by_value: by_value_modules(st, py, &module_names(by_value)?)?,
        namespaces: false,
        fix_imports: fix_imports.0,
        fast: false,
        cross_version: cross_version.0,
    };
    Ok(opts)
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
    /// Whether [`Pickler::_init`] ran (`pickle`'s error names the subclass that did not
    /// call `Pickler.__init__`).
    configured: bool,
}

#[pymethods]
impl Pickler {
    /// An unconfigured pickler (no file, the default protocol): [`Pickler::_init`]
    /// configures it, as `pickle.Pickler.__init__` does.
    #[new]
    fn new() -> Self {
        Pickler {
            write: None,
            proto: brinery_core::DEFAULT_PROTOCOL,
            buffer_callback: None,
            by_value: Vec::new(),
            namespaces: false,
            fix_imports: true,
            cross_version: false,
            memo: SavedMemo::default(),
            configured: false,
        }
    }

    /// Configures the pickler, again if need be, as `pickle.Pickler.__init__` does (the
    /// memo emptied): `brinery.Pickler.__init__` calls it, so a subclass's `__init__`
    /// may take arguments of its own and pass `Pickler.__init__` what it needs.
    #[pyo3(signature = (file=None, protocol=None, *, fix_imports=true, buffer_callback=None, by_value=Vec::new(), namespaces=false, cross_version=false))]
    #[allow(clippy::too_many_arguments)]
    fn _init(
        &mut self,
        py: Python<'_>,
        file: Option<Bound<'_, PyAny>>,
        protocol: Option<i64>,
        fix_imports: bool,
        buffer_callback: Option<Py<PyAny>>,
        by_value: Vec<String>,
        namespaces: bool,
        cross_version: bool,
    ) -> PyResult<()> {
        let _inside = crate::fork_gate::enter();
        let proto = resolve_protocol(py, protocol)?;
        let write = match file {
            Some(f) if !f.is_none() => Some(write_method(&f)?.unbind()),
            _ => None,
        };
        if buffer_callback.is_some() && proto < 5 {
            return Err(PyValueError::new_err("buffer_callback needs protocol >= 5"));
        }
        *self = Pickler {
            write,
            proto,
            buffer_callback,
            by_value,
            namespaces,
            fix_imports,
            cross_version,
            memo: SavedMemo::default(),
            configured: true,
        };
        Ok(())
    }

    /// The protocol this pickler writes.
    #[getter]
    fn protocol(&self) -> u8 {
        self.proto
    }

    /// Writes the pickle of `obj` to the file given at construction.
    fn dump(slf: &Bound<'_, Self>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let _inside = crate::fork_gate::enter();
        let py = slf.py();
        let (write, configured) = {
            let me = slf.borrow();
            (me.write.as_ref().map(|w| w.clone_ref(py)), me.configured)
        };
        let Some(write) = write else {
            if !configured {
                let name = slf.get_type().name()?;
                return Err(new_pickling_error(
                    py,
                    format!("Pickler.__init__() was not called by {name}.__init__()"),
                ));
            }
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
        let _inside = crate::fork_gate::enter();
        Self::dump_stream(slf, obj, None, false)?.into_bytes(slf.py())
    }

    /// Forgets what earlier `dump()` calls memoized.
    fn clear_memo(&mut self) {
        std::mem::take(&mut self.memo).memo.recycle();
    }

    /// The memo as `pickle.Pickler.memo.copy()` gives it: `{id(obj): (index, obj)}`.
    fn _memo_copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let _inside = crate::fork_gate::enter();
        let out = PyDict::new(py);
        for (idx, obj) in self.memo.memo.entries(py) {
            out.set_item(obj.as_ptr() as usize, (idx, obj))?;
        }
        Ok(out)
    }

    /// Replaces the memo with `memo`, `{any key: (index, obj)}` as `pickle.Pickler`
    /// takes it (the keys are not used; each object is memoized under its own id).
    fn _set_memo(&mut self, memo: &Bound<'_, PyDict>) -> PyResult<()> {
        let _inside = crate::fork_gate::enter();
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
            new.memo.insert(&obj, idx);
        }
        // A table that could not grow says so here, not at the next dump.
        if let Some(e) = new.memo.take_error() {
            return Err(e);
        }
        new.next = new.memo.len() as u32;
        self.memo = new;
        Ok(())
    }
}

impl Drop for Pickler {
    fn drop(&mut self) {
        std::mem::take(&mut self.memo.memo).recycle();
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
        let mut walker = Walker::new(py, st, opts);
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
