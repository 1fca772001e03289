//! Globals and calls: `GLOBAL`/`STACK_GLOBAL` (with `fix_imports`' reverse mapping
//! below protocol 3), `REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `OBJ`, `BUILD`, persistent ids,
//! extension codes, and the stack opcodes a host needs around them. Not for what a host
//! reduces an object to: that is the host's walk.

use alloc::vec::Vec;

use super::{Encoder, Output, OwnKey};
use crate::error::EncodeError;
use crate::opcode::*;

impl<O: Output> Encoder<O> {
    /// A reference to `module.name`: `STACK_GLOBAL` (its strings memoized) from protocol
    /// 4, `GLOBAL` before, with Python 3 names mapped to Python 2 ones below protocol 3
    /// (`fix_imports`); a dotted (nested) name below protocol 4 becomes the
    /// `builtins.getattr(parent, name)` reduction. The host memoizes the global afterwards
    /// (or use [`Encoder::global_memoized`]).
    pub fn global(&mut self, module: &str, name: &str) {
        if self.proto >= 4 {
            self.boundary();
            // Classes of one module share their `__module__` object, so CPython fetches
            // a module name from the memo; a name string is a new object each time.
            self.own_str(OwnKey::Module, module);
            self.boundary();
            self.str(name);
            self.memoize();
            self.op(STACK_GLOBAL);
        } else if let Some((parent, last)) = name.rsplit_once('.') {
            // A nested name has no GLOBAL form: `getattr(parent, last)`, as `save_global`.
            self.boundary();
            self.own_global("builtins", "getattr");
            self.boundary();
            self.tuple_begin(2);
            self.boundary();
            self.own_global(module, parent);
            self.boundary();
            self.str(last);
            self.memoize();
            self.tuple_end(2);
            self.memoize();
            self.op(REDUCE);
        } else {
            let (module, name) = if self.proto < 3 && self.fix_imports {
                crate::compat::to_python2(module, name)
            } else {
                (module, name)
            };
            let mut line = Vec::with_capacity(module.len() + name.len() + 3);
            line.push(GLOBAL);
            line.extend_from_slice(module.as_bytes());
            line.push(b'\n');
            line.extend_from_slice(name.as_bytes());
            line.push(b'\n');
            self.write(&line);
        }
    }

    /// Like [`Encoder::global`], but memoized by value in the encoder's own memo: the
    /// first call writes the global and memoizes it, later calls write a `GET`. Returns
    /// the memo index. This is how CPython treats a class or function met twice (one
    /// object, one memo entry), and it shares entries with the globals the encoder
    /// synthesises (`builtins.set` of the set reduction, etc.).
    pub fn global_memoized(&mut self, module: &str, name: &str) -> u32 {
        self.own_global(module, name)
    }

    /// `REDUCE`: call the callable below the argument tuple.
    pub fn reduce(&mut self) {
        self.op(REDUCE);
    }

    /// `NEWOBJ` (protocol 2+).
    pub fn newobj(&mut self) {
        self.op(NEWOBJ);
    }

    /// `NEWOBJ_EX` (protocol 4+).
    pub fn newobj_ex(&mut self) {
        self.op(NEWOBJ_EX);
    }

    /// `OBJ`: call the class just above the last `MARK` with the items above it (the
    /// protocol 0/1 `INST`/`OBJ` instantiation; CPython reads it at any protocol).
    pub fn obj(&mut self) {
        self.op(OBJ);
    }

    /// `BUILD`.
    pub fn build(&mut self) {
        self.op(BUILD);
    }

    /// `POP`.
    pub fn pop(&mut self) {
        self.op(POP);
    }

    /// `POP_MARK`.
    pub fn pop_mark(&mut self) {
        self.op(POP_MARK);
    }

    /// `DUP`.
    pub fn dup(&mut self) {
        self.op(DUP);
    }

    /// A persistent id given as text (`PERSID`, protocol 0).
    pub fn persid_text(&mut self, pid: &str) -> Result<(), EncodeError> {
        if pid.contains('\n') || !pid.is_ascii() {
            return Err(EncodeError::Invalid(
                "persistent id text must be ascii without newlines".into(),
            ));
        }
        let mut line = Vec::with_capacity(pid.len() + 2);
        line.push(PERSID);
        line.extend_from_slice(pid.as_bytes());
        line.push(b'\n');
        self.write(&line);
        Ok(())
    }

    /// `BINPERSID`: the persistent id is the value on top of the stack.
    pub fn binpersid(&mut self) {
        self.op(BINPERSID);
    }

    /// An extension code from the copyreg registry (`EXT1`/`EXT2`/`EXT4`).
    pub fn ext(&mut self, code: u32) {
        if code <= 0xff {
            self.write(&[EXT1, code as u8]);
        } else if code <= 0xffff {
            let b = (code as u16).to_le_bytes();
            self.write(&[EXT2, b[0], b[1]]);
        } else {
            let b = code.to_le_bytes();
            self.write(&[EXT4, b[0], b[1], b[2], b[3]]);
        }
    }

    /// Raw bytes, for hosts that must splice already-encoded opcodes.
    pub fn raw(&mut self, data: &[u8]) {
        self.write(data);
    }
}
