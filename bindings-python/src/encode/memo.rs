//! The walker's memo: which objects are already in the stream, and under which memo
//! index, by object identity; it holds a strong reference to each, so no address is
//! reused while the memo lives (as `_pickle.c`'s memo table does). A `Pickler` keeps one
//! from `dump()` to `dump()`. It is not the encoder's numbering (`Encoder::memoize`
//! hands out the indexes) nor the policy of what gets memoized (the walker's).
//!
//! Laid out for memory: each slot of the table ([`AddrTable`]) is the object's address
//! and its index packed in 12 bytes, and the table's entries are the references.
//! `pickle`'s table spends 16 bytes a slot; the map from address to index this replaces
//! spent 17 and a list of the objects kept alive 8 more per entry, which made a dump of
//! five million small tuples peak at 1.2x `pickle`'s memory.

use super::addr_table::{AddrTable, Probe};
use pyo3::ffi;
use pyo3::prelude::*;

/// Tables of more slots than this (6 MiB, room for 393,216 entries) are freed after a
/// dump rather than kept for the next one on the thread. Below it, a program dumping big
/// graphs one after the other reuses one table: regrowing it (rehashing, faulting in
/// fresh memory) was a tenth of a dump of 125,000 `bytes` objects.
const CACHE_MAX: usize = 1 << 19;

/// A table is kept only if the dump that used it filled at least a quarter of it, or it
/// is this small (3 KiB): emptying a table reads every slot, which a run of small dumps
/// after a big one would otherwise pay every time (the first of them frees the big
/// table).
const SPARSE_KEPT: usize = 1 << 8;

thread_local! {
    /// The table of the last dump on this thread, emptied but with its capacity, so
    /// repeated dumps do not regrow it from nothing (growing is mostly page faults).
    static TABLE_CACHE: std::cell::Cell<Option<AddrTable>> =
        const { std::cell::Cell::new(None) };
}

/// Object address to memo index. See the module docs.
///
/// Every pointer held is a strong reference, released when the memo is dropped; a memo
/// is only created, changed and dropped with the GIL held (the walker holds a
/// `Python<'py>`, a `Pickler` is dropped by its deallocator).
#[derive(Default)]
pub struct Memo {
    table: AddrTable,
    /// Objects kept alive, not memoized: their addresses key other tables of the walk.
    kept: Vec<*mut ffi::PyObject>,
    /// The table could not grow: nothing more is memoized and the dump fails with this
    /// (a `MemoryError`, as `pickle` raises, where an infallible insert aborted the
    /// process).
    failed: Option<PyErr>,
}

// SAFETY: the pointers are strong references that are only used, increfed and decrefed
// with the GIL held (see the type's docs), as `Py<T>` does.
unsafe impl Send for Memo {}
unsafe impl Sync for Memo {}

impl Memo {
    /// An empty memo, starting from the thread's recycled table.
    pub fn new() -> Self {
        Memo {
            table: TABLE_CACHE.with(std::cell::Cell::take).unwrap_or_default(),
            kept: Vec::new(),
            failed: None,
        }
    }

    /// The memo index of `obj`, if it is memoized.
    #[inline(always)]
    pub fn get(&self, obj: &Bound<'_, PyAny>) -> Option<u32> {
        self.table.get(obj.as_ptr())
    }

    /// Room for one more entry, growing the table if need be; false once it could not
    /// grow (see [`Memo::take_error`]).
    #[inline(always)]
    fn room(&mut self) -> bool {
        self.table.has_room() || self.grow()
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) -> bool {
        if self.failed.is_some() {
            return false;
        }
        if self.table.try_grow() {
            return true;
        }
        self.failed = Some(pyo3::exceptions::PyMemoryError::new_err(format!(
            "out of memory growing the memo past {} objects",
            self.table.len()
        )));
        false
    }

    /// Why the table could not grow, taken out: the dump must fail with it (what it
    /// wrote after is not memoized).
    pub fn take_error(&mut self) -> Option<PyErr> {
        self.failed.take()
    }

    /// Records `obj` under memo index `idx` (replacing what it was recorded under).
    #[inline(always)]
    pub fn insert(&mut self, obj: &Bound<'_, PyAny>, idx: u32) {
        if !self.room() {
            return;
        }
        let p = obj.as_ptr();
        // One probe finds the entry or the slot for it: what is memoized here was just
        // written, so it is almost never there already.
        match self.table.probe(p) {
            Probe::Found(i) => self.table.set_index_at(i, idx),
            Probe::Vacant(i) => {
                // SAFETY: `p` is a live object (the caller borrows it); the GIL is held.
                unsafe { ffi::Py_INCREF(p) };
                self.table.fill(i, p, idx);
            }
        }
    }

    /// The memo index of `obj` when it is memoized; otherwise calls `write` (which
    /// writes `obj` and returns the index the encoder gave it) and records `obj` under
    /// that index.
    #[inline(always)]
    pub fn get_or_write(
        &mut self,
        obj: &Bound<'_, PyAny>,
        write: impl FnOnce() -> PyResult<u32>,
    ) -> PyResult<Option<u32>> {
        if !self.room() {
            return write().map(|_| None);
        }
        // One probe finds the entry or the slot for it.
        let p = obj.as_ptr();
        match self.table.probe(p) {
            Probe::Found(i) => Ok(Some(self.table.index_at(i))),
            Probe::Vacant(i) => {
                let idx = write()?;
                // SAFETY: `p` is a live object (the caller borrows it); the GIL is held.
                unsafe { ffi::Py_INCREF(p) };
                self.table.fill(i, p, idx);
                Ok(None)
            }
        }
    }

    /// Keeps `obj` alive as long as the memo (its address is a key elsewhere).
    pub fn keep_alive(&mut self, obj: &Bound<'_, PyAny>) {
        self.kept.push(obj.clone().into_ptr());
    }

    /// How many objects are memoized.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Each memoized object with its index, in no particular order.
    pub fn entries<'py>(&self, py: Python<'py>) -> Vec<(u32, Bound<'py, PyAny>)> {
        let mut out = Vec::with_capacity(self.table.len());
        self.table.for_each(|p, idx| {
            // SAFETY: a strong reference the memo holds; the GIL is held for 'py.
            out.push((idx, unsafe { Bound::from_borrowed_ptr(py, p) }));
        });
        out
    }

    /// Releases the objects and gives the table, emptied, back to the thread for the
    /// next dump.
    pub fn recycle(mut self) {
        self.recycle_in_place();
    }

    /// [`Memo::recycle`] leaving this memo empty, with no table (cheaper than moving a
    /// memo out and dropping two).
    pub fn recycle_in_place(&mut self) {
        let used = self.table.len();
        self.release();
        let table = std::mem::take(&mut self.table);
        let cap = table.capacity();
        if cap <= CACHE_MAX && (cap <= SPARSE_KEPT || used >= cap / 4) {
            let _ = TABLE_CACHE.try_with(|c| {
                let old = c.take();
                c.set(match old {
                    Some(old) if old.capacity() > table.capacity() => Some(old),
                    _ => Some(table),
                });
            });
        }
    }

    /// Drops every reference, leaving the table empty with its capacity.
    #[inline]
    fn release(&mut self) {
        if !self.table.is_empty() {
            // Taken out first: a deallocator run by a decref may dump again.
            let mut table = std::mem::take(&mut self.table);
            table.drain(|p| {
                // SAFETY: strong references the memo took; the GIL is held (type docs).
                unsafe { ffi::Py_DECREF(p) };
            });
            self.table = table;
        }
        if !self.kept.is_empty() {
            for p in std::mem::take(&mut self.kept) {
                // SAFETY: as above.
                unsafe { ffi::Py_DECREF(p) };
            }
        }
    }
}

impl Drop for Memo {
    fn drop(&mut self) {
        self.release();
    }
}
