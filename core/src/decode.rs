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
//!
//! [`decode_with`] runs the same machine with a host's own [`Builder`] instead of the
//! tree, so a host can receive values as they are decoded. [`flat`] reads the simplest
//! messages (a tuple of scalars and lists of scalars) without the machine.

mod builder;
pub mod flat;
mod lower;
mod machine;
mod memo;
pub(crate) mod text;
mod tree_builder;

pub use builder::{Builder, Contents, ValueKind};

use crate::allow::Allowlist;
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
    /// When set, every global the stream names (`GLOBAL`, `STACK_GLOBAL`, `INST`,
    /// `EXT1/2/4`) must be admitted by this list, or decoding fails with
    /// [`DecodeErrorKind::Forbidden`](crate::DecodeErrorKind::Forbidden) (or
    /// `ForbiddenExtension`) at the offset of the opcode that names it. The globals
    /// whose calls are lowered to plain values pass here; a host that lets values
    /// reach code checks the finished value with [`Allowlist::check_tree`] too.
    pub allow: Option<Allowlist>,
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
    decode_prefix(data, opts).map(|(tree, _)| tree)
}

/// Like [`decode`], also returning how many bytes the pickle took (up to and including
/// `STOP`), so a caller can read several pickles from one buffer.
pub fn decode_prefix(data: &[u8], opts: &DecodeOptions) -> Result<(Tree, usize), DecodeError> {
    let mut tree = tree_for_input(data.len(), opts);
    let (root, used) = decode_with(data, opts, &mut tree)?;
    tree.set_root(root);
    Ok((tree, used))
}

/// An empty tree with room for what a stream of `len` bytes decodes to.
pub(crate) fn tree_for_input(len: usize, opts: &DecodeOptions) -> Tree {
    // Room from the input size, so the arena rarely grows (each growth copies it and
    // faults fresh pages): every scalar takes two bytes or more (`BININT1`), so half
    // the input bounds the nodes of an int-heavy stream; heap values take more. Capped
    // by what the allocation limit allows and in absolute terms; reserved room that is
    // never used is never touched.
    let most = opts.limits.max_alloc / machine::NODE_COST;
    let nodes = (len / 2).min(most).clamp(16, 1 << 22);
    let heap = (len / 4).min(most).clamp(16, 1 << 16);
    Tree::with_capacities(nodes, heap)
}

/// Decodes one pickle from the start of `data` into `builder` (see [`Builder`] for what
/// it receives and when); returns the handle of the value the stream produced and how
/// many bytes the pickle took (up to and including `STOP`). Checks and limits are
/// exactly those of [`decode`]: the same stream fails with the same error.
pub fn decode_with<B: Builder>(
    data: &[u8],
    opts: &DecodeOptions,
    builder: &mut B,
) -> Result<(B::Handle, usize), DecodeError> {
    machine::Machine::new(data, opts, builder).run()
}
