//! Protocol 0's text arguments: the decimal ints of `INT`/`LONG`/`GET`/`PUT`, the float
//! repr of `FLOAT`, the quoted, backslash-escaped literal of `STRING` (what
//! `codecs.escape_decode` accepts) and the `raw-unicode-escape` text of `UNICODE`. Each
//! parser takes one line without its newline and reports failure as a short message; the
//! machine adds the offset.

use alloc::string::String;
use alloc::vec::Vec;

use crate::pyfmt;
use crate::value::Value;

/// An int literal as `INT` reads it: `00`/`01` (any two-character spelling of 0 or 1,
/// like `_pickle.c`'s length check) are `False`/`True`.
pub(crate) fn int_line(line: &[u8]) -> Result<Value, &'static str> {
    let text = until_nul(line);
    // C `strtol` of an empty C string converts nothing and stops at the NUL, which
    // `_pickle.c` accepts as 0 (a line without any bytes is an error).
    let v = if text.is_empty() && !line.is_empty() {
        Value::Int(0)
    } else {
        int_literal(text, Base::C)?
    };
    if line.len() == 2 {
        if let Value::Int(n @ (0 | 1)) = v {
            return Ok(Value::Bool(n == 1));
        }
    }
    Ok(v)
}

/// A `LONG` literal: an int with an optional trailing `L`.
pub(crate) fn long_line(line: &[u8]) -> Result<Value, &'static str> {
    let line = line.strip_suffix(b"L").unwrap_or(line);
    int_literal(until_nul(line), Base::Zero)
}

/// `_pickle.c` parses text arguments as C strings: a NUL byte ends the literal.
fn until_nul(line: &[u8]) -> &[u8] {
    match line.iter().position(|&b| b == 0) {
        Some(i) => &line[..i],
        None => line,
    }
}

/// `int(text)`: base 10 only, as `pickletools` reads ints.
/// Python's default `sys.get_int_max_str_digits()`: the most decimal digits an int may
/// be converted from or to.
pub(crate) const MAX_STR_DIGITS: usize = 4300;

pub(crate) fn decimal(line: &[u8]) -> Result<Value, &'static str> {
    int_literal(line, Base::Ten)
}

/// A memo key of `GET`/`PUT`: a non-negative decimal int.
pub(crate) fn memo_key(line: &[u8]) -> Result<u64, &'static str> {
    match int_literal(until_nul(line), Base::Zero)? {
        Value::Int(n) if n >= 0 => Ok(n as u64),
        Value::Int(_) => Err("negative memo key"),
        _ => Err("memo key too large"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Base {
    /// C `strtol(s, 0)`: prefixes, and a leading `0` means octal (`INT`).
    C,
    /// `int(s, 0)`: prefixes (`LONG`, memo keys).
    Zero,
    /// `int(s)`: decimal only.
    Ten,
}

/// An int literal as `_pickle.c` reads it: surrounding blanks, a sign, `0x`/`0o`/`0b`
/// prefixes, `_` between digits, per [`Base`]. Fits in `i64` or becomes a big int.
fn int_literal(line: &[u8], base: Base) -> Result<Value, &'static str> {
    const BAD: &str = "invalid int literal";
    let text = line.trim_ascii();
    let (negative, rest) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = match rest {
        _ if base == Base::Ten => (10u32, rest),
        [b'0', b'x' | b'X', d @ ..] => (16, d),
        [b'0', b'o' | b'O', d @ ..] => (8, d),
        [b'0', b'b' | b'B', d @ ..] => (2, d),
        [b'0', d @ ..] if base == Base::C && !d.is_empty() => (8, d),
        _ => (10, rest),
    };
    if digits.is_empty() || digits[0] == b'_' || digits[digits.len() - 1] == b'_' {
        return Err(BAD);
    }
    // CPython 3.11 refuses decimal text of more than 4300 digits (which also keeps this
    // quadratic conversion bounded).
    if radix == 10 && digits.iter().filter(|&&c| c != b'_').count() > MAX_STR_DIGITS {
        return Err("int literal exceeds the limit of 4300 digits");
    }
    // Magnitude as little-endian u32 limbs; almost always one or two.
    let mut limbs: Vec<u32> = Vec::new();
    let mut small: u64 = 0;
    let mut overflow = false;
    let mut prev_underscore = false;
    for &c in digits {
        if c == b'_' {
            if prev_underscore {
                return Err(BAD);
            }
            prev_underscore = true;
            continue;
        }
        prev_underscore = false;
        let d = (c as char).to_digit(radix).ok_or(BAD)?;
        if !overflow {
            match small
                .checked_mul(radix as u64)
                .and_then(|v| v.checked_add(d as u64))
            {
                Some(v) => {
                    small = v;
                    continue;
                }
                None => {
                    overflow = true;
                    limbs.push(small as u32);
                    limbs.push((small >> 32) as u32);
                }
            }
        }
        let mut carry = d as u64;
        for limb in limbs.iter_mut() {
            let v = *limb as u64 * radix as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
    }
    if !overflow {
        if !negative && small <= i64::MAX as u64 {
            return Ok(Value::Int(small as i64));
        }
        if negative && small <= 1u64 << 63 {
            return Ok(Value::Int((small as i64).wrapping_neg()));
        }
        limbs.push(small as u32);
        limbs.push((small >> 32) as u32);
    }
    let mut bytes: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    bytes.push(0);
    if negative {
        let mut carry = 1u16;
        for b in bytes.iter_mut() {
            let v = (!*b) as u16 + carry;
            *b = v as u8;
            carry = v >> 8;
        }
    }
    Ok(Value::BigInt(pyfmt::trim_le(&bytes).to_vec()))
}

/// A `FLOAT` literal; no surrounding blanks, as `PyOS_string_to_double` insists.
pub(crate) fn float_line(line: &[u8]) -> Result<f64, &'static str> {
    const BAD: &str = "invalid float literal";
    let text = core::str::from_utf8(until_nul(line)).map_err(|_| BAD)?;
    if text.is_empty() || text.contains('_') || text.trim() != text {
        return Err(BAD);
    }
    text.parse::<f64>().map_err(|_| BAD)
}

/// The `STRING` argument: a quoted Python bytes literal, quotes stripped and escapes
/// undone as `codecs.escape_decode` does.
pub(crate) fn string_literal(line: &[u8]) -> Result<Vec<u8>, &'static str> {
    let inner = match line {
        [q @ (b'\'' | b'"'), inner @ .., last] if q == last => inner,
        _ => return Err("the STRING opcode argument must be quoted"),
    };
    escape_decode(inner)
}

/// `codecs.escape_decode`: Python's backslash escapes of a bytes literal undone.
pub(crate) fn escape_decode(inner: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = inner.get(i) else {
            return Err("trailing \\ in string");
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(11),
            b'a' => out.push(7),
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                for _ in 0..2 {
                    match inner.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + (d - b'0') as u32;
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'x' => {
                let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
                match (hex(inner.get(i)), hex(inner.get(i + 1))) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => return Err("invalid \\x escape"),
                }
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// A decoded `UNICODE` argument: valid UTF-8, or generalized UTF-8 holding surrogates.
pub(crate) enum Text {
    Utf8(String),
    Surrogates(Vec<u8>),
}

/// The `UNICODE` argument, `raw-unicode-escape`: bytes are Latin-1 code points except
/// `\uXXXX` and `\UXXXXXXXX` after an odd number of backslashes.
pub(crate) fn raw_unicode_escape(line: &[u8]) -> Result<Text, &'static str> {
    let mut out = String::with_capacity(line.len());
    let mut wtf8: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < line.len() {
        let c = line[i];
        i += 1;
        let cp = if c != b'\\' || i >= line.len() {
            c as u32
        } else {
            let e = line[i];
            let width = match e {
                b'u' => 4,
                b'U' => 8,
                _ => {
                    // A backslash and the byte after it, both literal.
                    push_cp(&mut out, &mut wtf8, b'\\' as u32);
                    i += 1;
                    push_cp(&mut out, &mut wtf8, e as u32);
                    continue;
                }
            };
            i += 1;
            let digits = line.get(i..i + width).ok_or("truncated \\uXXXX escape")?;
            let mut v: u32 = 0;
            for &d in digits {
                v = v * 16 + (d as char).to_digit(16).ok_or("truncated \\uXXXX escape")?;
            }
            if v > 0x10ffff {
                return Err("\\Uxxxxxxxx out of range");
            }
            i += width;
            v
        };
        push_cp(&mut out, &mut wtf8, cp);
    }
    Ok(match wtf8 {
        None => Text::Utf8(out),
        Some(mut w) => {
            w.extend_from_slice(out.as_bytes());
            Text::Surrogates(w)
        }
    })
}

/// Appends a code point; the first surrogate moves everything to generalized UTF-8.
fn push_cp(out: &mut String, wtf8: &mut Option<Vec<u8>>, cp: u32) {
    match char::from_u32(cp) {
        Some(ch) => match wtf8 {
            None => out.push(ch),
            Some(w) => {
                let mut buf = [0u8; 4];
                w.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
        },
        None => {
            let w = wtf8.get_or_insert_with(|| core::mem::take(out).into_bytes());
            w.extend_from_slice(&[
                0xe0 | (cp >> 12) as u8,
                0x80 | ((cp >> 6) & 0x3f) as u8,
                0x80 | (cp & 0x3f) as u8,
            ]);
        }
    }
}

/// Checks generalized UTF-8 as Python's `surrogatepass` decoder accepts it: strict
/// UTF-8 except that encoded surrogates (U+D800..U+DFFF) are allowed.
pub(crate) fn is_surrogatepass_utf8(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        if b[i] < 0x80 {
            i += 1;
            continue;
        }
        match pyfmt::decode_wtf8_char(&b[i..]) {
            Some((_, len)) => i += len,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_like_pickle() {
        assert_eq!(int_line(b"01"), Ok(Value::Bool(true)));
        assert_eq!(int_line(b"-0"), Ok(Value::Bool(false)));
        assert_eq!(int_line(b" 12 "), Ok(Value::Int(12)));
        assert_eq!(int_line(b"0x10"), Ok(Value::Int(16)));
        assert_eq!(int_line(b"010"), Ok(Value::Int(8)));
        assert_eq!(int_line(b"1_0"), Ok(Value::Int(10)));
        assert_eq!(int_line(b"-9223372036854775808"), Ok(Value::Int(i64::MIN)));
        assert_eq!(
            int_line(b"9223372036854775808"),
            Ok(Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0]))
        );
        assert_eq!(
            long_line(b"-1180591620717411303424L"),
            Ok(Value::BigInt(
                pyfmt::decimal_to_le(b"-1180591620717411303424").unwrap()
            ))
        );
        assert!(int_line(b"9223372036854775807JUNK").is_err());
        assert!(int_line(b"").is_err());
        assert_eq!(int_line(b"12\0junk"), Ok(Value::Int(12)));
        assert_eq!(int_line(b"\0junk"), Ok(Value::Int(0)));
        assert_eq!(long_line(b"-922\0junkL"), Ok(Value::Int(-922)));
        assert!(int_line(b"1__0").is_err());
        assert_eq!(memo_key(b"-1"), Err("negative memo key"));
    }

    #[test]
    fn string_escapes_like_escape_decode() {
        assert_eq!(string_literal(b"'a\\n\\x41\\101\\q'").unwrap(), b"a\nAA\\q");
        assert_eq!(string_literal(b"''").unwrap(), b"");
        assert!(string_literal(b"'\\'").is_err());
        assert!(string_literal(b"'\\x4'").is_err());
        assert!(string_literal(b"'").is_err());
        assert!(string_literal(b"'\"").is_err());
    }

    #[test]
    fn raw_unicode_escape_like_python() {
        let utf8 = |b: &[u8]| match raw_unicode_escape(b).unwrap() {
            Text::Utf8(s) => s,
            Text::Surrogates(_) => panic!("surrogates"),
        };
        assert_eq!(utf8(b"a\\u0041"), "aA");
        assert_eq!(utf8(b"a\\\\u0041"), "a\\\\u0041");
        assert_eq!(utf8(b"\\\\\\u0041"), "\\\\A");
        assert_eq!(utf8(b"\xe9\\U0001F600\\"), "\u{e9}\u{1f600}\\");
        assert!(raw_unicode_escape(b"\\u12").is_err());
        assert!(raw_unicode_escape(b"\\U00110000").is_err());
        match raw_unicode_escape(b"x\\ud800y").unwrap() {
            Text::Surrogates(w) => assert_eq!(w, b"x\xed\xa0\x80y"),
            Text::Utf8(_) => panic!("expected surrogates"),
        }
    }
}
