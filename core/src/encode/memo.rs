//! The memo: [`Encoder::memoize`] and [`Encoder::get`] (the host decides which objects
//! are the same; the encoder numbers them and writes the shortest opcodes), and the memo
//! entries the encoder keeps for the objects it synthesises itself (keyed by value, as
//! CPython's are interned). Not for memo policy: that is the host's.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Encoder, Output, OwnKey};
use crate::opcode::*;
use crate::pyfmt;

impl<O: Output> Encoder<O> {
    /// Memoizes the value on top of the stack and returns its memo index.
    #[inline]
    pub fn memoize(&mut self) -> u32 {
        let idx = self.memo_len;
        self.memo_len += 1;
        if self.proto >= 4 {
            self.op(MEMOIZE);
        } else {
            self.put(idx);
        }
        idx
    }

    /// `BINPUT`/`LONG_BINPUT`/`PUT` of `idx` (below protocol 4), out of line so that
    /// [`Encoder::memoize`] stays small.
    #[inline(never)]
    fn put(&mut self, idx: u32) {
        if self.proto >= 1 {
            if idx < 256 {
                self.write(&[BINPUT, idx as u8]);
            } else {
                let b = idx.to_le_bytes();
                self.write(&[LONG_BINPUT, b[0], b[1], b[2], b[3]]);
            }
        } else {
            let mut line = Vec::with_capacity(12);
            line.push(PUT);
            pyfmt::push_i64(&mut line, idx as i64);
            line.push(b'\n');
            self.write(&line);
        }
    }

    /// Pushes memo entry `idx` again (`GET`/`BINGET`/`LONG_BINGET`).
    #[inline]
    pub fn get(&mut self, idx: u32) {
        if self.proto >= 1 {
            if idx < 256 {
                self.write(&[BINGET, idx as u8]);
            } else {
                let b = idx.to_le_bytes();
                self.write(&[LONG_BINGET, b[0], b[1], b[2], b[3]]);
            }
        } else {
            self.get_text(idx);
        }
    }

    /// `GET` (protocol 0), out of line.
    #[cold]
    #[inline(never)]
    fn get_text(&mut self, idx: u32) {
        let mut line = Vec::with_capacity(12);
        line.push(GET);
        pyfmt::push_i64(&mut line, idx as i64);
        line.push(b'\n');
        self.write(&line);
    }

    pub(super) fn own_str(&mut self, kind: fn(String) -> OwnKey, s: &str) -> u32 {
        let key = kind(s.into());
        if let Some(&idx) = self.own_memo.as_ref().and_then(|m| m.get(&key)) {
            self.get(idx);
            return idx;
        }
        self.str(s);
        let idx = self.memoize();
        self.own_memo
            .get_or_insert_with(BTreeMap::new)
            .insert(key, idx);
        idx
    }

    pub(super) fn own_global(&mut self, module: &str, name: &str) -> u32 {
        let key = OwnKey::Global(module.into(), name.into());
        if let Some(&idx) = self.own_memo.as_ref().and_then(|m| m.get(&key)) {
            self.get(idx);
            idx
        } else {
            self.global(module, name);
            let idx = self.memoize();
            self.own_memo
                .get_or_insert_with(BTreeMap::new)
                .insert(key, idx);
            idx
        }
    }
}
