//! Scalars: `None`, bools, ints (the shortest of `BININT1`/`BININT2`/`BININT`/`LONG1`...
//! per protocol), floats, `str`, `bytes`, `bytearray` and out-of-band buffers, with the
//! large payloads written outside frames (or deferred for splicing) as `_pickle.c` does.
//! Not for containers or memo opcodes.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Encoder, Output, OwnKey, SHORT_PAYLOAD};
use crate::error::EncodeError;
use crate::opcode::*;
use crate::pyfmt;

impl<O: Output> Encoder<O> {
    /// `None`.
    #[inline]
    pub fn none(&mut self) {
        self.op(NONE);
    }

    /// `True`/`False`: `NEWTRUE`/`NEWFALSE` from protocol 2, `I01`/`I00` before.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        if self.proto >= 2 {
            self.op(if v { NEWTRUE } else { NEWFALSE });
        } else {
            self.write(if v { TRUE_TEXT } else { FALSE_TEXT });
        }
    }

    /// An int in 64 bits, in the shortest form the protocol allows.
    #[inline]
    pub fn int(&mut self, v: i64) {
        if self.proto >= 1 && (-0x8000_0000..=0x7fff_ffff).contains(&v) {
            // BININT1, BININT2 or BININT chosen without a branch: in a run of ints of
            // mixed sizes a branch on the size is mispredicted most of the time.
            let class = usize::from(v as u64 > 0xff) + usize::from(v as u64 > 0xffff);
            let b = (v as i32).to_le_bytes();
            self.write(&[[BININT1, BININT2, BININT][class], b[0], b[1], b[2], b[3]]);
            let unused = [3, 2, 0][class];
            // Saturating: an output that refused memory may have dropped the write.
            self.buf.truncate(self.buf.len().saturating_sub(unused));
        } else {
            self.int_other(v);
        }
    }

    /// [`Encoder::int`] beyond 32 bits or at protocol 0, out of line so that the
    /// common case stays small enough to inline.
    #[inline(never)]
    fn int_other(&mut self, v: i64) {
        if (-0x8000_0000..=0x7fff_ffff).contains(&v) {
            let mut line = Vec::with_capacity(24);
            line.push(INT);
            pyfmt::push_i64(&mut line, v);
            line.push(b'\n');
            self.write(&line);
        } else {
            let bytes = pyfmt::i64_to_le_min(v);
            self.big_int(&bytes);
        }
    }

    /// An int of any size given as little-endian two's complement bytes (any length;
    /// redundant sign bytes are dropped). Below protocol 2 it is decimal text of any
    /// length, where CPython 3.11 refuses ints over 4300 digits (`int_max_str_digits`).
    pub fn big_int(&mut self, le: &[u8]) {
        let le = pyfmt::trim_le(le);
        if le.len() <= 8 {
            let v = pyfmt::le_to_i64(le);
            if (-0x8000_0000..=0x7fff_ffff).contains(&v) {
                return self.int(v);
            }
        }
        if self.proto >= 2 {
            // `save_long` writes through `_Pickler_Write`: even a huge int stays in frames.
            if le.len() < 256 {
                self.write(&[LONG1, le.len() as u8]);
            } else {
                let mut h = [LONG4, 0, 0, 0, 0];
                h[1..].copy_from_slice(&(le.len() as u32).to_le_bytes());
                self.write(&h);
            }
            self.write(le);
        } else {
            let mut line = Vec::with_capacity(le.len() * 3 + 4);
            line.push(LONG);
            line.extend_from_slice(pyfmt::le_to_decimal(le).as_bytes());
            line.extend_from_slice(b"L\n");
            self.write(&line);
        }
    }

    /// A float: `BINFLOAT` from protocol 1, the `repr` text before.
    #[inline]
    pub fn float(&mut self, v: f64) {
        if self.proto >= 1 {
            let b = v.to_be_bytes();
            self.write(&[BINFLOAT, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        } else {
            self.float_text(v);
        }
    }

    /// `FLOAT` (protocol 0), out of line.
    #[cold]
    #[inline(never)]
    fn float_text(&mut self, v: f64) {
        let mut line = Vec::with_capacity(32);
        line.push(FLOAT);
        line.extend_from_slice(pyfmt::float_repr(v).as_bytes());
        line.push(b'\n');
        self.write(&line);
    }

    /// A `str`. Only the opcode: the host memoizes it afterwards, as CPython does.
    #[inline]
    pub fn str(&mut self, s: &str) {
        self.str_utf8(s.as_bytes());
    }

    /// A `str` given as generalized UTF-8 (lone surrogates allowed, `surrogatepass`).
    /// Over 4 GiB of UTF-8 it needs protocol 4 (`BINUNICODE8`); check the length first
    /// below that, as CPython refuses such strs there ([`crate::encode_tree`] does).
    #[inline]
    pub fn str_utf8(&mut self, utf8: &[u8]) {
        self.str_utf8_of(utf8, true);
    }

    /// [`Encoder::str_utf8`]; `may_defer` is false for text the encoder made itself.
    pub(super) fn str_utf8_of(&mut self, utf8: &[u8], may_defer: bool) {
        if self.proto == 0 {
            let mut line = Vec::with_capacity(utf8.len() + 2);
            line.push(UNICODE);
            pyfmt::push_raw_unicode_escape(&mut line, utf8);
            line.push(b'\n');
            self.write(&line);
            return;
        }
        let n = utf8.len();
        if self.proto >= 4 && n < SHORT_PAYLOAD {
            self.write_short(SHORT_BINUNICODE, utf8);
        } else if self.proto >= 4 && n < 256 {
            self.write_payload(&[SHORT_BINUNICODE, n as u8], utf8, may_defer);
        } else if n > 0xffff_ffff && self.proto >= 4 {
            let mut h = [BINUNICODE8, 0, 0, 0, 0, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(n as u64).to_le_bytes());
            self.write_payload(&h, utf8, may_defer);
        } else {
            let mut h = [BINUNICODE, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(n as u32).to_le_bytes());
            self.write_payload(&h, utf8, may_defer);
        }
    }

    /// `bytes`. From protocol 3 a bytes opcode; before, the `_codecs.encode(str,
    /// 'latin1')` reduction (or `bytes()` when empty) exactly as CPython writes it. The
    /// host memoizes the result afterwards in both cases. Over 4 GiB it writes
    /// `BINBYTES8`, which needs protocol 4 (CPython refuses such bytes at protocol 3;
    /// check the length first if that matters).
    pub fn bytes(&mut self, b: &[u8]) {
        self.bytes_of(b, true);
    }

    /// [`Encoder::bytes`], always copying the payload even with
    /// [`Encoder::defer_payloads`] on: for data the host cannot keep unchanged until the
    /// stream is put together (a borrowed buffer, a temporary).
    pub fn bytes_copied(&mut self, b: &[u8]) {
        self.bytes_of(b, false);
    }

    /// [`Encoder::bytes`]; `may_defer` is false for the copy of a mutable owner.
    pub(super) fn bytes_of(&mut self, b: &[u8], may_defer: bool) {
        if self.proto >= 3 {
            let n = b.len();
            if n < SHORT_PAYLOAD {
                self.write_short(SHORT_BINBYTES, b);
            } else if n < 256 {
                self.write_payload(&[SHORT_BINBYTES, n as u8], b, may_defer);
            } else if n <= 0xffff_ffff {
                let mut h = [BINBYTES, 0, 0, 0, 0];
                h[1..].copy_from_slice(&(n as u32).to_le_bytes());
                self.write_payload(&h, b, may_defer);
            } else {
                let mut h = [BINBYTES8, 0, 0, 0, 0, 0, 0, 0, 0];
                h[1..].copy_from_slice(&(n as u64).to_le_bytes());
                self.write_payload(&h, b, may_defer);
            }
        } else if b.is_empty() {
            self.boundary();
            self.own_global("builtins", "bytes");
            self.boundary();
            self.tuple_end(0);
            self.op(REDUCE);
        } else {
            self.boundary();
            self.own_global("_codecs", "encode");
            self.boundary();
            self.tuple_begin(2);
            self.boundary();
            let latin1: String = b.iter().map(|&c| c as char).collect();
            self.str_utf8_of(latin1.as_bytes(), false);
            self.memoize();
            self.boundary();
            self.own_str(OwnKey::Str, "latin1");
            self.tuple_end(2);
            self.memoize();
            self.op(REDUCE);
        }
    }

    /// `bytearray`: `BYTEARRAY8` in protocol 5, the `bytearray(bytes)` reduction before
    /// (`bytearray()` when empty). The host memoizes the result afterwards.
    pub fn bytearray(&mut self, b: &[u8]) {
        if self.proto >= 5 {
            let mut h = [BYTEARRAY8, 0, 0, 0, 0, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(b.len() as u64).to_le_bytes());
            self.write_payload(&h, b, false);
        } else if b.is_empty() {
            self.boundary();
            self.own_global("builtins", "bytearray");
            self.boundary();
            self.tuple_end(0);
            self.op(REDUCE);
        } else {
            self.boundary();
            self.own_global("builtins", "bytearray");
            self.boundary();
            self.tuple_begin(1);
            self.boundary();
            self.bytes_of(b, false);
            self.memoize();
            self.tuple_end(1);
            self.memoize();
            self.op(REDUCE);
        }
    }

    /// An out-of-band buffer (protocol 5): `NEXT_BUFFER`, plus `READONLY_BUFFER`.
    pub fn next_buffer(&mut self, readonly: bool) -> Result<(), EncodeError> {
        if self.proto < 5 {
            return Err(EncodeError::NeedsProtocol("out-of-band buffers", 5));
        }
        self.op(NEXT_BUFFER);
        if readonly {
            self.op(READONLY_BUFFER);
        }
        Ok(())
    }
}
