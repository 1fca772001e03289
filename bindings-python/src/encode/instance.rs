//! Plain instances without the call to `__reduce_ex__`: for an instance whose type keeps
//! `object`'s default reduction, the walker builds what `object.__reduce_ex__(proto >= 2)`
//! would return, `(copyreg.__newobj__, (cls,), state)`, itself and writes it as
//! `save_reduce` does (`cls`, `()`, `NEWOBJ`, memo, state, `BUILD`), so the bytes are the
//! same as through `__reduce_ex__`.
//!
//! Whether a type keeps the default is decided once per type per dump and re-decided
//! whenever the type's version tag changes (CPython changes it on every assignment to the
//! type or one of its bases), so a method assigned later is seen. Anything this module is
//! not sure about goes the generic way, which is always right.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use rustc_hash::FxHashMap;

use super::path::Seg;
use super::walker::Walker;

extern "C" {
    /// CPython's attribute lookup along a type's MRO: a borrowed reference, or NULL
    /// (never with an exception set). Exported by CPython for extensions.
    fn _PyType_Lookup(tp: *mut ffi::PyTypeObject, name: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// `object`'s own entries for the names the default reduction depends on.
struct ObjectDefaults {
    reduce_ex: Py<PyString>,
    reduce: Py<PyString>,
    getstate: Py<PyString>,
    getnewargs_ex: Py<PyString>,
    getnewargs: Py<PyString>,
    class: Py<PyString>,
    slotnames: Py<PyString>,
    /// `object.__dict__[name]` for `__reduce_ex__`, `__reduce__`, `__getstate__`, `__class__`.
    object_reduce_ex: Py<PyAny>,
    object_reduce: Py<PyAny>,
    object_getstate: Option<Py<PyAny>>,
    object_class: Py<PyAny>,
}

static DEFAULTS: PyOnceLock<ObjectDefaults> = PyOnceLock::new();

fn defaults(py: Python<'_>) -> PyResult<&ObjectDefaults> {
    DEFAULTS.get_or_try_init(py, || {
        let object_dict = py.get_type::<pyo3::types::PyAny>().getattr("__dict__")?;
        let entry = |n: &str| object_dict.get_item(n).map(Bound::unbind);
        Ok(ObjectDefaults {
            reduce_ex: pyo3::intern!(py, "__reduce_ex__").clone().unbind(),
            reduce: pyo3::intern!(py, "__reduce__").clone().unbind(),
            getstate: pyo3::intern!(py, "__getstate__").clone().unbind(),
            getnewargs_ex: pyo3::intern!(py, "__getnewargs_ex__").clone().unbind(),
            getnewargs: pyo3::intern!(py, "__getnewargs__").clone().unbind(),
            class: pyo3::intern!(py, "__class__").clone().unbind(),
            slotnames: pyo3::intern!(py, "__slotnames__").clone().unbind(),
            object_reduce_ex: entry("__reduce_ex__")?,
            object_reduce: entry("__reduce__")?,
            object_getstate: entry("__getstate__").ok(),
            object_class: entry("__class__")?,
        })
    })
}

/// What one type's instances get, valid while the type's version tag is `tag`.
pub struct Verdict<'py> {
    tag: Option<u32>,
    /// `Some(slot names)` when the default reduction applies (`None` inside: no slots).
    default: Option<Option<Bound<'py, PyList>>>,
}

/// The verdicts of one dump, by type address (the types are kept alive by the memo).
pub type Verdicts<'py> = FxHashMap<usize, Verdict<'py>>;

/// The type's current version tag, if it has a valid one.
fn version_tag(tp: &Bound<'_, PyType>) -> Option<u32> {
    // SAFETY: reading two fields of a live type object with the GIL held.
    unsafe {
        let t = tp.as_type_ptr();
        if (*t).tp_flags & ffi::Py_TPFLAGS_VALID_VERSION_TAG != 0 {
            Some((*t).tp_version_tag)
        } else {
            None
        }
    }
}

fn lookup(tp: &Bound<'_, PyType>, name: &Py<PyString>) -> *mut ffi::PyObject {
    // SAFETY: a live type and an exact, interned str, with the GIL held.
    unsafe { _PyType_Lookup(tp.as_type_ptr(), name.as_ptr()) }
}

/// True when `tp` takes `__reduce_ex__`, `__reduce__`, `__getstate__` and `__class__`
/// from `object` and defines no `__getnewargs(_ex)__`: `object.__reduce_ex__` decides
/// everything about its instances' reduction.
pub fn keeps_object_reduction(tp: &Bound<'_, PyType>) -> PyResult<bool> {
    let py = tp.py();
    let d = defaults(py)?;
    let is_object_entry = |name: &Py<PyString>, entry: Option<&Py<PyAny>>| -> bool {
        let found = lookup(tp, name);
        match entry {
            Some(e) => found == e.as_ptr(),
            None => found.is_null(),
        }
    };
    if !is_object_entry(&d.reduce_ex, Some(&d.object_reduce_ex))
        || !is_object_entry(&d.reduce, Some(&d.object_reduce))
        || !is_object_entry(&d.getstate, d.object_getstate.as_ref())
        || !is_object_entry(&d.class, Some(&d.object_class))
        || !lookup(tp, &d.getnewargs_ex).is_null()
        || !lookup(tp, &d.getnewargs).is_null()
    {
        return Ok(false);
    }
    // `object.__reduce_ex__` asks the class itself (so its metaclass) for `__reduce__`.
    Ok(matches!(tp.as_any().getattr(d.reduce.bind(py)), Ok(r) if r.is(d.object_reduce.bind(py))))
}

/// Decides whether `tp`'s instances reduce the default way (see the module docs).
fn decide<'py>(tp: &Bound<'py, PyType>) -> PyResult<Option<Option<Bound<'py, PyList>>>> {
    let py = tp.py();
    let d = defaults(py)?;
    // SAFETY: reading fields of a live type object with the GIL held.
    let plain_layout = unsafe {
        let t = tp.as_type_ptr();
        (*t).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE != 0
            && (*t).tp_getattro.map(|f| f as usize)
                == Some(ffi::PyObject_GenericGetAttr as ffi::getattrofunc as usize)
            && (*t).tp_new.is_some()
            && (*t).tp_itemsize == 0
            && ffi::PyType_IsSubtype(t, &raw mut ffi::PyList_Type) == 0
            && ffi::PyType_IsSubtype(t, &raw mut ffi::PyDict_Type) == 0
    };
    if !plain_layout {
        return Ok(None);
    }
    if !keeps_object_reduction(tp)? {
        return Ok(None);
    }
    // `copyreg._slotnames` caches its answer in the type's own dict; until it has run
    // once for this type, the generic way runs it.
    // SAFETY: heap types always have a dict.
    let tp_dict = unsafe { Bound::from_borrowed_ptr(py, (*tp.as_type_ptr()).tp_dict) };
    let Some(names) = tp_dict.cast::<PyDict>()?.get_item(d.slotnames.bind(py))? else {
        return Ok(None);
    };
    if names.is_none() {
        return Ok(Some(None));
    }
    match names.cast_into::<PyList>() {
        Ok(l) => Ok(Some(Some(l))),
        Err(_) => Ok(None),
    }
}

/// True when `object_getstate_default` would refuse the layout ("cannot pickle 'X'
/// object"): the type holds more than its dict, weakref list and slots. Counts only what
/// every CPython version counts, so a doubt means the generic way.
fn has_hidden_fields(tp: &Bound<'_, PyType>, nslots: usize) -> bool {
    let ptr = std::mem::size_of::<*mut ffi::PyObject>() as isize;
    // SAFETY: reading fields of live type objects with the GIL held.
    unsafe {
        let t = tp.as_type_ptr();
        let mut size = ffi::PyBaseObject_Type.tp_basicsize;
        if (*t).tp_dictoffset > 0 && (*t).tp_flags & ffi::Py_TPFLAGS_MANAGED_DICT == 0 {
            size += ptr;
        }
        if (*t).tp_weaklistoffset > 0 {
            size += ptr;
        }
        size += ptr * nslots as isize;
        (*t).tp_basicsize > size
    }
}

/// The instance's `__dict__`, or None for a type without one (a new reference; CPython's
/// default `__getstate__` materializes it the same way).
fn instance_dict<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyDict>>> {
    // SAFETY: reading a field of the live type; PyObject_GenericGetDict returns a new
    // reference or NULL with an exception set.
    unsafe {
        if (*obj.get_type_ptr()).tp_dictoffset == 0 {
            return Ok(None);
        }
        let d = ffi::PyObject_GenericGetDict(obj.as_ptr(), std::ptr::null_mut());
        if d.is_null() {
            return Err(PyErr::fetch(obj.py()));
        }
        Ok(Some(
            Bound::from_owned_ptr(obj.py(), d).cast_into::<PyDict>()?,
        ))
    }
}

/// Saves `obj` the default way if its type allows it; false (nothing written) otherwise.
/// Called after the dispatch tables and `reducer_override` found nothing for its type.
pub fn try_save<'py>(
    w: &mut Walker<'py>,
    obj: &Bound<'py, PyAny>,
    tp: &Bound<'py, PyType>,
) -> PyResult<bool> {
    if w.enc.protocol() < 2 {
        return Ok(false);
    }
    let py = w.py;
    let key = tp.as_ptr() as usize;
    let tag = version_tag(tp);
    let slotnames = match w.instances.get(&key) {
        Some(v) if tag.is_some() && v.tag == tag => match &v.default {
            Some(s) => s.clone(),
            None => return Ok(false),
        },
        _ => {
            let default = decide(tp)?;
            // Deciding looked the type up, which gives it a version tag if it can have one.
            let tag = version_tag(tp);
            let verdict = Verdict {
                tag,
                default: default.clone(),
            };
            if w.instances.insert(key, verdict).is_none() {
                w.keep_alive(tp.as_any());
            }
            match default {
                Some(s) => s,
                None => return Ok(false),
            }
        }
    };
    let d = defaults(py)?;
    let nslots = slotnames.as_ref().map_or(0, |l| l.len());
    if has_hidden_fields(tp, nslots) {
        return Ok(false);
    }
    // Attribute lookup on the instance finds its own `__reduce_ex__`/`__getstate__` first.
    let dict = instance_dict(obj)?;
    if let Some(dict) = &dict {
        if dict.contains(d.reduce_ex.bind(py))? || dict.contains(d.getstate.bind(py))? {
            return Ok(false);
        }
    }
    let mut state: Bound<'py, PyAny> = match dict {
        Some(dict) if !dict.is_empty() => dict.into_any(),
        _ => py.None().into_bound(py),
    };
    if let Some(names) = slotnames.filter(|_| nslots > 0) {
        let slots = PyDict::new(py);
        for i in 0..nslots {
            let name = names.get_item(i)?;
            // SAFETY: PyObject_GetAttr takes any name object and returns a new reference
            // or NULL with an exception set.
            let got = unsafe { ffi::PyObject_GetAttr(obj.as_ptr(), name.as_ptr()) };
            let got = if got.is_null() {
                Err(PyErr::fetch(py))
            } else {
                Ok(unsafe { Bound::from_owned_ptr(py, got) })
            };
            match got {
                Ok(v) => slots.set_item(&name, v)?,
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => {}
                Err(e) => return Err(e),
            }
            if names.len() != nslots {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "__slotsname__ changed size during iteration",
                ));
            }
        }
        if !slots.is_empty() {
            state = PyTuple::new(py, [state, slots.into_any()])?.into_any();
        }
    }
    w.save(tp.as_any())?;
    w.save(PyTuple::empty(py).as_any())?;
    w.enc.newobj();
    w.memoize_made(obj);
    if !state.is_none() {
        w.path.push(Seg::State);
        let r = w.save(&state);
        w.path.pop();
        r?;
        w.enc.build();
    }
    Ok(true)
}
