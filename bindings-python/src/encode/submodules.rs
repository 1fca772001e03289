//! Submodules that a by-value function reaches through attributes of a module it holds
//! (`xml.etree.ElementTree.Comment` with only `xml` as a global or closure value).
//! Loading the stream imports the package, not its submodules, so the stream also
//! imports each such submodule and drops the result
//! (`importlib.import_module('xml.etree.ElementTree')`, `POP`). A submodule counts when
//! it is loaded in this process and every part of its name after the package's is a
//! name the function's code uses (`co_names`, nested code included). Not for modules
//! stored by value: those carry their own attributes.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule, PyString, PyTuple};
use rustc_hash::FxHashSet;

use super::function::save_named;
use super::walker::Walker;

/// Writes the imports of the submodules `code` reaches through the modules in `values`
/// (the function's globals and closure contents), each once per stream.
pub fn import_submodules<'py>(
    w: &mut Walker<'py>,
    code: &Bound<'py, PyAny>,
    values: &[Bound<'py, PyAny>],
) -> PyResult<()> {
    let py = w.py;
    let modules = w.st.sys_modules.bind(py).clone();
    let mut packages = Vec::new();
    for v in values {
        if !v.is_instance_of::<PyModule>() {
            continue;
        }
        let Ok(name) = v
            .getattr(pyo3::intern!(v.py(), "__name__"))
            .and_then(|n| n.extract::<String>())
        else {
            continue;
        };
        if modules.get_item(&name)?.is_some_and(|m| m.is(v)) {
            packages.push(name);
        }
    }
    let id = code.as_ptr() as usize;
    let mut wanted = Vec::new();
    for p in packages {
        let key = (id, p);
        if !w.fns.reached_submodules.contains_key(&key) {
            if !w.fns.package_submodules.contains_key(&key.1) {
                let loaded = loaded_submodules(&modules, &key.1)?;
                w.fns.package_submodules.insert(key.1.clone(), loaded);
            }
            let reached = reached_submodules(w, code, &key.1)?;
            w.keep_alive(code);
            w.fns.reached_submodules.insert(key.clone(), reached);
        }
        wanted.extend(
            w.fns.reached_submodules[&key]
                .iter()
                .filter(|name| !w.fns.submodules.contains(*name))
                .cloned(),
        );
    }
    wanted.sort();
    wanted.dedup();
    let import_module = w.st.import_module.bind(py).clone();
    for name in wanted {
        save_named(w, &import_module, "importlib", "import_module");
        w.enc.tuple_begin(1);
        w.save(PyString::new(py, &name).as_any())?;
        w.enc.tuple_end(1);
        w.enc.reduce();
        w.enc.pop();
        w.fns.submodules.insert(name);
    }
    Ok(())
}

/// The submodules of `package` in `sys.modules`, read once per dump.
fn loaded_submodules(modules: &Bound<'_, PyDict>, package: &str) -> PyResult<Vec<String>> {
    let prefix = format!("{package}.");
    let mut loaded = Vec::new();
    for (key, module) in modules.copy()?.iter() {
        // `None` entries mark imports known to fail; importing them would fail the load.
        if !module.is_instance_of::<PyModule>() {
            continue;
        }
        if let Ok(key) = key.extract::<String>() {
            if key.starts_with(&prefix) {
                loaded.push(key);
            }
        }
    }
    Ok(loaded)
}

/// Which of the loaded submodules of `package` `code` reaches by attribute.
fn reached_submodules<'py>(
    w: &Walker<'py>,
    code: &Bound<'py, PyAny>,
    package: &str,
) -> PyResult<Vec<String>> {
    let loaded = &w.fns.package_submodules[package];
    if loaded.is_empty() {
        return Ok(Vec::new());
    }
    let used = attribute_names(w, code)?;
    let skip = package.len() + 1;
    Ok(loaded
        .iter()
        .filter(|name| name[skip..].split('.').all(|part| used.contains(part)))
        .cloned()
        .collect())
}

/// Every name in `co_names` of `code` and the code objects nested in it.
fn attribute_names<'py>(w: &Walker<'py>, code: &Bound<'py, PyAny>) -> PyResult<FxHashSet<String>> {
    let code_type = w.st.code_type.bind(w.py);
    let mut out = FxHashSet::default();
    let mut stack = vec![code.clone()];
    while let Some(c) = stack.pop() {
        for n in c
            .getattr(pyo3::intern!(c.py(), "co_names"))?
            .cast_into::<PyTuple>()?
            .iter()
        {
            out.insert(n.extract::<String>()?);
        }
        for k in c
            .getattr(pyo3::intern!(c.py(), "co_consts"))?
            .cast_into::<PyTuple>()?
            .iter()
        {
            if k.get_type().is(code_type) {
                stack.push(k);
            }
        }
    }
    Ok(out)
}
