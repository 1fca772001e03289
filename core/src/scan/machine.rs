//! The scanner's abstract pickle machine: the opcode loop over a stack and memo of
//! [`Abs`] values, which hold only what names globals and what a call may carry. Each
//! opcode reads its argument as CPython does and moves values as the opcode table
//! says; imports, calls and `BUILD` are judged in [`super::calls`], frames in
//! [`super::frames`]. Not for building values: nothing here allocates beyond the walk's
//! own bounded stack.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;

use super::abs::{container, tuple, worst, Abs};
use super::{Scan, Severity, Target};
use crate::decode::text::{self, Text};
use crate::error::{DecodeError, DecodeErrorKind as K};
use crate::opcode::*;
use crate::opinfo::{self, ArgKind};

pub(super) type R<T> = Result<T, DecodeError>;

pub(super) struct Walker<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    pub(super) op: usize,
    pub(super) stack: Vec<Abs>,
    pub(super) marks: Vec<usize>,
    pub(super) memo: BTreeMap<u64, Abs>,
    pub(super) out: Scan,
    /// Imports of `getattr` (by index) and the severity of each fixed attribute reached.
    pub(super) getattr_static: Vec<(usize, Severity)>,
    /// Imports of `getattr` used any other way as a callable.
    pub(super) getattr_dynamic: Vec<usize>,
    /// Where the current frame ends, or 0 outside frames (see [`Walker::frame`]).
    pub(super) frame_end: usize,
    /// Whether a memo key past the stream's length was flagged already.
    pub(super) far_memo_key: bool,
}

impl<'a> Walker<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Walker {
            data,
            pos: 0,
            op: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: BTreeMap::new(),
            out: Scan::default(),
            getattr_static: Vec::new(),
            getattr_dynamic: Vec::new(),
            frame_end: 0,
            far_memo_key: false,
        }
    }

    pub(super) fn run(&mut self) -> R<()> {
        loop {
            self.frame_boundary()?;
            self.op = self.pos;
            let Some(&code) = self.data.get(self.pos) else {
                return Err(self.fail(K::NoStop));
            };
            self.pos += 1;
            let Some(info) = opinfo::lookup(code) else {
                return Err(self.fail(K::UnknownOpcode(code)));
            };
            if code == STOP {
                self.pop()?;
                self.out.end = Some(self.pos);
                return Ok(());
            }
            self.step(code, info)?;
        }
    }

    pub(super) fn step(&mut self, code: u8, info: &'static opinfo::OpInfo) -> R<()> {
        match code {
            PROTO => {
                let p = self.take(1)?[0];
                if p > crate::HIGHEST_PROTOCOL {
                    return Err(self.fail(K::UnsupportedProtocol(p)));
                }
                self.out.protocol = p;
            }
            SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 => {
                let raw = self.arg(info.arg)?;
                match core::str::from_utf8(raw) {
                    Ok(s) => self.stack.push(Abs::Str(Rc::from(s))),
                    Err(_) if text::is_surrogatepass_utf8(raw) => self.stack.push(Abs::Plain),
                    Err(_) => return Err(self.fail(K::BadUtf8)),
                }
            }
            UNICODE => {
                let raw = self.arg(info.arg)?;
                match text::raw_unicode_escape(raw).map_err(|m| self.bad(m))? {
                    Text::Utf8(s) => self.stack.push(Abs::Str(Rc::from(s.as_str()))),
                    Text::Surrogates(_) => self.stack.push(Abs::Plain),
                }
            }
            SHORT_BINSTRING | BINSTRING | STRING => {
                let raw = self.arg(info.arg)?;
                let bytes = if code == STRING {
                    text::string_literal(raw).map_err(|m| self.bad(m))?
                } else {
                    raw.to_vec()
                };
                // `pickle.loads`' default encoding is ASCII; other bytes fail there.
                match core::str::from_utf8(&bytes) {
                    Ok(s) if s.is_ascii() => self.stack.push(Abs::Str(Rc::from(s))),
                    _ => self.stack.push(Abs::Plain),
                }
            }
            FRAME => self.frame()?,
            BININT1 | BININT2 | BININT => {
                let raw = self.arg(info.arg)?;
                let v = match raw.len() {
                    1 => i64::from(raw[0]),
                    2 => i64::from(u16::from_le_bytes([raw[0], raw[1]])),
                    _ => i64::from(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
                };
                self.stack.push(Abs::Int(Some(v)));
            }
            LONG1 | LONG4 => {
                let raw = self.arg(info.arg)?;
                let v = (raw.len() <= 8).then(|| crate::pyfmt::le_to_i64(raw));
                self.stack.push(Abs::Int(v));
            }
            INT | LONG => {
                let raw = self.arg(info.arg)?;
                let text = core::str::from_utf8(raw)
                    .unwrap_or("")
                    .trim_end_matches('L');
                self.stack.push(match text {
                    // `I01`/`I00` are Python 2 bools.
                    "01" | "00" => Abs::Plain,
                    t => Abs::Int(t.parse().ok()),
                });
            }
            MARK => {
                self.marks.push(self.stack.len());
            }
            POP => {
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop()?;
                }
            }
            POP_MARK => {
                let k = self.pop_mark()?;
                self.stack.truncate(k);
            }
            DUP => {
                let top = self.top()?.clone();
                self.stack.push(top);
            }
            GET | BINGET | LONG_BINGET => {
                let key = self.memo_key(code, info.arg)?;
                let Some(v) = self.memo.get(&key) else {
                    return Err(self.fail(K::MemoKeyMissing(key)));
                };
                self.stack.push(v.clone());
            }
            PUT | BINPUT | LONG_BINPUT => {
                let key = self.memo_key(code, info.arg)?;
                let v = self.top()?.clone();
                self.memo_key_bound(info.name, key);
                self.memo.insert(key, v);
            }
            MEMOIZE => {
                let key = self.memo.len() as u64;
                let v = self.top()?.clone();
                self.memo.insert(key, v);
            }
            EMPTY_TUPLE => self.stack.push(Abs::Tuple(Rc::from([]))),
            TUPLE1 | TUPLE2 | TUPLE3 => {
                let n = (code - TUPLE1 + 1) as usize;
                let items = self.pop_n(n)?;
                self.stack.push(tuple(items));
            }
            TUPLE => {
                let k = self.pop_mark()?;
                let items = self.stack.split_off(k);
                self.stack.push(tuple(items));
            }
            GLOBAL => {
                let module = self.name_line()?;
                let name = self.name_line()?;
                let g = self.import("GLOBAL", module, name);
                self.stack.push(g);
            }
            STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                let g = match (module, name) {
                    (Abs::Str(m), Abs::Str(n)) => self.import("STACK_GLOBAL", &m, &n),
                    _ => {
                        self.record_import(
                            "STACK_GLOBAL",
                            Target::Dynamic,
                            Severity::Dangerous,
                            "module or name is not a string literal",
                        );
                        Abs::Made(Severity::Dangerous)
                    }
                };
                self.stack.push(g);
            }
            EXT1 | EXT2 | EXT4 => {
                let raw = self.arg(info.arg)?;
                let mut le = [0u8; 4];
                le[..raw.len()].copy_from_slice(raw);
                let code = i32::from_le_bytes(le);
                if code <= 0 {
                    return Err(self.bad("EXT specifies code <= 0"));
                }
                self.record_import(
                    info.name,
                    Target::Extension(code),
                    Severity::Dangerous,
                    "the copyreg extension registry can name any global",
                );
                self.stack.push(Abs::Extension(code));
            }
            REDUCE => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let result = self.call("REDUCE", &callable, Some(&args), None);
                self.stack.push(result);
            }
            NEWOBJ => {
                let args = self.pop()?;
                let cls = self.pop()?;
                let result = self.call("NEWOBJ", &cls, Some(&args), None);
                self.stack.push(result);
            }
            NEWOBJ_EX => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                let result = self.call("NEWOBJ_EX", &cls, Some(&args), Some(&kwargs));
                self.stack.push(result);
            }
            INST => {
                let k = self.pop_mark()?;
                let args = tuple(self.stack.split_off(k));
                let module = self.name_line()?;
                let name = self.name_line()?;
                let cls = self.import("INST", module, name);
                let result = self.call("INST", &cls, Some(&args), None);
                self.stack.push(result);
            }
            OBJ => {
                let k = self.pop_mark()?;
                if self.stack.len() == k {
                    return Err(self.fail(K::StackUnderflow));
                }
                let cls = self.stack[k].clone();
                let args = tuple(self.stack.split_off(k + 1));
                self.stack.truncate(k);
                let result = self.call("OBJ", &cls, Some(&args), None);
                self.stack.push(result);
            }
            BUILD => {
                let state = self.pop()?;
                let target = self.top()?.clone();
                let built = self.build(&target, &state);
                if let Some(top) = self.stack.last_mut() {
                    *top = built;
                }
            }
            APPEND | SETITEM => {
                let n = if code == APPEND { 1 } else { 2 };
                let items = self.pop_n(n)?;
                self.top()?;
                if code == SETITEM {
                    self.hashable(info.name, &items[..1])?;
                }
                self.taint_top(&items);
            }
            APPENDS | SETITEMS | ADDITEMS => {
                let k = self.pop_mark()?;
                let items = self.stack.split_off(k);
                self.top()?;
                match code {
                    SETITEMS => self.hashable(info.name, items.iter().step_by(2))?,
                    ADDITEMS => self.hashable(info.name, &items)?,
                    _ => {}
                }
                self.taint_top(&items);
            }
            DICT | FROZENSET => {
                // Checked before `generic` takes the items off the stack.
                let k = self
                    .marks
                    .last()
                    .copied()
                    .unwrap_or(0)
                    .min(self.stack.len());
                let keys: Vec<Abs> = if code == DICT {
                    self.stack[k..].iter().step_by(2).cloned().collect()
                } else {
                    self.stack[k..].to_vec()
                };
                self.hashable(info.name, &keys)?;
                self.generic(info)?;
                self.mark_unhashable(code);
            }
            _ => {
                self.generic(info)?;
                self.mark_unhashable(code);
            }
        }
        Ok(())
    }

    /// Refuses, as `pickle` would with a `TypeError`, a dict key or set item that
    /// cannot be hashed (a list used as a key): the stream cannot load, whatever it
    /// imports, so the scan does not call it safe.
    pub(super) fn hashable<'k>(
        &self,
        opcode: &'static str,
        keys: impl IntoIterator<Item = &'k Abs>,
    ) -> R<()> {
        if keys.into_iter().any(Abs::unhashable) {
            return Err(self.fail(K::WrongType(opcode, "hashable key")));
        }
        Ok(())
    }

    /// A list, dict, set or bytearray just built from plain values is unhashable.
    pub(super) fn mark_unhashable(&mut self, code: u8) {
        if matches!(
            code,
            EMPTY_LIST | LIST | EMPTY_DICT | DICT | EMPTY_SET | BYTEARRAY8
        ) {
            if let Some(top @ Abs::Plain) = self.stack.last_mut() {
                *top = Abs::Unhashable;
            }
        }
    }

    /// Opcodes that only move plain values: read the argument, then pop and push
    /// as the opcode table says.
    pub(super) fn generic(&mut self, info: &'static opinfo::OpInfo) -> R<()> {
        self.arg(info.arg)?;
        let mut taken = Vec::new();
        if info.mark {
            let k = self.pop_mark()?;
            taken = self.stack.split_off(k);
        }
        taken.extend(self.pop_n(info.pops)?);
        // A container holding a global is as bad as the global: it may reach a call.
        let pushed = container(&taken);
        for _ in 0..info.pushes {
            self.stack.push(pushed.clone());
        }
        Ok(())
    }

    /// Raises the severity of the top of the stack to at least `sev` (items were added
    /// to it).
    pub(super) fn taint_top(&mut self, items: &[Abs]) {
        let sev = worst(items);
        let holds = items.iter().any(Abs::holds_global);
        if let Some(top) = self.stack.last_mut() {
            if holds && !top.holds_global() {
                *top = Abs::Holder(sev.max(top.severity()));
            } else if sev > top.severity() {
                *top = match top {
                    Abs::Holder(_) => Abs::Holder(sev),
                    _ => Abs::Made(sev),
                };
            }
        }
    }

    // ---- stack ----

    pub(super) fn pop(&mut self) -> R<Abs> {
        let fence = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() > fence {
            if let Some(v) = self.stack.pop() {
                return Ok(v);
            }
        }
        Err(self.fail(K::StackUnderflow))
    }

    pub(super) fn pop_n(&mut self, n: usize) -> R<Vec<Abs>> {
        let fence = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() < fence + n {
            return Err(self.fail(K::StackUnderflow));
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    pub(super) fn top(&self) -> R<&Abs> {
        let fence = self.marks.last().copied().unwrap_or(0);
        match self.stack.last() {
            Some(v) if self.stack.len() > fence => Ok(v),
            _ => Err(self.fail(K::StackUnderflow)),
        }
    }

    pub(super) fn pop_mark(&mut self) -> R<usize> {
        self.marks.pop().ok_or_else(|| self.fail(K::MissingMark))
    }

    // ---- arguments ----

    pub(super) fn fail(&self, kind: K) -> DecodeError {
        DecodeError::new(kind, self.op)
    }

    pub(super) fn bad(&self, msg: &str) -> DecodeError {
        self.fail(K::BadArgument(msg.into()))
    }

    pub(super) fn take(&mut self, n: usize) -> R<&'a [u8]> {
        crate::cursor::take(self.data, &mut self.pos, n).ok_or_else(|| self.fail(K::Truncated))
    }

    pub(super) fn line(&mut self) -> R<&'a [u8]> {
        crate::cursor::line(self.data, &mut self.pos).ok_or_else(|| self.fail(K::Truncated))
    }

    pub(super) fn name_line(&mut self) -> R<&'a str> {
        let line = self.line()?;
        core::str::from_utf8(line).map_err(|_| self.fail(K::BadUtf8))
    }

    /// The inline argument of an opcode as raw bytes (the payload for counted ones).
    pub(super) fn arg(&mut self, kind: ArgKind) -> R<&'a [u8]> {
        match kind {
            ArgKind::None => Ok(&[]),
            ArgKind::Fixed(n) => self.take(n),
            ArgKind::Line => self.line(),
            ArgKind::TwoLines => {
                let start = self.pos;
                self.line()?;
                self.line()?;
                Ok(&self.data[start..self.pos])
            }
            ArgKind::Counted { width, signed } => {
                let raw = self.take(width)?;
                let mut le = [0u8; 8];
                le[..width].copy_from_slice(raw);
                let n = u64::from_le_bytes(le);
                if signed && width == 4 && (n as u32 as i32) < 0 {
                    return Err(self.fail(K::BadLength));
                }
                let n = usize::try_from(n).map_err(|_| self.fail(K::Truncated))?;
                self.take(n)
            }
        }
    }

    pub(super) fn memo_key(&mut self, code: u8, kind: ArgKind) -> R<u64> {
        let raw = self.arg(kind)?;
        Ok(match code {
            GET | PUT => text::memo_key(raw).map_err(|m| self.bad(m))?,
            _ => {
                let mut le = [0u8; 8];
                le[..raw.len()].copy_from_slice(raw);
                u64::from_le_bytes(le)
            }
        })
    }
}
