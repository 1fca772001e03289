//! Error types of the codec. Every decode error carries the byte offset of the opcode
//! that failed, so a host can say where a stream went wrong.
//!
//! [`DecodeErrorKind::code`], [`DecodeErrorKind::number`] and [`DecodeErrorKind::group`]
//! are the one table every binding's error codes come from: C's `BRINERY_DECODE_*`
//! status (name and value), Node's `ERR_BRINERY_*` code and Python's
//! `UnpicklingError.code`. They are stable: a name or number, once shipped, never
//! changes meaning.

use alloc::string::String;

/// Why decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("unexpected end of stream")]
    Truncated,
    #[error("unknown opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    #[error("unsupported protocol {0}")]
    UnsupportedProtocol(u8),
    #[error("stack underflow")]
    StackUnderflow,
    #[error("no mark on the stack")]
    MissingMark,
    #[error("unexpected mark on the stack")]
    UnexpectedMark,
    #[error("memo key {0} not found")]
    MemoKeyMissing(u64),
    #[error("negative or invalid length")]
    BadLength,
    #[error("invalid argument: {0}")]
    BadArgument(String),
    #[error("invalid utf-8 in str")]
    BadUtf8,
    #[error("{0} expects a {1} on the stack")]
    WrongType(&'static str, &'static str),
    #[error("stream refers to out-of-band buffer {0} but only {1} were supplied")]
    MissingBuffer(usize, usize),
    #[error("stream ended without STOP")]
    NoStop,
    #[error("stack not empty at STOP")]
    TrailingStack,
    #[error("frame length exceeds the stream")]
    BadFrame,
    #[error("opcode runs across the end of its frame")]
    FrameCrossed,
    #[error("nesting deeper than the limit of {0}")]
    TooDeep(usize),
    #[error("memo larger than the limit of {0}")]
    MemoLimit(usize),
    #[error("allocation of {0} bytes exceeds the limit")]
    AllocLimit(usize),
    #[error("global {0} is not allowed")]
    Forbidden(String),
    #[error("extension code {0} is not allowed")]
    ForbiddenExtension(i32),
    #[error("value expands to more than {0} nodes with its shared references written out")]
    Expands(usize),
    #[error("odd number of items for a dict")]
    OddItems,
    #[error("python 2 str is not ascii (decode with latin1 or bytes)")]
    NonAscii,
    #[error("stream refers to out-of-band buffers but none were supplied")]
    NoBuffers,
    #[error("out of memory: the allocator refused memory for a value")]
    OutOfMemory,
}

/// One row of the error-code table: (code, number, group).
type Row = (&'static str, u16, &'static str);

impl DecodeErrorKind {
    /// One value of every kind, for tests that check a binding's mapping of the whole
    /// table (a new kind fails to compile in `row` until it has a row, and must be added
    /// here).
    #[doc(hidden)]
    pub fn one_of_each() -> [Self; 26] {
        use DecodeErrorKind as K;
        [
            K::Truncated,
            K::UnknownOpcode(0),
            K::UnsupportedProtocol(9),
            K::StackUnderflow,
            K::MissingMark,
            K::UnexpectedMark,
            K::MemoKeyMissing(0),
            K::BadLength,
            K::BadArgument(String::new()),
            K::BadUtf8,
            K::WrongType("", ""),
            K::MissingBuffer(0, 0),
            K::NoStop,
            K::TrailingStack,
            K::BadFrame,
            K::FrameCrossed,
            K::TooDeep(0),
            K::MemoLimit(0),
            K::AllocLimit(0),
            K::Forbidden(String::new()),
            K::ForbiddenExtension(0),
            K::Expands(0),
            K::OddItems,
            K::NonAscii,
            K::NoBuffers,
            K::OutOfMemory,
        ]
    }

    /// The stable name of this kind of failure, in capitals (`"TRUNCATED"`,
    /// `"FORBIDDEN_GLOBAL"`). C's status is `BRINERY_DECODE_<code>` (for
    /// `FORBIDDEN_GLOBAL`, `BRINERY_FORBIDDEN_GLOBAL`); Python's `UnpicklingError.code`
    /// is this string. Kinds that differ only in detail share a code (`FrameCrossed` is
    /// `BAD_FRAME`; `Expands` is `ALLOC_LIMIT`).
    pub const fn code(&self) -> &'static str {
        self.row().0
    }

    /// The stable number of [`code`](Self::code): C's `brinery_status` value (101 to 123;
    /// 100 is kept for "any other decode failure").
    pub const fn number(&self) -> u16 {
        self.row().1
    }

    /// The coarser group a host with fewer codes reports, in capitals: Node's error
    /// code is `ERR_BRINERY_<group>` (`"MALFORMED"` for every stack-shape error,
    /// `"LIMIT"` for the memo and allocation limits...).
    pub const fn group(&self) -> &'static str {
        self.row().2
    }

    const fn row(&self) -> Row {
        use DecodeErrorKind as K;
        match self {
            K::Truncated => ("TRUNCATED", 101, "TRUNCATED"),
            K::UnknownOpcode(_) => ("UNKNOWN_OPCODE", 102, "UNKNOWN_OPCODE"),
            K::UnsupportedProtocol(_) => ("UNSUPPORTED_PROTOCOL", 103, "PROTOCOL"),
            K::StackUnderflow => ("STACK_UNDERFLOW", 104, "MALFORMED"),
            K::MissingMark => ("MISSING_MARK", 105, "MALFORMED"),
            K::UnexpectedMark => ("UNEXPECTED_MARK", 106, "MALFORMED"),
            K::MemoKeyMissing(_) => ("MEMO_KEY_MISSING", 107, "MEMO"),
            K::BadLength => ("BAD_LENGTH", 108, "BAD_LENGTH"),
            K::BadArgument(_) => ("BAD_ARGUMENT", 109, "BAD_ARGUMENT"),
            K::BadUtf8 => ("BAD_UTF8", 110, "BAD_UTF8"),
            K::WrongType(..) => ("WRONG_TYPE", 111, "MALFORMED"),
            K::MissingBuffer(..) => ("MISSING_BUFFER", 112, "BUFFER"),
            K::NoStop => ("NO_STOP", 113, "TRUNCATED"),
            K::TrailingStack => ("TRAILING_STACK", 114, "MALFORMED"),
            K::BadFrame | K::FrameCrossed => ("BAD_FRAME", 115, "BAD_LENGTH"),
            K::TooDeep(_) => ("TOO_DEEP", 116, "TOO_DEEP"),
            K::MemoLimit(_) => ("MEMO_LIMIT", 117, "LIMIT"),
            K::AllocLimit(_) | K::Expands(_) => ("ALLOC_LIMIT", 118, "LIMIT"),
            K::Forbidden(_) => ("FORBIDDEN_GLOBAL", 119, "UNKNOWN_GLOBAL"),
            // Node names an extension code outside its `extensions` option unsupported.
            K::ForbiddenExtension(_) => ("FORBIDDEN_GLOBAL", 119, "UNSUPPORTED"),
            K::OddItems => ("ODD_ITEMS", 120, "MALFORMED"),
            K::NonAscii => ("NON_ASCII", 121, "BAD_UTF8"),
            K::NoBuffers => ("NO_BUFFERS", 122, "BUFFER"),
            // Node reports memory it could not get as a limit, like the allocation cap.
            K::OutOfMemory => ("OUT_OF_MEMORY", 123, "LIMIT"),
        }
    }
}

/// A decoding failure at a byte offset in the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    /// Offset of the opcode (or byte) where decoding failed.
    pub offset: usize,
}

impl DecodeError {
    pub fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        DecodeError { kind, offset }
    }
}

/// Why encoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("unsupported protocol {0}")]
    UnsupportedProtocol(u8),
    #[error("{0} needs protocol {1} or higher")]
    NeedsProtocol(&'static str, u8),
    #[error("value too large: {0}")]
    TooLarge(&'static str),
    #[error("invalid value: {0}")]
    Invalid(String),
    #[error("out of memory: the allocator refused {0} bytes for the stream")]
    OutOfMemory(usize),
}

#[cfg(test)]
mod tests {
    use super::DecodeErrorKind as K;

    #[test]
    fn one_number_per_code_and_one_code_per_number() {
        let kinds = K::one_of_each();
        for a in &kinds {
            assert!((101..200).contains(&a.number()), "{a:?}");
            assert!(a
                .code()
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'));
            for b in &kinds {
                assert_eq!(
                    a.code() == b.code(),
                    a.number() == b.number(),
                    "{a:?} {b:?}"
                );
            }
        }
    }
}
