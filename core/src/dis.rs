//! The disassembler: prints a stream the way `pickletools.dis` does with its default
//! arguments (no annotations), one opcode a line with its offset, name, argument repr
//! and the mark indentation, and makes the same sanity checks (marks exist, memo keys
//! are defined once and before use, the stack never underflows). It reads arguments
//! with the same rules as `pickletools`' readers, which differ in places from the
//! unpickler's (`STRING` arguments must be ASCII, for one).

mod printable;
mod repr;

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::decode::text::{self, Text};
use crate::error::{DecodeError, DecodeErrorKind as K};
use crate::opinfo::{self, ArgKind, OpInfo};
use crate::pyfmt;

/// Disassembles one pickle; errors carry the offset of the opcode where the stream
/// stopped making sense (`pickletools.dis` would have printed the lines before it).
pub fn dis(data: &[u8]) -> Result<String, DecodeError> {
    Dis {
        data,
        pos: 0,
        out: String::with_capacity(data.len() * 8),
    }
    .run()
}

struct Dis<'a> {
    data: &'a [u8],
    pos: usize,
    out: String,
}

/// A decoded argument, ready to print.
enum Arg {
    None,
    Int(i64),
    /// `INT`/`GET`/`PUT` with `00`/`01`, which `pickletools` reads as `False`/`True`.
    Bool(bool),
    Text(String),
}

impl Arg {
    fn memo_key(&self) -> Option<i64> {
        match *self {
            Arg::Int(i) => Some(i),
            Arg::Bool(b) => Some(b as i64),
            _ => None,
        }
    }
}

impl<'a> Dis<'a> {
    fn run(mut self) -> Result<String, DecodeError> {
        // The stack holds only whether each slot is a mark.
        let mut stack: Vec<bool> = Vec::new();
        let mut markstack: Vec<usize> = Vec::new();
        let mut memo: BTreeSet<i64> = BTreeSet::new();
        let mut maxproto = 0u8;
        loop {
            let pos = self.pos;
            let err = |kind| DecodeError::new(kind, pos);
            let Some(&code) = self.data.get(pos) else {
                return Err(err(K::NoStop));
            };
            let info = opinfo::lookup(code).ok_or(err(K::UnknownOpcode(code)))?;
            self.pos += 1;
            let arg = self.arg(info).map_err(err)?;

            let _ = write!(self.out, "{pos:5}: ");
            let line_start = self.out.len();
            if code.is_ascii() {
                self.out.push(code as char);
            } else {
                let _ = write!(self.out, "\\x{code:02x}");
            }
            while self.out.len() < line_start + 4 {
                self.out.push(' ');
            }
            self.out.push(' ');
            for _ in 0..markstack.len() {
                self.out.push_str("    ");
            }
            self.out.push_str(info.name);
            maxproto = maxproto.max(info.proto);

            let mut numtopop = info.pops;
            let mut markmsg: Option<String> = None;
            let mut error: Option<K> = None;
            let pops_mark = info.mark || (info.code == b'0' && stack.last() == Some(&true));
            if pops_mark {
                match markstack.pop() {
                    Some(markpos) => {
                        markmsg = Some(alloc::format!("(MARK at {markpos})"));
                        while stack.pop() == Some(false) {}
                        if !info.mark {
                            numtopop = 0;
                        }
                    }
                    None => {
                        markmsg = Some("no MARK exists on stack".into());
                        error = Some(K::MissingMark);
                    }
                }
            }
            let memo_put = match info.name {
                "MEMOIZE" => {
                    let idx = memo.len() as i64;
                    markmsg = Some(alloc::format!("(as {idx})"));
                    Some(idx)
                }
                "PUT" | "BINPUT" | "LONG_BINPUT" => arg.memo_key(),
                _ => None,
            };
            if let Some(idx) = memo_put {
                if memo.contains(&idx) {
                    error = Some(K::BadArgument(alloc::format!(
                        "memo key {idx} already defined"
                    )));
                } else if stack.is_empty() {
                    error = Some(K::StackUnderflow);
                } else if stack.last() == Some(&true) {
                    error = Some(K::BadArgument("can't store markobject in the memo".into()));
                } else {
                    memo.insert(idx);
                }
            } else if matches!(info.name, "GET" | "BINGET" | "LONG_BINGET") {
                if let Some(i) = arg.memo_key() {
                    if !memo.contains(&i) {
                        error = Some(K::MemoKeyMissing(i as u64));
                    }
                }
            }

            let has_arg = !matches!(arg, Arg::None);
            if has_arg || markmsg.is_some() {
                for _ in info.name.len()..10 {
                    self.out.push(' ');
                }
                match arg {
                    Arg::None => {}
                    Arg::Int(i) => {
                        let _ = write!(self.out, " {i}");
                    }
                    Arg::Bool(b) => self.out.push_str(if b { " True" } else { " False" }),
                    Arg::Text(t) => {
                        self.out.push(' ');
                        self.out.push_str(&t);
                    }
                }
                if let Some(m) = markmsg {
                    self.out.push(' ');
                    self.out.push_str(&m);
                }
            }
            self.out.push('\n');
            if let Some(kind) = error {
                return Err(err(kind));
            }
            if stack.len() < numtopop {
                return Err(err(K::StackUnderflow));
            }
            stack.truncate(stack.len() - numtopop);
            if info.code == b'(' {
                // Each open mark indents every later line: bound the output.
                let limit = crate::Limits::default().max_depth;
                if markstack.len() >= limit {
                    return Err(err(K::TooDeep(limit)));
                }
                markstack.push(pos);
                stack.push(true);
            }
            stack.resize(stack.len() + info.pushes, false);
            if info.code == b'.' {
                break;
            }
        }
        let _ = writeln!(self.out, "highest protocol among opcodes = {maxproto}");
        if !stack.is_empty() {
            return Err(DecodeError::new(K::TrailingStack, self.pos - 1));
        }
        Ok(self.out)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], K> {
        let n = usize::try_from(n).map_err(|_| K::Truncated)?;
        crate::cursor::take(self.data, &mut self.pos, n).ok_or(K::Truncated)
    }

    fn uint(&mut self, n: usize) -> Result<u64, K> {
        let b = self.take(n as u64)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(b);
        Ok(u64::from_le_bytes(v))
    }

    fn line(&mut self) -> Result<&'a [u8], K> {
        crate::cursor::line(self.data, &mut self.pos).ok_or(K::Truncated)
    }

    /// `read_stringnl(decode=True, stripquotes=False)`: escapes undone, ASCII only.
    fn noescape_line(&mut self) -> Result<Vec<u8>, K> {
        let line = self.line()?;
        let raw = text::escape_decode(line).map_err(|m| K::BadArgument(m.into()))?;
        if !raw.is_ascii() {
            return Err(K::NonAscii);
        }
        Ok(raw)
    }

    /// Reads and formats the argument of `info` as `pickletools` would show it.
    fn arg(&mut self, info: &OpInfo) -> Result<Arg, K> {
        let bad = |m: &str| K::BadArgument(m.into());
        let mut out = String::new();
        match (info.name, info.arg) {
            (_, ArgKind::None) => return Ok(Arg::None),
            ("BININT" | "EXT4", _) => return Ok(Arg::Int(self.uint(4)? as u32 as i32 as i64)),
            ("BINFLOAT", _) => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                out.push_str(&pyfmt::float_repr(f64::from_be_bytes(a)));
            }
            (_, ArgKind::Fixed(n)) => {
                let v = self.uint(n)?;
                return Ok(match i64::try_from(v) {
                    Ok(i) => Arg::Int(i),
                    Err(_) => Arg::Text(alloc::format!("{v}")),
                });
            }
            ("INT" | "GET" | "PUT", _) => {
                let line = self.line()?;
                return match line {
                    b"00" => Ok(Arg::Bool(false)),
                    b"01" => Ok(Arg::Bool(true)),
                    _ => self.int_arg(line),
                };
            }
            ("LONG", _) => {
                let line = self.line()?;
                return self.int_arg(line.strip_suffix(b"L").unwrap_or(line));
            }
            ("FLOAT", _) => {
                let line = self.line()?;
                let v = text::float_line(line.trim_ascii()).map_err(bad)?;
                out.push_str(&pyfmt::float_repr(v));
            }
            ("STRING", _) => {
                let line = self.line()?;
                let inner = match line {
                    [q @ (b'\'' | b'"'), ..] => match line.strip_suffix(&[*q]) {
                        Some(_) if line.len() == 1 => &line[1..],
                        Some(s) => &s[1..],
                        None => return Err(bad("strinq quote not found at both ends")),
                    },
                    _ => return Err(bad("no string quotes around argument")),
                };
                let raw = text::escape_decode(inner).map_err(bad)?;
                if !raw.is_ascii() {
                    return Err(K::NonAscii);
                }
                repr::str_repr(&mut out, &raw);
            }
            ("BINSTRING" | "SHORT_BINSTRING", ArgKind::Counted { width, signed }) => {
                let n = self.length(width, signed)?;
                let raw = self.take(n)?;
                let latin1: String = raw.iter().map(|&b| b as char).collect();
                repr::str_repr(&mut out, latin1.as_bytes());
            }
            ("LONG1" | "LONG4", ArgKind::Counted { width, signed }) => {
                let n = self.length(width, signed)?;
                let le = self.take(n)?;
                // `pickletools` prints the int in decimal, which CPython refuses past
                // 4300 digits (and which is quadratic): at most ~1786 bytes pass.
                let digits = if le.len() <= 1800 {
                    pyfmt::le_to_decimal(le)
                } else {
                    String::new()
                };
                if digits.is_empty() || digits.trim_start_matches('-').len() > text::MAX_STR_DIGITS
                {
                    return Err(K::BadArgument(
                        "int exceeds the limit of 4300 digits".into(),
                    ));
                }
                out.push_str(&digits);
            }
            (
                "SHORT_BINUNICODE" | "BINUNICODE" | "BINUNICODE8",
                ArgKind::Counted { width, signed },
            ) => {
                let n = self.length(width, signed)?;
                let raw = self.take(n)?;
                if !text::is_surrogatepass_utf8(raw) {
                    return Err(K::BadUtf8);
                }
                repr::str_repr(&mut out, raw);
            }
            ("BYTEARRAY8", ArgKind::Counted { width, signed }) => {
                let n = self.length(width, signed)?;
                let raw = self.take(n)?;
                out.push_str("bytearray(");
                repr::bytes_repr(&mut out, raw);
                out.push(')');
            }
            (_, ArgKind::Counted { width, signed }) => {
                let n = self.length(width, signed)?;
                let raw = self.take(n)?;
                repr::bytes_repr(&mut out, raw);
            }
            ("UNICODE", _) => {
                let line = self.line()?;
                match text::raw_unicode_escape(line).map_err(bad)? {
                    Text::Utf8(s) => repr::str_repr(&mut out, s.as_bytes()),
                    Text::Surrogates(w) => repr::str_repr(&mut out, &w),
                }
            }
            ("GLOBAL" | "INST", _) => {
                let mut pair = self.noescape_line()?;
                pair.push(b' ');
                pair.extend_from_slice(&self.noescape_line()?);
                repr::str_repr(&mut out, &pair);
            }
            _ => {
                let raw = self.noescape_line()?;
                repr::str_repr(&mut out, &raw);
            }
        }
        Ok(Arg::Text(out))
    }

    /// `int(text)`: a decimal int of any size.
    fn int_arg(&mut self, line: &[u8]) -> Result<Arg, K> {
        match text::decimal(line).map_err(|m| K::BadArgument(m.into()))? {
            crate::Value::Int(i) => Ok(Arg::Int(i)),
            crate::Value::BigInt(le) => Ok(Arg::Text(pyfmt::le_to_decimal(&le))),
            _ => Err(K::BadArgument("invalid int literal".into())),
        }
    }

    fn length(&mut self, width: usize, signed: bool) -> Result<u64, K> {
        let n = self.uint(width)?;
        if signed && (n as u32 as i32) < 0 {
            return Err(K::BadLength);
        }
        Ok(n)
    }
}
