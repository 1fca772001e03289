//! Containers: their opcodes (`EMPTY_LIST`, `MARK`, `APPENDS`, tuples of every length,
//! the recursive-tuple `POP_MARK GET` form), and how their items are laid out: the `MARK … APPENDS`/`SETITEMS`/`ADDITEMS` runs of
//! `_pickle.c`'s batching loops, and the `set(list)`/`frozenset(list)` reductions written
//! for sets below protocol 4.
//!
//! CPython has two batching loops per kind, and they differ in one case: an exact `list`
//! or `dict` (`batch_list_exact`, `batch_dict_exact`) closes a final run of one item with
//! `APPENDS`/`SETITEMS`, while the generic loops over an iterator (list and dict
//! subclasses, the items of a `__reduce__` tuple) write a lone final item with
//! `APPEND`/`SETITEM`. [`Batch`] names the loop; the host brackets each item with
//! [`Encoder::batch_item_begin`] and [`Encoder::batch_item_end`].

use super::{Encoder, Output};
use crate::error::EncodeError;
use crate::opcode::*;

/// Which of CPython's batching loops a run of items follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Items of an exact `list` (`batch_list_exact`): a single item is `item APPEND`,
    /// otherwise runs of up to 1000 as `MARK items APPENDS`.
    List,
    /// Items from an iterator (`batch_list`: list subclasses, `__reduce__` list items):
    /// as [`Batch::List`], except that a final run of one item is `item APPEND`.
    ListIter,
    /// Entries of an exact `dict` (`batch_dict_exact`): `key value SETITEM` for a single
    /// entry, otherwise runs of up to 1000 as `MARK key value ... SETITEMS`; when the
    /// count is a multiple of 1000, an empty `MARK SETITEMS` follows the last run.
    Dict,
    /// Entries from an iterator (`batch_dict`: dict subclasses, `__reduce__` dict items):
    /// as [`Batch::Dict`], except that a final run of one entry is `key value SETITEM`.
    DictIter,
    /// Items of a `set` at protocol 4+ (`save_set`): runs of up to 1000 as
    /// `MARK items ADDITEMS`, even for one item, and like [`Batch::Dict`] an empty run
    /// after a count that is a multiple of 1000.
    Set,
}

impl Batch {
    /// Whether item `index` of `len` belongs to a `MARK`ed run.
    fn in_run(self, index: usize, len: usize) -> bool {
        match self {
            Batch::List | Batch::Dict => len != 1,
            Batch::ListIter | Batch::DictIter => !(index + 1 == len && index % BATCHSIZE == 0),
            Batch::Set => true,
        }
    }
}

impl<O: Output> Encoder<O> {
    /// Before item (or dict entry) `index` of `len` (and before its
    /// [`boundary`](Encoder::boundary)): writes the `MARK` that opens a run.
    #[inline]
    pub fn batch_item_begin(&mut self, batch: Batch, index: usize, len: usize) {
        if self.proto == 0 && batch != Batch::Set {
            return;
        }
        if batch.in_run(index, len) && index % BATCHSIZE == 0 {
            self.op(MARK);
        }
    }

    /// After item (or dict entry) `index` of `len`: writes `APPEND`/`SETITEM` for an item
    /// outside a run (always at protocol 0), or the opcode that closes a run after its
    /// last item.
    #[inline]
    pub fn batch_item_end(&mut self, batch: Batch, index: usize, len: usize) {
        let (one, run) = match batch {
            Batch::List | Batch::ListIter => (APPEND, APPENDS),
            Batch::Dict | Batch::DictIter => (SETITEM, SETITEMS),
            Batch::Set => (ADDITEMS, ADDITEMS),
        };
        if (self.proto == 0 && batch != Batch::Set) || !batch.in_run(index, len) {
            self.op(one);
        } else if index + 1 == len && len < BATCHSIZE {
            // The common case, a container of fewer than 1000 items, kept short to inline.
            self.op(run);
        } else if (index + 1) % BATCHSIZE == 0 || index + 1 == len {
            self.batch_end_long(batch, run, index, len);
        }
    }

    /// The end of a run of a container of 1000 items or more, out of line.
    #[inline(never)]
    fn batch_end_long(&mut self, batch: Batch, run: u8, index: usize, len: usize) {
        self.op(run);
        // `batch_dict_exact` and `save_set` loop while the last run was full, so a
        // count that is a multiple of 1000 ends with an empty `MARK SETITEMS`.
        let full_last_run = index + 1 == len && len % BATCHSIZE == 0;
        if full_last_run && matches!(batch, Batch::Dict | Batch::Set) {
            self.op(MARK);
            self.op(run);
        }
    }

    /// Opens the run of items (or dict entries) that starts at `index` of `len`: writes
    /// its `MARK` when it has one and returns the index its run ends before. A host that
    /// writes items in a tight loop calls this, writes items `index..end` (each after a
    /// [`boundary`](Encoder::boundary)), then [`Encoder::batch_run_end`]; the bytes are
    /// those of [`Encoder::batch_item_begin`] and [`Encoder::batch_item_end`] per item.
    #[inline]
    pub fn batch_run_begin(&mut self, batch: Batch, index: usize, len: usize) -> usize {
        let alone = (self.proto == 0 && batch != Batch::Set) || !batch.in_run(index, len);
        self.batch_item_begin(batch, index, len);
        if alone {
            index + 1
        } else {
            (index - index % BATCHSIZE + BATCHSIZE).min(len)
        }
    }

    /// Closes the run [`Encoder::batch_run_begin`] opened, now ended before `end`.
    #[inline]
    pub fn batch_run_end(&mut self, batch: Batch, end: usize, len: usize) {
        self.batch_item_end(batch, end - 1, len);
    }

    /// Starts the reduction `_pickle.c` writes for a `set` (or `frozenset`) below
    /// protocol 4: `builtins.set` (memoized once per stream), then the argument tuple's
    /// `MARK` at protocol 0/1, then a new memoized empty list. Call it after the set's own
    /// [`boundary`](Encoder::boundary); then write the items as a [`Batch::List`] run
    /// (each item after a `boundary`) and finish with [`Encoder::set_reduce_end`].
    pub fn set_reduce_begin(&mut self, frozen: bool) {
        self.boundary();
        self.own_global("builtins", if frozen { "frozenset" } else { "set" });
        self.boundary();
        self.tuple_begin(1);
        self.boundary();
        self.empty_list();
        self.memoize();
    }

    /// Closes the argument tuple (memoized) and writes `REDUCE`. The host then memoizes
    /// the set, or, if the set was memoized while its items were written (it is reachable
    /// from itself), writes [`Encoder::reduce_end_recursive`] instead.
    pub fn set_reduce_end(&mut self) {
        self.tuple_end(1);
        self.memoize();
        self.op(REDUCE);
    }

    /// After `REDUCE`/`NEWOBJ`/`NEWOBJ_EX`/`OBJ` of an object that became memoized while
    /// its arguments were written: drops the new object and fetches the memoized one
    /// (`POP` then a `GET`), as `save_reduce` does.
    pub fn reduce_end_recursive(&mut self, memo_index: u32) {
        self.op(POP);
        self.get(memo_index);
    }
}

impl<O: Output> Encoder<O> {
    /// `MARK`.
    #[inline]
    pub fn mark(&mut self) {
        self.op(MARK);
    }

    /// An empty list: `EMPTY_LIST`, or `MARK LIST` in protocol 0.
    #[inline]
    pub fn empty_list(&mut self) {
        if self.proto >= 1 {
            self.op(EMPTY_LIST);
        } else {
            self.write(&[MARK, LIST]);
        }
    }

    /// An empty dict: `EMPTY_DICT`, or `MARK DICT` in protocol 0.
    #[inline]
    pub fn empty_dict(&mut self) {
        if self.proto >= 1 {
            self.op(EMPTY_DICT);
        } else {
            self.write(&[MARK, DICT]);
        }
    }

    /// `EMPTY_SET` (protocol 4+; below, hosts reduce sets to `set([items])`).
    pub fn empty_set(&mut self) -> Result<(), EncodeError> {
        if self.proto < 4 {
            return Err(EncodeError::NeedsProtocol("EMPTY_SET", 4));
        }
        self.op(EMPTY_SET);
        Ok(())
    }

    /// `APPEND`.
    #[inline]
    pub fn append(&mut self) {
        self.op(APPEND);
    }

    /// `APPENDS`.
    #[inline]
    pub fn appends(&mut self) {
        self.op(APPENDS);
    }

    /// `SETITEM`.
    #[inline]
    pub fn setitem(&mut self) {
        self.op(SETITEM);
    }

    /// `SETITEMS`.
    #[inline]
    pub fn setitems(&mut self) {
        self.op(SETITEMS);
    }

    /// `ADDITEMS`.
    pub fn additems(&mut self) {
        self.op(ADDITEMS);
    }

    /// `FROZENSET` (after `MARK` and the items).
    pub fn frozenset(&mut self) {
        self.op(FROZENSET);
    }

    /// Before the items of a tuple of `len`: writes `MARK` when the closing opcode needs
    /// one (protocol 0/1 with items, or more than 3 items).
    pub fn tuple_begin(&mut self, len: usize) {
        if len == 0 || (len <= 3 && self.proto >= 2) {
            return;
        }
        self.op(MARK);
    }

    /// After the items of a tuple of `len`: `EMPTY_TUPLE`, `TUPLE1..3` or `TUPLE`. The
    /// host memoizes non-empty tuples afterwards.
    pub fn tuple_end(&mut self, len: usize) {
        if len == 0 {
            if self.proto >= 1 {
                self.op(EMPTY_TUPLE);
            } else {
                self.write(&[MARK, TUPLE]);
            }
        } else if len <= 3 && self.proto >= 2 {
            self.op(TUPLE1 + (len as u8 - 1));
        } else {
            self.op(TUPLE);
        }
    }

    /// Closes a tuple of `len` that became memoized while its items were written (it
    /// is reachable from itself): pops the items and fetches it from the memo instead.
    pub fn tuple_end_recursive(&mut self, len: usize, memo_index: u32) {
        if len <= 3 && self.proto >= 2 {
            for _ in 0..len {
                self.op(POP);
            }
        } else if self.proto >= 1 {
            self.op(POP_MARK);
        } else {
            for _ in 0..=len {
                self.op(POP);
            }
        }
        self.get(memo_index);
    }

    /// Closes a frozenset that became memoized while its items were written.
    pub fn frozenset_end_recursive(&mut self, memo_index: u32) {
        self.op(POP_MARK);
        self.get(memo_index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(proto: u8, batch: Batch, len: usize) -> Vec<u8> {
        let mut enc = Encoder::new(proto).unwrap();
        for i in 0..len {
            enc.batch_item_begin(batch, i, len);
            enc.none();
            if matches!(batch, Batch::Dict | Batch::DictIter) {
                enc.none();
            }
            enc.batch_item_end(batch, i, len);
        }
        enc.finish()
    }

    #[test]
    fn runs_write_the_bytes_of_items_one_by_one() {
        let batches = [
            Batch::List,
            Batch::ListIter,
            Batch::Dict,
            Batch::DictIter,
            Batch::Set,
        ];
        for proto in [0, 2, 4] {
            for batch in batches {
                for len in [0, 1, 2, 999, 1000, 1001, 2000, 2001] {
                    let mut enc = Encoder::new(proto).unwrap();
                    let mut i = 0;
                    while i < len {
                        let end = enc.batch_run_begin(batch, i, len);
                        assert!(end > i && end <= len);
                        for _ in i..end {
                            enc.none();
                            if matches!(batch, Batch::Dict | Batch::DictIter) {
                                enc.none();
                            }
                        }
                        enc.batch_run_end(batch, end, len);
                        i = end;
                    }
                    assert_eq!(
                        enc.finish(),
                        run(proto, batch, len),
                        "{batch:?} {proto} {len}"
                    );
                }
            }
        }
    }

    fn count(data: &[u8], op: u8) -> usize {
        data.iter().filter(|&&b| b == op).count()
    }

    #[test]
    fn exact_list_closes_a_final_single_item_with_appends() {
        let data = run(2, Batch::List, 1001);
        assert_eq!((count(&data, MARK), count(&data, APPENDS)), (2, 2));
        assert_eq!(count(&data, APPEND), 0);
        assert_eq!(run(2, Batch::List, 1), b"Na.");
    }

    #[test]
    fn iterator_list_writes_a_final_single_item_with_append() {
        let data = run(2, Batch::ListIter, 1001);
        assert_eq!((count(&data, MARK), count(&data, APPENDS)), (1, 1));
        assert_eq!(count(&data, APPEND), 1);
        assert_eq!(run(2, Batch::ListIter, 2000), run(2, Batch::List, 2000));
    }

    #[test]
    fn dicts_and_protocol_0() {
        assert_eq!(run(1, Batch::Dict, 1), b"NNs.");
        assert_eq!(run(1, Batch::Dict, 2), b"(NNNNu.");
        assert_eq!(run(0, Batch::Dict, 2), b"NNsNNs.");
        assert_eq!(run(0, Batch::List, 2), b"NaNa.");
        let data = run(1, Batch::DictIter, 1001);
        assert_eq!((count(&data, SETITEMS), count(&data, SETITEM)), (1, 1));
    }

    #[test]
    fn sets_always_use_additems() {
        assert_eq!(run(4, Batch::Set, 1), b"(N\x90.");
        let data = run(4, Batch::Set, 2001);
        assert_eq!((count(&data, MARK), count(&data, ADDITEMS)), (3, 3));
        let data = run(4, Batch::Set, 2000);
        assert_eq!((count(&data, MARK), count(&data, ADDITEMS)), (3, 3));
    }

    #[test]
    fn exact_dicts_end_a_multiple_of_1000_with_an_empty_run() {
        let data = run(1, Batch::Dict, 1000);
        assert!(data.ends_with(b"u(u."));
        let data = run(1, Batch::DictIter, 1000);
        assert!(data.ends_with(b"Nu."));
        let data = run(1, Batch::List, 1000);
        assert!(data.ends_with(b"Ne."));
    }
}
