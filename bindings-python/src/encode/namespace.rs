//! The globals dicts of functions stored by value. All by-value functions that shared one
//! globals dict share one rebuilt dict, created once (or, with `namespaces=True`,
//! fetched through the persistent id `("brinery.ns", module)`) and filled after the
//! functions exist, with only the names their code reads. When that dict is the
//! namespace of a module stored by value, it is rebuilt as the dict of the rebuilt module
//! (`builtins.getattr(types.ModuleType(name), '__dict__')`), so the module and its
//! functions share it as in the original. Not for the functions themselves: see
//! [`super::function`].

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use rustc_hash::FxHashSet;

use super::function::{save_named, FunctionState};
use super::path::Seg;
use super::walker::Walker;

/// One real globals dict and its rebuilt stand-in in the stream.
pub(super) struct GlobalsEntry<'py> {
    /// Memoized as the rebuilt dict once it is in the stream.
    standin: Bound<'py, PyAny>,
    module: String,
    filled: FxHashSet<String>,
    /// When the dict is a by-value module's namespace: the object memoized as the rebuilt
    /// module (the module itself, or a stand-in when a function came first).
    module_obj: Option<Bound<'py, PyAny>>,
    _real: Bound<'py, PyDict>,
}

/// The globals bookkeeping of a pickler's earlier `dump()` calls, kept with its memo (the
/// stand-ins are memoized there), so functions dumped later share the dicts rebuilt
/// earlier, as cloudpickle's pickler does.
#[derive(Default)]
pub struct SavedGlobals(Vec<(usize, SavedEntry)>);

impl SavedGlobals {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

struct SavedEntry {
    standin: Py<PyAny>,
    module: String,
    filled: FxHashSet<String>,
    module_obj: Option<Py<PyAny>>,
    real: Py<PyDict>,
}

impl<'py> FunctionState<'py> {
    /// Takes the globals bookkeeping out at the end of a dump.
    pub fn take_globals(&mut self) -> SavedGlobals {
        let entries = std::mem::take(&mut self.globals).into_iter();
        SavedGlobals(
            entries
                .map(|(gid, e)| {
                    let saved = SavedEntry {
                        standin: e.standin.unbind(),
                        module: e.module,
                        filled: e.filled,
                        module_obj: e.module_obj.map(Bound::unbind),
                        real: e._real.unbind(),
                    };
                    (gid, saved)
                })
                .collect(),
        )
    }

    /// Puts back what [`FunctionState::take_globals`] took, before a dump.
    pub fn put_globals(&mut self, py: Python<'py>, saved: SavedGlobals) {
        for (gid, e) in saved.0 {
            let entry = GlobalsEntry {
                standin: e.standin.into_bound(py),
                module: e.module,
                filled: e.filled,
                module_obj: e.module_obj.map(|m| m.into_bound(py)),
                _real: e.real.into_bound(py),
            };
            self.globals.insert(gid, entry);
        }
    }
}

/// Sets, in the rebuilt dict of `globals`, the `names` a function's code reads that are
/// not set there yet; every value found is also pushed to `held`.
pub(super) fn fill_read<'py>(
    w: &mut Walker<'py>,
    globals: &Bound<'py, PyDict>,
    names: Vec<Bound<'py, PyString>>,
    held: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<()> {
    let gid = globals.as_ptr() as usize;
    let mut todo: Vec<(Bound<'py, PyString>, Bound<'py, PyAny>)> = Vec::new();
    {
        let entry = w
            .fns
            .globals
            .get_mut(&gid)
            .expect("save_globals came first");
        for n in names {
            let Some(v) = globals.get_item(&n)? else {
                continue;
            };
            held.push(v.clone());
            let key = n.to_cow()?.into_owned();
            if !entry.filled.contains(&key) {
                entry.filled.insert(key);
                todo.push((n, v));
            }
        }
    }
    if !todo.is_empty() {
        fill_globals(w, gid, &todo)?;
    }
    Ok(())
}

/// True when a function's globals `dict` (of module `name`) is the namespace of a
/// module stored by value, so it is rebuilt as that module's dict.
fn module_backed<'py>(w: &Walker<'py>, dict: &Bound<'py, PyDict>, name: &str) -> PyResult<bool> {
    if name == "__main__" || name == "__mp_main__" {
        return Ok(false);
    }
    // Every module's dict has `__spec__`; a namespace rebuilt from an earlier stream
    // (a function loaded, then dumped again) has only what its functions read.
    if !dict.contains("__spec__")? {
        return Ok(false);
    }
    let Some(m) = w.st.sys_modules.bind(w.py).get_item(name)? else {
        return Ok(true);
    };
    let own = match m.getattr(pyo3::intern!(m.py(), "__dict__")) {
        Ok(d) => d.is(dict),
        Err(_) => false,
    };
    Ok(!own || super::class::registered_by_value(w, name))
}

/// `builtins.getattr(module, '__dict__')`, memoized as `standin`; `module` is the
/// memoized module, or (`Err`) the name of a new module to make, memoized as `m`.
fn write_module_dict<'py>(
    w: &mut Walker<'py>,
    module: Result<&Bound<'py, PyAny>, (&str, &Bound<'py, PyAny>)>,
    standin: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let py = w.py;
    save_named(w, w.st.getattr.bind(py), "builtins", "getattr");
    w.enc.tuple_begin(2);
    match module {
        Ok(m) => w.save(m)?,
        Err((name, m)) => {
            save_named(w, w.st.module_type.bind(py), "types", "ModuleType");
            w.enc.tuple_begin(1);
            w.save(PyString::new(py, name).as_any())?;
            w.enc.tuple_end(1);
            w.enc.reduce();
            w.memoize(m);
        }
    }
    w.save(pyo3::intern!(py, "__dict__").clone().as_any())?;
    w.enc.tuple_end(2);
    w.enc.reduce();
    w.memoize(standin);
    save_builtins_entry(w)?;
    w.enc.setitem();
    Ok(())
}

/// `'__builtins__', <module builtins>`: the interpreter finds builtins without it, but C
/// code that imports (`PyImport_Import`, e.g. in `datetime.strptime`) reads it from the
/// calling frame's globals.
fn save_builtins_entry(w: &mut Walker<'_>) -> PyResult<()> {
    let py = w.py;
    w.save(pyo3::intern!(py, "__builtins__").clone().as_any())?;
    w.save(py.import("builtins")?.as_any())
}

/// Writes the globals of a function: one rebuilt dict per real dict, memoized under its
/// stand-in object. A by-value module's namespace is rebuilt as the dict of a module
/// (`types.ModuleType(name)`), which that module, if it follows, is.
pub(super) fn save_globals<'py>(w: &mut Walker<'py>, globals: &Bound<'py, PyDict>) -> PyResult<()> {
    let py = w.py;
    let gid = globals.as_ptr() as usize;
    if let Some(entry) = w.fns.globals.get(&gid) {
        let (standin, module) = (entry.standin.clone(), entry.module_obj.clone());
        if w.try_get(&standin) {
            return Ok(());
        }
        // The module was saved by value first: its functions share its dict.
        let module = module.expect("only module namespaces start unwritten");
        return write_module_dict(w, Ok(&module), &standin);
    }
    let module: String = match globals.get_item("__name__")? {
        Some(n) => n.extract().unwrap_or_else(|_| "__main__".into()),
        None => "__main__".into(),
    };
    let standin = PyList::empty(py).into_any();
    let mut module_obj = None;
    let mut filled = FxHashSet::default();
    if w.opts.namespaces {
        let pid = PyTuple::new(
            py,
            [PyString::new(py, "brinery.ns"), PyString::new(py, &module)],
        )?;
        w.save_with(pid.as_any(), true)?;
        w.enc.binpersid();
        w.memoize(&standin);
    } else if module_backed(w, globals, &module)? {
        let m = PyList::empty(py).into_any();
        write_module_dict(w, Err((&module, &m)), &standin)?;
        module_obj = Some(m);
    } else {
        w.enc.empty_dict();
        w.enc.mark();
        w.save(pyo3::intern!(py, "__name__").clone().as_any())?;
        w.save(PyString::new(py, &module).as_any())?;
        // Relative imports in the code resolve against `__package__`.
        if let Some(package) = package_name(globals)? {
            w.save(pyo3::intern!(py, "__package__").clone().as_any())?;
            w.save(package.as_any())?;
            filled.insert("__package__".to_string());
        }
        save_builtins_entry(w)?;
        w.enc.setitems();
        w.memoize(&standin);
    }
    filled.insert("__name__".to_string());
    filled.insert("__builtins__".to_string());
    w.fns.globals.insert(
        gid,
        GlobalsEntry {
            standin,
            module,
            filled,
            module_obj,
            _real: globals.clone(),
        },
    );
    Ok(())
}

/// The package a globals dict's relative imports resolve against, when it has one.
fn package_name<'py>(globals: &Bound<'py, PyDict>) -> PyResult<Option<Bound<'py, PyString>>> {
    let Some(package) = globals.get_item("__package__")? else {
        return Ok(None);
    };
    match package.cast_into::<PyString>() {
        Ok(p) if !p.to_cow()?.is_empty() => Ok(Some(p)),
        _ => Ok(None),
    }
}

/// The memo index of the rebuilt module whose namespace is `dict`, when functions of
/// that module came first in the stream.
pub fn module_of_globals<'py>(w: &Walker<'py>, dict: &Bound<'py, PyDict>) -> Option<u32> {
    let entry = w.fns.globals.get(&(dict.as_ptr() as usize))?;
    w.memo_get(entry.module_obj.as_ref()?)
}

/// Registers module `m` (just memoized) as the owner of `dict`, so functions that come
/// later use its dict as their globals. Not with `namespaces`, where globals come from
/// the loader.
pub fn module_namespace<'py>(
    w: &mut Walker<'py>,
    m: &Bound<'py, PyAny>,
    dict: &Bound<'py, PyDict>,
    name: &str,
) {
    let gid = dict.as_ptr() as usize;
    if w.opts.namespaces || w.fns.globals.contains_key(&gid) {
        return;
    }
    let entry = GlobalsEntry {
        standin: PyList::empty(w.py).into_any(),
        module: name.to_owned(),
        filled: FxHashSet::default(),
        module_obj: Some(m.clone()),
        _real: dict.clone(),
    };
    w.fns.globals.insert(gid, entry);
}

/// Records that name `key` of `dict` is being set in the stream; false when it already
/// was (by a function that reads it), so it need not be set again.
pub fn mark_filled<'py>(w: &mut Walker<'py>, dict: &Bound<'py, PyDict>, key: &str) -> bool {
    match w.fns.globals.get_mut(&(dict.as_ptr() as usize)) {
        Some(entry) if entry.module_obj.is_some() => entry.filled.insert(key.to_owned()),
        _ => true,
    }
}

fn fill_globals<'py>(
    w: &mut Walker<'py>,
    gid: usize,
    items: &[(Bound<'py, PyString>, Bound<'py, PyAny>)],
) -> PyResult<()> {
    let py = w.py;
    let (standin, module) = {
        let e = &w.fns.globals[&gid];
        (e.standin.clone(), e.module.clone())
    };
    w.path.push(Seg::Attr("__globals__"));
    let r = if w.opts.namespaces {
        // ("brinery.fill", module, {name: value}), loaded after the functions exist.
        let d = PyDict::new(py);
        for (k, v) in items {
            d.set_item(k, v)?;
        }
        let pid = PyTuple::new(
            py,
            [
                PyString::new(py, "brinery.fill").into_any(),
                PyString::new(py, &module).into_any(),
                d.into_any(),
            ],
        )?;
        let r = w.save_with(pid.as_any(), true);
        w.enc.binpersid();
        w.enc.pop();
        r
    } else {
        let idx = w.memo_index(&standin)?;
        w.enc.get(idx);
        let proto = w.enc.protocol();
        let batch = proto >= 1 && items.len() > 1;
        if batch {
            w.enc.mark();
        }
        let mut r = Ok(());
        for (k, v) in items {
            w.save(k.as_any())?;
            w.path.push(Seg::Key(k.clone().into_any()));
            r = w.save(v);
            w.path.pop();
            if r.is_err() {
                break;
            }
            if !batch {
                w.enc.setitem();
            }
        }
        if batch {
            w.enc.setitems();
        }
        w.enc.pop();
        r
    };
    w.path.pop();
    r
}
