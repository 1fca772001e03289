//! The unpickler's memo: keys written by `PUT`/`BINPUT`/`LONG_BINPUT`/`MEMOIZE` mapped
//! to the builder's handles. Keys are almost always dense from zero (every pickler
//! numbers them that way), so they live in a vector of bare handles; the rare keys
//! skipped when a key lands a little past its end are marked in a bitmap of holes, and
//! a hostile far-away key goes to a map instead of growing the vector to it.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// How far past the end of the vector a key may land and still grow it.
const DENSE_SLACK: u64 = 4096;

/// What one memo slot costs against `Limits::max_alloc` (the cost model of a node id).
const SLOT_COST: usize = core::mem::size_of::<usize>();

#[derive(Debug)]
pub(crate) struct Memo<H> {
    dense: Vec<H>,
    /// One bit per key below `dense.len()`, set when the key holds no handle (its slot
    /// holds a filler); empty until the first hole.
    holes: Vec<u64>,
    sparse: BTreeMap<u64, H>,
    len: usize,
}

impl<H: Copy> Memo<H> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Memo {
            dense: Vec::with_capacity(n),
            holes: Vec::new(),
            sparse: BTreeMap::new(),
            len: 0,
        }
    }

    /// Number of keys stored (the key `MEMOIZE` uses next).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn get(&self, key: u64) -> Option<H> {
        let dense = usize::try_from(key).ok().and_then(|k| self.dense.get(k));
        match dense {
            Some(_) if self.is_hole(key) => None,
            Some(&h) => Some(h),
            None if self.sparse.is_empty() => None,
            None => self.sparse.get(&key).copied(),
        }
    }

    #[inline]
    fn is_hole(&self, key: u64) -> bool {
        !self.holes.is_empty()
            && self
                .holes
                .get((key / 64) as usize)
                .is_some_and(|w| w & (1 << (key % 64)) != 0)
    }

    /// Stores `id` under `key`; returns the bytes of vector growth to charge, or `None`
    /// (storing nothing) when the allocator refused the growth.
    #[inline]
    pub(crate) fn put(&mut self, key: u64, id: H) -> Option<usize> {
        let n = self.dense.len() as u64;
        if key < n {
            if self.is_hole(key) {
                self.holes[(key / 64) as usize] &= !(1 << (key % 64));
                self.len += 1;
            }
            self.dense[key as usize] = id;
            Some(0)
        } else if key == n {
            if !crate::try_alloc::room(&mut self.dense, 1) {
                return None;
            }
            self.dense.push(id);
            if self.sparse.is_empty() || self.sparse.remove(&key).is_none() {
                self.len += 1;
            }
            Some(SLOT_COST)
        } else if key - n <= DENSE_SLACK && self.sparse.is_empty() {
            let grow = (key - n + 1) as usize;
            let hole_words = (key as usize + 1)
                .div_ceil(64)
                .saturating_sub(self.holes.len());
            if !crate::try_alloc::room(&mut self.dense, grow)
                || !crate::try_alloc::room(&mut self.holes, hole_words)
            {
                return None;
            }
            self.dense.resize(key as usize + 1, id);
            self.holes.resize(self.dense.len().div_ceil(64), 0);
            for hole in n..key {
                self.holes[(hole / 64) as usize] |= 1 << (hole % 64);
            }
            self.len += 1;
            Some(grow * SLOT_COST)
        } else {
            if self.sparse.insert(key, id).is_none() {
                self.len += 1;
            }
            Some(4 * SLOT_COST)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_sparse_and_overwrite() {
        let mut m = Memo::<usize>::with_capacity(4);
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
        m.put(3, 13);
        assert_eq!((m.len(), m.get(3), m.get(2)), (5, Some(13), None));
    }
}
