//! How deeply a decoded tree nests, measured the way a recursive walker that skips
//! nodes it has already visited would meet it (depth-first, children in order).
//!
//! The decoder's `max_depth` limit promises C callers that a recursive walk of the
//! result stays within that many levels, but the core currently counts only marks, so
//! containers nested through `APPEND` or `TUPLE1` (100,000 nested lists) pass it. The C
//! API re-checks the finished tree with this until the core enforces the limit itself;
//! then this module can go. No C types here.

use brinery_core::{NodeId, Tree, ValueRef};

/// The deepest level (the root is level 1) a depth-first walk from the root reaches,
/// stopping early once `limit` is exceeded. Iterative: safe on any tree.
pub fn exceeds(tree: &Tree, limit: usize) -> bool {
    if tree.is_empty() {
        return false;
    }
    let mut seen = vec![false; tree.len()];
    // (node, level) pairs still to visit.
    let mut todo: Vec<(NodeId, usize)> = vec![(tree.root(), 1)];
    while let Some((id, level)) = todo.pop() {
        if std::mem::replace(&mut seen[id], true) {
            continue;
        }
        if level > limit {
            return true;
        }
        let before = todo.len();
        match tree.get(id) {
            ValueRef::List(items)
            | ValueRef::Tuple(items)
            | ValueRef::Set(items)
            | ValueRef::FrozenSet(items) => todo.extend(items.iter().map(|&c| (c, level + 1))),
            ValueRef::Dict(entries) => todo.extend(
                entries
                    .iter()
                    .flat_map(|&(k, v)| [(k, level + 1), (v, level + 1)]),
            ),
            ValueRef::Object(o) => {
                let children = [o.callable, o.args]
                    .into_iter()
                    .chain(o.kwargs)
                    .chain(o.state.iter().copied())
                    .chain(o.items.iter().copied())
                    .chain(o.entries.iter().flat_map(|&(k, v)| [k, v]));
                todo.extend(children.map(|c| (c, level + 1)));
            }
            ValueRef::PersistentId(pid) => todo.push((pid, level + 1)),
            _ => {}
        }
        // Visit children in order: the first child is popped first.
        todo[before..].reverse();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use brinery_core::Value;

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
        assert!(!exceeds(&nested_lists(10), 10));
        assert!(exceeds(&nested_lists(11), 10));
        assert!(exceeds(&nested_lists(100_000), 10_000));
    }

    #[test]
    fn cycles_end() {
        let mut tree = Tree::new();
        let l = tree.push(Value::List(vec![0, 0]));
        tree.set_root(l);
        assert!(!exceeds(&tree, 1));
    }
}
