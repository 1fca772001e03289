//! Functions stored by value, with code objects and cells, built only from standard-library
//! callables: `types.FunctionType(code, globals, name, None, (empty cells...))`, then the
//! function's attributes through `BUILD (None, {attr: value})` (which `setattr`s them),
//! then the cells filled the same way, then the globals the code uses. Creating the
//! function and its cells before anything that may refer back to them is what makes
//! closures with cycles (recursion, mutual recursion, `__class__`) load correctly. The
//! globals dicts, shared between functions and with modules stored by value, are
//! [`super::namespace`]'s. Not for classes or modules: see [`super::class`].

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use rustc_hash::{FxHashMap, FxHashSet};

use super::namespace::{self, GlobalsEntry};
use super::path::Seg;
use super::walker::Walker;

/// Per-dump bookkeeping for by-value functions.
#[derive(Default)]
pub struct FunctionState<'py> {
    version_checked: bool,
    /// Real globals dict (by id) -> the stand-in object memoized for its rebuilt dict,
    /// the module name, and the names already filled.
    pub(super) globals: FxHashMap<usize, GlobalsEntry<'py>>,
    /// Code object (by id) -> global names its code (and nested code) reads.
    names: FxHashMap<usize, Vec<Bound<'py, PyString>>>,
    /// Submodules already imported by this stream (see `super::submodules`).
    pub submodules: FxHashSet<String>,
    /// (code object id, package) -> the submodules that code reaches in the package.
    pub reached_submodules: FxHashMap<(usize, String), Vec<String>>,
    /// Package -> its submodules in `sys.modules`, read once per dump.
    pub package_submodules: FxHashMap<String, Vec<String>>,
}

const CODE_ARGS: [&str; 18] = [
    "co_argcount",
    "co_posonlyargcount",
    "co_kwonlyargcount",
    "co_nlocals",
    "co_stacksize",
    "co_flags",
    "co_code",
    "co_consts",
    "co_names",
    "co_varnames",
    "co_filename",
    "co_name",
    "co_qualname",
    "co_firstlineno",
    "co_linetable",
    "co_exceptiontable",
    "co_freevars",
    "co_cellvars",
];

/// The string arguments of `CodeType` that the compiler interns and a loaded code object
/// may not have interned.
const NAME_ARGS: [&str; 3] = ["co_filename", "co_name", "co_qualname"];

/// Writes a reference to a standard-library object under the name given (its own
/// `__qualname__` may not be importable, e.g. `types.FunctionType` is `function`).
pub fn save_named<'py>(w: &mut Walker<'py>, obj: &Bound<'py, PyAny>, module: &str, name: &str) {
    if w.try_get(obj) {
        return;
    }
    w.enc.global(module, name);
    w.memoize(obj);
}

/// Before the first code object: a call that fails on another Python minor version
/// with a message naming the one the stream needs and the one loading it. It runs
/// `importlib.import_module({tag: 'sys'}.get(tag_here, msg.format(tag_here)))` with
/// `tag_here = sys.implementation.cache_tag` (the message has no dots: it is the name
/// of the module that is not found).
fn version_check(w: &mut Walker<'_>) -> PyResult<()> {
    if w.fns.version_checked {
        return Ok(());
    }
    w.fns.version_checked = true;
    let py = w.py;
    let st = w.st;
    let msg = format!(
        "this brinery stream holds code for {tag} (Python {v}) and cannot run on {{}}; \
         load it with Python {v}",
        v = st.version.replace('.', " minor "),
        tag = st.cache_tag
    );
    let table = PyDict::new(py);
    table.set_item(&st.cache_tag, "sys")?;
    save_named(w, st.import_module.bind(py), "importlib", "import_module");
    w.enc.tuple_begin(1);
    save_named(w, st.getattr.bind(py), "builtins", "getattr");
    w.enc.tuple_begin(2);
    w.save(table.as_any())?;
    w.save(PyString::new(py, "get").as_any())?;
    w.enc.tuple_end(2);
    w.enc.reduce();
    w.enc.tuple_begin(2);
    save_named(w, st.getattr.bind(py), "builtins", "getattr");
    w.enc.tuple_begin(2);
    save_named(w, st.sys_implementation.bind(py), "sys", "implementation");
    w.save(PyString::new(py, "cache_tag").as_any())?;
    w.enc.tuple_end(2);
    w.enc.reduce();
    let cache_tag_memo = w.enc.memoize();
    // msg.format(cache_tag)
    save_named(w, st.getattr.bind(py), "builtins", "getattr");
    w.enc.tuple_begin(2);
    w.save(PyString::new(py, &msg).as_any())?;
    w.save(PyString::new(py, "format").as_any())?;
    w.enc.tuple_end(2);
    w.enc.reduce();
    w.enc.tuple_begin(1);
    w.enc.get(cache_tag_memo);
    w.enc.tuple_end(1);
    w.enc.reduce();
    w.enc.tuple_end(2);
    w.enc.reduce();
    w.enc.tuple_end(1);
    w.enc.reduce();
    w.enc.pop();
    Ok(())
}

/// A code object: `types.CodeType(*args)` in this interpreter's argument order.
pub fn save_code<'py>(w: &mut Walker<'py>, code: &Bound<'py, PyAny>) -> PyResult<()> {
    if w.opts.cross_version {
        return save_code_cross_version(w, code);
    }
    version_check(w)?;
    let py = w.py;
    save_named(w, w.st.code_type.bind(py), "types", "CodeType");
    let mut args = Vec::with_capacity(CODE_ARGS.len());
    for a in CODE_ARGS {
        let v = code.getattr(a)?;
        // The interned copy: whether a name is the same object as an equal attribute
        // name (memoized once) must not depend on whether this code was compiled here
        // or loaded from a stream, or re-dumping a loaded class changes its bytes.
        match v.cast::<PyString>() {
            Ok(s) if NAME_ARGS.contains(&a) => args.push(intern(py, &s.to_cow()?).into_any()),
            _ => args.push(v),
        }
    }
    let args = PyTuple::new(py, args)?;
    let sort = std::mem::replace(&mut w.sort_sets, true);
    w.path.push(Seg::Attr("co_consts"));
    let r = w.save(args.as_any());
    w.path.pop();
    w.sort_sets = sort;
    r?;
    w.enc.reduce();
    w.memoize(code);
    Ok(())
}

/// A code object of a `cross_version` stream: the reduction
/// `brinery._cross_version.code_reduction` makes of it, which gives the code on any
/// supported CPython (its bytecode where it was written, else its compiled source).
fn save_code_cross_version<'py>(w: &mut Walker<'py>, code: &Bound<'py, PyAny>) -> PyResult<()> {
    let reduction =
        w.py.import("brinery._cross_version")?
            .getattr("code_reduction")?
            .call1((code,))?;
    w.save(&reduction)?;
    w.memoize(code);
    Ok(())
}

fn emit_empty_cell<'py>(w: &mut Walker<'py>, cell: &Bound<'py, PyAny>) {
    let py = w.py;
    save_named(w, w.st.cell_type.bind(py), "types", "CellType");
    w.enc.tuple_begin(0);
    w.enc.tuple_end(0);
    w.enc.reduce();
    w.memoize(cell);
}

/// `BUILD (None, {name: value, ...})` on the object on top of the stack.
fn build_attrs<'py>(
    w: &mut Walker<'py>,
    attrs: &[(Bound<'py, PyString>, Bound<'py, PyAny>)],
) -> PyResult<()> {
    if attrs.is_empty() {
        return Ok(());
    }
    w.enc.tuple_begin(2);
    w.enc.none();
    w.enc.empty_dict();
    let proto = w.enc.protocol();
    if proto >= 1 && attrs.len() > 1 {
        w.enc.mark();
    }
    for (k, v) in attrs {
        w.save(k.as_any())?;
        // A cell's contents are the cell itself in paths: `__closure__[0]`.
        let named = k.to_cow()? != "cell_contents";
        if named {
            w.path.push(Seg::AttrName(k.to_string()));
        }
        let r = w.save(v);
        if named {
            w.path.pop();
        }
        r?;
        if proto == 0 || attrs.len() == 1 {
            w.enc.setitem();
        }
    }
    if proto >= 1 && attrs.len() > 1 {
        w.enc.setitems();
    }
    w.enc.tuple_end(2);
    w.enc.build();
    Ok(())
}

fn fill_cell<'py>(
    w: &mut Walker<'py>,
    cell: &Bound<'py, PyAny>,
    value: Bound<'py, PyAny>,
) -> PyResult<()> {
    let idx = w.memo_index(cell)?;
    w.enc.get(idx);
    let key = PyString::intern(w.py, "cell_contents");
    build_attrs(w, &[(key, value)])?;
    w.enc.pop();
    Ok(())
}

/// A cell met on its own: an empty cell, then its contents.
pub fn save_cell<'py>(w: &mut Walker<'py>, cell: &Bound<'py, PyAny>) -> PyResult<()> {
    emit_empty_cell(w, cell);
    if let Ok(v) = cell.getattr(pyo3::intern!(cell.py(), "cell_contents")) {
        let key = PyString::intern(w.py, "cell_contents");
        build_attrs(w, &[(key, v)])?;
    }
    Ok(())
}

/// Global names read by `code` and the code objects nested in it, in first-use order.
fn code_names<'py>(
    w: &mut Walker<'py>,
    code: &Bound<'py, PyAny>,
) -> PyResult<Vec<Bound<'py, PyString>>> {
    let id = code.as_ptr() as usize;
    if let Some(n) = w.fns.names.get(&id) {
        return Ok(n.clone());
    }
    let mut out: Vec<Bound<'py, PyString>> = Vec::new();
    let mut seen = FxHashSet::default();
    let mut stack = vec![code.clone()];
    let code_type = w.st.code_type.bind(w.py).clone();
    while let Some(c) = stack.pop() {
        w.st.global_ops.for_each_global(&c, |s| {
            if seen.insert(s.to_cow()?.into_owned()) {
                out.push(s);
            }
            Ok(())
        })?;
        let consts = c
            .getattr(pyo3::intern!(c.py(), "co_consts"))?
            .cast_into::<PyTuple>()?;
        for k in consts.iter().rev() {
            if k.get_type().is(&code_type) {
                stack.push(k);
            }
        }
    }
    w.fns.names.insert(id, out.clone());
    w.keep_alive(code);
    Ok(out)
}

fn intern<'py>(py: Python<'py>, s: &str) -> Bound<'py, PyString> {
    PyString::intern(py, s)
}

/// A function by value. See the module docs for the opcode sequence.
pub fn save_function<'py>(w: &mut Walker<'py>, f: &Bound<'py, PyAny>) -> PyResult<()> {
    let py = w.py;
    let code = f.getattr(pyo3::intern!(f.py(), "__code__"))?;
    let globals = f
        .getattr(pyo3::intern!(f.py(), "__globals__"))?
        .cast_into::<PyDict>()?;
    let closure = f.getattr(pyo3::intern!(f.py(), "__closure__"))?;

    save_named(w, w.st.function_type.bind(py), "types", "FunctionType");
    w.enc.tuple_begin(5);
    w.path.push(Seg::Attr("__code__"));
    w.save(&code)?;
    w.path.pop();
    namespace::save_globals(w, &globals)?;
    // Interned, as the code's names are (see `save_code`).
    let name = f.getattr(pyo3::intern!(f.py(), "__name__"))?;
    match name.cast::<PyString>() {
        Ok(s) => w.save(intern(py, &s.to_cow()?).as_any())?,
        Err(_) => w.save(&name)?,
    }
    w.enc.none();
    let mut pending_cells = Vec::new();
    if closure.is_none() {
        w.enc.none();
    } else {
        let cells = closure.cast::<PyTuple>()?;
        w.enc.tuple_begin(cells.len());
        for cell in cells.iter() {
            if w.try_get(&cell) {
                continue;
            }
            emit_empty_cell(w, &cell);
            pending_cells.push(cell);
        }
        w.enc.tuple_end(cells.len());
    }
    w.enc.tuple_end(5);
    w.enc.reduce();
    w.memoize(f);

    // Attributes, set by BUILD's setattr path.
    let mut attrs: Vec<(Bound<'py, PyString>, Bound<'py, PyAny>)> = Vec::with_capacity(6);
    // The code's own `co_qualname` object when equal: a new function shares it, and a
    // loaded one (whose code object may hold an interned copy, 3.13) then dumps to the
    // same bytes as the original.
    let mut qualname = f.getattr(pyo3::intern!(f.py(), "__qualname__"))?;
    let co_qualname = code.getattr(pyo3::intern!(py, "co_qualname"))?;
    if !co_qualname.is(&qualname) && co_qualname.eq(&qualname)? {
        qualname = co_qualname;
    }
    attrs.push((pyo3::intern!(py, "__qualname__").clone(), qualname));
    attrs.push((
        pyo3::intern!(py, "__module__").clone(),
        f.getattr(pyo3::intern!(f.py(), "__module__"))?,
    ));
    for name in ["__doc__", "__defaults__", "__kwdefaults__"] {
        let v = f.getattr(name)?;
        if !v.is_none() {
            attrs.push((intern(py, name), v));
        }
    }
    // PEP 695 (`def f[T]()`, 3.12+): the parameters, where the interpreter has them.
    if w.st.functions_have_type_params {
        let params = f.getattr(pyo3::intern!(f.py(), "__type_params__"))?;
        if params.len()? > 0 {
            attrs.push((pyo3::intern!(py, "__type_params__").clone(), params));
        }
    }
    let ann = f.getattr(pyo3::intern!(f.py(), "__annotations__"))?;
    if ann.len()? > 0 {
        attrs.push((pyo3::intern!(py, "__annotations__").clone(), ann));
    }
    let fdict = f
        .getattr(pyo3::intern!(f.py(), "__dict__"))?
        .cast_into::<PyDict>()?;
    for (k, v) in fdict.iter() {
        if let Ok(k) = k.cast_into::<PyString>() {
            // Interned for the reason `brinery._byvalue._interned` gives.
            let v = match v.cast_exact::<PyString>() {
                Ok(s) => intern(py, &s.to_cow()?).into_any(),
                Err(_) => v,
            };
            attrs.push((k, v));
        }
    }
    build_attrs(w, &attrs)?;

    // Cells, now that the function exists.
    let mut held: Vec<Bound<'py, PyAny>> = Vec::new();
    if let Ok(cells) = closure.cast::<PyTuple>() {
        held.extend(
            cells
                .iter()
                .filter_map(|c| c.getattr(pyo3::intern!(c.py(), "cell_contents")).ok()),
        );
    }
    for (i, cell) in pending_cells.iter().enumerate() {
        if let Ok(v) = cell.getattr(pyo3::intern!(cell.py(), "cell_contents")) {
            w.path.push(Seg::Attr("__closure__"));
            w.path.push(Seg::Index(i));
            fill_cell(w, cell, v)?;
            w.path.pop();
            w.path.pop();
        }
    }

    // Globals the code reads, not yet filled.
    let names = code_names(w, &code)?;
    namespace::fill_read(w, &globals, names, &mut held)?;
    super::submodules::import_submodules(w, &code, &held)
}
