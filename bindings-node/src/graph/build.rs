//! [`Graph`] as the core's [`Builder`]: what the decode machine calls for each value it
//! decodes (scalars as immediate handles, containers filled in batches from the shared
//! pools, `BUILD` and `SETITEMS` applied in place), and what it asks back about a value
//! (its kind, a container's contents). Not for reading the graph afterwards: see
//! [`super::Graph::get`].

use brinery_core::decode::Contents;
use brinery_core::{Builder, ObjectKind, ValueKind};

use super::{number, Graph, Node, NodeRef, Obj, Seq, H, NUMS_MIN};

/// `[k, v, k, v, ...]` as `(k, v)` pairs.
#[inline]
fn pairs_of(flat: &[H]) -> impl Iterator<Item = (H, H)> + '_ {
    flat.chunks_exact(2).map(|p| (p[0], p[1]))
}

impl Builder for Graph {
    type Handle = H;

    #[inline]
    fn none(&mut self) -> H {
        H::None
    }
    #[inline]
    fn bool(&mut self, v: bool) -> H {
        H::Bool(v)
    }
    #[inline]
    fn int(&mut self, v: i64) -> H {
        H::Int(v)
    }
    fn big_int(&mut self, le: &[u8]) -> H {
        let r = self.blob(le);
        self.push(Node::BigInt(r))
    }
    #[inline]
    fn float(&mut self, v: f64) -> H {
        H::Float(v)
    }
    #[inline]
    fn str(&mut self, s: &str) -> H {
        let r = self.text(s);
        self.push(Node::Str(r))
    }
    fn surrogate_str(&mut self, wtf8: &[u8]) -> H {
        let r = self.blob(wtf8);
        self.push(Node::SurrogateStr(r))
    }
    fn bytes(&mut self, b: &[u8]) -> H {
        let r = self.blob(b);
        self.push(Node::Bytes(r))
    }
    fn byte_array(&mut self, b: &[u8]) -> H {
        let r = self.blob(b);
        self.push(Node::ByteArray(r))
    }

    #[inline]
    fn list(&mut self, items: &[H]) -> H {
        let s = Seq::new_in(&mut self.items, items.iter().copied());
        self.push(Node::List(s))
    }
    #[inline]
    fn tuple(&mut self, items: &[H]) -> H {
        let s = Seq::new_in(&mut self.items, items.iter().copied());
        self.push(Node::Tuple(s))
    }
    #[inline]
    fn dict(&mut self, pairs: &[H]) -> H {
        let s = Seq::new_in(&mut self.entries, pairs_of(pairs));
        self.push(Node::Dict(s))
    }
    fn set(&mut self, items: &[H]) -> H {
        let s = Seq::new_in(&mut self.items, items.iter().copied());
        self.push(Node::Set(s))
    }
    fn frozen_set(&mut self, items: &[H]) -> H {
        let s = Seq::new_in(&mut self.items, items.iter().copied());
        self.push(Node::FrozenSet(s))
    }

    #[inline]
    fn extend(&mut self, target: H, items: &[H]) {
        if let H::Node(id) = target {
            let node = &mut self.nodes[id];
            match node {
                Node::List(s) => {
                    let v = s.slice(&self.items);
                    let crosses = v.len() < NUMS_MIN && v.len() + items.len() >= NUMS_MIN;
                    if crosses && v.iter().chain(items).all(|&h| number(h).is_some()) {
                        let mut nums = std::mem::take(&mut self.spare_nums);
                        nums.extend(v.iter().chain(items).filter_map(|&h| number(h)));
                        *node = Node::Nums(nums);
                        self.nums_ids.push(id);
                    } else {
                        s.extend(&mut self.items, items.iter().copied());
                    }
                }
                Node::Nums(v) => {
                    // One pass: push while the items are numbers, undo at the first
                    // other value (rare: the list then goes back to handles).
                    let before = v.len();
                    v.reserve(items.len());
                    let mut rest = items.iter();
                    while let Some(f) = rest.next().and_then(|&h| number(h)) {
                        v.push(f);
                    }
                    if v.len() - before < items.len() {
                        v.truncate(before);
                        let mut all: Vec<H> = v.iter().map(|&f| H::Float(f)).collect();
                        all.extend_from_slice(items);
                        *node = Node::List(Seq::Own(all));
                    }
                }
                Node::Set(s) => s.extend(&mut self.items, items.iter().copied()),
                Node::Object(o) => o.items.extend_from_slice(items),
                _ => {}
            }
        }
    }
    #[inline]
    fn set_items(&mut self, target: H, pairs: &[H]) {
        if let H::Node(id) = target {
            match &mut self.nodes[id] {
                Node::Dict(s) => s.extend(&mut self.entries, pairs_of(pairs)),
                Node::Object(o) => o.entries.extend(pairs_of(pairs)),
                _ => {}
            }
        }
    }

    fn global(&mut self, module: &str, name: &str) -> H {
        let module = self.text(module);
        let name = self.text(name);
        self.push(Node::Global { module, name })
    }
    fn object(&mut self, kind: ObjectKind, callable: H, args: H, kwargs: Option<H>) -> H {
        self.push(Node::Object(Box::new(Obj {
            kind,
            callable,
            args,
            kwargs,
            state: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
        })))
    }
    fn build(&mut self, target: H, state: H) {
        let H::Node(id) = target else {
            self.built_scalar = true;
            return;
        };
        if let Node::Object(o) = &mut self.nodes[id] {
            o.state.push(state);
            return;
        }
        // Any other value becomes, in place, an object built from the old value.
        let old = std::mem::replace(&mut self.nodes[id], Node::Extension(0));
        let inner = self.push(old);
        let args = self.push(Node::Tuple(Seq::Own(Vec::new())));
        self.nodes[id] = Node::Object(Box::new(Obj {
            kind: ObjectKind::Built,
            callable: inner,
            args,
            kwargs: None,
            state: vec![state],
            items: Vec::new(),
            entries: Vec::new(),
        }));
    }
    fn persistent_id(&mut self, pid: H) -> H {
        self.push(Node::PersistentId(pid))
    }
    fn extension(&mut self, code: i32) -> H {
        match self.extensions.get(&code) {
            Some((module, name)) => {
                let (module, name) = (module.clone(), name.clone());
                self.global(&module, &name)
            }
            None => self.push(Node::Extension(code)),
        }
    }
    fn buffer(&mut self, index: usize) -> H {
        self.push(Node::Buffer {
            index,
            readonly: false,
        })
    }
    fn readonly(&mut self, buffer: H) {
        if let H::Node(id) = buffer {
            if let Node::Buffer { readonly, .. } = &mut self.nodes[id] {
                *readonly = true;
            }
        }
    }

    #[inline]
    fn kind(&self, h: H) -> ValueKind {
        match h {
            H::None => ValueKind::None,
            H::Bool(_) => ValueKind::Bool,
            H::Int(_) => ValueKind::Int,
            H::Float(_) => ValueKind::Float,
            H::Node(id) => match &self.nodes[id] {
                Node::BigInt(_) => ValueKind::BigInt,
                Node::Str(_) => ValueKind::Str,
                Node::SurrogateStr(_) => ValueKind::SurrogateStr,
                Node::Bytes(_) => ValueKind::Bytes,
                Node::ByteArray(_) => ValueKind::ByteArray,
                Node::List(_) | Node::Nums(_) => ValueKind::List,
                Node::Tuple(_) => ValueKind::Tuple,
                Node::Dict(_) => ValueKind::Dict,
                Node::Set(_) => ValueKind::Set,
                Node::FrozenSet(_) => ValueKind::FrozenSet,
                Node::Global { .. } => ValueKind::Global,
                Node::Object(_) => ValueKind::Object,
                Node::PersistentId(_) => ValueKind::PersistentId,
                Node::Extension(_) => ValueKind::Extension,
                Node::Buffer { .. } => ValueKind::Buffer,
            },
        }
    }

    fn contents(&self, h: H) -> Contents<'_, H> {
        match self.node(h) {
            Some(NodeRef::Str(s)) => Contents::Str(s),
            Some(NodeRef::Bytes(b)) => Contents::Bytes(b),
            Some(NodeRef::Global { module, name }) => Contents::Global { module, name },
            Some(
                NodeRef::List(v) | NodeRef::Tuple(v) | NodeRef::Set(v) | NodeRef::FrozenSet(v),
            ) => Contents::Items(v),
            Some(NodeRef::Dict(d)) => Contents::Entries(d),
            _ => Contents::Opaque,
        }
    }
}
