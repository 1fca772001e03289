//! What each opcode looks like on the wire: its name, the layout of its inline argument,
//! the protocol that introduced it and how it moves the stack, as `pickletools` describes
//! them. The disassembler prints from this table and the `io` reader uses it to find where
//! one pickle ends; the decoder does not consult it (its hot loop matches on bytes).

/// How an opcode's inline argument is laid out after the opcode byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// No argument.
    None,
    /// `n` fixed bytes (uint1, uint2, int4, uint4, uint8, float8).
    Fixed(usize),
    /// A length of `width` little-endian bytes, then that many bytes.
    Counted { width: usize, signed: bool },
    /// Bytes up to and including a newline.
    Line,
    /// Two newline-terminated lines (`GLOBAL`, `INST`).
    TwoLines,
}

/// One opcode as `pickletools.opcodes` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    pub code: u8,
    pub name: &'static str,
    pub arg: ArgKind,
    /// The protocol that introduced the opcode.
    pub proto: u8,
    /// Items taken from the stack, or with `mark` the items above and including the
    /// topmost mark plus this many below it.
    pub pops: usize,
    /// Whether the opcode consumes the topmost mark (and everything above it).
    pub mark: bool,
    /// Items pushed afterwards.
    pub pushes: usize,
}

const fn op(
    code: u8,
    name: &'static str,
    arg: ArgKind,
    proto: u8,
    pops: usize,
    mark: bool,
    pushes: usize,
) -> OpInfo {
    OpInfo {
        code,
        name,
        arg,
        proto,
        pops,
        mark,
        pushes,
    }
}

use ArgKind::{Counted, Fixed, Line, TwoLines};
const NO: ArgKind = ArgKind::None;
const fn c(width: usize) -> ArgKind {
    Counted {
        width,
        signed: false,
    }
}

/// Every opcode of protocols 0 to 5, in `pickletools.opcodes` order.
pub static OPCODES: &[OpInfo] = &[
    op(b'I', "INT", Line, 0, 0, false, 1),
    op(b'J', "BININT", Fixed(4), 1, 0, false, 1),
    op(b'K', "BININT1", Fixed(1), 1, 0, false, 1),
    op(b'M', "BININT2", Fixed(2), 1, 0, false, 1),
    op(b'L', "LONG", Line, 0, 0, false, 1),
    op(0x8a, "LONG1", c(1), 2, 0, false, 1),
    op(
        0x8b,
        "LONG4",
        Counted {
            width: 4,
            signed: true,
        },
        2,
        0,
        false,
        1,
    ),
    op(b'S', "STRING", Line, 0, 0, false, 1),
    op(
        b'T',
        "BINSTRING",
        Counted {
            width: 4,
            signed: true,
        },
        1,
        0,
        false,
        1,
    ),
    op(b'U', "SHORT_BINSTRING", c(1), 1, 0, false, 1),
    op(b'B', "BINBYTES", c(4), 3, 0, false, 1),
    op(b'C', "SHORT_BINBYTES", c(1), 3, 0, false, 1),
    op(0x8e, "BINBYTES8", c(8), 4, 0, false, 1),
    op(0x96, "BYTEARRAY8", c(8), 5, 0, false, 1),
    op(0x97, "NEXT_BUFFER", NO, 5, 0, false, 1),
    op(0x98, "READONLY_BUFFER", NO, 5, 1, false, 1),
    op(b'N', "NONE", NO, 0, 0, false, 1),
    op(0x88, "NEWTRUE", NO, 2, 0, false, 1),
    op(0x89, "NEWFALSE", NO, 2, 0, false, 1),
    op(b'V', "UNICODE", Line, 0, 0, false, 1),
    op(0x8c, "SHORT_BINUNICODE", c(1), 4, 0, false, 1),
    op(b'X', "BINUNICODE", c(4), 1, 0, false, 1),
    op(0x8d, "BINUNICODE8", c(8), 4, 0, false, 1),
    op(b'F', "FLOAT", Line, 0, 0, false, 1),
    op(b'G', "BINFLOAT", Fixed(8), 1, 0, false, 1),
    op(b']', "EMPTY_LIST", NO, 1, 0, false, 1),
    op(b'a', "APPEND", NO, 0, 2, false, 1),
    op(b'e', "APPENDS", NO, 1, 1, true, 1),
    op(b'l', "LIST", NO, 0, 0, true, 1),
    op(b')', "EMPTY_TUPLE", NO, 1, 0, false, 1),
    op(b't', "TUPLE", NO, 0, 0, true, 1),
    op(0x85, "TUPLE1", NO, 2, 1, false, 1),
    op(0x86, "TUPLE2", NO, 2, 2, false, 1),
    op(0x87, "TUPLE3", NO, 2, 3, false, 1),
    op(b'}', "EMPTY_DICT", NO, 1, 0, false, 1),
    op(b'd', "DICT", NO, 0, 0, true, 1),
    op(b's', "SETITEM", NO, 0, 3, false, 1),
    op(b'u', "SETITEMS", NO, 1, 1, true, 1),
    op(0x8f, "EMPTY_SET", NO, 4, 0, false, 1),
    op(0x90, "ADDITEMS", NO, 4, 1, true, 1),
    op(0x91, "FROZENSET", NO, 4, 0, true, 1),
    op(b'0', "POP", NO, 0, 1, false, 0),
    op(b'2', "DUP", NO, 0, 1, false, 2),
    op(b'(', "MARK", NO, 0, 0, false, 0),
    op(b'1', "POP_MARK", NO, 1, 0, true, 0),
    op(b'g', "GET", Line, 0, 0, false, 1),
    op(b'h', "BINGET", Fixed(1), 1, 0, false, 1),
    op(b'j', "LONG_BINGET", Fixed(4), 1, 0, false, 1),
    op(b'p', "PUT", Line, 0, 0, false, 0),
    op(b'q', "BINPUT", Fixed(1), 1, 0, false, 0),
    op(b'r', "LONG_BINPUT", Fixed(4), 1, 0, false, 0),
    op(0x94, "MEMOIZE", NO, 4, 1, false, 1),
    op(0x82, "EXT1", Fixed(1), 2, 0, false, 1),
    op(0x83, "EXT2", Fixed(2), 2, 0, false, 1),
    op(0x84, "EXT4", Fixed(4), 2, 0, false, 1),
    op(b'c', "GLOBAL", TwoLines, 0, 0, false, 1),
    op(0x93, "STACK_GLOBAL", NO, 4, 2, false, 1),
    op(b'R', "REDUCE", NO, 0, 2, false, 1),
    op(b'b', "BUILD", NO, 0, 2, false, 1),
    op(b'i', "INST", TwoLines, 0, 0, true, 1),
    op(b'o', "OBJ", NO, 1, 0, true, 1),
    op(0x81, "NEWOBJ", NO, 2, 2, false, 1),
    op(0x92, "NEWOBJ_EX", NO, 4, 3, false, 1),
    op(0x80, "PROTO", Fixed(1), 2, 0, false, 0),
    op(b'.', "STOP", NO, 0, 1, false, 0),
    op(0x95, "FRAME", Fixed(8), 4, 0, false, 0),
    op(b'P', "PERSID", Line, 0, 0, false, 1),
    op(b'Q', "BINPERSID", NO, 1, 1, false, 1),
];

/// Index into [`OPCODES`] by opcode byte (`u8::MAX` for unknown bytes).
static BY_CODE: [u8; 256] = {
    let mut t = [u8::MAX; 256];
    let mut i = 0;
    while i < OPCODES.len() {
        t[OPCODES[i].code as usize] = i as u8;
        i += 1;
    }
    t
};

/// The description of opcode byte `code`, or `None` for a byte no protocol defines.
#[inline]
pub fn lookup(code: u8) -> Option<&'static OpInfo> {
    match BY_CODE[code as usize] {
        u8::MAX => None,
        i => Some(&OPCODES[i as usize]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_complete() {
        assert_eq!(OPCODES.len(), 68);
        for (i, a) in OPCODES.iter().enumerate() {
            assert_eq!(lookup(a.code), Some(a));
            assert!(OPCODES[i + 1..].iter().all(|b| b.code != a.code));
        }
        assert_eq!(
            lookup(crate::opcode::READONLY_BUFFER).unwrap().name,
            "READONLY_BUFFER"
        );
        assert!(lookup(0xff).is_none());
    }
}
