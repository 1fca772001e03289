//! A checked builder of [`Tree`]s for hosts that describe a value as a sequence of
//! pushes and begin/end pairs (the C encoder API, the JSON form), and [`hashable`], the
//! rule for what Python can hash. Misuse (an end that does not match, a dict with a
//! dangling key, an unhashable key, a second top-level value) is an error and leaves the
//! builder as it was. Not the decoder's builder: that is the [`Builder`](crate::Builder)
//! trait the decode machine drives.

use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;

use crate::value::{NodeId, Tree, Value, ValueRef};

/// Deepest container nesting the builder accepts (as the decoder's default limit).
pub const MAX_DEPTH: usize = 10_000;

/// Why a builder call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("end does not match the innermost open container")]
    Unbalanced,
    #[error("containers still open or no value pushed")]
    Incomplete,
    #[error("dict closed with a key and no value")]
    OddDict,
    #[error("unhashable dict key or set item")]
    Unhashable,
    #[error("a pickle holds one top-level value")]
    SecondRoot,
    #[error("containers nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("out of memory: the allocator refused memory for the value")]
    OutOfMemory,
}

/// The containers a builder can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    List,
    Tuple,
    Dict,
    Set,
    FrozenSet,
}

#[derive(Debug)]
struct Open {
    kind: Container,
    node: NodeId,
    children: Vec<NodeId>,
}

/// Builds one [`Tree`]: push scalars, open and close containers, then
/// [`TreeBuilder::finish`].
#[derive(Debug, Default)]
pub struct TreeBuilder {
    tree: Tree,
    open: Vec<Open>,
    root: Option<NodeId>,
}

impl TreeBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of containers currently open.
    pub fn depth(&self) -> usize {
        self.open.len()
    }

    /// Adds a scalar value (anything but a container) where the next value goes.
    pub fn push(&mut self, value: Value) -> Result<NodeId, BuildError> {
        self.check_slot()?;
        self.room_to_attach()?;
        let id = self.tree.push(value);
        self.refused()?;
        self.attach(id);
        Ok(id)
    }

    /// Adds a node that is already in the tree (a shared or cyclic reference) where the
    /// next value goes.
    pub fn push_existing(&mut self, id: NodeId) -> Result<(), BuildError> {
        self.check_slot()?;
        self.room_to_attach()?;
        self.attach(id);
        Ok(())
    }

    /// Opens a container; its node id is valid at once (for references to it).
    pub fn begin(&mut self, kind: Container) -> Result<NodeId, BuildError> {
        self.check_slot()?;
        if self.open.len() >= MAX_DEPTH {
            return Err(BuildError::TooDeep);
        }
        self.room_to_attach()?;
        if !crate::try_alloc::room(&mut self.open, 1) {
            return Err(BuildError::OutOfMemory);
        }
        let node = self.tree.push(Value::None);
        self.refused()?;
        self.open.push(Open {
            kind,
            node,
            children: Vec::new(),
        });
        Ok(node)
    }

    /// Closes the innermost container, which must be of `kind`.
    pub fn end(&mut self, kind: Container) -> Result<NodeId, BuildError> {
        let Some(top) = self.open.last() else {
            return Err(BuildError::Unbalanced);
        };
        if top.kind != kind {
            return Err(BuildError::Unbalanced);
        }
        match kind {
            Container::Dict => {
                if top.children.len() % 2 != 0 {
                    return Err(BuildError::OddDict);
                }
                for key in top.children.iter().step_by(2) {
                    if !hashable(&self.tree, *key, top.node) {
                        return Err(BuildError::Unhashable);
                    }
                }
            }
            Container::Set | Container::FrozenSet => {
                for item in &top.children {
                    if !hashable(&self.tree, *item, top.node) {
                        return Err(BuildError::Unhashable);
                    }
                }
            }
            Container::List | Container::Tuple => {}
        }
        // Everything that allocates comes before the container is taken off the open
        // list, so a refusal changes nothing.
        let pairs = match kind {
            Container::Dict => {
                Some(crate::try_alloc::pairs(&top.children).ok_or(BuildError::OutOfMemory)?)
            }
            _ => None,
        };
        let parent_room = match self.open.len() {
            n if n >= 2 => crate::try_alloc::room(&mut self.open[n - 2].children, 1),
            _ => true,
        };
        if !parent_room || !self.tree.heap_room() {
            return Err(BuildError::OutOfMemory);
        }
        let top = self.open.pop().expect("checked above");
        let items = top.children;
        let value = match (kind, pairs) {
            (Container::List, _) => Value::List(items),
            (Container::Tuple, _) => Value::Tuple(items),
            (Container::Set, _) => Value::Set(items),
            (Container::FrozenSet, _) => Value::FrozenSet(items),
            (Container::Dict, pairs) => Value::Dict(pairs.unwrap_or_default()),
        };
        self.tree.set(top.node, value);
        self.attach(top.node);
        Ok(top.node)
    }

    /// The finished tree; fails while containers are open or when nothing was pushed.
    pub fn finish(mut self) -> Result<Tree, BuildError> {
        match self.root {
            Some(root) if self.open.is_empty() => {
                self.tree.set_root(root);
                Ok(self.tree)
            }
            _ => Err(BuildError::Incomplete),
        }
    }

    /// The tree so far, for hosts that fill in nodes themselves (the JSON bridge).
    pub fn tree_mut(&mut self) -> &mut Tree {
        &mut self.tree
    }

    fn check_slot(&self) -> Result<(), BuildError> {
        if self.open.is_empty() && self.root.is_some() {
            return Err(BuildError::SecondRoot);
        }
        Ok(())
    }

    /// Room for one more child in the innermost container.
    fn room_to_attach(&mut self) -> Result<(), BuildError> {
        match self.open.last_mut() {
            Some(top) => match crate::try_alloc::room(&mut top.children, 1) {
                true => Ok(()),
                false => Err(BuildError::OutOfMemory),
            },
            None => Ok(()),
        }
    }

    /// The tree refused the node just pushed (which it then did not add): the call
    /// fails and the builder is as it was, ready for another try.
    fn refused(&mut self) -> Result<(), BuildError> {
        if self.tree.out_of_memory() {
            self.tree.forget_refusal();
            return Err(BuildError::OutOfMemory);
        }
        Ok(())
    }

    /// Records `id` as the next child of the innermost container, or as the root.
    fn attach(&mut self, id: NodeId) {
        match self.open.last_mut() {
            Some(top) => top.children.push(id),
            None => self.root = Some(id),
        }
    }
}

/// Whether Python can hash the value at `id`: scalars, str, bytes, tuples and
/// frozensets of hashable values, globals. `open` is a container still being built (it
/// will be a dict or set, so it is unhashable). Walks with an explicit stack.
pub fn hashable(tree: &Tree, id: NodeId, open: NodeId) -> bool {
    let mut todo = vec![id];
    let mut seen = BTreeSet::new();
    while let Some(id) = todo.pop() {
        if id == open {
            return false;
        }
        if !seen.insert(id) {
            continue;
        }
        match tree.get(id) {
            ValueRef::None
            | ValueRef::Bool(_)
            | ValueRef::Int(_)
            | ValueRef::BigInt(_)
            | ValueRef::Float(_)
            | ValueRef::Str(_)
            | ValueRef::SurrogateStr(_)
            | ValueRef::Bytes(_)
            | ValueRef::Global { .. }
            | ValueRef::Extension(_) => {}
            ValueRef::Tuple(items) | ValueRef::FrozenSet(items) => todo.extend(items),
            // Objects, persistent ids and buffers: unknown until resolved; allow, as
            // CPython lets the class decide.
            ValueRef::Object(_) | ValueRef::PersistentId(_) | ValueRef::Buffer { .. } => {}
            ValueRef::ByteArray(_) | ValueRef::List(_) | ValueRef::Dict(_) | ValueRef::Set(_) => {
                return false
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn builds_nested_containers() {
        let mut b = TreeBuilder::new();
        b.begin(Container::Dict).unwrap();
        b.push(Value::Str("k".to_string())).unwrap();
        b.begin(Container::List).unwrap();
        b.push(Value::Int(1)).unwrap();
        b.end(Container::List).unwrap();
        b.end(Container::Dict).unwrap();
        let tree = b.finish().unwrap();
        let ValueRef::Dict(entries) = tree.get(tree.root()) else {
            panic!("root is not a dict")
        };
        assert_eq!(entries.len(), 1);
        assert_eq!(tree.get(entries[0].1), ValueRef::List(&[3]));
    }

    #[test]
    fn misuse_is_an_error_and_changes_nothing() {
        let mut b = TreeBuilder::new();
        assert_eq!(b.end(Container::List), Err(BuildError::Unbalanced));
        b.begin(Container::Dict).unwrap();
        b.push(Value::Int(1)).unwrap();
        assert_eq!(b.end(Container::List), Err(BuildError::Unbalanced));
        assert_eq!(b.end(Container::Dict), Err(BuildError::OddDict));
        b.push(Value::Int(2)).unwrap();
        b.begin(Container::List).unwrap();
        b.end(Container::List).unwrap();
        b.push(Value::Int(3)).unwrap();
        assert_eq!(b.end(Container::Dict), Err(BuildError::Unhashable));
        assert_eq!(b.depth(), 1);
        let mut b = TreeBuilder::new();
        b.push(Value::None).unwrap();
        assert_eq!(b.push(Value::None), Err(BuildError::SecondRoot));
        assert!(TreeBuilder::new().finish().is_err());
    }
}
