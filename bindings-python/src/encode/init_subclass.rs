//! A base's `__init_subclass__` switched off while a by-value class is rebuilt.
//!
//! `type.__new__` always calls the hook of the first base that defines one. When the
//! class statement passed keywords the hook needs (`class CsvReader(Base, kind='csv')`),
//! they are gone (Python keeps no record of them), and when the base is stored by value
//! in the same stream what the hook did (a registry entry) is in the stream already. For
//! those, the stream brackets the one `REDUCE` that makes the class:
//!
//! 1. `inspect.getattr_static(owner, '__init_subclass__')`, memoized: the hook the owner
//!    has *when the stream loads* (the loading process's own, for a class it already has);
//! 2. `builtins.setattr(owner, '__init_subclass__', dict)`: `dict()` does nothing;
//! 3. the class is made;
//! 4. `builtins.setattr(owner, '__init_subclass__', <1>)`.
//!
//! Nothing that could save other objects runs between 1 and 4, so no other class is made
//! while the stand-in is in place and none is left behind. Not for `__set_name__`, which
//! `type.__new__` calls only for the creation namespace (it holds no descriptors).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::class::wants_by_value;
use super::function::save_named;
use super::walker::Walker;

/// The owner of a hook that must not run while a class is rebuilt.
pub struct SkippedHook<'py> {
    owner: Bound<'py, PyAny>,
}

/// The memo index of the hook captured at load time (step 1).
pub struct SavedHook(u32);

impl<'py> SkippedHook<'py> {
    /// The hook to skip for a class whose `__init_subclass__` comes from `owner` (None:
    /// `object`'s or one that must run). A by-value owner's is always skipped; an
    /// importable owner's runs when it needs no class keywords, as for any new subclass
    /// in the loading process.
    pub fn find(
        w: &Walker<'py>,
        owner: &Bound<'py, PyAny>,
        needs_keywords: bool,
    ) -> PyResult<Option<Self>> {
        if owner.is_none() {
            return Ok(None);
        }
        if !needs_keywords && !wants_by_value(w, owner)? {
            return Ok(None);
        }
        Ok(Some(SkippedHook {
            owner: owner.clone(),
        }))
    }

    fn set_hook(
        &self,
        w: &mut Walker<'py>,
        value: impl FnOnce(&mut Walker<'py>) -> PyResult<()>,
    ) -> PyResult<()> {
        let py = w.py;
        save_named(w, w.st.setattr.bind(py), "builtins", "setattr");
        w.enc.tuple_begin(3);
        w.save(&self.owner)?;
        w.save(pyo3::intern!(py, "__init_subclass__").clone().as_any())?;
        value(w)?;
        w.enc.tuple_end(3);
        w.enc.reduce();
        w.enc.pop();
        Ok(())
    }

    /// Steps 1 and 2, with the class's callable and arguments on the stack. The owner is
    /// one of the class's bases or their ancestors, all saved (memoized) by now.
    pub fn disable(&self, w: &mut Walker<'py>) -> PyResult<SavedHook> {
        let py = w.py;
        let getattr_static = py.import("inspect")?.getattr("getattr_static")?;
        save_named(w, &getattr_static, "inspect", "getattr_static");
        w.enc.tuple_begin(2);
        w.save(&self.owner)?;
        w.save(pyo3::intern!(py, "__init_subclass__").clone().as_any())?;
        w.enc.tuple_end(2);
        w.enc.reduce();
        let idx = w.enc.memoize();
        w.enc.pop();
        let noop = py.get_type::<PyDict>().into_any();
        self.set_hook(w, |w| w.save(&noop))?;
        Ok(SavedHook(idx))
    }

    /// Step 4, with the new class on the stack.
    pub fn restore(&self, w: &mut Walker<'py>, saved: SavedHook) -> PyResult<()> {
        self.set_hook(w, |w| {
            w.enc.get(saved.0);
            Ok(())
        })
    }
}
