//! The opcode loop: one `match` per opcode over an explicit value stack, a mark stack
//! (whose top is the fence below which no opcode may reach, as in `_pickle.c`) and the
//! memo. Values go straight to the [`Builder`]; the stack holds its handles only. The
//! machine is generic over the builder, so each builder gets its own monomorphized
//! loop. The dispatch is here; by family, what the opcodes build is in [`build`], the
//! binary int fast path in [`ints`], the stack, marks and memo in [`stack`], and how
//! arguments are read and charged in [`read`].

use alloc::vec::Vec;
use core::mem::size_of;

mod build;
mod ints;
mod read;
mod stack;

use super::builder::{Builder, Contents, ValueKind};
use super::memo::Memo;
use super::text::{self, Text};
use super::DecodeOptions;
use crate::error::{DecodeError, DecodeErrorKind as K};
use crate::opcode::*;
use crate::value::ObjectKind;

/// What one value costs against `Limits::max_alloc`, besides its payload (the cost
/// model, whatever the builder allocates: 48 bytes on 64-bit targets, what a tree
/// node took when the model was made).
pub(crate) const NODE_COST: usize = 6 * size_of::<usize>();
/// What one container slot costs (a node id).
const ID_COST: usize = size_of::<usize>();

type R<T> = Result<T, DecodeError>;

pub(crate) struct Machine<'a, 'b, B: Builder> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being executed, reported by every error.
    op: usize,
    opts: &'a DecodeOptions,
    b: &'b mut B,
    stack: Vec<B::Handle>,
    marks: Vec<usize>,
    /// `marks.last()`, or 0: opcodes never pop below it.
    fence: usize,
    memo: Memo<B::Handle>,
    proto: u8,
    charged: usize,
    buffers_used: usize,
    /// Where the current frame ends, or 0 outside frames. An opcode that starts inside
    /// a frame must end inside it: CPython's file unpickler reads such an opcode's
    /// argument from after the frame and drops the rest of the frame, so the stream
    /// means one thing to `pickle.loads` and another to `pickle.load(file)`.
    frame_end: usize,
}

impl<'a, 'b, B: Builder> Machine<'a, 'b, B> {
    pub(crate) fn new(data: &'a [u8], opts: &'a DecodeOptions, b: &'b mut B) -> Self {
        let nodes = (data.len() / 8).clamp(16, 1 << 16);
        Machine {
            data,
            pos: 0,
            op: 0,
            opts,
            b,
            stack: Vec::with_capacity(64),
            marks: Vec::with_capacity(16),
            fence: 0,
            memo: Memo::with_capacity(nodes / 4),
            proto: 0,
            charged: 0,
            buffers_used: 0,
            frame_end: 0,
        }
    }

    /// Runs to `STOP`; returns the root's handle and the number of bytes consumed.
    pub(crate) fn run(mut self) -> R<(B::Handle, usize)> {
        loop {
            if self.pos >= self.frame_end && self.frame_end != 0 {
                if self.pos > self.frame_end {
                    // `self.op` is still the opcode that ran past the frame's end.
                    return Err(self.fail(K::FrameCrossed));
                }
                self.frame_end = 0;
            }
            self.op = self.pos;
            let Some(&code) = self.data.get(self.pos) else {
                return Err(self.fail(K::NoStop));
            };
            self.pos += 1;
            if code == STOP {
                let root = self.pop()?;
                return Ok((root, self.pos));
            }
            let stepped = self.step(code);
            if self.b.out_of_memory() {
                return Err(self.fail(K::OutOfMemory));
            }
            stepped?;
        }
    }

    #[inline(always)]
    fn step(&mut self, code: u8) -> R<()> {
        match code {
            // ---- scalars ----
            BININT1 => {
                let b = self.byte()?;
                self.push(|t| t.int(b as i64))?;
                self.more_ints()
            }
            BININT2 => {
                let b = self.array::<2>()?;
                self.push(|t| t.int(u16::from_le_bytes(b) as i64))?;
                self.more_ints()
            }
            BININT => {
                let b = self.array::<4>()?;
                self.push(|t| t.int(i32::from_le_bytes(b) as i64))?;
                self.more_ints()
            }
            NONE => self.push(|t| t.none()),
            NEWTRUE => self.push(|t| t.bool(true)),
            NEWFALSE => self.push(|t| t.bool(false)),
            BINFLOAT => {
                let b = self.array::<8>()?;
                self.push(|t| t.float(f64::from_be_bytes(b)))
            }
            FLOAT => {
                let line = self.line()?;
                let v = text::float_line(line).map_err(|m| self.bad(m))?;
                self.push(|t| t.float(v))
            }
            INT => {
                let line = self.line()?;
                let v = text::int_line(line).map_err(|m| self.bad(m))?;
                self.push_int(v)
            }
            LONG => {
                let line = self.line()?;
                let v = text::long_line(line).map_err(|m| self.bad(m))?;
                self.push_int(v)
            }
            LONG1 => {
                let n = self.byte()? as u64;
                let le = self.counted(n)?;
                self.long(le)
            }
            LONG4 => {
                let n = self.signed_len()?;
                let le = self.counted(n)?;
                self.long(le)
            }
            // ---- str ----
            SHORT_BINUNICODE => {
                let n = self.byte()? as u64;
                self.unicode(n)
            }
            BINUNICODE => {
                let n = u32::from_le_bytes(self.array::<4>()?) as u64;
                self.unicode(n)
            }
            BINUNICODE8 => {
                let n = u64::from_le_bytes(self.array::<8>()?);
                self.unicode(n)
            }
            UNICODE => {
                let line = self.line()?;
                self.charge(line.len())?;
                match text::raw_unicode_escape(line).map_err(|m| self.bad(m))? {
                    Text::Utf8(s) => self.push(|t| t.str(&s)),
                    Text::Surrogates(w) => self.push(|t| t.surrogate_str(&w)),
                }
            }
            // ---- bytes ----
            SHORT_BINBYTES => {
                let n = self.byte()? as u64;
                let b = self.counted(n)?;
                self.push(|t| t.bytes(b))
            }
            BINBYTES => {
                let n = u32::from_le_bytes(self.array::<4>()?) as u64;
                let b = self.counted(n)?;
                self.push(|t| t.bytes(b))
            }
            BINBYTES8 => {
                let n = u64::from_le_bytes(self.array::<8>()?);
                let b = self.counted(n)?;
                self.push(|t| t.bytes(b))
            }
            BYTEARRAY8 => {
                let n = u64::from_le_bytes(self.array::<8>()?);
                let b = self.counted(n)?;
                self.push(|t| t.byte_array(b))
            }
            // ---- Python 2 str ----
            SHORT_BINSTRING => {
                let n = self.byte()? as u64;
                let raw = self.counted(n)?;
                self.py2_str(raw)
            }
            BINSTRING => {
                let n = self.signed_len()?;
                let raw = self.counted(n)?;
                self.py2_str(raw)
            }
            STRING => {
                let line = self.line()?;
                self.charge(line.len())?;
                let raw = text::string_literal(line).map_err(|m| self.bad(m))?;
                self.py2_str(&raw)
            }
            // ---- containers ----
            EMPTY_LIST => self.push(|t| t.list(&[])),
            EMPTY_DICT => self.push(|t| t.dict(&[])),
            EMPTY_SET => self.push(|t| t.set(&[])),
            EMPTY_TUPLE => self.push(|t| t.tuple(&[])),
            MARK => {
                if self.marks.len() >= self.opts.limits.max_depth {
                    return Err(self.fail(K::TooDeep(self.opts.limits.max_depth)));
                }
                if !crate::try_alloc::room(&mut self.marks, 1) {
                    return Err(self.fail(K::OutOfMemory));
                }
                self.fence = self.stack.len();
                self.marks.push(self.fence);
                Ok(())
            }
            LIST => self.marked(|t, items| t.list(items)),
            TUPLE => self.marked(|t, items| t.tuple(items)),
            FROZENSET => self.marked(|t, items| t.frozen_set(items)),
            DICT => {
                let k = self.pop_mark()?;
                if (self.stack.len() - k) % 2 != 0 {
                    return Err(self.fail(K::OddItems));
                }
                self.collect(k, |t, pairs| t.dict(pairs))
            }
            TUPLE1 | TUPLE2 | TUPLE3 => {
                let n = (code - TUPLE1 + 1) as usize;
                if self.stack.len() < self.fence + n {
                    return Err(self.fail(K::StackUnderflow));
                }
                self.collect(self.stack.len() - n, |t, items| t.tuple(items))
            }
            APPEND => {
                if self.stack.len() <= self.fence {
                    return Err(self.fail(K::StackUnderflow));
                }
                let k = self.stack.len() - 1;
                self.extend("APPEND", k)
            }
            APPENDS => {
                let k = self.pop_mark()?;
                self.extend("APPENDS", k)
            }
            ADDITEMS => {
                let k = self.pop_mark()?;
                self.extend("ADDITEMS", k)
            }
            SETITEM => {
                if self.stack.len() < self.fence + 3 {
                    return Err(self.fail(K::StackUnderflow));
                }
                let k = self.stack.len() - 2;
                self.set_items("SETITEM", k)
            }
            SETITEMS => {
                let k = self.pop_mark()?;
                self.set_items("SETITEMS", k)
            }
            // ---- stack ----
            POP => {
                if self.marks.last() == Some(&self.stack.len()) {
                    self.pop_mark().map(drop)
                } else {
                    self.pop().map(drop)
                }
            }
            POP_MARK => {
                let k = self.pop_mark()?;
                self.stack.truncate(k);
                Ok(())
            }
            DUP => {
                let h = self.top()?;
                self.stack_push(h)
            }
            // ---- memo ----
            BINGET => {
                let key = self.byte()? as u64;
                self.get(key)
            }
            LONG_BINGET => {
                let key = u32::from_le_bytes(self.array::<4>()?) as u64;
                self.get(key)
            }
            GET => {
                let line = self.line()?;
                let key = text::memo_key(line).map_err(|m| self.bad(m))?;
                self.get(key)
            }
            BINPUT => {
                let key = self.byte()? as u64;
                self.put(key)
            }
            LONG_BINPUT => {
                let key = u32::from_le_bytes(self.array::<4>()?) as u64;
                self.put(key)
            }
            PUT => {
                let line = self.line()?;
                let key = text::memo_key(line).map_err(|m| self.bad(m))?;
                self.put(key)
            }
            MEMOIZE => {
                let key = self.memo.len() as u64;
                self.put(key)
            }
            // ---- globals and calls ----
            GLOBAL => {
                let module = self.name_line()?;
                let name = self.name_line()?;
                let h = self.global(module, name)?;
                self.stack_push(h)
            }
            STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                let h = self.stack_global(module, name)?;
                self.stack_push(h)
            }
            REDUCE => {
                let args = self.pop()?;
                let callable = self.pop()?;
                self.expect_tuple("REDUCE", args)?;
                self.expect_callable("REDUCE", callable)?;
                self.call(ObjectKind::Reduce, callable, args)
            }
            NEWOBJ => {
                let args = self.pop()?;
                let cls = self.pop()?;
                self.expect_tuple("NEWOBJ", args)?;
                self.expect_callable("NEWOBJ", cls)?;
                self.object(ObjectKind::NewObj, cls, args, None)
            }
            NEWOBJ_EX => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                self.expect_tuple("NEWOBJ_EX", args)?;
                if self.b.kind(kwargs) != ValueKind::Dict {
                    return Err(self.fail(K::WrongType("NEWOBJ_EX", "dict")));
                }
                self.expect_callable("NEWOBJ_EX", cls)?;
                self.object(ObjectKind::NewObjEx, cls, args, Some(kwargs))
            }
            INST => {
                let k = self.pop_mark()?;
                let module = self.name_line()?;
                let name = self.name_line()?;
                let cls = self.global(module, name)?;
                self.charge((self.stack.len() - k) * ID_COST)?;
                self.charge(NODE_COST)?;
                let args = self.b.tuple(&self.stack[k..]);
                self.stack.truncate(k);
                self.call(ObjectKind::Inst, cls, args)
            }
            OBJ => {
                let k = self.pop_mark()?;
                if self.stack.len() == k {
                    return Err(self.fail(K::StackUnderflow));
                }
                let cls = self.stack[k];
                self.charge((self.stack.len() - k - 1) * ID_COST)?;
                self.expect_callable("OBJ", cls)?;
                self.charge(NODE_COST)?;
                let args = self.b.tuple(&self.stack[k + 1..]);
                self.stack.truncate(k);
                self.call(ObjectKind::Inst, cls, args)
            }
            BUILD => {
                let state = self.pop()?;
                let target = self.top()?;
                self.build(target, state)
            }
            PERSID => {
                let line = self.line()?;
                let Some(pid) = core::str::from_utf8(line).ok().filter(|s| s.is_ascii()) else {
                    return Err(self.bad("persistent id must be ascii"));
                };
                self.charge(pid.len())?;
                self.charge(NODE_COST)?;
                let pid = self.b.str(pid);
                self.push(|t| t.persistent_id(pid))
            }
            BINPERSID => {
                let pid = self.pop()?;
                self.push(|t| t.persistent_id(pid))
            }
            EXT1 => {
                let code = self.byte()? as i32;
                self.ext(code)
            }
            EXT2 => {
                let code = u16::from_le_bytes(self.array::<2>()?) as i32;
                self.ext(code)
            }
            EXT4 => {
                let code = i32::from_le_bytes(self.array::<4>()?);
                self.ext(code)
            }
            // ---- protocol, framing, buffers ----
            PROTO => {
                let p = self.byte()?;
                if p > crate::HIGHEST_PROTOCOL {
                    return Err(self.fail(K::UnsupportedProtocol(p)));
                }
                self.proto = p;
                Ok(())
            }
            FRAME => {
                let n = u64::from_le_bytes(self.array::<8>()?);
                if n > (self.data.len() - self.pos) as u64 {
                    return Err(self.fail(K::BadFrame));
                }
                if self.frame_end != 0 {
                    return Err(self.fail(K::FrameCrossed));
                }
                // An empty frame ends where it starts: nothing to track.
                self.frame_end = if n == 0 { 0 } else { self.pos + n as usize };
                Ok(())
            }
            NEXT_BUFFER => {
                let Some(supplied) = self.opts.buffers else {
                    return Err(self.fail(K::NoBuffers));
                };
                let index = self.buffers_used;
                if index >= supplied {
                    return Err(self.fail(K::MissingBuffer(index, supplied)));
                }
                self.buffers_used += 1;
                self.push(|t| t.buffer(index))
            }
            READONLY_BUFFER => {
                // CPython makes a read-only memoryview of the top value: a no-op for
                // bytes, a type error for values without the buffer protocol.
                let h = self.top()?;
                match self.b.kind(h) {
                    ValueKind::Buffer => self.b.readonly(h),
                    ValueKind::Bytes
                    | ValueKind::ByteArray
                    | ValueKind::Object
                    | ValueKind::Global
                    | ValueKind::PersistentId
                    | ValueKind::Extension => {}
                    _ => return Err(self.fail(K::WrongType("READONLY_BUFFER", "buffer"))),
                }
                Ok(())
            }
            _ => Err(self.fail(K::UnknownOpcode(code))),
        }
    }
}
