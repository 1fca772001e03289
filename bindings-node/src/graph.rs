//! The decoded values as `loads` keeps them between the decode and the tape: a
//! [`Builder`](brinery_core::Builder) the core's decode machine fills directly, so no
//! core `Tree` is built.
//!
//! Scalars (None, bools, ints, floats) are immediate handles ([`H`]) and take no node,
//! so a list of a million ints is its items and nothing else; all str text lives in one
//! `String` and all binary payloads in one `Vec`, so a str costs no allocation of its
//! own, and neither does a container filled in one batch: its items are a range of one
//! shared pool ([`Seq`]). Containers, globals and calls are nodes ([`Node`]). Shared references and cycles
//! are node ids reached twice, as the machine hands them out. The machine's calls are
//! in [`build`]. Not for deciding what a value becomes in JS (see [`crate::decode`] and
//! [`crate::stdtypes`]).

mod build;

use std::collections::HashMap;
use std::ops::Range;

use brinery_core::ObjectKind;

use crate::reuse::Spare;

/// Lists become [`Node::Nums`] from this many number items on.
pub const NUMS_MIN: usize = 256;

/// The JS number a handle stands for, when it is a plain number: a float, or an int
/// within ±(2^53 − 1) (beyond, an int becomes a BigInt).
#[inline]
pub fn number(h: H) -> Option<f64> {
    const SAFE: i64 = (1 << 53) - 1;
    match h {
        H::Int(i) if (-SAFE..=SAFE).contains(&i) => Some(i as f64),
        H::Float(f) => Some(f),
        _ => None,
    }
}

/// A container's items: a range of one of the graph's pools while the container was
/// filled in one batch (nearly always: `EMPTY_DICT`, `MARK`, ..., `SETITEMS`, its
/// children complete before it), else a vector of its own.
#[derive(Debug)]
pub enum Seq<T> {
    Pool(usize, usize),
    Own(Vec<T>),
}

impl<T: Copy> Seq<T> {
    /// A new range of `pool` holding `items`.
    #[inline]
    fn new_in(pool: &mut Vec<T>, items: impl Iterator<Item = T>) -> Self {
        let start = pool.len();
        pool.extend(items);
        Seq::Pool(start, pool.len())
    }

    #[inline]
    fn slice<'a>(&'a self, pool: &'a [T]) -> &'a [T] {
        match self {
            Seq::Pool(a, b) => &pool[*a..*b],
            Seq::Own(v) => v,
        }
    }

    /// Appends `items`: in the pool while the range is empty or ends the pool, else
    /// in a vector of its own (the range is left unused).
    #[inline]
    fn extend(&mut self, pool: &mut Vec<T>, items: impl Iterator<Item = T>) {
        match self {
            Seq::Pool(a, b) if *a == *b => *self = Seq::new_in(pool, items),
            Seq::Pool(_, b) if *b == pool.len() => {
                pool.extend(items);
                *b = pool.len();
            }
            Seq::Pool(a, b) => {
                let mut own = pool[*a..*b].to_vec();
                own.extend(items);
                *self = Seq::Own(own);
            }
            Seq::Own(v) => v.extend(items),
        }
    }
}

/// A value: a scalar held in the handle itself, or a node of the [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum H {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Node(usize),
}

/// A call the stream asks for, with everything later applied to its result.
#[derive(Debug)]
pub struct Obj {
    pub kind: ObjectKind,
    pub callable: H,
    /// A tuple.
    pub args: H,
    pub kwargs: Option<H>,
    /// `BUILD` states, in order.
    pub state: Vec<H>,
    /// `APPEND`ed items.
    pub items: Vec<H>,
    /// `SETITEM`ed entries.
    pub entries: Vec<(H, H)>,
}

/// A value that is not a scalar. Payloads are ranges of [`Graph::text`] (strs, global
/// names) or [`Graph::blob`] (everything binary).
#[derive(Debug)]
pub enum Node {
    BigInt(Range<usize>),
    Str(Range<usize>),
    /// Generalized UTF-8 (lone surrogates), in the blob.
    SurrogateStr(Range<usize>),
    Bytes(Range<usize>),
    ByteArray(Range<usize>),
    List(Seq<H>),
    /// A list of [`NUMS_MIN`] or more items, all plain numbers (floats, and ints within
    /// ±(2^53 − 1)): kept as the numbers themselves, half the size of handles, and
    /// copied to the tape as they are. A non-number appended turns it back into a
    /// `List` (ints then read back as floats: JS has one number type).
    Nums(Vec<f64>),
    Tuple(Seq<H>),
    Dict(Seq<(H, H)>),
    Set(Seq<H>),
    FrozenSet(Seq<H>),
    Global {
        module: Range<usize>,
        name: Range<usize>,
    },
    Object(Box<Obj>),
    PersistentId(H),
    Extension(i32),
    Buffer {
        index: usize,
        readonly: bool,
    },
}

/// What a node holds, with its payload borrowed from the graph.
#[derive(Debug, Clone, Copy)]
pub enum NodeRef<'g> {
    BigInt(&'g [u8]),
    Str(&'g str),
    SurrogateStr(&'g [u8]),
    Bytes(&'g [u8]),
    ByteArray(&'g [u8]),
    List(&'g [H]),
    Nums(&'g [f64]),
    Tuple(&'g [H]),
    Dict(&'g [(H, H)]),
    Set(&'g [H]),
    FrozenSet(&'g [H]),
    Global {
        module: &'g str,
        name: &'g str,
    },
    Object(&'g Obj),
    PersistentId(H),
    Extension(i32),
    /// Out-of-band buffer `index` (whether `READONLY_BUFFER` marked it does not matter
    /// in JS, which has no read-only views).
    Buffer {
        index: usize,
    },
}

/// The children of a node, as a tree walk (JavaScript's `String(key)`) meets them.
fn children(node: NodeRef<'_>, out: &mut Vec<H>) {
    match node {
        NodeRef::List(items)
        | NodeRef::Tuple(items)
        | NodeRef::Set(items)
        | NodeRef::FrozenSet(items) => out.extend_from_slice(items),
        NodeRef::Dict(entries) => out.extend(entries.iter().flat_map(|&(k, v)| [k, v])),
        NodeRef::Object(o) => {
            out.extend([o.callable, o.args]);
            out.extend(o.kwargs);
            out.extend(&o.state);
            out.extend(&o.items);
            out.extend(o.entries.iter().flat_map(|&(k, v)| [k, v]));
        }
        NodeRef::PersistentId(h) => out.push(h),
        _ => {}
    }
}

/// All values of one decode.
#[derive(Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub text: String,
    /// True while all of `text` is ASCII (checked as each str or name arrives, while its
    /// bytes are still in cache), so the walker need not look at them again.
    pub ascii_text: bool,
    pub blob: Vec<u8>,
    /// Set when `BUILD` targeted a scalar, which cannot become an object in place.
    pub built_scalar: bool,
    /// Extension codes the caller mapped to `(module, name)`: such a code becomes that
    /// global, as `copyreg`'s registry makes it in Python.
    pub extensions: HashMap<i32, (String, String)>,
    /// The items of lists, tuples and sets ([`Seq`]).
    pub items: Vec<H>,
    /// The entries of dicts ([`Seq`]).
    pub entries: Vec<(H, H)>,
    /// The ids of the lists that became [`Node::Nums`] (some may have turned back).
    pub nums_ids: Vec<usize>,
    /// Room for the numbers of the first list that becomes [`Node::Nums`] (a buffer
    /// kept from an earlier call, see [`crate::reuse`]).
    pub spare_nums: Vec<f64>,
}

impl Graph {
    /// A graph for a stream of `input_len` bytes in the buffers of `spare` (see
    /// [`Graph::give_back`]).
    pub fn with_buffers(input_len: usize, spare: &mut Spare) -> Self {
        let mut text = std::mem::take(&mut spare.text);
        text.clear();
        text.reserve(input_len.min(1 << 24));
        Graph {
            nodes: Vec::with_capacity((input_len / 16).clamp(16, 1 << 16)),
            text,
            ascii_text: true,
            items: std::mem::take(&mut spare.items),
            entries: std::mem::take(&mut spare.entries),
            spare_nums: std::mem::take(&mut spare.nums),
            ..Graph::default()
        }
    }

    /// Puts the graph's flat buffers back into `spare` (the nodes go with the graph).
    pub fn give_back(&mut self, spare: &mut Spare) {
        spare.text = std::mem::take(&mut self.text);
        spare.items = std::mem::take(&mut self.items);
        spare.entries = std::mem::take(&mut self.entries);
        spare.nums = std::mem::take(&mut self.spare_nums);
    }

    #[inline]
    fn push(&mut self, node: Node) -> H {
        self.nodes.push(node);
        H::Node(self.nodes.len() - 1)
    }

    #[inline]
    fn text(&mut self, s: &str) -> Range<usize> {
        self.ascii_text &= s.is_ascii();
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    #[inline]
    fn blob(&mut self, b: &[u8]) -> Range<usize> {
        let start = self.blob.len();
        self.blob.extend_from_slice(b);
        start..self.blob.len()
    }

    /// Node `id` with its payload.
    #[inline]
    pub fn get(&self, id: usize) -> NodeRef<'_> {
        match &self.nodes[id] {
            Node::BigInt(r) => NodeRef::BigInt(&self.blob[r.clone()]),
            Node::Str(r) => NodeRef::Str(&self.text[r.clone()]),
            Node::SurrogateStr(r) => NodeRef::SurrogateStr(&self.blob[r.clone()]),
            Node::Bytes(r) => NodeRef::Bytes(&self.blob[r.clone()]),
            Node::ByteArray(r) => NodeRef::ByteArray(&self.blob[r.clone()]),
            Node::List(s) => NodeRef::List(s.slice(&self.items)),
            Node::Nums(v) => NodeRef::Nums(v),
            Node::Tuple(s) => NodeRef::Tuple(s.slice(&self.items)),
            Node::Dict(s) => NodeRef::Dict(s.slice(&self.entries)),
            Node::Set(s) => NodeRef::Set(s.slice(&self.items)),
            Node::FrozenSet(s) => NodeRef::FrozenSet(s.slice(&self.items)),
            Node::Global { module, name } => NodeRef::Global {
                module: &self.text[module.clone()],
                name: &self.text[name.clone()],
            },
            Node::Object(o) => NodeRef::Object(o),
            Node::PersistentId(p) => NodeRef::PersistentId(*p),
            Node::Extension(c) => NodeRef::Extension(*c),
            Node::Buffer { index, .. } => NodeRef::Buffer { index: *index },
        }
    }

    /// Takes the numbers of the longest [`Node::Nums`] list of at least `min` items,
    /// leaving that node an empty `Nums`: its id and its numbers.
    pub fn take_largest_nums(&mut self, min: usize) -> Option<(usize, Vec<f64>)> {
        let (id, _) = self
            .nums_ids
            .iter()
            .filter_map(|&id| match &self.nodes[id] {
                Node::Nums(v) if v.len() >= min => Some((id, v.len())),
                _ => None,
            })
            .max_by_key(|&(_, len)| len)?;
        match &mut self.nodes[id] {
            Node::Nums(v) => Some((id, std::mem::take(v))),
            _ => None,
        }
    }

    /// The node a handle names, if it is one.
    #[inline]
    /// How many values a tree walk from `h` meets when it writes shared values in full
    /// at every reference (cycles cut where the walk is already inside a value),
    /// saturating at `cap`. Iterative; `sizes` caches the size of each node measured
    /// (0: not yet), so measuring many keys of one graph stays linear.
    pub fn expanded_size(&self, h: H, cap: usize, sizes: &mut Vec<usize>) -> usize {
        const OPEN: usize = usize::MAX;
        let H::Node(root) = h else {
            return 1;
        };
        if sizes.len() < self.nodes.len() {
            sizes.resize(self.nodes.len(), 0);
        }
        let mut todo = vec![root];
        let mut kids = Vec::new();
        while let Some(&id) = todo.last() {
            match sizes[id] {
                0 => {
                    sizes[id] = OPEN;
                    kids.clear();
                    children(self.get(id), &mut kids);
                    for &k in &kids {
                        if let H::Node(k) = k {
                            if sizes[k] == 0 {
                                todo.push(k);
                            }
                        }
                    }
                }
                OPEN => {
                    kids.clear();
                    children(self.get(id), &mut kids);
                    let mut total: usize = 1;
                    for &k in &kids {
                        let s = match k {
                            H::Node(k) if sizes[k] != OPEN && sizes[k] != 0 => sizes[k],
                            _ => 1,
                        };
                        total = total.saturating_add(s).min(cap);
                    }
                    // Sizes are at least 1, so a measured node is never 0 or OPEN.
                    sizes[id] = total.clamp(1, cap.min(OPEN - 1));
                    todo.pop();
                }
                _ => {
                    todo.pop();
                }
            }
        }
        sizes[root]
    }

    pub fn node(&self, h: H) -> Option<NodeRef<'_>> {
        match h {
            H::Node(id) => Some(self.get(id)),
            _ => None,
        }
    }

    /// The text of a handle that is a str node.
    #[inline]
    pub fn str_of(&self, h: H) -> Option<&str> {
        match h {
            H::Node(id) => match &self.nodes[id] {
                Node::Str(r) => Some(&self.text[r.clone()]),
                _ => None,
            },
            _ => None,
        }
    }

    /// True when a handle is a str node (valid UTF-8, no lone surrogates).
    #[inline]
    pub fn is_str(&self, h: H) -> bool {
        matches!(h, H::Node(id) if matches!(self.nodes[id], Node::Str(_)))
    }
}
