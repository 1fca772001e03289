//! How the machine turns opcodes into nodes: strs and Python 2 strs, globals, calls
//! (with the pure reductions lowered), and the mutations `APPEND(S)`, `ADDITEMS`,
//! `SETITEM(S)` and `BUILD` make to nodes already in the tree.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem::size_of;

use super::{Machine, ID_COST, NODE_COST, R};
use crate::decode::{lower, text, Py2Strings};
use crate::error::{DecodeError, DecodeErrorKind as K};
use crate::value::{NodeId, Object, ObjectKind, Value};

impl Machine<'_> {
    #[inline]
    pub(super) fn unicode(&mut self, n: u64) -> R<()> {
        let raw = self.counted(n)?;
        let v = match core::str::from_utf8(raw) {
            Ok(s) => Value::Str(String::from(s)),
            Err(_) if text::is_surrogatepass_utf8(raw) => Value::SurrogateStr(raw.to_vec()),
            Err(_) => return Err(self.fail(K::BadUtf8)),
        };
        self.push(v)
    }

    pub(super) fn py2_str(&mut self, raw: &[u8]) -> R<()> {
        let v = match self.opts.py2_strings {
            Py2Strings::Ascii => match core::str::from_utf8(raw) {
                Ok(s) if s.is_ascii() => Value::Str(String::from(s)),
                _ => return Err(self.fail(K::NonAscii)),
            },
            Py2Strings::Latin1 => {
                let s: String = raw.iter().map(|&b| b as char).collect();
                self.charge(s.len() - raw.len())?;
                Value::Str(s)
            }
            Py2Strings::Bytes => Value::Bytes(raw.to_vec()),
        };
        self.push(v)
    }

    pub(super) fn global(&mut self, module: &str, name: &str) -> R<NodeId> {
        let (module, name) = if self.opts.fix_imports && self.proto < 3 {
            crate::compat::to_python3(module, name)
        } else {
            (module, name)
        };
        self.charge(module.len() + name.len())?;
        self.node(Value::Global {
            module: module.into(),
            name: name.into(),
        })
    }

    pub(super) fn ext(&mut self, code: i32) -> R<()> {
        if code <= 0 {
            return Err(self.bad("EXT specifies code <= 0"));
        }
        self.push(Value::Extension(code))
    }

    pub(super) fn expect_tuple(&self, op: &'static str, id: NodeId) -> R<()> {
        match self.tree.get(id) {
            Value::Tuple(_) => Ok(()),
            _ => Err(self.fail(K::WrongType(op, "tuple"))),
        }
    }

    /// Rejects calls of values that can never be callable (`None`, numbers, strings,
    /// containers); globals, objects, extensions and persistent ids are for the host.
    pub(super) fn expect_callable(&self, op: &'static str, id: NodeId) -> R<()> {
        match self.tree.get(id) {
            Value::Global { .. }
            | Value::Object(_)
            | Value::Extension(_)
            | Value::PersistentId(_) => Ok(()),
            _ => Err(self.fail(K::WrongType(op, "callable"))),
        }
    }

    /// `REDUCE`, `INST`, `OBJ`: a known pure call becomes its plain value, anything
    /// else an object node.
    pub(super) fn call(&mut self, kind: ObjectKind, callable: NodeId, args: NodeId) -> R<()> {
        if !self.opts.keep_reductions {
            let nodes = self.tree.len();
            if let Some(v) = lower::reduce(&mut self.tree, callable, args) {
                self.charge(payload_len(&v) + (self.tree.len() - nodes) * NODE_COST)?;
                return self.push(v);
            }
        }
        self.object(kind, callable, args, None)
    }

    pub(super) fn object(
        &mut self,
        kind: ObjectKind,
        callable: NodeId,
        args: NodeId,
        kwargs: Option<NodeId>,
    ) -> R<()> {
        self.charge(size_of::<Object>())?;
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

    /// `APPEND`/`APPENDS`/`ADDITEMS`: moves the items above stack position `k` into the
    /// list, set or object just below it.
    pub(super) fn extend(&mut self, op: &'static str, k: usize) -> R<()> {
        if k == 0 || k <= self.fence {
            return Err(self.fail(K::StackUnderflow));
        }
        let target = self.stack[k - 1];
        self.charge((self.stack.len() - k) * ID_COST)?;
        let items = self.stack.drain(k..);
        match (op, self.tree.get_mut(target)) {
            ("APPEND" | "APPENDS", Value::List(v)) | ("ADDITEMS", Value::Set(v)) => v.extend(items),
            (_, Value::Object(o)) => o.items.extend(items),
            _ => {
                let want = if op == "ADDITEMS" { "set" } else { "list" };
                return Err(DecodeError::new(K::WrongType(op, want), self.op));
            }
        }
        Ok(())
    }

    /// `SETITEM`/`SETITEMS`: moves the key/value pairs above stack position `k` into the
    /// dict or object just below it.
    pub(super) fn set_items(&mut self, op: &'static str, k: usize) -> R<()> {
        if k == 0 || k <= self.fence {
            return Err(self.fail(K::StackUnderflow));
        }
        let target = self.stack[k - 1];
        let n = self.stack.len() - k;
        if n % 2 != 0 {
            return Err(self.fail(K::OddItems));
        }
        self.charge(n * ID_COST)?;
        let pairs = self.stack[k..].chunks_exact(2).map(|p| (p[0], p[1]));
        match self.tree.get_mut(target) {
            Value::Dict(d) => d.extend(pairs),
            Value::Object(o) => o.entries.extend(pairs),
            _ => return Err(DecodeError::new(K::WrongType(op, "dict"), self.op)),
        }
        self.stack.truncate(k);
        Ok(())
    }

    /// `BUILD`: an object node collects the state; any other node becomes a `Built`
    /// object in place (same id, so memo references see it) wrapping its old value.
    pub(super) fn build(&mut self, target: NodeId, state: NodeId) -> R<()> {
        if let Value::Object(o) = self.tree.get_mut(target) {
            o.state.push(state);
            return Ok(());
        }
        self.charge(2 * NODE_COST + size_of::<Object>())?;
        let old = core::mem::replace(self.tree.get_mut(target), Value::None);
        let inner = self.tree.push(old);
        let args = self.tree.push(Value::Tuple(Vec::new()));
        *self.tree.get_mut(target) = Value::Object(Box::new(Object {
            kind: ObjectKind::Built,
            callable: inner,
            args,
            kwargs: None,
            state: alloc::vec![state],
            items: Vec::new(),
            entries: Vec::new(),
        }));
        Ok(())
    }
}

/// `LONG1`/`LONG4` bytes as an int: `Int` when it fits in 64 bits.
pub(super) fn long_value(le: &[u8]) -> Value {
    if le.len() <= 8 {
        Value::Int(crate::pyfmt::le_to_i64(le))
    } else {
        let trimmed = crate::pyfmt::trim_le(le);
        if trimmed.len() <= 8 {
            Value::Int(crate::pyfmt::le_to_i64(trimmed))
        } else {
            Value::BigInt(trimmed.to_vec())
        }
    }
}

/// Heap bytes a lowered value holds, for the allocation limit.
fn payload_len(v: &Value) -> usize {
    match v {
        Value::Bytes(b) | Value::ByteArray(b) => b.len(),
        Value::Set(items) | Value::FrozenSet(items) | Value::List(items) | Value::Tuple(items) => {
            items.len() * ID_COST
        }
        Value::Dict(entries) => entries.len() * 2 * ID_COST,
        _ => 0,
    }
}
