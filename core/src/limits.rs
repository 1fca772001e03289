//! Resource limits for decoding untrusted streams.
//!
//! Every allocation the decoder makes is charged against these bounds, so a short stream
//! that announces a huge string, memo or nesting depth fails with an error instead of
//! exhausting memory or the stack. Not for encoding: the host owns what it encodes.

/// Bounds applied while decoding. Construct with [`Limits::default`] and adjust fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most `MARK`s open at once: the nesting of mark-built containers (protocol 0-1
    /// tuples, and `MARK ... APPENDS` inside each other). The decoder never recurses, so
    /// nesting built without marks (`[[[...]]]` with `APPEND`, 100,000 deep) decodes
    /// regardless; a host that walks the tree recursively checks it first with
    /// [`Tree::nests_deeper_than`](crate::Tree::nests_deeper_than).
    pub max_depth: usize,
    /// Most memo entries a stream may create.
    pub max_memo: usize,
    /// Most bytes the decoder may allocate for values in total (string and bytes
    /// payloads, nodes, container slots, memo slots); checked before each allocation.
    pub max_alloc: usize,
}

/// What [`Limits::for_input`] allows beyond [`ALLOC_PER_BYTE`] per input byte.
pub const ALLOC_BASE: usize = 1 << 20;
/// Bytes [`Limits::for_input`] allows per input byte.
pub const ALLOC_PER_BYTE: usize = 64;

impl Limits {
    /// The limits every safe loader uses by default for an untrusted stream of `len`
    /// bytes: 10,000 levels; one memo entry per input byte (16 at least: a stream
    /// can't legitimately need more); 1 MiB + 64 bytes per input byte of allocation
    /// (so a 1 KB stream can never cost more than about 1.1 MB of decoded values).
    pub const fn for_input(len: usize) -> Self {
        Limits {
            max_depth: 10_000,
            max_memo: if len < 16 { 16 } else { len },
            max_alloc: ALLOC_BASE.saturating_add(len.saturating_mul(ALLOC_PER_BYTE)),
        }
    }

    /// No limits beyond what the input itself can justify: lengths are still checked
    /// against the bytes remaining in the stream, so this never allocates unboundedly.
    pub const fn unlimited() -> Self {
        Limits {
            max_depth: usize::MAX,
            max_memo: usize::MAX,
            max_alloc: usize::MAX,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 10_000,
            max_memo: 1 << 24,
            // 4 GiB (all of memory on 32-bit targets).
            max_alloc: (u32::MAX as usize).saturating_add(1),
        }
    }
}
