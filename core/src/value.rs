//! The inert value tree a decoded pickle becomes.
//!
//! All values live in one arena ([`Tree`]) and refer to each other by [`NodeId`]. A value
//! that a stream references twice (through the memo) is one node reached from two places,
//! so shared references and cycles (a list that contains itself) are represented exactly,
//! never duplicated. Nothing here can run code: globals, calls (`REDUCE`, `NEWOBJ`,
//! `INST`/`OBJ`), `BUILD` state and persistent ids are plain nodes that a host resolves
//! with its own allowlist or hook.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// Index of a node in its [`Tree`].
pub type NodeId = usize;

/// One decoded value.
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

/// A decoded stream: an arena of nodes and the root the stream produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    nodes: Vec<Value>,
    root: NodeId,
}

impl Tree {
    /// An empty tree; [`Tree::push`] nodes, then [`Tree::set_root`].
    pub fn new() -> Self {
        Tree {
            nodes: Vec::new(),
            root: 0,
        }
    }

    /// An empty tree with room for `n` nodes.
    pub fn with_capacity(n: usize) -> Self {
        Tree {
            nodes: Vec::with_capacity(n),
            root: 0,
        }
    }

    /// Adds a node and returns its id.
    #[inline]
    pub fn push(&mut self, value: Value) -> NodeId {
        self.nodes.push(value);
        self.nodes.len() - 1
    }

    /// The node with this id. Panics on an id not from this tree.
    #[inline]
    pub fn get(&self, id: NodeId) -> &Value {
        &self.nodes[id]
    }

    /// The node with this id, mutably.
    #[inline]
    pub fn get_mut(&mut self, id: NodeId) -> &mut Value {
        &mut self.nodes[id]
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
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the tree has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// All nodes, indexed by [`NodeId`].
    pub fn nodes(&self) -> &[Value] {
        &self.nodes
    }
}
