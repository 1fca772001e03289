//! The [`Tree`] as a [`Builder`]: what [`decode`](crate::decode()) builds. Each value
//! becomes one node (scalars inline in the arena, the rest on its heap); handles are
//! node ids.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::builder::{Builder, Contents, ValueKind};
use crate::try_alloc;
use crate::value::{NodeId, Object, ObjectKind, Tree, Value, ValueRef};

impl Tree {
    /// A heap node made from a copy of `items` (payload bytes or child ids), or the
    /// refused stand-in when the copy gets no memory.
    #[inline(always)]
    fn push_copy<T: Copy>(&mut self, items: &[T], make: impl FnOnce(Vec<T>) -> Value) -> NodeId {
        match try_alloc::copy(items) {
            Some(v) => self.push_heap(make(v)),
            None => self.refused(),
        }
    }
}

impl Builder for Tree {
    type Handle = NodeId;

    #[inline]
    fn none(&mut self) -> NodeId {
        self.push(Value::None)
    }
    #[inline]
    fn bool(&mut self, v: bool) -> NodeId {
        self.push(Value::Bool(v))
    }
    #[inline]
    fn int(&mut self, v: i64) -> NodeId {
        self.push_int(v)
    }
    fn big_int(&mut self, le: &[u8]) -> NodeId {
        self.push_copy(le, Value::BigInt)
    }
    #[inline]
    fn float(&mut self, v: f64) -> NodeId {
        self.push_float(v)
    }
    #[inline]
    fn str(&mut self, s: &str) -> NodeId {
        match try_alloc::string(s) {
            Some(s) => self.push_heap(Value::Str(s)),
            None => self.refused(),
        }
    }
    fn surrogate_str(&mut self, wtf8: &[u8]) -> NodeId {
        self.push_copy(wtf8, Value::SurrogateStr)
    }
    fn bytes(&mut self, b: &[u8]) -> NodeId {
        self.push_copy(b, Value::Bytes)
    }
    fn byte_array(&mut self, b: &[u8]) -> NodeId {
        self.push_copy(b, Value::ByteArray)
    }

    #[inline]
    fn list(&mut self, items: &[NodeId]) -> NodeId {
        self.push_copy(items, Value::List)
    }
    #[inline]
    fn tuple(&mut self, items: &[NodeId]) -> NodeId {
        self.push_copy(items, Value::Tuple)
    }
    #[inline]
    fn dict(&mut self, pairs: &[NodeId]) -> NodeId {
        match try_alloc::pairs(pairs) {
            Some(d) => self.push_heap(Value::Dict(d)),
            None => self.refused(),
        }
    }
    fn set(&mut self, items: &[NodeId]) -> NodeId {
        self.push_copy(items, Value::Set)
    }
    fn frozen_set(&mut self, items: &[NodeId]) -> NodeId {
        self.push_copy(items, Value::FrozenSet)
    }

    #[inline]
    fn extend(&mut self, target: NodeId, items: &[NodeId]) {
        let done = match self.heap_mut(target) {
            Some(Value::List(v) | Value::Set(v)) => try_alloc::extend(v, items),
            Some(Value::Object(o)) => try_alloc::extend(&mut o.items, items),
            _ => true,
        };
        if !done {
            self.refused();
        }
    }
    #[inline]
    fn set_items(&mut self, target: NodeId, pairs: &[NodeId]) {
        let n = pairs.len() / 2;
        let pairs = pairs.chunks_exact(2).map(|p| (p[0], p[1]));
        let entries = match self.heap_mut(target) {
            Some(Value::Dict(d)) => d,
            Some(Value::Object(o)) => &mut o.entries,
            _ => return,
        };
        if try_alloc::room(entries, n) {
            entries.extend(pairs);
        } else {
            self.refused();
        }
    }

    fn global(&mut self, module: &str, name: &str) -> NodeId {
        self.push_heap(Value::Global {
            module: module.into(),
            name: name.into(),
        })
    }
    fn object(
        &mut self,
        kind: ObjectKind,
        callable: NodeId,
        args: NodeId,
        kwargs: Option<NodeId>,
    ) -> NodeId {
        self.push_heap(Value::Object(Box::new(Object {
            kind,
            callable,
            args,
            kwargs,
            state: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
        })))
    }
    fn object_at(&mut self, h: NodeId, offset: usize) {
        self.note_object_offset(h, offset);
    }
    fn build(&mut self, target: NodeId, state: NodeId) {
        if let Some(Value::Object(o)) = self.heap_mut(target) {
            o.state.push(state);
            return;
        }
        let old = self.take(target);
        let inner = self.push(old);
        let args = self.push_heap(Value::Tuple(Vec::new()));
        self.set(
            target,
            Value::Object(Box::new(Object {
                kind: ObjectKind::Built,
                callable: inner,
                args,
                kwargs: None,
                state: alloc::vec![state],
                items: Vec::new(),
                entries: Vec::new(),
            })),
        );
    }
    fn persistent_id(&mut self, pid: NodeId) -> NodeId {
        self.push(Value::PersistentId(pid))
    }
    fn extension(&mut self, code: i32) -> NodeId {
        self.push(Value::Extension(code))
    }
    fn buffer(&mut self, index: usize) -> NodeId {
        self.push(Value::Buffer {
            index,
            readonly: false,
        })
    }
    fn readonly(&mut self, buffer: NodeId) {
        self.set_readonly(buffer);
    }

    #[inline]
    fn kind(&self, h: NodeId) -> ValueKind {
        match self.heap_ref(h) {
            Some(v) => heap_kind(v),
            None => kind_of(self.get(h)),
        }
    }
    #[inline(always)]
    fn out_of_memory(&self) -> bool {
        Tree::out_of_memory(self)
    }
    fn contents(&self, h: NodeId) -> Contents<'_, NodeId> {
        match self.get(h) {
            ValueRef::Str(s) => Contents::Str(s),
            ValueRef::Bytes(b) => Contents::Bytes(b),
            ValueRef::Global { module, name } => Contents::Global { module, name },
            ValueRef::List(v) | ValueRef::Tuple(v) | ValueRef::Set(v) | ValueRef::FrozenSet(v) => {
                Contents::Items(v)
            }
            ValueRef::Dict(d) => Contents::Entries(d),
            _ => Contents::Opaque,
        }
    }
}

fn kind_of(v: ValueRef<'_>) -> ValueKind {
    match v {
        ValueRef::None => ValueKind::None,
        ValueRef::Bool(_) => ValueKind::Bool,
        ValueRef::Int(_) => ValueKind::Int,
        ValueRef::BigInt(_) => ValueKind::BigInt,
        ValueRef::Float(_) => ValueKind::Float,
        ValueRef::Str(_) => ValueKind::Str,
        ValueRef::SurrogateStr(_) => ValueKind::SurrogateStr,
        ValueRef::Bytes(_) => ValueKind::Bytes,
        ValueRef::ByteArray(_) => ValueKind::ByteArray,
        ValueRef::List(_) => ValueKind::List,
        ValueRef::Tuple(_) => ValueKind::Tuple,
        ValueRef::Dict(_) => ValueKind::Dict,
        ValueRef::Set(_) => ValueKind::Set,
        ValueRef::FrozenSet(_) => ValueKind::FrozenSet,
        ValueRef::Global { .. } => ValueKind::Global,
        ValueRef::Object(_) => ValueKind::Object,
        ValueRef::PersistentId(_) => ValueKind::PersistentId,
        ValueRef::Extension(_) => ValueKind::Extension,
        ValueRef::Buffer { .. } => ValueKind::Buffer,
    }
}

#[inline]
fn heap_kind(v: &Value) -> ValueKind {
    match v {
        Value::BigInt(_) => ValueKind::BigInt,
        Value::Str(_) => ValueKind::Str,
        Value::SurrogateStr(_) => ValueKind::SurrogateStr,
        Value::Bytes(_) => ValueKind::Bytes,
        Value::ByteArray(_) => ValueKind::ByteArray,
        Value::List(_) => ValueKind::List,
        Value::Tuple(_) => ValueKind::Tuple,
        Value::Dict(_) => ValueKind::Dict,
        Value::Set(_) => ValueKind::Set,
        Value::FrozenSet(_) => ValueKind::FrozenSet,
        Value::Global { .. } => ValueKind::Global,
        Value::Object(_) => ValueKind::Object,
        other => kind_of(ValueRef::from(other)),
    }
}
