//! Python's `repr` of the values `pickletools.dis` prints as opcode arguments: `str`
//! (quote choice, escapes, Unicode printability), `bytes`, `bytearray`, `int`, `float`,
//! `bool`. Only what the disassembler needs; the ctext renderer of the tests is separate.

use alloc::string::String;
use core::fmt::Write as _;

use super::printable::NOT_PRINTABLE;
use crate::pyfmt;

fn printable(cp: u32) -> bool {
    NOT_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                core::cmp::Ordering::Less
            } else if lo > cp {
                core::cmp::Ordering::Greater
            } else {
                core::cmp::Ordering::Equal
            }
        })
        .is_err()
}

/// `repr(str)` of generalized UTF-8 (lone surrogates allowed).
pub(crate) fn str_repr(out: &mut String, wtf8: &[u8]) {
    let quote = if wtf8.contains(&b'\'') && !wtf8.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    let mut i = 0;
    while i < wtf8.len() {
        let (cp, len) = pyfmt::decode_wtf8_char(&wtf8[i..]).unwrap_or((0xfffd, 1));
        i += len;
        match cp {
            0x5c => out.push_str("\\\\"),
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            c if c == quote as u32 => {
                out.push('\\');
                out.push(quote);
            }
            c if c < 0x20 || c == 0x7f => write!(out, "\\x{c:02x}").unwrap_or(()),
            c if c < 0x7f => out.push(c as u8 as char),
            c if printable(c) => out.push(char::from_u32(c).unwrap_or('\u{fffd}')),
            c if c <= 0xff => write!(out, "\\x{c:02x}").unwrap_or(()),
            c if c <= 0xffff => write!(out, "\\u{c:04x}").unwrap_or(()),
            c => write!(out, "\\U{c:08x}").unwrap_or(()),
        }
    }
    out.push(quote);
}

/// `repr(bytes)`.
pub(crate) fn bytes_repr(out: &mut String, b: &[u8]) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.push('b');
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(quote as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => write!(out, "\\x{c:02x}").unwrap_or(()),
        }
    }
    out.push(quote as char);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &[u8]) -> String {
        let mut out = String::new();
        str_repr(&mut out, text);
        out
    }

    fn b(bytes: &[u8]) -> String {
        let mut out = String::new();
        bytes_repr(&mut out, bytes);
        out
    }

    #[test]
    fn str_repr_like_python() {
        assert_eq!(s(b"abc"), "'abc'");
        assert_eq!(s(b"it's"), "\"it's\"");
        assert_eq!(s(b"'\""), "'\\'\"'");
        assert_eq!(
            s("\u{e9}\u{a0}\u{ad}\u{1f600}\u{e000}\n\x7f".as_bytes()),
            "'\u{e9}\\xa0\\xad\u{1f600}\\ue000\\n\\x7f'"
        );
        assert_eq!(s(b"\xed\xa0\x80"), "'\\ud800'");
        assert_eq!(s("\u{10ffff}".as_bytes()), "'\\U0010ffff'");
    }

    #[test]
    fn bytes_repr_like_python() {
        assert_eq!(b(b"a'b"), "b\"a'b\"");
        assert_eq!(b(b"\x00\xff\\"), "b'\\x00\\xff\\\\'");
    }
}
