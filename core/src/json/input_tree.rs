//! A decoded stream for the JSON writer whose `str` and `bytes` payloads stay in the
//! pickle: [`decode_for_json`] and [`InputTree`]. Decoding into a [`Tree`] copies every
//! payload out of the input, and for a big `bytes` that copy (and the fresh memory it
//! faults in) cost as much as writing its base64; here the tree holds a placeholder
//! for each payload the input still has, and the writer reads the input instead.
//!
//! The decode machine, its checks and its limits are exactly those of
//! [`decode`](crate::decode()): this is only another [`Builder`], so a stream fails here
//! with the same error, at the same offset. Not for hosts that keep the values: the
//! tree borrows nothing, but is only whole together with the input.

use crate::decode::{decode_with, tree_for_input, Builder, Contents, DecodeOptions, ValueKind};
use crate::error::DecodeError;
use crate::value::{NodeId, ObjectKind, Tree, Value};

use super::spans::Spans;
use super::write::write_json;
use super::JsonError;

/// A stream decoded by [`decode_for_json`]: a tree whose binary `str`, `bytes` and
/// `bytearray` payloads are read from the input it was decoded from.
#[derive(Debug)]
pub struct InputTree<'a> {
    tree: Tree,
    spans: Spans<'a>,
}

/// Decodes one pickle from the start of `data` as [`decode_prefix`] does (same checks,
/// limits and errors), leaving payloads in `data`; returns the tree and how many bytes
/// the pickle took.
///
/// [`decode_prefix`]: crate::decode::decode_prefix
pub fn decode_for_json<'a>(
    data: &'a [u8],
    opts: &DecodeOptions,
) -> Result<(InputTree<'a>, usize), DecodeError> {
    let mut t = InputTree {
        tree: tree_for_input(data.len(), opts),
        spans: Spans::over(data),
    };
    let (root, used) = decode_with(data, opts, &mut t)?;
    t.tree.set_root(root);
    Ok((t, used))
}

impl InputTree<'_> {
    /// The tree's shape, for checks that look at structure, globals and extensions
    /// only (depth, an allowlist): a payload left in the input reads as empty here.
    pub fn structure(&self) -> &Tree {
        &self.tree
    }

    /// The JSON text of the stream, as [`to_json`](super::to_json) writes the tree
    /// [`decode`](crate::decode()) makes of it, at most `limit` bytes long.
    pub fn to_json(&self, limit: usize) -> Result<alloc::string::String, JsonError> {
        write_json(&self.tree, &self.spans, limit)
    }

    /// A node for `payload`: a placeholder recorded in the spans when the input holds
    /// it, else what `copy` pushes.
    fn payload(
        &mut self,
        payload: &[u8],
        placeholder: Value,
        copy: impl FnOnce(&mut Tree) -> NodeId,
    ) -> NodeId {
        match self.spans.offset_of(payload) {
            Some(start) => {
                let id = self.tree.push_heap(placeholder);
                self.spans.add(id, start, payload.len());
                id
            }
            None => copy(&mut self.tree),
        }
    }
}

impl Builder for InputTree<'_> {
    type Handle = NodeId;

    #[inline]
    fn none(&mut self) -> NodeId {
        self.tree.none()
    }
    #[inline]
    fn bool(&mut self, v: bool) -> NodeId {
        self.tree.bool(v)
    }
    #[inline]
    fn int(&mut self, v: i64) -> NodeId {
        self.tree.int(v)
    }
    fn big_int(&mut self, le: &[u8]) -> NodeId {
        self.tree.big_int(le)
    }
    #[inline]
    fn float(&mut self, v: f64) -> NodeId {
        self.tree.float(v)
    }
    #[inline]
    fn str(&mut self, s: &str) -> NodeId {
        self.payload(s.as_bytes(), Value::Str(Default::default()), |t| t.str(s))
    }
    fn surrogate_str(&mut self, wtf8: &[u8]) -> NodeId {
        self.payload(wtf8, Value::SurrogateStr(Default::default()), |t| {
            t.surrogate_str(wtf8)
        })
    }
    fn bytes(&mut self, b: &[u8]) -> NodeId {
        self.payload(b, Value::Bytes(Default::default()), |t| t.bytes(b))
    }
    fn byte_array(&mut self, b: &[u8]) -> NodeId {
        self.payload(b, Value::ByteArray(Default::default()), |t| t.byte_array(b))
    }

    #[inline]
    fn list(&mut self, items: &[NodeId]) -> NodeId {
        self.tree.list(items)
    }
    #[inline]
    fn tuple(&mut self, items: &[NodeId]) -> NodeId {
        self.tree.tuple(items)
    }
    #[inline]
    fn dict(&mut self, pairs: &[NodeId]) -> NodeId {
        self.tree.dict(pairs)
    }
    fn set(&mut self, items: &[NodeId]) -> NodeId {
        Builder::set(&mut self.tree, items)
    }
    fn frozen_set(&mut self, items: &[NodeId]) -> NodeId {
        self.tree.frozen_set(items)
    }
    #[inline]
    fn extend(&mut self, target: NodeId, items: &[NodeId]) {
        self.tree.extend(target, items)
    }
    #[inline]
    fn set_items(&mut self, target: NodeId, pairs: &[NodeId]) {
        self.tree.set_items(target, pairs)
    }
    fn global(&mut self, module: &str, name: &str) -> NodeId {
        self.tree.global(module, name)
    }
    fn object(&mut self, kind: ObjectKind, f: NodeId, args: NodeId, kw: Option<NodeId>) -> NodeId {
        self.tree.object(kind, f, args, kw)
    }
    fn object_at(&mut self, h: NodeId, offset: usize) {
        self.tree.object_at(h, offset)
    }
    fn build(&mut self, target: NodeId, state: NodeId) {
        // The tree moves a plain value it turns into an object to a new node, the
        // next id: its payload, if left in the input, moves with it. (The old entry
        // stays, unread: the target is an object from now on.)
        let moved_to = self.tree.len();
        let left = match self.tree.kind(target) {
            ValueKind::Object => None,
            _ => self.spans.find(target, &mut 0),
        };
        self.tree.build(target, state);
        if let Some(b) = left {
            if let Some(start) = self.spans.offset_of(b) {
                self.spans.add(moved_to, start, b.len());
            }
        }
    }
    fn persistent_id(&mut self, pid: NodeId) -> NodeId {
        self.tree.persistent_id(pid)
    }
    fn extension(&mut self, code: i32) -> NodeId {
        self.tree.extension(code)
    }
    fn buffer(&mut self, index: usize) -> NodeId {
        self.tree.buffer(index)
    }
    fn readonly(&mut self, buffer: NodeId) {
        self.tree.readonly(buffer)
    }

    #[inline]
    fn kind(&self, h: NodeId) -> ValueKind {
        self.tree.kind(h)
    }
    #[inline(always)]
    fn out_of_memory(&self) -> bool {
        self.tree.out_of_memory()
    }
    fn contents(&self, h: NodeId) -> Contents<'_, NodeId> {
        match self.tree.contents(h) {
            Contents::Str("") => match self.spans.find(h, &mut 0) {
                Some(b) => Contents::Str(core::str::from_utf8(b).unwrap_or_default()),
                None => Contents::Str(""),
            },
            Contents::Bytes([]) => Contents::Bytes(self.spans.find(h, &mut 0).unwrap_or_default()),
            other => other,
        }
    }
}
