//! Payloads left in the pickle: which nodes of a tree hold a `str`, `bytes`,
//! `bytearray` or surrogate `str` whose bytes are still in the input, and where. The
//! tree itself holds an empty payload for such a node (a placeholder that allocates
//! nothing); [`Spans::resolve`] puts the input's bytes back when the node is read. Not
//! a general tree view: only the JSON writer and its builder read it.

use alloc::vec::Vec;

use super::MIN_SHARED_SCALAR;
use crate::value::{NodeId, ValueRef};

/// A node whose payload is `input[start..start + len]`.
#[derive(Debug, Clone, Copy)]
struct Span {
    id: NodeId,
    start: usize,
    len: usize,
}

/// The payloads of a tree's nodes that stay in `input`, by node id.
#[derive(Debug, Clone, Default)]
pub(super) struct Spans<'a> {
    input: &'a [u8],
    /// In increasing `id` order: ids only grow as a tree is built (see [`Spans::add`]).
    entries: Vec<Span>,
    /// The input bytes the entries cover (counting a payload recorded twice, after a
    /// `BUILD` moved it, twice).
    covered: usize,
}

/// Shortest payload left in the input. Shorter ones are copied into the tree as
/// before: a copy of a few bytes costs less than finding the span again, and a
/// payload this long reached twice is written once (`$def`, then `$ref`: see
/// [`MIN_SHARED_SCALAR`]), so the writer looks each span up about once, however
/// often the stream's memo repeats it.
pub(super) const MIN_SPAN: usize = MIN_SHARED_SCALAR;

impl<'a> Spans<'a> {
    /// No payload in any input: every node reads as the tree holds it.
    pub(super) fn none() -> Self {
        Spans::default()
    }

    /// An empty table for payloads that may lie in `input`.
    pub(super) fn over(input: &'a [u8]) -> Self {
        Spans {
            input,
            entries: Vec::new(),
            covered: 0,
        }
    }

    /// About how long the JSON text of a tree with these spans is, when the payloads
    /// left in the input are at least half of it (then their base64 is most of the
    /// text, and twice the rest of the input is room enough for everything else); 0,
    /// meaning "unknown", otherwise. Reserving far more than a text needs costs more
    /// than growing it: the allocator maps fresh memory for it on every call, where
    /// a text grown step by step reuses what the last call freed.
    pub(super) fn text_estimate(&self) -> usize {
        let rest = self.input.len().saturating_sub(self.covered);
        if self.covered < rest {
            return 0;
        }
        (self.covered.div_ceil(3) * 4).saturating_add(rest.saturating_mul(2))
    }

    /// Where `payload` starts in the input, when it is a part of it of [`MIN_SPAN`]
    /// bytes or more (the decoder hands a builder the input's own bytes for every
    /// binary `str` and `bytes` opcode, and fresh memory for what it had to convert,
    /// which never lies inside the input).
    pub(super) fn offset_of(&self, payload: &[u8]) -> Option<usize> {
        let start = (payload.as_ptr() as usize).wrapping_sub(self.input.as_ptr() as usize);
        let inside = start <= self.input.len() && payload.len() <= self.input.len() - start;
        (inside && payload.len() >= MIN_SPAN).then_some(start)
    }

    /// Records that node `id` (newer than every node recorded so far) holds
    /// `input[start..start + len]`.
    pub(super) fn add(&mut self, id: NodeId, start: usize, len: usize) {
        debug_assert!(self.entries.last().map_or(true, |e| e.id < id));
        self.entries.push(Span { id, start, len });
        self.covered = self.covered.saturating_add(len);
    }

    /// The input bytes of node `id`, if recorded. `hint` is where to look first and is
    /// left just past the entry found: a walk in id order finds each entry at once.
    pub(super) fn find(&self, id: NodeId, hint: &mut usize) -> Option<&'a [u8]> {
        let i = match self.entries.get(*hint) {
            Some(e) if e.id == id => *hint,
            _ => self.entries.binary_search_by_key(&id, |e| e.id).ok()?,
        };
        *hint = i + 1;
        let e = self.entries[i];
        self.input.get(e.start..e.start + e.len)
    }

    /// Node `id` as the tree holds it (`v`), with its payload taken from the input when
    /// it was left there.
    pub(super) fn resolve<'t>(
        &'t self,
        id: NodeId,
        v: ValueRef<'t>,
        hint: &mut usize,
    ) -> ValueRef<'t> {
        let placeholder = match v {
            ValueRef::Str(s) => s.is_empty(),
            ValueRef::SurrogateStr(b) | ValueRef::Bytes(b) | ValueRef::ByteArray(b) => b.is_empty(),
            _ => false,
        };
        if !placeholder {
            return v;
        }
        let Some(b) = self.find(id, hint) else {
            return v;
        };
        match v {
            // Recorded from a `&str`, so always UTF-8.
            ValueRef::Str(_) => ValueRef::Str(core::str::from_utf8(b).unwrap_or_default()),
            ValueRef::SurrogateStr(_) => ValueRef::SurrogateStr(b),
            ValueRef::Bytes(_) => ValueRef::Bytes(b),
            ValueRef::ByteArray(_) => ValueRef::ByteArray(b),
            other => other,
        }
    }
}
