//! The walker's containers: tuples, lists, dicts, sets and frozensets, with the
//! `MARK ... APPENDS`/`SETITEMS`/`ADDITEMS` runs of `_pickle.c`'s batching loops (the
//! exact-type loops, and the iterator loops that list and dict subclasses and the items of
//! a `__reduce__` tuple take), the `set(list)` reductions below protocol 4, and the
//! recursive-tuple form. Where each run starts and ends is the core's
//! (`Encoder::batch_run_begin`/`batch_run_end`); this file feeds it the items in
//! CPython's order, including what `_pickle.c` does when saving an item changes the
//! container and when it fetches an iterator's next item. Each item is saved through
//! [`Walker::save`]; the object path records the index or key. Not for the memo: see
//! [`super::walker`] and [`super::memo`].

use brinery_core::encode::Batch;
use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::path::Seg;
use super::walker::Walker;
use crate::error;

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
        let len = list.len();
        if len == 0 {
            return Ok(());
        }
        if self.enc.protocol() == 0 {
            return self.batch_list(&obj.try_iter()?.into_any());
        }
        self.path.push(Seg::Index(0));
        // As `batch_list_exact`: a single item is decided before it is saved; otherwise a
        // run ends where the list ends once each item is saved (saving may change it).
        let runs_len = if len == 1 { 1 } else { usize::MAX };
        let mut index = 0;
        while index < list.len() {
            let end = self.enc.batch_run_begin(Batch::List, index, runs_len);
            while index < end && index < list.len() {
                self.path.set_top_index(index);
                // SAFETY: index < len, checked just above with the GIL held; the item is
                // owned (incref'd) before any Python code can run.
                let item = unsafe {
                    Bound::from_borrowed_ptr(
                        self.py,
                        ffi::PyList_GET_ITEM(list.as_ptr(), index as ffi::Py_ssize_t),
                    )
                };
                self.save(&item)?;
                index += 1;
            }
            if index == 1 && len != 1 {
                // The list shrank under its first item: `MARK item APPENDS`.
                self.enc.appends();
            } else {
                self.enc.batch_run_end(Batch::List, index, index);
            }
            if len == 1 {
                break;
            }
        }
        self.path.pop();
        Ok(())
    }

    /// `batch_list`: items from an iterator, `APPEND` for a lone trailing item.
    pub fn batch_list(&mut self, iter: &Bound<'py, PyAny>) -> PyResult<()> {
        self.path.push(Seg::Index(0));
        self.iter_runs(Batch::ListIter, iter, |w, index, item| {
            w.path.set_top_index(index);
            w.save(&item)
        })?;
        self.path.pop();
        Ok(())
    }

    /// The runs of `_pickle.c`'s `batch_list` and `batch_dict` over `iter`: a run's second
    /// item is fetched before its first is saved (a lone item has no `MARK`), each later
    /// one after the one before it, and none after a full run's last until the next run
    /// starts. `save_item` writes item `index`.
    fn iter_runs(
        &mut self,
        batch: Batch,
        iter: &Bound<'py, PyAny>,
        mut save_item: impl FnMut(&mut Self, usize, Bound<'py, PyAny>) -> PyResult<()>,
    ) -> PyResult<()> {
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
        let proto0 = self.enc.protocol() == 0;
        let mut index = 0;
        loop {
            let Some(first) = next()? else { break };
            let mut item = if proto0 { None } else { next()? };
            let len = if proto0 || item.is_some() {
                usize::MAX
            } else {
                index + 1
            };
            let end = self.enc.batch_run_begin(batch, index, len);
            save_item(self, index, first)?;
            index += 1;
            while index < end {
                let Some(it) = item.take() else { break };
                save_item(self, index, it)?;
                index += 1;
                if index < end {
                    item = next()?;
                }
            }
            self.enc.batch_run_end(batch, index, index);
            if !proto0 && (index != end || len != usize::MAX) {
                break;
            }
        }
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
        // SAFETY: an exact dict, alive for the whole walk, under the GIL.
        let mut entries = unsafe { super::dict_entries::Entries::new(dict.as_ptr()) };
        let py = dict.py();
        let changed = || PyRuntimeError::new_err("dictionary changed size during iteration");
        // The entry after each one is fetched once it is saved (as `batch_dict_exact`
        // does before its next run), so the encoder knows where the last run ends.
        let runs_len = if size == 1 { 1 } else { usize::MAX };
        let mut index = 0;
        // SAFETY (each step): as above; the borrowed refs are owned at once.
        let mut cur = unsafe { entries.next_owned(py) };
        while cur.is_some() {
            let end = self.enc.batch_run_begin(Batch::Dict, index, runs_len);
            while index < end {
                let Some((k, v)) = cur.take() else { break };
                self.dict_entry_owned(k, &v)?;
                index += 1;
                cur = unsafe { entries.next_owned(py) };
            }
            if index == 1 && size != 1 {
                // The dict changed under its first entry: `MARK key value SETITEMS`.
                self.enc.setitems();
            } else {
                let last = size == 1 || cur.is_none();
                let len = if last { index } else { usize::MAX };
                self.enc.batch_run_end(Batch::Dict, index, len);
            }
            if dict.len() != size {
                return Err(changed());
            }
            if size == 1 {
                break;
            }
        }
        Ok(())
    }

    /// `batch_dict`: `(key, value)` pairs from an iterator, in the runs of
    /// [`Walker::batch_list`].
    pub fn batch_dict(&mut self, iter: &Bound<'py, PyAny>) -> PyResult<()> {
        self.iter_runs(Batch::DictIter, iter, |w, _, item| {
            match item.cast::<PyTuple>() {
                Ok(t) if t.len() == 2 => w.dict_entry(&t.get_item(0)?, &t.get_item(1)?),
                _ => Err(pyo3::exceptions::PyTypeError::new_err(
                    "dict items iterator must return 2-tuples",
                )),
            }
        })
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
        let items = self.set_items(obj)?;
        let len = items.len();
        self.path.push(Seg::Item("set item"));
        let mut index = 0;
        while index < len {
            let end = self.enc.batch_run_begin(Batch::Set, index, len);
            for item in &items[index..end] {
                self.save(item)?;
            }
            self.enc.batch_run_end(Batch::Set, end, len);
            if obj.len()? != size {
                return Err(PyRuntimeError::new_err("set changed size during iteration"));
            }
            index = end;
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
        if !self.sort_sets {
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
