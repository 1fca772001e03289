//! Everything CPython's pickler stores through `__reduce_ex__`, done the same way:
//! persistent ids, `dispatch_table`/`copyreg`, the 2-6 item reduce tuples (with
//! `NEWOBJ`/`NEWOBJ_EX` for `copyreg.__newobj__`/`__newobj_ex__`), and protocol 5
//! `PickleBuffer`s. Globals stored by reference (found by `__qualname__`) are
//! [`super::global`]'s.

use brinery_core::opcode;
use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use super::global::save_global;
use super::path::Seg;
use super::walker::Walker;
use crate::error::new_pickling_error;

/// Calls `persistent_id(obj)`; true when it gave an id, which is then written.
pub fn save_pers<'py>(w: &mut Walker<'py>, obj: &Bound<'py, PyAny>) -> PyResult<bool> {
    let func = w.opts.persistent_id.clone().expect("checked by caller");
    let pid = func.call1((obj,))?;
    if pid.is_none() {
        return Ok(false);
    }
    if w.enc.protocol() >= 1 {
        w.save_with(&pid, true)?;
        w.enc.binpersid();
    } else {
        let text = pid.str()?.to_string();
        w.enc.persid_text(&text).map_err(|_| {
            new_pickling_error(w.py, "persistent IDs in protocol 0 must be ASCII strings")
        })?;
    }
    Ok(true)
}

/// What `__reduce_ex__`, a dispatch table or `reducer_override` returned.
pub fn save_reduce_value<'py>(
    w: &mut Walker<'py>,
    obj: &Bound<'py, PyAny>,
    rv: &Bound<'py, PyAny>,
) -> PyResult<()> {
    if rv.is_instance_of::<PyString>() {
        return save_global(w, obj, Some(rv.cast::<PyString>()?));
    }
    if !rv.is_instance_of::<PyTuple>() {
        return Err(new_pickling_error(
            w.py,
            "__reduce__ must return a string or tuple",
        ));
    }
    save_reduce(w, rv.cast::<PyTuple>()?, Some(obj))
}

/// Finds the reduction for `obj` (dispatch table, then `__reduce_ex__`) and saves it.
pub fn save_by_reduce<'py>(w: &mut Walker<'py>, obj: &Bound<'py, PyAny>) -> PyResult<()> {
    let py = w.py;
    let tp = obj.get_type();
    // Types already known to have no table entry and not to be classes go straight to
    // `__reduce_ex__` (copyreg's table is consulted once per type per dump).
    let plain = w.plain_reduce_types.contains(&(tp.as_ptr() as usize));
    let func = if plain { None } else { reduce_func(w, &tp)? };
    if !plain && func.is_none() && !tp.is_subclass_of::<pyo3::types::PyType>()? {
        w.plain_reduce_types.insert(tp.as_ptr() as usize);
        w.keep_alive(tp.as_any());
    }
    let rv = if let Some(func) = func {
        func.call1((obj,))?
    } else if !plain && tp.is_subclass_of::<pyo3::types::PyType>()? {
        return save_global(w, obj, None);
    } else if super::instance::try_save(w, obj, &tp)? {
        return Ok(());
    } else if let Some(name) = std_stream_before_reduce(w, obj)? {
        return save_std_stream(w, obj, name);
    } else if let Some(f) = lookup(obj, pyo3::intern!(obj.py(), "__reduce_ex__"))? {
        match f.call1((w.enc.protocol(),)) {
            Ok(rv) if super::instance_dict::forgotten_by_reduction(w, tp.as_any())? => {
                save_reduce_value(w, obj, &rv)?;
                return super::instance_dict::restore(w, obj, &rv);
            }
            Ok(rv) => rv,
            Err(e) => {
                if let Some(name) = std_stream_name(obj)? {
                    return save_std_stream(w, obj, name);
                }
                match protocol_2_reduction(w, &tp, &f, &e)? {
                    Some(rv) => rv,
                    None => return Err(e),
                }
            }
        }
    } else if let Some(f) = lookup(obj, pyo3::intern!(obj.py(), "__reduce__"))? {
        f.call0()?
    } else {
        return Err(new_pickling_error(
            py,
            format!("can't pickle '{}' object: {}", tp.name()?, obj.repr()?),
        ));
    };
    save_reduce_value(w, obj, &rv)
}

/// Below protocol 2, `copyreg._reduce_ex` refuses instances with `__slots__` and no
/// `__getstate__` (a dataclass's `__dataclass_params__` and `Field`s among them), which
/// `object.__reduce_ex__(2)` stores: for a type that keeps `object`'s reduction, that
/// reduction is used instead. Its `copyreg.__newobj__` is then an ordinary `REDUCE`, which
/// loads at any protocol. None (the original error stands) otherwise.
fn protocol_2_reduction<'py>(
    w: &Walker<'py>,
    tp: &Bound<'py, pyo3::types::PyType>,
    reduce_ex: &Bound<'py, PyAny>,
    err: &PyErr,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    if w.enc.protocol() >= 2
        || !err.is_instance_of::<pyo3::exceptions::PyTypeError>(w.py)
        || !super::instance::keeps_object_reduction(tp)?
    {
        return Ok(None);
    }
    Ok(reduce_ex.call1((2,)).ok())
}

/// The name in `sys` of a standard stream, when `obj` is one (checked only once its own
/// reduction failed: open files cannot be pickled, these can be named).
fn std_stream_name(obj: &Bound<'_, PyAny>) -> PyResult<Option<&'static str>> {
    let sys = obj.py().import("sys")?;
    for name in [
        "stdout",
        "stderr",
        "stdin",
        "__stdout__",
        "__stderr__",
        "__stdin__",
    ] {
        if sys.getattr(name)?.is(obj) {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Below protocol 2, `copyreg._reduce_ex` wraps an object of a Python subclass of
/// `TextIOWrapper` (pytest's captured `sys.stderr`) in a new `TextIOWrapper` before it
/// fails, and that wrapper closes the stream when it is collected: standard streams are
/// recognised before their reduction runs there (only `io` objects are looked up, so
/// other objects pay one `isinstance`).
fn std_stream_before_reduce(
    w: &Walker<'_>,
    obj: &Bound<'_, PyAny>,
) -> PyResult<Option<&'static str>> {
    if w.enc.protocol() >= 2 || !obj.is_instance(w.st.io_base.bind(w.py))? {
        return Ok(None);
    }
    std_stream_name(obj)
}

/// `builtins.getattr(sys, name)`: the loading process's own stream of that name.
fn save_std_stream<'py>(w: &mut Walker<'py>, obj: &Bound<'py, PyAny>, name: &str) -> PyResult<()> {
    let py = w.py;
    super::function::save_named(w, w.st.getattr.bind(py), "builtins", "getattr");
    w.enc.tuple_begin(2);
    w.save(py.import("sys")?.as_any())?;
    w.save(PyString::new(py, name).as_any())?;
    w.enc.tuple_end(2);
    w.enc.reduce();
    w.memoize_data(obj);
    Ok(())
}

/// The reduction function a dispatch table (or brinery's own tables) gives for `tp`.
fn reduce_func<'py>(
    w: &Walker<'py>,
    tp: &Bound<'py, pyo3::types::PyType>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = w.py;
    let func = match &w.opts.dispatch_table {
        None => w.st.copyreg_dispatch.bind(py).get_item(tp)?,
        Some(table) => match table.get_item(tp) {
            Ok(f) => Some(f),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyKeyError>(py) => None,
            Err(e) => return Err(e),
        },
    };
    if func.is_some() {
        return Ok(func);
    }
    let reducers = w.st.reducers.bind(py);
    Ok(match reducers.get_item(tp)? {
        Some(f) => Some(f),
        None if w.st.add_late_reducers(py)? => reducers.get_item(tp)?,
        None => None,
    })
}

/// `getattr(obj, name)`, `None` when it has no such attribute.
pub(super) fn lookup<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match obj.getattr(name) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(obj.py()) => Ok(None),
        Err(e) => Err(e),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// `save_reduce`: a 2 to 6 item reduce tuple for `obj` (None when the result must not
/// be memoized).
pub fn save_reduce<'py>(
    w: &mut Walker<'py>,
    rv: &Bound<'py, PyTuple>,
    obj: Option<&Bound<'py, PyAny>>,
) -> PyResult<()> {
    let py = w.py;
    let size = rv.len();
    if !(2..=6).contains(&size) {
        return Err(new_pickling_error(
            py,
            "tuple returned by __reduce__ must contain 2 through 6 elements",
        ));
    }
    let item = |i: usize| -> PyResult<Option<Bound<'py, PyAny>>> {
        if i < size {
            let v = rv.get_item(i)?;
            Ok(if v.is_none() { None } else { Some(v) })
        } else {
            Ok(None)
        }
    };
    let callable = rv.get_item(0)?;
    let argtup = rv.get_item(1)?;
    let state = item(2)?;
    let listitems = item(3)?;
    let dictitems = item(4)?;
    let state_setter = item(5)?;
    if !callable.is_callable() {
        return Err(new_pickling_error(
            py,
            "first item of the tuple returned by __reduce__ must be callable",
        ));
    }
    let Ok(argtup) = argtup.cast_into::<PyTuple>() else {
        return Err(new_pickling_error(
            py,
            "second item of the tuple returned by __reduce__ must be a tuple",
        ));
    };
    let is_iter = |o: &Bound<'py, PyAny>| unsafe { ffi::PyIter_Check(o.as_ptr()) != 0 };
    if let Some(l) = &listitems {
        if !is_iter(l) {
            return Err(new_pickling_error(
                py,
                format!(
                    "fourth element of the tuple returned by __reduce__ must be an iterator, not {}",
                    type_name(l)
                ),
            ));
        }
    }
    if let Some(d) = &dictitems {
        if !is_iter(d) {
            return Err(new_pickling_error(
                py,
                format!(
                    "fifth element of the tuple returned by __reduce__ must be an iterator, not {}",
                    type_name(d)
                ),
            ));
        }
    }
    if let Some(s) = &state_setter {
        if !s.is_callable() {
            return Err(new_pickling_error(
                py,
                format!(
                    "sixth element of the tuple returned by __reduce__ must be a function, not {}",
                    type_name(s)
                ),
            ));
        }
    }

    let proto = w.enc.protocol();
    let (mut use_newobj, mut use_newobj_ex) = (false, false);
    if proto >= 2 && callable.is(w.st.copyreg_newobj.bind(py)) {
        // The common case (every plain instance), without looking up `__name__`.
        use_newobj = true;
    } else if proto >= 2 {
        if let Some(name) = lookup(&callable, pyo3::intern!(callable.py(), "__name__"))? {
            if let Ok(name) = name.cast::<PyString>() {
                let name = name.to_cow()?;
                use_newobj_ex = name == "__newobj_ex__";
                use_newobj = name == "__newobj__";
            }
        }
    }
    if use_newobj_ex {
        if argtup.len() != 3 {
            return Err(new_pickling_error(
                py,
                format!(
                    "length of the NEWOBJ_EX argument tuple must be exactly 3, not {}",
                    argtup.len()
                ),
            ));
        }
        let cls = argtup.get_item(0)?;
        let args = argtup.get_item(1)?;
        let kwargs = argtup.get_item(2)?;
        if !cls.is_instance_of::<pyo3::types::PyType>() {
            return Err(new_pickling_error(
                py,
                format!(
                    "first item from NEWOBJ_EX argument tuple must be a class, not {}",
                    type_name(&cls)
                ),
            ));
        }
        if let Some(obj) = obj {
            let obj_class = obj.getattr(pyo3::intern!(py, "__class__"))?;
            if !obj_class.is(&cls) {
                return Err(new_pickling_error(
                    py,
                    "first item from NEWOBJ_EX argument tuple must be the object's class",
                ));
            }
        }
        let Ok(args) = args.cast_into::<PyTuple>() else {
            return Err(new_pickling_error(
                py,
                "second item from NEWOBJ_EX argument tuple must be a tuple",
            ));
        };
        let Ok(kwargs) = kwargs.cast_into::<PyDict>() else {
            return Err(new_pickling_error(
                py,
                "third item from NEWOBJ_EX argument tuple must be a dict",
            ));
        };
        if proto >= 4 {
            w.save(&cls)?;
            w.save(args.as_any())?;
            w.save(kwargs.as_any())?;
            w.enc.newobj_ex();
        } else {
            let mut newargs = vec![
                cls.getattr(pyo3::intern!(cls.py(), "__new__"))?,
                cls.clone(),
            ];
            newargs.extend(args.iter());
            let partial =
                w.st.partial
                    .bind(py)
                    .call(PyTuple::new(py, newargs)?, Some(&kwargs))?;
            w.save(&partial)?;
            w.save(PyTuple::empty(py).as_any())?;
            w.enc.reduce();
        }
    } else if use_newobj {
        if argtup.is_empty() {
            return Err(new_pickling_error(py, "__newobj__ arglist is empty"));
        }
        let cls = argtup.get_item(0)?;
        if !cls.is_instance_of::<pyo3::types::PyType>() {
            return Err(new_pickling_error(
                py,
                "args[0] from __newobj__ args is not a type",
            ));
        }
        if let Some(obj) = obj {
            let obj_class = obj.getattr(pyo3::intern!(py, "__class__"))?;
            if !obj_class.is(&cls) {
                return Err(new_pickling_error(
                    py,
                    "args[0] from __newobj__ args has the wrong class",
                ));
            }
        }
        let newargs = argtup.get_slice(1, argtup.len());
        w.save(&cls)?;
        w.save(newargs.as_any())?;
        w.enc.newobj();
    } else {
        w.save(&callable)?;
        w.save(argtup.as_any())?;
        w.enc.reduce();
    }

    if let Some(obj) = obj {
        w.memoize_made(obj);
    }
    if let Some(l) = listitems {
        w.batch_list(&l)?;
    }
    if let Some(d) = dictitems {
        w.batch_dict(&d)?;
    }
    if let Some(state) = state {
        match state_setter {
            None => {
                w.path.push(Seg::State);
                let r = w.save(&state);
                w.path.pop();
                r?;
                w.enc.build();
            }
            Some(setter) => {
                w.save(&setter)?;
                w.save(obj.expect("state_setter needs the object"))?;
                w.save(&state)?;
                w.enc.raw(&[opcode::TUPLE2]);
                w.enc.reduce();
                w.enc.pop();
            }
        }
    }
    Ok(())
}

/// `save_type`: the types of `None`, `NotImplemented` and `...` reduce to `type(x)`.
pub fn save_type<'py>(w: &mut Walker<'py>, obj: &Bound<'py, PyAny>) -> PyResult<()> {
    let py = w.py;
    for singleton in [py.None(), py.NotImplemented(), py.Ellipsis()] {
        let s = singleton.bind(py);
        if obj.is(s.get_type()) {
            let rv = PyTuple::new(
                py,
                [
                    py.get_type::<pyo3::types::PyType>().into_any(),
                    PyTuple::new(py, [s.clone()])?.into_any(),
                ],
            )?;
            return save_reduce(w, &rv, Some(obj));
        }
    }
    save_global(w, obj, None)
}

/// A protocol 5 `PickleBuffer`: out of band when `buffer_callback` says so, else as
/// `bytes` (read-only) or `bytearray` (writable) data.
pub fn save_picklebuffer<'py>(w: &mut Walker<'py>, obj: &Bound<'py, PyAny>) -> PyResult<()> {
    let py = w.py;
    if w.enc.protocol() < 5 {
        return Err(new_pickling_error(
            py,
            "PickleBuffer can only be pickled with protocol >= 5",
        ));
    }
    let view = obj
        .call_method0("raw")
        .or_else(|_| py.import("builtins")?.getattr("memoryview")?.call1((obj,)))?;
    let view = py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((obj,))
        .unwrap_or(view);
    if !view
        .getattr(pyo3::intern!(view.py(), "contiguous"))?
        .is_truthy()?
    {
        return Err(PyBufferError::new_err(
            "PickleBuffer can not be pickled when pointing to a non-contiguous buffer",
        ));
    }
    let readonly = view
        .getattr(pyo3::intern!(view.py(), "readonly"))?
        .is_truthy()?;
    let in_band = match &w.opts.buffer_callback {
        None => true,
        Some(cb) => cb.call1((obj,))?.is_truthy()?,
    };
    if in_band {
        let copy = view.call_method1(pyo3::intern!(view.py(), "tobytes"), ("A",))?;
        let copy = copy.cast::<PyBytes>()?;
        if readonly {
            w.write_bytes_of(copy, copy.as_bytes());
        } else {
            w.enc.bytearray(copy.as_bytes());
        }
        w.memoize_data(obj);
    } else {
        w.enc
            .next_buffer(readonly)
            .map_err(|e| new_pickling_error(py, e.to_string()))?;
    }
    Ok(())
}
