//! The safe pickle machine: reads protocols 0 to 5 into an inert [`Tree`].
//!
//! No code is ever run: globals, calls and persistent ids become nodes (see
//! [`crate::value`]); only the pure reductions CPython writes for plain data (bytes,
//! bytearray and sets below the protocols that have opcodes for them) are lowered back
//! into plain values. Every length is checked against the bytes left and every
//! allocation against [`Limits`], so hostile input fails with a [`DecodeError`] carrying
//! the byte offset, never a panic, a hang or an unbounded allocation. The machine is a
//! loop over opcodes with an explicit stack, so deeply nested input cannot overflow the
//! native stack. Not for streaming: [`crate::io`] reads one pickle from a reader first.

mod lower;
mod machine;
mod memo;
pub(crate) mod text;

use crate::error::DecodeError;
use crate::limits::Limits;
use crate::value::Tree;

/// How Python 2 `str` (`STRING`, `BINSTRING`, `SHORT_BINSTRING`) is decoded, as
/// `pickle.loads(encoding=...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Py2Strings {
    /// Decode as ASCII; other bytes are an error (`pickle`'s default).
    #[default]
    Ascii,
    /// Decode as Latin-1 (every byte is a code point).
    Latin1,
    /// Keep as `bytes`.
    Bytes,
}

/// Options for [`decode`].
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    pub limits: Limits,
    pub py2_strings: Py2Strings,
    /// How many out-of-band buffers the host supplies (`NEXT_BUFFER` beyond that is an
    /// error); `None` when the host supplies none.
    pub buffers: Option<usize>,
    /// Map Python 2 module and global names to Python 3 ones (`fix_imports`), on by
    /// default in `pickle.loads`. See [`DecodeOptions::new`].
    pub fix_imports: bool,
    /// Keep `_codecs.encode(str, 'latin1')`, `bytes(...)`, `bytearray(...)`,
    /// `set(list)` and `frozenset(list)` reductions as `Object` nodes instead of
    /// lowering them to `Bytes`, `ByteArray`, `Set` and `FrozenSet` values.
    pub keep_reductions: bool,
}

impl DecodeOptions {
    /// `pickle.loads`' defaults: ASCII Python 2 strings, `fix_imports` on, default limits.
    pub fn new() -> Self {
        DecodeOptions {
            fix_imports: true,
            ..Default::default()
        }
    }
}

/// Decodes one pickle from the start of `data`. Bytes after `STOP` are ignored, as
/// `pickle.loads` ignores them.
pub fn decode(data: &[u8], opts: &DecodeOptions) -> Result<Tree, DecodeError> {
    machine::Machine::new(data, opts)
        .run()
        .map(|(tree, _)| tree)
}

/// Like [`decode`], also returning how many bytes the pickle took (up to and including
/// `STOP`), so a caller can read several pickles from one buffer.
pub fn decode_prefix(data: &[u8], opts: &DecodeOptions) -> Result<(Tree, usize), DecodeError> {
    machine::Machine::new(data, opts).run()
}
