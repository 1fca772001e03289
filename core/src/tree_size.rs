//! How large a [`Tree`] is when written out as a tree: every shared node once per
//! reference, as `str()`, `repr()`, hashing, equality or a JSON dump without references
//! meet it.
//!
//! A stream of a few hundred bytes can describe a DAG whose levels each hold the level
//! below twice: a handful of nodes in the tree, 2**60 when walked as a tree. A host that
//! hands a value to code that walks it that way (hashing a dict key, Python's `repr`,
//! JavaScript's `String(key)`) bounds the walk first with [`Tree::expanded_size`] (or
//! [`Tree::expanded_sizes`] for every node at once). Not a measure of memory: the tree
//! itself is bounded by the decoder's limits.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::value::{NodeId, Tree};

impl Tree {
    /// Fails with [`DecodeErrorKind::Expands`] at `end` (the offset of the stream's
    /// `STOP`: the tree keeps no offsets) when [`Tree::expanded_size`] exceeds `limit`.
    pub fn check_expanded(&self, limit: usize, end: usize) -> Result<(), DecodeError> {
        if self.expanded_size(limit.saturating_add(1)) > limit {
            return Err(DecodeError::new(DecodeErrorKind::Expands(limit), end));
        }
        Ok(())
    }

    /// The number of nodes a walk from the root meets when it writes every shared node
    /// in full at each reference, cutting cycles where it meets a node it is inside
    /// (counted once, as `repr` writes `[...]`), saturating at `cap`. Iterative and
    /// linear in the tree.
    pub fn expanded_size(&self, cap: usize) -> usize {
        if self.is_empty() {
            return 0;
        }
        self.expanded_sizes(cap)[self.root()]
    }

    /// [`Tree::expanded_size`] of every node reachable from the root, by node id
    /// (0 for nodes the root does not reach).
    pub fn expanded_sizes(&self, cap: usize) -> Vec<usize> {
        const NEW: u8 = 0;
        const OPEN: u8 = 1;
        const DONE: u8 = 2;
        let mut size = vec![0usize; self.len()];
        if self.is_empty() {
            return size;
        }
        let mut state = vec![NEW; self.len()];
        let mut kids: Vec<NodeId> = Vec::new();
        let mut todo: Vec<NodeId> = vec![self.root()];
        while let Some(&id) = todo.last() {
            match state[id] {
                NEW => {
                    state[id] = OPEN;
                    kids.clear();
                    self.get(id).for_each_child(|c| kids.push(c));
                    todo.extend(kids.iter().filter(|&&c| state[c] == NEW));
                }
                OPEN => {
                    kids.clear();
                    self.get(id).for_each_child(|c| kids.push(c));
                    let mut total: usize = 1;
                    for &c in &kids {
                        // A child still open is an ancestor: a cycle, counted once.
                        let s = if state[c] == DONE { size[c] } else { 1 };
                        total = total.saturating_add(s).min(cap);
                    }
                    size[id] = total.min(cap);
                    state[id] = DONE;
                    todo.pop();
                }
                _ => {
                    todo.pop();
                }
            }
        }
        size
    }
}

#[cfg(test)]
mod tests {
    use crate::value::{Tree, Value};

    /// Level 0 is `[]`; level i is `[level i-1, level i-1]`.
    fn dag(levels: usize) -> Tree {
        let mut tree = Tree::new();
        let mut top = tree.push(Value::List(vec![]));
        for _ in 1..levels {
            top = tree.push(Value::List(vec![top, top]));
        }
        tree.set_root(top);
        tree
    }

    #[test]
    fn counts_shared_nodes_at_every_reference() {
        assert_eq!(dag(1).expanded_size(usize::MAX), 1);
        assert_eq!(dag(3).expanded_size(usize::MAX), 7);
        assert_eq!(dag(20).expanded_size(usize::MAX), (1 << 20) - 1);
        assert_eq!(dag(200).expanded_size(1000), 1000);
        assert_eq!(Tree::new().expanded_size(10), 0);
    }

    #[test]
    fn cycles_count_once() {
        let mut tree = Tree::new();
        let l = tree.push(Value::List(vec![0, 0]));
        tree.set_root(l);
        assert_eq!(tree.expanded_size(usize::MAX), 3);
    }
}
