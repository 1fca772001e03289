//! Globals stored by reference, as CPython's `save_global` stores them: `whichmodule`
//! and the attribute walk by `__qualname__`, `copyreg` extension codes, and the opcodes
//! for each protocol (`STACK_GLOBAL`, `GLOBAL`, or `getattr` reductions for nested
//! names). Functions and classes that cannot be found by reference (or whose module is
//! `__main__`, local, or registered by value) are handed to [`super::function`] and
//! [`super::class`] to be stored by value.

use brinery_core::opcode;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::reduce::{lookup, save_reduce};
use super::walker::Walker;
use crate::error::new_pickling_error;

/// Where a global lives, as `save_global` resolves it.
pub struct Found<'py> {
    pub module_name: Bound<'py, PyString>,
    pub global_name: Bound<'py, PyString>,
    pub dotted: Vec<String>,
    pub parent: Bound<'py, PyAny>,
    pub module: Bound<'py, PyAny>,
}

/// `whichmodule` plus the attribute walk: `Ok(Found)` when `obj` is reachable by name,
/// `Err(reason)` when it is not.
pub fn find_global<'py>(
    w: &Walker<'py>,
    obj: &Bound<'py, PyAny>,
    name: Option<&Bound<'py, PyString>>,
) -> PyResult<Result<Found<'py>, String>> {
    let py = w.py;
    let global_name = match name {
        Some(n) => n.clone(),
        None => match lookup(obj, pyo3::intern!(obj.py(), "__qualname__"))? {
            Some(q) => q.cast_into::<PyString>()?,
            None => obj
                .getattr(pyo3::intern!(obj.py(), "__name__"))?
                .cast_into::<PyString>()?,
        },
    };
    let text = global_name.to_cow()?.into_owned();
    let dotted: Vec<String> = text.split('.').map(str::to_owned).collect();
    if dotted.iter().any(|p| p == "<locals>") {
        return Ok(Err(format!("Can't pickle local object {}", obj.repr()?)));
    }
    let module_name = match lookup(obj, pyo3::intern!(obj.py(), "__module__"))? {
        Some(m) if !m.is_none() => m.cast_into::<PyString>()?,
        _ => whichmodule(w, obj, &dotted)?,
    };
    let modname = module_name.to_cow()?.into_owned();
    let module = match py.import(modname.as_str()) {
        Ok(m) => m.into_any(),
        Err(_) => {
            return Ok(Err(format!(
                "Can't pickle {}: import of module {:?} failed",
                obj.repr()?,
                modname
            )))
        }
    };
    let mut parent = module.clone();
    let mut cur = module.clone();
    for (i, part) in dotted.iter().enumerate() {
        match cur.getattr(part.as_str()) {
            Ok(next) => {
                if i + 1 < dotted.len() {
                    parent = next.clone();
                }
                cur = next;
            }
            Err(_) => {
                return Ok(Err(format!(
                    "Can't pickle {}: attribute lookup {} on {} failed",
                    obj.repr()?,
                    text,
                    modname
                )))
            }
        }
    }
    if !cur.is(obj) {
        return Ok(Err(format!(
            "Can't pickle {}: it's not the same object as {}.{}",
            obj.repr()?,
            modname,
            text
        )));
    }
    Ok(Ok(Found {
        module_name,
        global_name,
        dotted,
        parent,
        module,
    }))
}

fn whichmodule<'py>(
    w: &Walker<'py>,
    obj: &Bound<'py, PyAny>,
    dotted: &[String],
) -> PyResult<Bound<'py, PyString>> {
    let py = w.py;
    let modules = w.st.sys_modules.bind(py).copy()?;
    // Attribute lookups on every loaded module: deprecation warnings of module
    // `__getattr__`s (numpy's) are not the user's business here.
    let warnings = py.import("warnings")?;
    let quiet = warnings
        .getattr(pyo3::intern!(warnings.py(), "catch_warnings"))?
        .call0()?;
    quiet.call_method0(pyo3::intern!(quiet.py(), "__enter__"))?;
    warnings.call_method1(pyo3::intern!(warnings.py(), "simplefilter"), ("ignore",))?;
    let found = search_modules(obj, dotted, &modules);
    quiet.call_method1(
        pyo3::intern!(quiet.py(), "__exit__"),
        (py.None(), py.None(), py.None()),
    )?;
    Ok(match found? {
        Some(name) => name,
        None => PyString::new(py, "__main__"),
    })
}

fn search_modules<'py>(
    obj: &Bound<'py, PyAny>,
    dotted: &[String],
    modules: &Bound<'py, PyDict>,
) -> PyResult<Option<Bound<'py, PyString>>> {
    for (name, module) in modules.iter() {
        let n: String = name.extract().unwrap_or_default();
        if n == "__main__" || n == "__mp_main__" || module.is_none() {
            continue;
        }
        let mut cur = module;
        let mut ok = true;
        for part in dotted {
            match cur.getattr(part.as_str()) {
                Ok(next) => cur = next,
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && cur.is(obj) {
            return Ok(Some(name.cast_into::<PyString>()?));
        }
    }
    Ok(None)
}

/// `save_global`, except that functions and classes that cannot be found by name (or
/// whose module is `__main__`, local, or registered by value) are stored by value.
pub fn save_global<'py>(
    w: &mut Walker<'py>,
    obj: &Bound<'py, PyAny>,
    name: Option<&Bound<'py, PyString>>,
) -> PyResult<()> {
    let py = w.py;
    if name.is_none() && super::class::wants_by_value(w, obj)? {
        if obj.is_instance_of::<pyo3::types::PyType>() {
            return super::class::save_class(w, obj);
        }
        return super::function::save_function(w, obj);
    }
    let found = match find_global(w, obj, name)? {
        Ok(f) => f,
        Err(msg) => {
            if let Some(place) = w.st.stdlib_names.bind(py).get_item(obj)? {
                let (m, n): (String, String) = place.extract()?;
                super::function::save_named(w, obj, &m, &n);
                return Ok(());
            }
            return Err(new_pickling_error(py, msg));
        }
    };
    let proto = w.enc.protocol();
    if proto >= 2 {
        let key = PyTuple::new(py, [found.module_name.as_any(), found.global_name.as_any()])?;
        if let Some(code) = w.st.extension_registry.bind(py).get_item(&key)? {
            let code: i64 = code
                .extract()
                .map_err(|_| new_pickling_error(py, "extension code isn't an integer"))?;
            if code <= 0 || code > 0x7fff_ffff {
                return Err(new_pickling_error(
                    py,
                    format!("extension code {code} is out of range"),
                ));
            }
            w.enc.ext(code as u32);
            return Ok(());
        }
    }
    let global_name = if found.parent.is(&found.module) {
        PyString::new(py, found.dotted.last().expect("non-empty"))
    } else {
        found.global_name.clone()
    };
    if proto >= 4 {
        w.save(found.module_name.as_any())?;
        w.save(global_name.as_any())?;
        w.enc.raw(&[opcode::STACK_GLOBAL]);
    } else if !found.parent.is(&found.module) && !w.st.nested_names_from_toplevel {
        let last = PyString::new(py, found.dotted.last().expect("non-empty"));
        let rv = PyTuple::new(
            py,
            [
                w.st.getattr.bind(py).clone(),
                PyTuple::new(py, [found.parent.clone(), last.into_any()])?.into_any(),
            ],
        )?;
        save_reduce(w, &rv, None)?;
    } else if !found.parent.is(&found.module) {
        // `getattr(getattr(module.top, a), b)`, the top-level object named, never saved
        // as an object, so that a class reached through itself (`C.ref = C`, qualified
        // name `C.ref`) is not saved again and again.
        let (top, attrs) = found.dotted.split_first().expect("dotted has a parent");
        for _ in attrs {
            super::function::save_named(w, w.st.getattr.bind(py), "builtins", "getattr");
            w.enc.tuple_begin(2);
        }
        let m = found.module_name.to_cow()?;
        if proto < 3 && (!m.is_ascii() || !top.is_ascii()) {
            return Err(new_pickling_error(
                py,
                format!("can't pickle module identifier '{m}' using pickle protocol {proto}"),
            ));
        }
        w.enc.global(&m, top);
        for attr in attrs {
            w.save(PyString::new(py, attr).as_any())?;
            w.enc.tuple_end(2);
            w.enc.reduce();
        }
    } else {
        let m = found.module_name.to_cow()?;
        let n = global_name.to_cow()?;
        if proto < 3 && (!m.is_ascii() || !n.is_ascii()) {
            return Err(new_pickling_error(
                py,
                format!("can't pickle module identifier '{m}' using pickle protocol {proto}"),
            ));
        }
        w.enc.global(&m, &n);
    }
    w.memoize_data(obj);
    Ok(())
}
