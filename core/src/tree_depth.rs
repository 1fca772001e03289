//! How deeply a [`Tree`] nests, measured the way a recursive walker that skips nodes it
//! has already visited meets it (depth-first, children in order).
//!
//! The decoder never recurses, and its [`Limits::max_depth`](crate::Limits) bounds only
//! the marks open at once: containers nested through `APPEND` or `TUPLE1` (100,000
//! nested lists) decode fine. A host that walks the finished tree recursively checks it
//! with [`Tree::nests_deeper_than`] first (the C API does, for its `max_depth`).

use alloc::vec;
use alloc::vec::Vec;

use crate::value::{NodeId, Tree};

impl Tree {
    /// True when a depth-first walk from the root (the root is level 1) reaches a level
    /// deeper than `limit`. Iterative, and stops as soon as it knows: safe and linear on
    /// any tree, cycles included.
    pub fn nests_deeper_than(&self, limit: usize) -> bool {
        if self.is_empty() {
            return false;
        }
        let mut seen = vec![false; self.len()];
        // (node, level) pairs still to visit.
        let mut todo: Vec<(NodeId, usize)> = vec![(self.root(), 1)];
        while let Some((id, level)) = todo.pop() {
            if core::mem::replace(&mut seen[id], true) {
                continue;
            }
            if level > limit {
                return true;
            }
            let before = todo.len();
            self.get(id).for_each_child(|c| todo.push((c, level + 1)));
            // Visit children in order: the first child is popped first.
            todo[before..].reverse();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::value::{Tree, Value};

    fn nested_lists(depth: usize) -> Tree {
        let mut tree = Tree::new();
        let mut inner = tree.push(Value::List(vec![]));
        for _ in 1..depth {
            inner = tree.push(Value::List(vec![inner]));
        }
        tree.set_root(inner);
        tree
    }

    #[test]
    fn measures_nesting() {
        assert!(!nested_lists(10).nests_deeper_than(10));
        assert!(nested_lists(11).nests_deeper_than(10));
        assert!(nested_lists(100_000).nests_deeper_than(10_000));
        assert!(!Tree::new().nests_deeper_than(0));
    }

    #[test]
    fn cycles_end() {
        let mut tree = Tree::new();
        let l = tree.push(Value::List(vec![0, 0]));
        tree.set_root(l);
        assert!(!tree.nests_deeper_than(1));
    }
}
