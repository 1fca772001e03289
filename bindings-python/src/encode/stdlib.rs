//! The standard-library objects the pickler names or consults, imported once per
//! interpreter: reconstruction callables (`types.FunctionType`, `types.CodeType`, ...),
//! `copyreg`'s tables and the `brinery` Python helpers. Not for per-dump state.

use std::sync::atomic::{AtomicU32, Ordering};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PySet, PyString};

/// Cached objects; fields are owned references valid for the interpreter's life.
pub struct Stdlib {
    pub copyreg_dispatch: Py<PyDict>,
    pub extension_registry: Py<PyDict>,
    pub codecs_encode: Py<PyAny>,
    /// `copyreg.__newobj__`, which `object.__reduce_ex__` returns for every plain instance.
    pub copyreg_newobj: Py<PyAny>,
    pub getattr: Py<PyAny>,
    pub setattr: Py<PyAny>,
    pub partial: Py<PyAny>,
    pub sys_modules: Py<PyDict>,
    pub import_module: Py<PyAny>,
    pub function_type: Py<PyAny>,
    pub code_type: Py<PyAny>,
    pub cell_type: Py<PyAny>,
    pub module_type: Py<PyAny>,
    pub pickle_buffer: Py<PyAny>,
    /// `io.IOBase`: only its instances can be standard streams worth naming early.
    pub io_base: Py<PyAny>,
    pub sys_implementation: Py<PyAny>,
    pub latin1: Py<PyString>,
    pub helpers: Py<PyAny>,
    /// `brinery._byvalue.BY_VALUE`, the set of registered module names (changed in
    /// place, never rebound): read on every dump, so kept rather than looked up.
    pub by_value: Py<PySet>,
    /// `brinery._identity`: registry keys of by-value classes.
    pub identity: Py<PyAny>,
    /// `brinery._byvalue.REDUCERS`, `STDLIB_NAMES`.
    pub reducers: Py<PyDict>,
    pub stdlib_names: Py<PyDict>,
    /// `brinery._byvalue.LATE_MODULES`: modules whose reductions are added to `reducers`
    /// once they are imported (by the program, never by brinery).
    late_modules: Vec<Py<PyString>>,
    /// Bit `i` set: the reductions of `late_modules[i]` are in `reducers`.
    late_done: AtomicU32,
    /// Opcodes that name globals (see `super::bytecode`).
    pub global_ops: super::bytecode::GlobalOps,
    pub cache_tag: String,
    pub version: String,
    /// This interpreter's `pickle` writes a nested name below protocol 4 as `getattr`
    /// calls on its top-level object written by name (3.13+), rather than on the
    /// parent saved as an object (3.11, 3.12): brinery writes what stock pickle writes.
    pub nested_names_from_toplevel: bool,
    /// Functions have `__type_params__` (PEP 695, 3.12+).
    pub functions_have_type_params: bool,
}

static STDLIB: PyOnceLock<Stdlib> = PyOnceLock::new();

/// The cached objects, importing them on first use.
pub fn get(py: Python<'_>) -> PyResult<&Stdlib> {
    STDLIB.get_or_try_init(py, || {
        let attr =
            |m: &str, a: &str| -> PyResult<Py<PyAny>> { Ok(py.import(m)?.getattr(a)?.unbind()) };
        let copyreg = py.import("copyreg")?;
        let helpers = py.import("brinery._byvalue")?;
        let sys = py.import("sys")?;
        let implementation = sys.getattr(pyo3::intern!(sys.py(), "implementation"))?;
        let vi = sys.getattr(pyo3::intern!(sys.py(), "version_info"))?;
        let version = format!(
            "{}.{}",
            vi.get_item(0)?.extract::<u32>()?,
            vi.get_item(1)?.extract::<u32>()?
        );
        Ok(Stdlib {
            copyreg_dispatch: copyreg
                .getattr(pyo3::intern!(copyreg.py(), "dispatch_table"))?
                .cast_into()?
                .unbind(),
            extension_registry: copyreg
                .getattr("_extension_registry")?
                .cast_into()?
                .unbind(),
            codecs_encode: attr("_codecs", "encode")?,
            getattr: attr("builtins", "getattr")?,
            copyreg_newobj: attr("copyreg", "__newobj__")?,
            setattr: attr("builtins", "setattr")?,
            partial: attr("functools", "partial")?,
            sys_modules: sys
                .getattr(pyo3::intern!(sys.py(), "modules"))?
                .cast_into()?
                .unbind(),
            import_module: attr("importlib", "import_module")?,
            function_type: attr("types", "FunctionType")?,
            code_type: attr("types", "CodeType")?,
            cell_type: attr("types", "CellType")?,
            module_type: attr("types", "ModuleType")?,
            pickle_buffer: attr("pickle", "PickleBuffer")?,
            functions_have_type_params: py
                .import("types")?
                .getattr("FunctionType")?
                .hasattr("__type_params__")?,
            nested_names_from_toplevel: py
                .import("pickle")?
                .getattr("_Pickler")?
                .hasattr("_save_toplevel_by_name")?,
            io_base: attr("io", "IOBase")?,
            cache_tag: implementation
                .getattr(pyo3::intern!(implementation.py(), "cache_tag"))?
                .extract()?,
            sys_implementation: implementation.unbind(),
            latin1: pyo3::intern!(py, "latin1").clone().unbind(),
            reducers: helpers
                .getattr(pyo3::intern!(helpers.py(), "REDUCERS"))?
                .cast_into()?
                .unbind(),
            stdlib_names: helpers
                .getattr(pyo3::intern!(helpers.py(), "STDLIB_NAMES"))?
                .cast_into()?
                .unbind(),
            late_modules: helpers
                .getattr(pyo3::intern!(helpers.py(), "LATE_MODULES"))?
                .extract()?,
            late_done: AtomicU32::new(0),
            by_value: helpers
                .getattr("BY_VALUE")?
                .cast_into::<PySet>()
                .map_err(PyErr::from)?
                .unbind(),
            helpers: helpers.unbind().into_any(),
            identity: py.import("brinery._identity")?.unbind().into_any(),
            global_ops: super::bytecode::GlobalOps::new(py)?,
            version,
        })
    })
}

impl Stdlib {
    /// Adds the reductions of every late module imported since the last call; true when
    /// any were added (a lookup in `reducers` that missed is then worth repeating). Costs
    /// a `sys.modules` lookup per module still pending, and nothing once all are in.
    pub fn add_late_reducers(&self, py: Python<'_>) -> PyResult<bool> {
        let done = self.late_done.load(Ordering::Relaxed);
        let all = (1u32 << self.late_modules.len()) - 1;
        if done == all {
            return Ok(false);
        }
        let modules = self.sys_modules.bind(py);
        let mut added = false;
        for (i, name) in self.late_modules.iter().enumerate() {
            let bit = 1u32 << i;
            if done & bit == 0 && modules.contains(name.bind(py))? {
                self.helpers
                    .bind(py)
                    .call_method1("add_late_reducers", (name.bind(py),))?;
                self.late_done.fetch_or(bit, Ordering::Relaxed);
                added = true;
            }
        }
        Ok(added)
    }
}
