//! The unpickler's memo: keys written by `PUT`/`BINPUT`/`LONG_BINPUT`/`MEMOIZE` mapped
//! to nodes. Keys are almost always dense from zero (every pickler numbers them that
//! way), so they live in a vector; a hostile far-away key goes to a map instead of
//! growing the vector to it.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::value::NodeId;

const EMPTY: NodeId = NodeId::MAX;
/// How far past the end of the vector a key may land and still grow it.
const DENSE_SLACK: u64 = 4096;

#[derive(Debug, Default)]
pub(crate) struct Memo {
    dense: Vec<NodeId>,
    sparse: BTreeMap<u64, NodeId>,
    len: usize,
}

impl Memo {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Memo {
            dense: Vec::with_capacity(n),
            ..Default::default()
        }
    }

    /// Number of keys stored (the key `MEMOIZE` uses next).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn get(&self, key: u64) -> Option<NodeId> {
        let dense = usize::try_from(key).ok().and_then(|k| self.dense.get(k));
        match dense {
            Some(&id) if id != EMPTY => Some(id),
            Some(_) => None,
            None if self.sparse.is_empty() => None,
            None => self.sparse.get(&key).copied(),
        }
    }

    /// Stores `id` under `key`; returns the bytes of vector growth to charge.
    #[inline]
    pub(crate) fn put(&mut self, key: u64, id: NodeId) -> usize {
        let n = self.dense.len() as u64;
        if key < n {
            let slot = &mut self.dense[key as usize];
            if *slot == EMPTY {
                self.len += 1;
            }
            *slot = id;
            0
        } else if key == n {
            self.dense.push(id);
            if self.sparse.is_empty() || self.sparse.remove(&key).is_none() {
                self.len += 1;
            }
            core::mem::size_of::<NodeId>()
        } else if key - n <= DENSE_SLACK && self.sparse.is_empty() {
            let grow = (key - n + 1) as usize;
            self.dense.resize(key as usize, EMPTY);
            self.dense.push(id);
            self.len += 1;
            grow * core::mem::size_of::<NodeId>()
        } else {
            if self.sparse.insert(key, id).is_none() {
                self.len += 1;
            }
            4 * core::mem::size_of::<NodeId>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_sparse_and_overwrite() {
        let mut m = Memo::with_capacity(4);
        m.put(0, 10);
        m.put(1, 11);
        m.put(5, 15);
        m.put(u32::MAX as u64, 99);
        m.put(1, 21);
        assert_eq!(m.len(), 4);
        assert_eq!(m.get(0), Some(10));
        assert_eq!(m.get(1), Some(21));
        assert_eq!(m.get(3), None);
        assert_eq!(m.get(5), Some(15));
        assert_eq!(m.get(u32::MAX as u64), Some(99));
        assert_eq!(m.get(7), None);
    }
}
