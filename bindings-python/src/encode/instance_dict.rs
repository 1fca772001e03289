//! The `__dict__` of an instance whose type inherits its reduction from a type written
//! in C (an `ndarray`, `datetime` or `Decimal` subclass with attributes of its own).
//! The C type's `__reduce__` knows nothing of the subclass's attributes, so `pickle`
//! and cloudpickle lose them; brinery sets them back after the object is rebuilt, with
//! `builtins.setattr(obj, name, value)` calls (each followed by `POP`).
//!
//! Not for types whose own Python code defines the reduction: what it leaves out it
//! leaves out on purpose (a cache, a lock). Not in fast mode, where the object has no
//! memo entry to refer back to.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::walker::Walker;

/// True when instances of `tp` reduce through a C base type's `__reduce_ex__` or
/// `__reduce__` (other than `object`'s, which keeps `__dict__`). Asked once per type per
/// dump.
pub fn forgotten_by_reduction<'py>(w: &mut Walker<'py>, tp: &Bound<'py, PyAny>) -> PyResult<bool> {
    let key = tp.as_ptr() as usize;
    if let Some(v) = w.dict_outside_reduction.get(&key) {
        return Ok(*v);
    }
    let v =
        w.st.helpers
            .bind(w.py)
            .getattr("reduction_forgets_dict")?
            .call1((tp,))?
            .is_truthy()?;
    w.dict_outside_reduction.insert(key, v);
    w.keep_alive(tp);
    Ok(v)
}

/// After `obj` was saved with the reduction `rv`: its `__dict__` items, unless the
/// reduction's state carries a dict already.
pub fn restore<'py>(
    w: &mut Walker<'py>,
    obj: &Bound<'py, PyAny>,
    rv: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let Ok(d) = obj.getattr(pyo3::intern!(obj.py(), "__dict__")) else {
        return Ok(());
    };
    let Ok(d) = d.cast_into::<PyDict>() else {
        return Ok(());
    };
    if d.is_empty() {
        return Ok(());
    }
    if let Ok(rv) = rv.cast::<PyTuple>() {
        if rv.len() > 2 && carries_dict(&rv.get_item(2)?) {
            return Ok(());
        }
    }
    if w.memo_get(obj).is_none() {
        return Ok(());
    }
    // Over a copy: saving a value may change the instance's `__dict__`.
    for (k, v) in d.copy()?.iter() {
        let label = k.str()?.to_string();
        super::class::save_setattr(w, obj, &k, &v, label)?;
    }
    Ok(())
}

/// A state that is a dict, or a tuple holding one (`(dict, slots)`, or a C type's own
/// layout such as `functools.partial`'s `(func, args, kwds, dict)`).
fn carries_dict(state: &Bound<'_, PyAny>) -> bool {
    if state.is_instance_of::<PyDict>() {
        return true;
    }
    match state.cast::<PyTuple>() {
        Ok(t) => t.iter().any(|i| i.is_instance_of::<PyDict>()),
        _ => false,
    }
}
