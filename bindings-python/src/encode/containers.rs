//! The walker's containers: tuples, lists, dicts, sets and frozensets, with the
//! `MARK ... APPENDS`/`SETITEMS`/`ADDITEMS` runs of `_pickle.c`'s batching loops (the
//! exact-type loops, and the iterator loops that list and dict subclasses and the items of
//! a `__reduce__` tuple take), the `set(list)` reductions below protocol 4, and the
//! recursive-tuple form. Each item is saved through [`Walker::save`]; the object path
//! records the index or key. Not for the memo: see [`super::walker`] and [`super::memo`].

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::path::Seg;
use super::walker::Walker;
use crate::error;

/// How many items go between one `MARK` and its `APPENDS`/`SETITEMS`/`ADDITEMS`.
pub const BATCHSIZE: usize = 1000;

impl<'py> Walker<'py> {
    pub(super) fn save_tuple(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let t = obj.cast::<PyTuple>()?;
        let n = t.len();
        if n == 0 {
            self.enc.tuple_begin(0);
            self.enc.tuple_end(0);
            return Ok(());
        }
        self.enc.tuple_begin(n);
        self.path.push(Seg::Index(0));
        for i in 0..n {
            self.path.set_top_index(i);
            // SAFETY: i < len of an immutable tuple.
            let item = unsafe { t.get_borrowed_item_unchecked(i) };
            self.save(&item)?;
        }
        self.path.pop();
        if let Some(idx) = self.memo_get(obj) {
            self.enc.tuple_end_recursive(n, idx);
            return Ok(());
        }
        self.enc.tuple_end(n);
        self.memoize_data(obj);
        Ok(())
    }

    pub(super) fn save_list(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        self.enc.empty_list();
        self.memoize_data(obj);
        let list = obj.cast::<pyo3::types::PyList>()?;
        if list.len() == 0 {
            return Ok(());
        }
        if self.enc.protocol() == 0 {
            return self.batch_list(&obj.try_iter()?.into_any());
        }
        self.path.push(Seg::Index(0));
        if list.len() == 1 {
            let item = list.get_item(0)?;
            self.save(&item)?;
            self.enc.append();
            self.path.pop();
            return Ok(());
        }
        let mut total = 0;
        loop {
            self.enc.mark();
            let mut this_batch = 0;
            while total < list.len() {
                self.path.set_top_index(total);
                // SAFETY: total < len, checked just above with the GIL held; the item is
                // owned (incref'd) before any Python code can run.
                let item = unsafe {
                    Bound::from_borrowed_ptr(
                        self.py,
                        ffi::PyList_GET_ITEM(list.as_ptr(), total as ffi::Py_ssize_t),
                    )
                };
                self.save(&item)?;
                total += 1;
                this_batch += 1;
                if this_batch == BATCHSIZE {
                    break;
                }
            }
            self.enc.appends();
            if total >= list.len() {
                break;
            }
        }
        self.path.pop();
        Ok(())
    }

    /// `batch_list`: items from an iterator, `APPEND` for a lone trailing item.
    pub fn batch_list(&mut self, iter: &Bound<'py, PyAny>) -> PyResult<()> {
        let next = || -> PyResult<Option<Bound<'py, PyAny>>> {
            // SAFETY: iter is an iterator; PyIter_Next returns a new reference or NULL.
            let p = unsafe { ffi::PyIter_Next(iter.as_ptr()) };
            if p.is_null() {
                match PyErr::take(iter.py()) {
                    Some(e) => Err(e),
                    None => Ok(None),
                }
            } else {
                Ok(Some(unsafe { Bound::from_owned_ptr(iter.py(), p) }))
            }
        };
        self.path.push(Seg::Index(0));
        let mut index = 0;
        if self.enc.protocol() == 0 {
            while let Some(item) = next()? {
                self.path.set_top_index(index);
                self.save(&item)?;
                self.enc.append();
                index += 1;
            }
            self.path.pop();
            return Ok(());
        }
        loop {
            let Some(first) = next()? else { break };
            let Some(mut item) = next()? else {
                self.path.set_top_index(index);
                self.save(&first)?;
                self.enc.append();
                break;
            };
            self.enc.mark();
            self.path.set_top_index(index);
            self.save(&first)?;
            index += 1;
            let mut n = 1;
            loop {
                self.path.set_top_index(index);
                self.save(&item)?;
                index += 1;
                n += 1;
                if n == BATCHSIZE {
                    break;
                }
                match next()? {
                    Some(i) => item = i,
                    None => break,
                }
            }
            self.enc.appends();
            if n != BATCHSIZE {
                break;
            }
        }
        self.path.pop();
        Ok(())
    }

    pub(super) fn save_dict(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        self.enc.empty_dict();
        self.memoize_data(obj);
        let dict = obj.cast::<PyDict>()?;
        if dict.len() == 0 {
            return Ok(());
        }
        if self.enc.protocol() == 0 {
            let items = obj
                .call_method0(pyo3::intern!(obj.py(), "items"))?
                .try_iter()?
                .into_any();
            return self.batch_dict(&items);
        }
        self.batch_dict_exact(dict)
    }

    fn dict_entry(&mut self, k: &Bound<'py, PyAny>, v: &Bound<'py, PyAny>) -> PyResult<()> {
        self.save(k)?;
        self.path.push(Seg::Key(k.clone()));
        self.save(v)?;
        self.path.pop();
        Ok(())
    }

    /// Like [`Walker::dict_entry`], taking the key to avoid a reference-count round trip.
    fn dict_entry_owned(&mut self, k: Bound<'py, PyAny>, v: &Bound<'py, PyAny>) -> PyResult<()> {
        self.save(&k)?;
        self.path.push(Seg::Key(k));
        self.save(v)?;
        self.path.pop();
        Ok(())
    }

    fn batch_dict_exact(&mut self, dict: &Bound<'py, PyDict>) -> PyResult<()> {
        let size = dict.len();
        let mut pos: ffi::Py_ssize_t = 0;
        let next = |pos: &mut ffi::Py_ssize_t| -> Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
            let mut k = std::ptr::null_mut();
            let mut v = std::ptr::null_mut();
            // SAFETY: PyDict_Next yields borrowed refs we immediately own.
            if unsafe { ffi::PyDict_Next(dict.as_ptr(), pos, &mut k, &mut v) } == 0 {
                return None;
            }
            let py = dict.py();
            Some(unsafe {
                (
                    Bound::from_borrowed_ptr(py, k),
                    Bound::from_borrowed_ptr(py, v),
                )
            })
        };
        let changed = || PyRuntimeError::new_err("dictionary changed size during iteration");
        if size == 1 {
            if let Some((k, v)) = next(&mut pos) {
                self.dict_entry_owned(k, &v)?;
                self.enc.setitem();
            }
            if dict.len() != size {
                return Err(changed());
            }
            return Ok(());
        }
        loop {
            self.enc.mark();
            let mut i = 0;
            while let Some((k, v)) = next(&mut pos) {
                self.dict_entry_owned(k, &v)?;
                i += 1;
                if i == BATCHSIZE {
                    break;
                }
            }
            self.enc.setitems();
            if dict.len() != size {
                return Err(changed());
            }
            if i != BATCHSIZE {
                break;
            }
        }
        Ok(())
    }

    /// `batch_dict`: `(key, value)` pairs from an iterator.
    pub fn batch_dict(&mut self, iter: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = self.py;
        let next = || -> PyResult<Option<Bound<'py, PyAny>>> {
            let p = unsafe { ffi::PyIter_Next(iter.as_ptr()) };
            if p.is_null() {
                match PyErr::take(py) {
                    Some(e) => Err(e),
                    None => Ok(None),
                }
            } else {
                Ok(Some(unsafe { Bound::from_owned_ptr(py, p) }))
            }
        };
        let pair = |item: &Bound<'py, PyAny>| -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
            match item.cast::<PyTuple>() {
                Ok(t) if t.len() == 2 => Ok((t.get_item(0)?, t.get_item(1)?)),
                _ => Err(pyo3::exceptions::PyTypeError::new_err(
                    "dict items iterator must return 2-tuples",
                )),
            }
        };
        if self.enc.protocol() == 0 {
            while let Some(item) = next()? {
                let (k, v) = pair(&item)?;
                self.dict_entry(&k, &v)?;
                self.enc.setitem();
            }
            return Ok(());
        }
        loop {
            let Some(first) = next()? else { break };
            let Some(mut item) = next()? else {
                let (k, v) = pair(&first)?;
                self.dict_entry(&k, &v)?;
                self.enc.setitem();
                break;
            };
            self.enc.mark();
            let (k, v) = pair(&first)?;
            self.dict_entry(&k, &v)?;
            let mut n = 1;
            loop {
                let (k, v) = pair(&item)?;
                self.dict_entry(&k, &v)?;
                n += 1;
                if n == BATCHSIZE {
                    break;
                }
                match next()? {
                    Some(i) => item = i,
                    None => break,
                }
            }
            self.enc.setitems();
            if n != BATCHSIZE {
                break;
            }
        }
        Ok(())
    }

    /// A set or frozenset below protocol 4, which has no opcodes for them: the reduction
    /// `(type(obj), (list(obj),))`.
    fn save_set_reduction(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = self.py;
        let items = pyo3::types::PyList::new(py, obj.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
        let args = PyTuple::new(py, [items.into_any()])?;
        let rv = PyTuple::new(py, [obj.get_type().into_any(), args.into_any()])?;
        super::reduce::save_reduce(self, &rv, Some(obj))
    }

    pub(super) fn save_set(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        if self.enc.protocol() < 4 {
            return self.save_set_reduction(obj);
        }
        let py = self.py;
        self.enc
            .empty_set()
            .map_err(|e| error::new_pickling_error(py, e.to_string()))?;
        self.memoize_data(obj);
        let size = obj.len()?;
        if size == 0 {
            return Ok(());
        }
        let mut iter = self
            .set_items(obj)?
            .into_iter()
            .map(Ok::<_, PyErr>)
            .peekable();
        self.path.push(Seg::Item("set item"));
        loop {
            self.enc.mark();
            let mut i = 0;
            for item in iter.by_ref() {
                self.save(&item?)?;
                i += 1;
                if i == BATCHSIZE {
                    break;
                }
            }
            self.enc.additems();
            if obj.len()? != size {
                return Err(PyRuntimeError::new_err("set changed size during iteration"));
            }
            if i != BATCHSIZE {
                break;
            }
            // CPython writes one more (possibly empty) batch after a full one.
            if iter.peek().is_none() {
                self.enc.mark();
                self.enc.additems();
                break;
            }
        }
        self.path.pop();
        Ok(())
    }

    pub(super) fn save_frozenset(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        if self.enc.protocol() < 4 {
            return self.save_set_reduction(obj);
        }
        self.enc.mark();
        self.path.push(Seg::Item("frozenset item"));
        for item in self.set_items(obj)? {
            self.save(&item)?;
        }
        self.path.pop();
        if let Some(idx) = self.memo_get(obj) {
            self.enc.frozenset_end_recursive(idx);
            return Ok(());
        }
        self.enc.frozenset();
        self.memoize_data(obj);
        Ok(())
    }

    /// The items of a set in iteration order, or sorted while writing code constants
    /// (set order depends on the hash seed; code must give the same bytes everywhere).
    fn set_items(&self, obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let items: Vec<_> = obj.try_iter()?.collect::<PyResult<_>>()?;
        if !self.fns.sort_sets {
            return Ok(items);
        }
        let list = pyo3::types::PyList::new(self.py, items)?;
        let builtins = self.py.import("builtins")?;
        let kwargs = PyDict::new(self.py);
        kwargs.set_item(
            "key",
            builtins.getattr(pyo3::intern!(builtins.py(), "repr"))?,
        )?;
        let sorted = builtins
            .getattr(pyo3::intern!(builtins.py(), "sorted"))?
            .call((list,), Some(&kwargs))?;
        sorted.try_iter()?.collect()
    }
}
