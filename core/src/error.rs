//! Error types of the codec. Every decode error carries the byte offset of the opcode
//! that failed, so a host can say where a stream went wrong.

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
}
