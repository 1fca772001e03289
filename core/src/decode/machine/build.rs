//! How the machine turns opcodes into builder calls: strs and Python 2 strs, globals,
//! calls (with the pure reductions lowered), and the mutations `APPEND(S)`, `ADDITEMS`,
//! `SETITEM(S)` and `BUILD` make to values already built, each after the checks that
//! make it valid.

use alloc::string::String;
use core::mem::size_of;

use super::{Builder, Contents, Machine, ValueKind, ID_COST, NODE_COST, R};
use crate::decode::lower::{self, Lowered};
use crate::decode::{text, Py2Strings};
use crate::error::DecodeErrorKind as K;
use crate::value::{Object, ObjectKind};

/// What an object costs against the allocation limit, besides its node.
const OBJECT_COST: usize = size_of::<Object>();

impl<B: Builder> Machine<'_, '_, B> {
    #[inline]
    pub(super) fn unicode(&mut self, n: u64) -> R<()> {
        let raw = self.counted(n)?;
        match core::str::from_utf8(raw) {
            Ok(s) => self.push(|t| t.str(s)),
            Err(_) if text::is_surrogatepass_utf8(raw) => self.push(|t| t.surrogate_str(raw)),
            Err(_) => Err(self.fail(K::BadUtf8)),
        }
    }

    pub(super) fn py2_str(&mut self, raw: &[u8]) -> R<()> {
        match self.opts.py2_strings {
            Py2Strings::Ascii => match core::str::from_utf8(raw) {
                Ok(s) if s.is_ascii() => self.push(|t| t.str(s)),
                _ => Err(self.fail(K::NonAscii)),
            },
            Py2Strings::Latin1 => {
                let s: String = raw.iter().map(|&b| b as char).collect();
                self.charge(s.len() - raw.len())?;
                self.push(|t| t.str(&s))
            }
            Py2Strings::Bytes => self.push(|t| t.bytes(raw)),
        }
    }

    /// `LONG1`/`LONG4` bytes as an int: `int` when it fits in 64 bits.
    pub(super) fn long(&mut self, le: &[u8]) -> R<()> {
        if le.len() <= 8 {
            let v = crate::pyfmt::le_to_i64(le);
            return self.push(|t| t.int(v));
        }
        let trimmed = crate::pyfmt::trim_le(le);
        if trimmed.len() <= 8 {
            let v = crate::pyfmt::le_to_i64(trimmed);
            self.push(|t| t.int(v))
        } else {
            self.push(|t| t.big_int(trimmed))
        }
    }

    pub(super) fn global(&mut self, module: &str, name: &str) -> R<B::Handle> {
        let (module, name) = if self.opts.fix_imports && self.proto < 3 {
            crate::compat::to_python3(module, name)
        } else {
            (module, name)
        };
        if let Some(allow) = &self.opts.allow {
            if !allow.admits_while_decoding(module, name, !self.opts.keep_reductions) {
                return Err(self.fail(K::Forbidden(alloc::format!("{module}.{name}"))));
            }
        }
        self.charge(module.len() + name.len())?;
        self.charge(NODE_COST)?;
        Ok(self.b.global(module, name))
    }

    /// `STACK_GLOBAL`: both operands must be strs.
    pub(super) fn stack_global(&mut self, module: B::Handle, name: B::Handle) -> R<B::Handle> {
        let b = &*self.b;
        let (ValueKind::Str, ValueKind::Str, Contents::Str(m), Contents::Str(n)) = (
            b.kind(module),
            b.kind(name),
            b.contents(module),
            b.contents(name),
        ) else {
            return Err(self.fail(K::WrongType("STACK_GLOBAL", "str")));
        };
        let (module, name) = (String::from(m), String::from(n));
        self.global(&module, &name)
    }

    pub(super) fn ext(&mut self, code: i32) -> R<()> {
        if code <= 0 {
            return Err(self.bad("EXT specifies code <= 0"));
        }
        if let Some(refused) = self
            .opts
            .allow
            .as_ref()
            .and_then(|a| a.refuse_extension(code))
        {
            return Err(self.fail(refused));
        }
        self.push(|t| t.extension(code))
    }

    pub(super) fn expect_tuple(&self, op: &'static str, h: B::Handle) -> R<()> {
        match self.b.kind(h) {
            ValueKind::Tuple => Ok(()),
            _ => Err(self.fail(K::WrongType(op, "tuple"))),
        }
    }

    /// Rejects calls of values that can never be callable (`None`, numbers, strings,
    /// containers); globals, objects, extensions and persistent ids are for the host.
    pub(super) fn expect_callable(&self, op: &'static str, h: B::Handle) -> R<()> {
        if self.b.kind(h).may_be_callable() {
            Ok(())
        } else {
            Err(self.fail(K::WrongType(op, "callable")))
        }
    }

    /// `REDUCE`, `INST`, `OBJ`: a known pure call becomes its plain value, anything
    /// else an object.
    pub(super) fn call(&mut self, kind: ObjectKind, callable: B::Handle, args: B::Handle) -> R<()> {
        if !self.opts.keep_reductions {
            if let Some(v) = lower::reduce(&*self.b, callable, args) {
                return self.lowered(v);
            }
        }
        self.object(kind, callable, args, None)
    }

    /// Charges and builds a lowered reduction: its payload, the values it adds (the
    /// items of `list("ab")`) and its own node.
    fn lowered(&mut self, v: Lowered<B::Handle>) -> R<()> {
        let payload = match &v {
            Lowered::Bytes(b) | Lowered::ByteArray(b) => b.len(),
            Lowered::List(items)
            | Lowered::Tuple(items)
            | Lowered::Set(items)
            | Lowered::FrozenSet(items)
            | Lowered::Dict(items) => items.len() * ID_COST,
            Lowered::Chars(s, _) => s.chars().count() * (NODE_COST + ID_COST),
            Lowered::Ints(b, _) => b.len() * (NODE_COST + ID_COST),
        };
        self.charge(payload)?;
        self.push(|t| match v {
            Lowered::Bytes(b) => t.bytes(&b),
            Lowered::ByteArray(b) => t.byte_array(&b),
            Lowered::List(items) => t.list(&items),
            Lowered::Tuple(items) => t.tuple(&items),
            Lowered::Set(items) => t.set(&items),
            Lowered::FrozenSet(items) => t.frozen_set(&items),
            Lowered::Dict(pairs) => t.dict(&pairs),
            Lowered::Chars(s, list) => {
                let mut buf = [0u8; 4];
                let items: alloc::vec::Vec<_> =
                    s.chars().map(|c| t.str(c.encode_utf8(&mut buf))).collect();
                if list {
                    t.list(&items)
                } else {
                    t.tuple(&items)
                }
            }
            Lowered::Ints(b, list) => {
                let items: alloc::vec::Vec<_> = b.iter().map(|&c| t.int(c as i64)).collect();
                if list {
                    t.list(&items)
                } else {
                    t.tuple(&items)
                }
            }
        })
    }

    pub(super) fn object(
        &mut self,
        kind: ObjectKind,
        callable: B::Handle,
        args: B::Handle,
        kwargs: Option<B::Handle>,
    ) -> R<()> {
        self.charge(OBJECT_COST)?;
        self.push(|t| t.object(kind, callable, args, kwargs))?;
        if let Some(&h) = self.stack.last() {
            self.b.object_at(h, self.op);
        }
        Ok(())
    }

    /// `APPEND`/`APPENDS`/`ADDITEMS`: moves the items above stack position `k` into the
    /// list, set or object just below it.
    pub(super) fn extend(&mut self, op: &'static str, k: usize) -> R<()> {
        if k == 0 || k <= self.fence {
            return Err(self.fail(K::StackUnderflow));
        }
        let target = self.stack[k - 1];
        self.charge((self.stack.len() - k) * ID_COST)?;
        match (op, self.b.kind(target)) {
            ("APPEND" | "APPENDS", ValueKind::List)
            | ("ADDITEMS", ValueKind::Set)
            | (_, ValueKind::Object) => {}
            _ => {
                let want = if op == "ADDITEMS" { "set" } else { "list" };
                return Err(self.fail(K::WrongType(op, want)));
            }
        }
        self.b.extend(target, &self.stack[k..]);
        self.stack.truncate(k);
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
        if !matches!(self.b.kind(target), ValueKind::Dict | ValueKind::Object) {
            return Err(self.fail(K::WrongType(op, "dict")));
        }
        self.b.set_items(target, &self.stack[k..]);
        self.stack.truncate(k);
        Ok(())
    }

    /// `BUILD`: an object collects the state; any other value becomes a `Built` object
    /// in place (same handle, so memo references see it) wrapping its old value.
    pub(super) fn build(&mut self, target: B::Handle, state: B::Handle) -> R<()> {
        let was_object = self.b.kind(target) == ValueKind::Object;
        if !was_object {
            self.charge(2 * NODE_COST + OBJECT_COST)?;
        }
        self.b.build(target, state);
        if !was_object {
            self.b.object_at(target, self.op);
        }
        Ok(())
    }
}
