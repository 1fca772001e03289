//! The [`Tree`] as a [`Builder`]: what [`decode`](crate::decode()) builds. Each value
//! becomes one node; handles are node ids.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::builder::{Builder, Contents, ValueKind};
use crate::value::{NodeId, Object, ObjectKind, Tree, Value};

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
        self.push(Value::Int(v))
    }
    fn big_int(&mut self, le: &[u8]) -> NodeId {
        self.push(Value::BigInt(le.to_vec()))
    }
    #[inline]
    fn float(&mut self, v: f64) -> NodeId {
        self.push(Value::Float(v))
    }
    #[inline]
    fn str(&mut self, s: &str) -> NodeId {
        self.push(Value::Str(String::from(s)))
    }
    fn surrogate_str(&mut self, wtf8: &[u8]) -> NodeId {
        self.push(Value::SurrogateStr(wtf8.to_vec()))
    }
    fn bytes(&mut self, b: &[u8]) -> NodeId {
        self.push(Value::Bytes(b.to_vec()))
    }
    fn byte_array(&mut self, b: &[u8]) -> NodeId {
        self.push(Value::ByteArray(b.to_vec()))
    }

    #[inline]
    fn list(&mut self, items: &[NodeId]) -> NodeId {
        self.push(Value::List(items.to_vec()))
    }
    #[inline]
    fn tuple(&mut self, items: &[NodeId]) -> NodeId {
        self.push(Value::Tuple(items.to_vec()))
    }
    #[inline]
    fn dict(&mut self, pairs: &[NodeId]) -> NodeId {
        self.push(Value::Dict(to_pairs(pairs)))
    }
    fn set(&mut self, items: &[NodeId]) -> NodeId {
        self.push(Value::Set(items.to_vec()))
    }
    fn frozen_set(&mut self, items: &[NodeId]) -> NodeId {
        self.push(Value::FrozenSet(items.to_vec()))
    }

    #[inline]
    fn extend(&mut self, target: NodeId, items: &[NodeId]) {
        match self.get_mut(target) {
            Value::List(v) | Value::Set(v) => v.extend_from_slice(items),
            Value::Object(o) => o.items.extend_from_slice(items),
            _ => {}
        }
    }
    #[inline]
    fn set_items(&mut self, target: NodeId, pairs: &[NodeId]) {
        let pairs = pairs.chunks_exact(2).map(|p| (p[0], p[1]));
        match self.get_mut(target) {
            Value::Dict(d) => d.extend(pairs),
            Value::Object(o) => o.entries.extend(pairs),
            _ => {}
        }
    }

    fn global(&mut self, module: &str, name: &str) -> NodeId {
        self.push(Value::Global {
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
        self.push(Value::Object(Box::new(Object {
            kind,
            callable,
            args,
            kwargs,
            state: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
        })))
    }
    fn build(&mut self, target: NodeId, state: NodeId) {
        if let Value::Object(o) = self.get_mut(target) {
            o.state.push(state);
            return;
        }
        let old = core::mem::replace(self.get_mut(target), Value::None);
        let inner = self.push(old);
        let args = self.push(Value::Tuple(Vec::new()));
        *self.get_mut(target) = Value::Object(Box::new(Object {
            kind: ObjectKind::Built,
            callable: inner,
            args,
            kwargs: None,
            state: alloc::vec![state],
            items: Vec::new(),
            entries: Vec::new(),
        }));
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
        if let Value::Buffer { readonly, .. } = self.get_mut(buffer) {
            *readonly = true;
        }
    }

    #[inline]
    fn kind(&self, h: NodeId) -> ValueKind {
        kind_of(self.get(h))
    }
    fn contents(&self, h: NodeId) -> Contents<'_, NodeId> {
        match self.get(h) {
            Value::Str(s) => Contents::Str(s),
            Value::Bytes(b) => Contents::Bytes(b),
            Value::Global { module, name } => Contents::Global { module, name },
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => {
                Contents::Items(v)
            }
            Value::Dict(d) => Contents::Entries(d),
            _ => Contents::Opaque,
        }
    }
}

fn to_pairs(flat: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    flat.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

fn kind_of(v: &Value) -> ValueKind {
    match v {
        Value::None => ValueKind::None,
        Value::Bool(_) => ValueKind::Bool,
        Value::Int(_) => ValueKind::Int,
        Value::BigInt(_) => ValueKind::BigInt,
        Value::Float(_) => ValueKind::Float,
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
        Value::PersistentId(_) => ValueKind::PersistentId,
        Value::Extension(_) => ValueKind::Extension,
        Value::Buffer { .. } => ValueKind::Buffer,
    }
}
