//! The walker's memo: which objects are already in the stream, and under which memo
//! index, by object identity; it holds a strong reference to each, so no address is
//! reused while the memo lives (as `_pickle.c`'s memo table does). A `Pickler` keeps one
//! from `dump()` to `dump()`. It is not the encoder's numbering (`Encoder::memoize`
//! hands out the indexes) nor the policy of what gets memoized (the walker's).
//!
//! Laid out for memory: each slot is the object's address and its index packed in 12
//! bytes (plus hashbrown's control byte), and the table itself holds the references.
//! `pickle`'s table spends 16 bytes a slot; the map from address to index this replaces
//! spent 17 and a list of the objects kept alive 8 more per entry, which made a dump of
//! five million small tuples peak at 1.2x `pickle`'s memory.

use hashbrown::HashTable;
use pyo3::ffi;
use pyo3::prelude::*;

/// Tables of more entries than this (about 3.4 MB) are freed after a dump rather than
/// kept for the next one on the thread. Below it, a program dumping big graphs one after
/// the other reuses one table: regrowing it (rehashing, faulting in fresh memory) was a
/// tenth of a dump of 125,000 `bytes` objects.
const CACHE_MAX: usize = 1 << 18;

/// A table is kept only if the dump that used it filled at least a quarter of it, or it
/// is this small: emptying a table costs in proportion to its capacity, which a run of
/// small dumps after a big one would otherwise pay every time (the first of them frees
/// the big table).
const SPARSE_KEPT: usize = 1 << 10;

thread_local! {
    /// The table of the last dump on this thread, emptied but with its capacity, so
    /// repeated dumps do not regrow it from nothing (growing is mostly page faults).
    static TABLE_CACHE: std::cell::Cell<HashTable<Entry>> =
        const { std::cell::Cell::new(HashTable::new()) };
}

/// One memoized object: a strong reference and its memo index.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Entry {
    obj: *mut ffi::PyObject,
    idx: u32,
}

/// Object address to memo index. See the module docs.
///
/// Every pointer held is a strong reference, released when the memo is dropped; a memo
/// is only created, changed and dropped with the GIL held (the walker holds a
/// `Python<'py>`, a `Pickler` is dropped by its deallocator).
#[derive(Default)]
pub struct Memo {
    table: HashTable<Entry>,
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

/// The bucket index (hashbrown takes the low bits) is the address shifted past the
/// 16-byte alignment: the walker meets objects roughly in the order they were
/// allocated, so neighbouring objects land in neighbouring buckets and a dump walks the
/// table almost sequentially, as CPython's `key >> 3` memo does. hashbrown's 7-bit tags
/// come from the top bits, so those get a multiplied mix of the address; without it
/// every tag would be zero and each probe would compare keys.
#[inline(always)]
fn hash(addr: *mut ffi::PyObject) -> u64 {
    let a = addr as u64;
    let tag = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) & (0x7f << 57);
    (a >> 4) & !(0x7f << 57) | tag
}

#[inline(always)]
fn rehash(e: &Entry) -> u64 {
    hash(e.obj)
}

impl Memo {
    /// An empty memo, starting from the thread's recycled table.
    pub fn new() -> Self {
        Memo {
            table: TABLE_CACHE.with(std::cell::Cell::take),
            kept: Vec::new(),
            failed: None,
        }
    }

    /// The memo index of `obj`, if it is memoized.
    #[inline(always)]
    pub fn get(&self, obj: &Bound<'_, PyAny>) -> Option<u32> {
        let p = obj.as_ptr();
        self.table.find(hash(p), |e| e.obj == p).map(|e| e.idx)
    }

    /// Room for one more entry, growing the table if need be; false once it could not
    /// grow (see [`Memo::take_error`]).
    #[inline(always)]
    fn room(&mut self) -> bool {
        self.table.len() < self.table.capacity() || self.grow()
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let more = self.table.len().max(16);
        if self.table.try_reserve(more, rehash).is_ok() {
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
        // written, so it is almost never there already (a hit is the rare case, which
        // `entry` compares through a `dyn` call).
        match self.table.entry(hash(p), |e| e.obj == p, rehash) {
            hashbrown::hash_table::Entry::Occupied(mut e) => e.get_mut().idx = idx,
            hashbrown::hash_table::Entry::Vacant(v) => {
                // SAFETY: `p` is a live object (the caller borrows it); the GIL is held.
                unsafe { ffi::Py_INCREF(p) };
                v.insert(Entry { obj: p, idx });
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
        match self.table.entry(hash(p), |e| e.obj == p, rehash) {
            hashbrown::hash_table::Entry::Occupied(e) => Ok(Some(e.get().idx)),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let idx = write()?;
                // SAFETY: `p` is a live object (the caller borrows it); the GIL is held.
                unsafe { ffi::Py_INCREF(p) };
                v.insert(Entry { obj: p, idx });
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
        let at = |e: &Entry| {
            // SAFETY: a strong reference the memo holds; the GIL is held for 'py.
            (e.idx, unsafe { Bound::from_borrowed_ptr(py, e.obj) })
        };
        self.table.iter().map(at).collect()
    }

    /// Releases the objects and gives the table, emptied, back to the thread for the
    /// next dump.
    pub fn recycle(mut self) {
        let used = self.table.len();
        self.release();
        let table = std::mem::take(&mut self.table);
        let cap = table.capacity();
        if cap <= CACHE_MAX && (cap <= SPARSE_KEPT || used >= cap / 4) {
            let _ = TABLE_CACHE.try_with(|c| {
                let old = c.take();
                c.set(if old.capacity() > table.capacity() {
                    old
                } else {
                    table
                });
            });
        }
    }

    /// Drops every reference, leaving the table empty with its capacity.
    fn release(&mut self) {
        let kept = std::mem::take(&mut self.kept);
        if !self.table.is_empty() {
            // Taken out first: a deallocator run by a decref may dump again.
            let mut table = std::mem::take(&mut self.table);
            for e in table.drain() {
                // SAFETY: strong references the memo took; the GIL is held (type docs).
                unsafe { ffi::Py_DECREF(e.obj) };
            }
            self.table = table;
        }
        for p in kept {
            // SAFETY: as above.
            unsafe { ffi::Py_DECREF(p) };
        }
    }
}

impl Drop for Memo {
    fn drop(&mut self) {
        self.release();
    }
}
