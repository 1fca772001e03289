//! Classes and modules stored by value, and the decision of what is stored by value.
//!
//! A class is rebuilt as `types.new_class(name, bases, kwds, operator.methodcaller('update',
//! ns))`, where `ns` holds only what the metaclass needs at creation (`__slots__`,
//! `__annotations__`, enum members, ...) and nothing that can refer back to the class;
//! the class is memoized, then the rest is set with `builtins.setattr(cls, name, value)`
//! calls (and ABC registrations replayed). What goes where is decided by the Python
//! helper `brinery._byvalue.class_recipe`, which knows the standard metaclasses.
//! Modules: importable ones by reference (`importlib.import_module(name)`), dynamic ones
//! by value (`types.ModuleType(name)` filled with `BUILD`-free `setattr`s of its dict);
//! the rebuilt module's dict is the `__globals__` of its functions in the same stream.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::function::save_named;
use super::init_subclass::SkippedHook;
use super::path::Seg;
use super::walker::Walker;

/// True when `obj` (a function or class) must be stored by value: its module is
/// `__main__`, registered by value, missing, or the object is not reachable by name.
pub fn wants_by_value<'py>(w: &Walker<'py>, obj: &Bound<'py, PyAny>) -> PyResult<bool> {
    let py = w.py;
    let by_value_kind = if let Ok(t) = obj.cast::<pyo3::types::PyType>() {
        // SAFETY: reading the flags of a live type object.
        unsafe { (*t.as_type_ptr()).tp_flags & pyo3::ffi::Py_TPFLAGS_HEAPTYPE != 0 }
    } else {
        obj.get_type().is(w.st.function_type.bind(py))
    };
    if !by_value_kind {
        return Ok(false);
    }
    // No module name (say, a function made by `exec` in a bare dict): by reference only
    // when `pickle.whichmodule` finds it in an importable module.
    let module = match obj.getattr(pyo3::intern!(obj.py(), "__module__")) {
        Ok(m) if !m.is_none() => m,
        _ => return Ok(!found_outside_main(w, obj)?),
    };
    let Ok(module) = module.cast_into::<PyString>() else {
        return Ok(!found_outside_main(w, obj)?);
    };
    let name = module.to_cow()?;
    if name == "__main__" || name == "__mp_main__" {
        return Ok(true);
    }
    if registered_by_value(w, &name) {
        return Ok(true);
    }
    let qualname = match obj.getattr(pyo3::intern!(obj.py(), "__qualname__")) {
        Ok(q) => q.extract::<String>().unwrap_or_default(),
        Err(_) => return Ok(false),
    };
    if qualname.contains("<locals>") {
        return Ok(true);
    }
    let Some(m) = w.st.sys_modules.bind(py).get_item(&module)? else {
        // Not importable as far as this process knows: a dynamic module's object.
        return Ok(py.import(name.as_ref()).is_err());
    };
    let mut cur = m;
    for part in qualname.split('.') {
        match cur.getattr(part) {
            Ok(next) => cur = next,
            Err(_) => return Ok(true),
        }
    }
    Ok(!cur.is(obj))
}

fn found_outside_main<'py>(w: &Walker<'py>, obj: &Bound<'py, PyAny>) -> PyResult<bool> {
    Ok(match super::global::find_global(w, obj, None)? {
        Ok(found) => {
            let name = found.module_name.to_cow()?;
            name != "__main__" && name != "__mp_main__"
        }
        Err(_) => false,
    })
}

/// True when module `name` (or a package holding it) is to be stored by value.
pub fn registered_by_value(w: &Walker<'_>, name: &str) -> bool {
    w.opts.by_value.iter().any(|m| {
        name == m.as_str() || (name.starts_with(m.as_str()) && name[m.len()..].starts_with('.'))
    })
}

/// A class by value (see the module docs).
pub fn save_class<'py>(w: &mut Walker<'py>, cls: &Bound<'py, PyAny>) -> PyResult<()> {
    let py = w.py;
    let recipe =
        w.st.helpers
            .bind(py)
            .getattr("class_recipe")?
            .call1((cls,))?;
    let recipe = if w.opts.cross_version {
        py.import("brinery._cross_version")?
            .getattr("adjust_class_recipe")?
            .call1((cls, recipe))?
    } else {
        recipe
    };
    let recipe = recipe.cast_into::<PyTuple>()?;
    let creator = recipe.get_item(0)?;
    let create = recipe.get_item(1)?;
    let later = recipe.get_item(2)?;
    let hook = SkippedHook::find(w, &recipe.get_item(3)?, recipe.get_item(4)?.is_truthy()?)?;
    let new_class = w.st.helpers.bind(py).getattr("new_class")?;
    if creator.is(&new_class) {
        save_named(w, &new_class, "types", "new_class");
    } else {
        w.path.push(Seg::Item("class creator"));
        let r = w.save(&creator);
        w.path.pop();
        r?;
    }
    w.path.push(Seg::Item("class namespace"));
    w.save(&create)?;
    w.path.pop();
    if let Some(idx) = w.memo_get(cls) {
        // Saving the bases or namespace saved the class itself (a base's registry holds
        // it): drop the call unmade, so no hook runs for a class nobody uses.
        w.enc.pop();
        w.enc.pop();
        w.enc.get(idx);
        return Ok(());
    }
    let saved_hook = match &hook {
        Some(hook) => Some(hook.disable(w)?),
        None => None,
    };
    w.enc.reduce();
    w.memoize(cls);
    if let (Some(hook), Some(saved)) = (&hook, saved_hook) {
        hook.restore(w, saved)?;
    }
    replay(w, &later)?;
    resolve_identity(w, cls)
}

/// Replaces the rebuilt class on the stack with the class the loading process already
/// has under the same key, if any (see `brinery/_identity.py`), and memoizes that as
/// `cls` for everything after it: instances, enum members, later references.
fn resolve_identity<'py>(w: &mut Walker<'py>, cls: &Bound<'py, PyAny>) -> PyResult<()> {
    let identity = w.st.identity.bind(w.py).clone();
    let key = identity
        .getattr(pyo3::intern!(identity.py(), "key_for"))?
        .call1((cls,))?;
    if key.is_none() {
        return Ok(());
    }
    let rv = identity
        .getattr("lookup_reduction")?
        .call1((cls, key))?
        .cast_into::<PyTuple>()?;
    w.enc.pop();
    w.path.push(Seg::Item("class identity"));
    let r = w
        .save(&rv.get_item(0)?)
        .and_then(|_| w.save(&rv.get_item(1)?));
    w.path.pop();
    r?;
    w.enc.reduce();
    w.memoize(cls);
    Ok(())
}

fn replay<'py>(w: &mut Walker<'py>, later: &Bound<'py, PyAny>) -> PyResult<()> {
    for call in later.try_iter()? {
        let call = call?.cast_into::<PyTuple>()?;
        let func = call.get_item(0)?;
        let args = call.get_item(1)?;
        let label = call.get_item(2)?.extract::<String>()?;
        w.path.push(Seg::AttrName(label));
        let r = w.save(&func).and_then(|_| w.save(&args));
        w.path.pop();
        r?;
        w.enc.reduce();
        w.enc.pop();
    }
    Ok(())
}

/// A module: by reference when importable, else by value.
pub fn save_module<'py>(w: &mut Walker<'py>, m: &Bound<'py, PyAny>) -> PyResult<()> {
    let py = w.py;
    let name: String = m.getattr(pyo3::intern!(m.py(), "__name__"))?.extract()?;
    let importable = match w.st.sys_modules.bind(py).get_item(&name)? {
        Some(found) => found.is(m) && !w.opts.by_value.contains(&name),
        None => false,
    };
    if importable {
        save_named(w, w.st.import_module.bind(py), "importlib", "import_module");
        w.enc.tuple_begin(1);
        w.save(PyString::new(py, &name).as_any())?;
        w.enc.tuple_end(1);
        w.enc.reduce();
        w.memoize(m);
        return Ok(());
    }
    let d = m
        .getattr(pyo3::intern!(m.py(), "__dict__"))?
        .cast_into::<PyDict>()?;
    // Functions of this module met earlier already made the module (their globals).
    match super::namespace::module_of_globals(w, &d) {
        Some(idx) => {
            w.enc.get(idx);
            w.memo_alias(m, idx);
        }
        None => {
            save_named(w, w.st.module_type.bind(py), "types", "ModuleType");
            w.enc.tuple_begin(1);
            w.save(PyString::new(py, &name).as_any())?;
            w.enc.tuple_end(1);
            w.enc.reduce();
            w.memoize(m);
            super::namespace::module_namespace(w, m, &d, &name);
        }
    }
    // Over a copy: saving a value runs its reduction, which may change the namespace
    // (PyO3's iterator panics on a dict that changes size under it).
    for (k, v) in d.copy()?.iter() {
        let key: String = k.extract()?;
        if key == "__builtins__" || key == "__name__" || !super::namespace::mark_filled(w, &d, &key)
        {
            continue;
        }
        save_setattr(w, m, &k, &v, key)?;
    }
    Ok(())
}

/// `builtins.setattr(target, name, value)` then `POP`, with `value`'s errors at the
/// path `label`. `target` is memoized already, so it is written as a memo `GET`.
pub fn save_setattr<'py>(
    w: &mut Walker<'py>,
    target: &Bound<'py, PyAny>,
    name: &Bound<'py, PyAny>,
    value: &Bound<'py, PyAny>,
    label: String,
) -> PyResult<()> {
    let setattr = w.st.setattr.bind(w.py).clone();
    save_named(w, &setattr, "builtins", "setattr");
    w.enc.tuple_begin(3);
    w.save(target)?;
    w.save(name)?;
    w.path.push(Seg::AttrName(label));
    let r = w.save(value);
    w.path.pop();
    r?;
    w.enc.tuple_end(3);
    w.enc.reduce();
    w.enc.pop();
    Ok(())
}
