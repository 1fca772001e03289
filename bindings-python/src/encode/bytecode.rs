//! Which global names a code object uses, read from its bytecode: the operands of
//! `LOAD_GLOBAL`, `STORE_GLOBAL` and `DELETE_GLOBAL` (with `EXTENDED_ARG` prefixes).
//! `co_names` alone also lists attribute and imported names (`sys.exit` puts `exit`
//! there), which would drag unrelated module globals into a stream. Opcode numbers
//! come from `opcode.opmap` of the running interpreter (`dis` costs 7 ms to import).
//! Not for nested code objects: the caller walks `co_consts`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

/// The opcode numbers that name globals, for the running interpreter.
pub struct GlobalOps {
    extended_arg: u8,
    load_global: u8,
    store_global: u8,
    delete_global: u8,
    /// Since 3.11 `LOAD_GLOBAL`'s operand is the name index shifted left by one (the low
    /// bit says whether to push a NULL first).
    load_global_shift: u32,
}

impl GlobalOps {
    pub fn new(py: Python<'_>) -> PyResult<Self> {
        let opmap = py.import("opcode")?.getattr("opmap")?;
        let op = |name: &str| -> PyResult<u8> { opmap.get_item(name)?.extract() };
        let minor: u32 = py
            .import("sys")?
            .getattr("version_info")?
            .get_item(1)?
            .extract()?;
        Ok(GlobalOps {
            extended_arg: op("EXTENDED_ARG")?,
            load_global: op("LOAD_GLOBAL")?,
            store_global: op("STORE_GLOBAL")?,
            delete_global: op("DELETE_GLOBAL")?,
            load_global_shift: u32::from(minor >= 11),
        })
    }

    /// Calls `found` with each global name `code` itself uses, in bytecode order
    /// (repeats included).
    pub fn for_each_global<'py>(
        &self,
        code: &Bound<'py, PyAny>,
        mut found: impl FnMut(Bound<'py, PyString>) -> PyResult<()>,
    ) -> PyResult<()> {
        let bytes = code
            .getattr(pyo3::intern!(code.py(), "co_code"))?
            .cast_into::<PyBytes>()?;
        let names = code
            .getattr(pyo3::intern!(code.py(), "co_names"))?
            .cast_into::<PyTuple>()?;
        let mut ext: u32 = 0;
        for unit in bytes.as_bytes().chunks_exact(2) {
            let (op, arg) = (unit[0], u32::from(unit[1]) | ext);
            if op == self.extended_arg {
                ext = arg << 8;
                continue;
            }
            ext = 0;
            let index = if op == self.load_global {
                arg >> self.load_global_shift
            } else if op == self.store_global || op == self.delete_global {
                arg
            } else {
                continue;
            };
            if let Ok(name) = names.get_item(index as usize) {
                found(name.cast_into::<PyString>()?)?;
            }
        }
        Ok(())
    }
}
