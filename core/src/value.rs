//! The inert value tree a decoded pickle becomes.
//!
//! All values live in one arena ([`Tree`]) and refer to each other by [`NodeId`]. A value
//! that a stream references twice (through the memo) is one node reached from two places,
//! so shared references and cycles (a list that contains itself) are represented exactly,
//! never duplicated. A [`Value`] is what a node holds, owned (to build a tree); a
//! [`ValueRef`] is how a tree hands a node out (scalars by value, payloads borrowed).
//!
//! The arena is compact: every node is a one-byte tag and eight bytes of payload, with
//! scalars (None, bools, ints, floats, persistent ids, extensions, buffers) held in
//! the payload itself and only strings, containers, globals and objects in a second
//! vector of [`Value`]s. A list of a million ints is 17 MB, not a million heap-shaped
//! nodes, and freeing a tree frees only what its heap values hold. Nothing here can run code: globals, calls (`REDUCE`, `NEWOBJ`,
//! `INST`/`OBJ`), `BUILD` state and persistent ids are plain nodes that a host resolves
//! with its own allowlist or hook.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// Index of a node in its [`Tree`].
pub type NodeId = usize;

/// One decoded value, owned: what [`Tree::push`] takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int that fits in 64 bits.
    Int(i64),
    /// An int beyond 64 bits: little-endian two's complement, minimal length (as `LONG1`).
    BigInt(Vec<u8>),
    /// A float.
    Float(f64),
    /// A `str` that is valid UTF-8.
    Str(String),
    /// A `str` holding lone surrogates, as generalized UTF-8 (Python's `surrogatepass`).
    SurrogateStr(Vec<u8>),
    /// `bytes` (also Python 2 `str` decoded with `encoding="bytes"`).
    Bytes(Vec<u8>),
    /// `bytearray`.
    ByteArray(Vec<u8>),
    /// `list`.
    List(Vec<NodeId>),
    /// `tuple`.
    Tuple(Vec<NodeId>),
    /// `dict`, entries in stream order.
    Dict(Vec<(NodeId, NodeId)>),
    /// `set`, items in stream order.
    Set(Vec<NodeId>),
    /// `frozenset`, items in stream order.
    FrozenSet(Vec<NodeId>),
    /// A reference to `module.name` (`GLOBAL`, `STACK_GLOBAL`, `INST`/`OBJ` class).
    Global { module: String, name: String },
    /// An object built by calling something: see [`Object`].
    Object(Box<Object>),
    /// A persistent id (`PERSID`: a str node, `BINPERSID`: any node) for the host to resolve.
    PersistentId(NodeId),
    /// An object from the copyreg extension registry (`EXT1`/`EXT2`/`EXT4`).
    Extension(i32),
    /// The `index`-th out-of-band buffer supplied by the host (`NEXT_BUFFER`).
    Buffer { index: usize, readonly: bool },
}

/// How an [`Object`] node was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// `callable(*args)` (`REDUCE`).
    Reduce,
    /// `cls.__new__(cls, *args)` (`NEWOBJ`).
    NewObj,
    /// `cls.__new__(cls, *args, **kwargs)` (`NEWOBJ_EX`).
    NewObjEx,
    /// `INST` / `OBJ` (protocol 0/1 class instantiation).
    Inst,
    /// `BUILD` applied to a value that was not an object node: `callable` is that value.
    Built,
}

/// A call the stream asks for, with everything later applied to its result.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub kind: ObjectKind,
    /// The callable or class.
    pub callable: NodeId,
    /// The positional arguments: a tuple node.
    pub args: NodeId,
    /// Keyword arguments for `NEWOBJ_EX`: a dict node.
    pub kwargs: Option<NodeId>,
    /// The `BUILD` states applied, in order (usually zero or one).
    pub state: Vec<NodeId>,
    /// Items added with `APPEND`/`APPENDS`/`ADDITEMS` (list and set subclasses).
    pub items: Vec<NodeId>,
    /// Entries added with `SETITEM`/`SETITEMS` (dict subclasses, `OrderedDict`).
    pub entries: Vec<(NodeId, NodeId)>,
}

/// One node of a [`Tree`], as [`Tree::get`] hands it out: scalars by value, payloads
/// and children borrowed from the tree. The variants are those of [`Value`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    None,
    Bool(bool),
    Int(i64),
    BigInt(&'a [u8]),
    Float(f64),
    Str(&'a str),
    SurrogateStr(&'a [u8]),
    Bytes(&'a [u8]),
    ByteArray(&'a [u8]),
    List(&'a [NodeId]),
    Tuple(&'a [NodeId]),
    Dict(&'a [(NodeId, NodeId)]),
    Set(&'a [NodeId]),
    FrozenSet(&'a [NodeId]),
    Global { module: &'a str, name: &'a str },
    Object(&'a Object),
    PersistentId(NodeId),
    Extension(i32),
    Buffer { index: usize, readonly: bool },
}

impl ValueRef<'_> {
    /// Calls `f` with every node this value refers to, in stream order: the one list of
    /// a node's children that every tree walk (depth, expanded size, allowlist,
    /// encoding) goes through.
    pub fn for_each_child(self, mut f: impl FnMut(NodeId)) {
        match self {
            ValueRef::List(items)
            | ValueRef::Tuple(items)
            | ValueRef::Set(items)
            | ValueRef::FrozenSet(items) => items.iter().for_each(|&i| f(i)),
            ValueRef::Dict(entries) => entries.iter().for_each(|&(k, v)| {
                f(k);
                f(v)
            }),
            ValueRef::Object(obj) => {
                f(obj.callable);
                f(obj.args);
                if let Some(k) = obj.kwargs {
                    f(k);
                }
                obj.state.iter().for_each(|&s| f(s));
                obj.items.iter().for_each(|&i| f(i));
                obj.entries.iter().for_each(|&(k, v)| {
                    f(k);
                    f(v)
                });
            }
            ValueRef::PersistentId(pid) => f(pid),
            _ => {}
        }
    }

    /// The owned value (copies payloads and child lists).
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::None => Value::None,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::BigInt(b) => Value::BigInt(b.to_vec()),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Str(s) => Value::Str(s.into()),
            ValueRef::SurrogateStr(b) => Value::SurrogateStr(b.to_vec()),
            ValueRef::Bytes(b) => Value::Bytes(b.to_vec()),
            ValueRef::ByteArray(b) => Value::ByteArray(b.to_vec()),
            ValueRef::List(v) => Value::List(v.to_vec()),
            ValueRef::Tuple(v) => Value::Tuple(v.to_vec()),
            ValueRef::Dict(v) => Value::Dict(v.to_vec()),
            ValueRef::Set(v) => Value::Set(v.to_vec()),
            ValueRef::FrozenSet(v) => Value::FrozenSet(v.to_vec()),
            ValueRef::Global { module, name } => Value::Global {
                module: module.into(),
                name: name.into(),
            },
            ValueRef::Object(o) => Value::Object(Box::new(o.clone())),
            ValueRef::PersistentId(p) => Value::PersistentId(p),
            ValueRef::Extension(c) => Value::Extension(c),
            ValueRef::Buffer { index, readonly } => Value::Buffer { index, readonly },
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::None => ValueRef::None,
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::Int(i) => ValueRef::Int(*i),
            Value::BigInt(b) => ValueRef::BigInt(b),
            Value::Float(f) => ValueRef::Float(*f),
            Value::Str(s) => ValueRef::Str(s),
            Value::SurrogateStr(b) => ValueRef::SurrogateStr(b),
            Value::Bytes(b) => ValueRef::Bytes(b),
            Value::ByteArray(b) => ValueRef::ByteArray(b),
            Value::List(v) => ValueRef::List(v),
            Value::Tuple(v) => ValueRef::Tuple(v),
            Value::Dict(v) => ValueRef::Dict(v),
            Value::Set(v) => ValueRef::Set(v),
            Value::FrozenSet(v) => ValueRef::FrozenSet(v),
            Value::Global { module, name } => ValueRef::Global { module, name },
            Value::Object(o) => ValueRef::Object(o),
            Value::PersistentId(p) => ValueRef::PersistentId(*p),
            Value::Extension(c) => ValueRef::Extension(*c),
            Value::Buffer { index, readonly } => ValueRef::Buffer {
                index: *index,
                readonly: *readonly,
            },
        }
    }
}

impl PartialEq<Value> for ValueRef<'_> {
    fn eq(&self, other: &Value) -> bool {
        *self == ValueRef::from(other)
    }
}

/// What a node's eight payload bytes mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    None,
    False,
    True,
    /// The payload is the `i64`.
    Int,
    /// The payload is the `f64`'s bits.
    Float,
    /// The payload is the pid's node id.
    PersistentId,
    /// The payload is the code.
    Extension,
    /// The payload is the buffer index.
    Buffer,
    ReadonlyBuffer,
    /// The payload is an index into `Tree::heap`.
    Heap,
}

/// A decoded stream: an arena of nodes and the root the stream produced.
///
/// Node ids run from 0 to [`Tree::len`] minus one, in the order nodes were pushed.
/// Two trees are equal when they have the same root and equal nodes under every id.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// The values that own memory: strings, bytes, big ints, containers, globals, objects.
    heap: Vec<Value>,
    tags: Vec<Tag>,
    payloads: Vec<u64>,
    root: NodeId,
    /// `(object, offset)`: where each object node was made (see
    /// [`Tree::object_offset`]), in the order they were made.
    object_offsets: Vec<(NodeId, usize)>,
    /// An allocation for a node or its contents was refused (see
    /// [`Tree::out_of_memory`]).
    out_of_memory: bool,
}

impl PartialEq for Tree {
    fn eq(&self, other: &Tree) -> bool {
        self.root == other.root
            && self.len() == other.len()
            && (0..self.len()).all(|id| self.get(id) == other.get(id))
    }
}

impl Tree {
    /// An empty tree; [`Tree::push`] nodes, then [`Tree::set_root`].
    pub fn new() -> Self {
        Tree::default()
    }

    /// An empty tree with room for `n` nodes, scalars or heap values.
    pub fn with_capacity(n: usize) -> Self {
        Tree::with_capacities(n, n)
    }

    /// An empty tree with room for `nodes` nodes, `heap` of them heap values.
    /// The room is a hint: what the allocator refuses of it is not reserved.
    pub(crate) fn with_capacities(nodes: usize, heap: usize) -> Self {
        let mut tree = Tree::default();
        let _ = tree.heap.try_reserve_exact(heap);
        let _ = tree.tags.try_reserve_exact(nodes);
        let _ = tree.payloads.try_reserve_exact(nodes);
        tree
    }

    /// Whether an allocation for a node or its contents was refused while building the
    /// tree (a decode then fails with `OUT_OF_MEMORY`): the node that needed it was
    /// not added, and the id handed out for it is that of an earlier node.
    pub fn out_of_memory(&self) -> bool {
        self.out_of_memory
    }

    /// Records a refused allocation; the id to hand out instead of a new node's.
    #[cold]
    pub(crate) fn refused(&mut self) -> NodeId {
        self.out_of_memory = true;
        self.tags.len().saturating_sub(1)
    }

    /// The byte offset of the opcode that made object node `id` (its `REDUCE`,
    /// `NEWOBJ`, ..., or the `BUILD` that turned a plain value into an object), when
    /// the tree was decoded. For error messages: a linear search.
    pub fn object_offset(&self, id: NodeId) -> Option<usize> {
        self.object_offsets
            .iter()
            .find(|&&(n, _)| n == id)
            .map(|&(_, at)| at)
    }

    pub(crate) fn note_object_offset(&mut self, id: NodeId, offset: usize) {
        self.object_offsets.push((id, offset));
    }

    #[inline(always)]
    fn slot(&mut self, tag: Tag, payload: u64) -> NodeId {
        if self.tags.len() == self.tags.capacity() && !self.grow_nodes() {
            return self.refused();
        }
        self.tags.push(tag);
        self.payloads.push(payload);
        self.tags.len() - 1
    }

    /// Room for one more node; false when refused (but a tree's first node always gets
    /// room, so a refused node's stand-in id is a real one).
    #[cold]
    #[inline(never)]
    fn grow_nodes(&mut self) -> bool {
        if crate::try_alloc::room(&mut self.tags, 1)
            && crate::try_alloc::room(&mut self.payloads, 1)
        {
            return true;
        }
        if self.tags.is_empty() {
            self.tags.reserve(1);
            self.payloads.reserve(1);
            return true;
        }
        false
    }

    /// Clears [`Tree::out_of_memory`] once the refusal was reported and nothing of the
    /// refused node remains (the C builder retries after one).
    pub(crate) fn forget_refusal(&mut self) {
        self.out_of_memory = false;
    }

    /// Room for one more heap value; false when refused.
    #[inline(always)]
    pub(crate) fn heap_room(&mut self) -> bool {
        crate::try_alloc::room(&mut self.heap, 1)
    }

    /// The tag and payload a value takes, or `None` for a value that goes to the heap.
    #[inline]
    fn scalar(value: &Value) -> Option<(Tag, u64)> {
        Some(match *value {
            Value::None => (Tag::None, 0),
            Value::Bool(false) => (Tag::False, 0),
            Value::Bool(true) => (Tag::True, 0),
            Value::Int(i) => (Tag::Int, i as u64),
            Value::Float(f) => (Tag::Float, f.to_bits()),
            Value::PersistentId(p) => (Tag::PersistentId, p as u64),
            Value::Extension(c) => (Tag::Extension, c as u32 as u64),
            Value::Buffer { index, readonly } => {
                let tag = if readonly {
                    Tag::ReadonlyBuffer
                } else {
                    Tag::Buffer
                };
                (tag, index as u64)
            }
            _ => return None,
        })
    }

    /// Adds a node and returns its id.
    #[inline]
    pub fn push(&mut self, value: Value) -> NodeId {
        match Self::scalar(&value) {
            Some((tag, payload)) => self.slot(tag, payload),
            None => self.push_heap(value),
        }
    }

    /// Adds an int node (what `push(Value::Int(v))` does, without the match).
    #[inline(always)]
    pub(crate) fn push_int(&mut self, v: i64) -> NodeId {
        self.slot(Tag::Int, v as u64)
    }

    /// Adds a float node.
    #[inline(always)]
    pub(crate) fn push_float(&mut self, v: f64) -> NodeId {
        self.slot(Tag::Float, v.to_bits())
    }

    /// Adds a node for a value that owns memory (not a scalar: see [`Tree::push`]).
    #[inline(always)]
    pub(crate) fn push_heap(&mut self, value: Value) -> NodeId {
        debug_assert!(Self::scalar(&value).is_none());
        let node_room = self.tags.len() < self.tags.capacity() || self.grow_nodes();
        if !node_room || !self.heap_room() {
            return self.refused();
        }
        self.heap.push(value);
        self.slot(Tag::Heap, (self.heap.len() - 1) as u64)
    }

    /// The heap value of node `id`, when it has one.
    #[inline(always)]
    pub(crate) fn heap_ref(&self, id: NodeId) -> Option<&Value> {
        match self.tags[id] {
            Tag::Heap => Some(&self.heap[self.payloads[id] as usize]),
            _ => None,
        }
    }

    /// Replaces the value of node `id` (a placeholder pushed before its children, say).
    /// Panics on an id not from this tree.
    pub fn set(&mut self, id: NodeId, value: Value) {
        match Self::scalar(&value) {
            Some((tag, payload)) => {
                if self.tags[id] == Tag::Heap {
                    // Free what the old value held; its heap slot stays, empty.
                    self.heap[self.payloads[id] as usize] = Value::None;
                }
                self.tags[id] = tag;
                self.payloads[id] = payload;
            }
            None if self.tags[id] == Tag::Heap => self.heap[self.payloads[id] as usize] = value,
            None => {
                if !self.heap_room() {
                    self.refused();
                    return;
                }
                self.heap.push(value);
                self.tags[id] = Tag::Heap;
                self.payloads[id] = (self.heap.len() - 1) as u64;
            }
        }
    }

    /// Takes the value of node `id` out, leaving `None` in its place. Panics on an id
    /// not from this tree.
    pub fn take(&mut self, id: NodeId) -> Value {
        let value = match self.tags[id] {
            Tag::Heap => {
                core::mem::replace(&mut self.heap[self.payloads[id] as usize], Value::None)
            }
            _ => self.get(id).to_value(),
        };
        self.set(id, Value::None);
        value
    }

    /// The node with this id. Panics on an id not from this tree.
    #[inline]
    pub fn get(&self, id: NodeId) -> ValueRef<'_> {
        let payload = self.payloads[id];
        match self.tags[id] {
            Tag::None => ValueRef::None,
            Tag::False => ValueRef::Bool(false),
            Tag::True => ValueRef::Bool(true),
            Tag::Int => ValueRef::Int(payload as i64),
            Tag::Float => ValueRef::Float(f64::from_bits(payload)),
            Tag::PersistentId => ValueRef::PersistentId(payload as NodeId),
            Tag::Extension => ValueRef::Extension(payload as u32 as i32),
            Tag::Buffer => ValueRef::Buffer {
                index: payload as usize,
                readonly: false,
            },
            Tag::ReadonlyBuffer => ValueRef::Buffer {
                index: payload as usize,
                readonly: true,
            },
            Tag::Heap => ValueRef::from(&self.heap[payload as usize]),
        }
    }

    /// The node with this id, or `None` for an id not in the tree.
    #[inline]
    pub fn try_get(&self, id: NodeId) -> Option<ValueRef<'_>> {
        (id < self.len()).then(|| self.get(id))
    }

    /// The heap value of node `id`, mutably, when it has one (strings, containers,
    /// globals, objects); `None` for a scalar. Panics on an id not from this tree.
    #[inline]
    pub fn heap_mut(&mut self, id: NodeId) -> Option<&mut Value> {
        match self.tags[id] {
            Tag::Heap => Some(&mut self.heap[self.payloads[id] as usize]),
            _ => None,
        }
    }

    /// Marks buffer node `id` read-only; other nodes are left alone.
    pub(crate) fn set_readonly(&mut self, id: NodeId) {
        if self.tags[id] == Tag::Buffer {
            self.tags[id] = Tag::ReadonlyBuffer;
        }
    }

    /// The value the stream produced.
    #[inline]
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// Sets the root node.
    pub fn set_root(&mut self, id: NodeId) {
        self.root = id;
    }

    /// Number of nodes.
    #[inline]
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True when the tree has no nodes.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Every node with its id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, ValueRef<'_>)> + '_ {
        (0..self.len()).map(|id| (id, self.get(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn scalars_inline_heap_values_borrowed_and_replaced_in_place() {
        let mut t = Tree::new();
        let i = t.push(Value::Int(-7));
        let f = t.push(Value::Float(-0.5));
        let s = t.push(Value::Str("héllo".into()));
        let b = t.push(Value::Buffer {
            index: 3,
            readonly: false,
        });
        let l = t.push(Value::List(vec![i, f, s]));
        assert_eq!(t.get(i), ValueRef::Int(-7));
        assert_eq!(t.get(f), ValueRef::Float(-0.5));
        assert_eq!(t.get(s), ValueRef::Str("héllo"));
        assert_eq!(t.get(l), ValueRef::List(&[i, f, s]));
        t.set_readonly(b);
        assert_eq!(
            t.get(b).to_value(),
            Value::Buffer {
                index: 3,
                readonly: true
            }
        );
        // Heap to scalar, scalar to heap, heap to heap: same ids, values replaced.
        t.set(s, Value::Bool(true));
        t.set(i, Value::Bytes(vec![1, 2]));
        assert_eq!(t.take(l), Value::List(vec![i, f, s]));
        assert_eq!(t.get(l), ValueRef::None);
        assert_eq!(t.get(s), ValueRef::Bool(true));
        assert_eq!(t.get(i), ValueRef::Bytes(&[1, 2]));
        assert_eq!(t.try_get(5), None);
        assert_eq!(t.len(), 5);
        // Equality is by node, whatever heap slots the replacements left behind.
        let mut u = Tree::new();
        for (_, v) in t.iter() {
            u.push(v.to_value());
        }
        assert_eq!(t, u);
    }
}
