//! Tree to JSON text: [`to_json`]. Shared nodes are found first (one pass over the
//! tree), then one recursive pass writes the text, bounded in depth by
//! [`MAX_WRITE_DEPTH`] and in length by the caller's limit. Not for reading JSON: see
//! [`super::read`].

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt::Write as _;

use super::base64::base64_encode;
use super::spans::Spans;
use super::text_out::TextOut;
use super::{JsonError, JsonErrorKind, MAX_INT_BYTES, MAX_WRITE_DEPTH};
use crate::build::hashable;
use crate::pyfmt;
use crate::value::{NodeId, Object, ObjectKind, Tree, ValueRef};

/// The tree's root as JSON text (compact, one line), at most `limit` bytes long.
///
/// The text is linear in the tree: every shared container and every shared str, bytes
/// or big int of [`MIN_SHARED_SCALAR`] bytes or more is written once (`$def`) and then
/// referred to (`$ref`), so a 16 KB stream repeating one long string through the memo
/// stays small. Values `from_json` could not read back are refused here: a dict key or
/// set item Python cannot hash, a global name with a newline.
pub fn to_json(tree: &Tree, limit: usize) -> Result<String, JsonError> {
    write_json(tree, &Spans::none(), limit)
}

/// [`to_json`] of a tree whose payloads `spans` says are left in the input. With
/// spans, the text starts as one allocation of its estimated length (one byte more,
/// for a terminator the host may append), so it is rarely grown and copied.
pub(super) fn write_json(
    tree: &Tree,
    spans: &Spans<'_>,
    limit: usize,
) -> Result<String, JsonError> {
    let room = match spans.text_estimate() {
        0 => 0,
        n => n.min(limit).saturating_add(1),
    };
    let mut w = Writer {
        tree,
        spans,
        hint: Cell::new(0),
        shared: shared_nodes(tree, spans),
        labels: vec![None; tree.len()],
        next_label: 0,
        out: TextOut::with_capacity(room),
        limit,
        hashable: vec![0; tree.len()],
    };
    let written = w.value(tree.root(), 0);
    // A refused text comes first: what failed after it may follow from it.
    let out = w.out.into_string()?;
    written.map(|()| out)
}

/// Shortest str, bytes or big int payload written once and referred to when shared:
/// shorter ones are repeated (a `$ref` would not be much shorter).
pub const MIN_SHARED_SCALAR: usize = 64;

/// Nodes with identity reached more than once from the root (the root counts once).
fn shared_nodes(tree: &Tree, spans: &Spans<'_>) -> Vec<bool> {
    let mut refs = vec![0u32; tree.len()];
    if tree.is_empty() {
        return Vec::new();
    }
    let mut todo = vec![tree.root()];
    refs[tree.root()] = 1;
    while let Some(id) = todo.pop() {
        tree.get(id).for_each_child(|child| {
            refs[child] = refs[child].saturating_add(1);
            if refs[child] == 1 {
                todo.push(child);
            }
        });
    }
    // Only nodes reached twice are read again.
    let mut hint = 0;
    refs.iter()
        .enumerate()
        .map(|(id, &n)| {
            n > 1 && {
                let v = tree.get(id);
                has_identity(v) || long_scalar(spans.resolve(id, v, &mut hint))
            }
        })
        .collect()
}

fn long_scalar(v: ValueRef<'_>) -> bool {
    match v {
        ValueRef::Str(s) => s.len() >= MIN_SHARED_SCALAR,
        ValueRef::SurrogateStr(b) | ValueRef::Bytes(b) | ValueRef::BigInt(b) => {
            b.len() >= MIN_SHARED_SCALAR
        }
        _ => false,
    }
}

fn has_identity(v: ValueRef<'_>) -> bool {
    matches!(
        v,
        ValueRef::List(_)
            | ValueRef::Tuple(_)
            | ValueRef::Dict(_)
            | ValueRef::Set(_)
            | ValueRef::FrozenSet(_)
            | ValueRef::ByteArray(_)
            | ValueRef::Object(_)
    )
}

struct Writer<'t> {
    tree: &'t Tree,
    /// Payloads left in the input.
    spans: &'t Spans<'t>,
    /// Where to look in `spans` first (see [`Spans::find`]).
    hint: Cell<usize>,
    shared: Vec<bool>,
    /// The `$def` label of each shared node written so far.
    labels: Vec<Option<usize>>,
    next_label: usize,
    out: TextOut,
    /// Most bytes of output.
    limit: usize,
    /// Per node: 0 not checked, 1 hashable, 2 not (see [`hashable`]).
    hashable: Vec<u8>,
}

impl<'t> Writer<'t> {
    /// The payload of node `id`, which the tree holds as `b`: read from the input when
    /// the tree holds a placeholder (an empty payload) for it.
    #[inline(always)]
    fn bytes_at(&self, id: NodeId, b: &'t [u8]) -> &'t [u8] {
        if b.is_empty() {
            self.left_in_input(id).unwrap_or(b)
        } else {
            b
        }
    }

    /// The text of str node `id`, which the tree holds as `s` (see [`Writer::bytes_at`]).
    #[inline(always)]
    fn str_at(&self, id: NodeId, s: &'t str) -> &'t str {
        if s.is_empty() {
            // Recorded from a `&str`, so always UTF-8.
            let b = self.left_in_input(id).unwrap_or_default();
            core::str::from_utf8(b).unwrap_or_default()
        } else {
            s
        }
    }

    #[inline(never)]
    fn left_in_input(&self, id: NodeId) -> Option<&'t [u8]> {
        let mut hint = self.hint.get();
        let found = self.spans.find(id, &mut hint);
        self.hint.set(hint);
        found
    }

    fn value(&mut self, id: NodeId, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_WRITE_DEPTH {
            return Err(JsonErrorKind::TooDeep(MAX_WRITE_DEPTH).into());
        }
        self.check_len()?;
        if self.shared[id] {
            if let Some(label) = self.labels[id] {
                let _ = write!(self.out, "{{\"$ref\":{label}}}");
                return Ok(());
            }
            let label = self.next_label;
            self.next_label += 1;
            self.labels[id] = Some(label);
            let _ = write!(self.out, "{{\"$def\":{label},\"value\":");
            self.plain(id, depth)?;
            self.out.push('}');
            return Ok(());
        }
        self.plain(id, depth)?;
        self.check_len()
    }

    /// The text is within the limit, and got the memory it needed.
    #[inline(always)]
    fn check_len(&self) -> Result<(), JsonError> {
        if self.out.len() > self.limit {
            return Err(JsonErrorKind::TooLarge(self.limit).into());
        }
        if self.out.refused() {
            return Err(JsonErrorKind::OutOfMemory.into());
        }
        Ok(())
    }

    /// Refuses a dict key or set item of `container` that Python cannot hash: the
    /// JSON would not read back.
    fn check_key(&mut self, key: NodeId, container: NodeId) -> Result<(), JsonError> {
        if self.hashable[key] == 0 {
            self.hashable[key] = if hashable(self.tree, key, container) {
                1
            } else {
                2
            };
        }
        if self.hashable[key] == 2 {
            return Err(JsonErrorKind::Unrepresentable(
                "an unhashable dict key or set item (a list, dict, set or bytearray)".into(),
            )
            .into());
        }
        Ok(())
    }

    fn plain(&mut self, id: NodeId, depth: usize) -> Result<(), JsonError> {
        let tree = self.tree;
        match tree.get(id) {
            ValueRef::None => self.out.push_str("null"),
            ValueRef::Bool(b) => self.out.push_str(if b { "true" } else { "false" }),
            ValueRef::Int(i) => self.out.push_str(itoa::Buffer::new().format(i)),
            ValueRef::BigInt(le) => {
                if le.len() > MAX_INT_BYTES {
                    return Err(JsonErrorKind::Unrepresentable(format!(
                        "int of {} bytes (more than {MAX_INT_BYTES})",
                        le.len()
                    ))
                    .into());
                }
                let _ = write!(self.out, "{{\"$int\":\"{}\"}}", pyfmt::le_to_decimal(le));
            }
            ValueRef::Float(f) if f.is_finite() => self.out.push_str(&pyfmt::float_repr(f)),
            ValueRef::Float(f) => {
                let _ = write!(self.out, "{{\"$float\":\"{}\"}}", pyfmt::float_repr(f));
            }
            ValueRef::Str(s) => {
                let s = self.str_at(id, s);
                write_str(&mut self.out, s)
            }
            ValueRef::SurrogateStr(b) => self.tagged_base64("$wtf8", self.bytes_at(id, b)),
            ValueRef::Bytes(b) => self.tagged_base64("$bytes", self.bytes_at(id, b)),
            ValueRef::ByteArray(b) => self.tagged_base64("$bytearray", self.bytes_at(id, b)),
            ValueRef::List(items) => self.array(items, depth)?,
            ValueRef::Tuple(items) => self.tagged_array("$tuple", items, depth)?,
            ValueRef::Set(items) | ValueRef::FrozenSet(items) => {
                for &item in items {
                    self.check_key(item, id)?;
                }
                let tag = match tree.get(id) {
                    ValueRef::Set(_) => "$set",
                    _ => "$frozenset",
                };
                self.tagged_array(tag, items, depth)?
            }
            ValueRef::Dict(entries) => {
                for &(k, _) in entries {
                    self.check_key(k, id)?;
                }
                let plain = entries.iter().all(|&(k, _)| {
                    matches!(tree.get(k), ValueRef::Str(s) if !self.str_at(k, s).starts_with('$'))
                        && !self.shared[k]
                });
                if plain {
                    self.out.push('{');
                    for (i, &(k, v)) in entries.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.plain(k, depth + 1)?;
                        self.out.push(':');
                        self.value(v, depth + 1)?;
                    }
                    self.out.push('}');
                } else {
                    self.out.push_str("{\"$dict\":");
                    self.pairs(entries, depth)?;
                    self.out.push('}');
                }
            }
            ValueRef::Global { module, name } => {
                if module.contains('\n') || name.contains('\n') {
                    return Err(JsonErrorKind::Unrepresentable(
                        "a global whose module or name holds a newline".into(),
                    )
                    .into());
                }
                self.out.push_str("{\"$global\":[");
                write_str(&mut self.out, module);
                self.out.push(',');
                write_str(&mut self.out, name);
                self.out.push_str("]}");
            }
            ValueRef::Object(o) => self.object(o, depth)?,
            ValueRef::PersistentId(pid) => {
                self.out.push_str("{\"$persid\":");
                self.value(pid, depth + 1)?;
                self.out.push('}');
            }
            ValueRef::Extension(code) => {
                let _ = write!(self.out, "{{\"$ext\":{code}}}");
            }
            ValueRef::Buffer { index, readonly } => {
                let _ = write!(self.out, "{{\"$buffer\":{index},\"readonly\":{readonly}}}");
            }
        }
        Ok(())
    }

    fn object(&mut self, o: &Object, depth: usize) -> Result<(), JsonError> {
        let kind = match o.kind {
            ObjectKind::Reduce => "reduce",
            ObjectKind::NewObj => "newobj",
            ObjectKind::NewObjEx => "newobj_ex",
            ObjectKind::Inst => "inst",
            ObjectKind::Built => "built",
        };
        let _ = write!(self.out, "{{\"$object\":\"{kind}\",\"callable\":");
        self.value(o.callable, depth + 1)?;
        self.out.push_str(",\"args\":");
        self.value(o.args, depth + 1)?;
        if let Some(kw) = o.kwargs {
            self.out.push_str(",\"kwargs\":");
            self.value(kw, depth + 1)?;
        }
        if !o.state.is_empty() {
            self.out.push_str(",\"state\":");
            self.array(&o.state, depth)?;
        }
        if !o.items.is_empty() {
            self.out.push_str(",\"items\":");
            self.array(&o.items, depth)?;
        }
        if !o.entries.is_empty() {
            self.out.push_str(",\"entries\":");
            self.pairs(&o.entries, depth)?;
        }
        self.out.push('}');
        Ok(())
    }

    fn array(&mut self, items: &[NodeId], depth: usize) -> Result<(), JsonError> {
        self.out.push('[');
        for (i, &item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.value(item, depth + 1)?;
        }
        self.out.push(']');
        Ok(())
    }

    fn pairs(&mut self, entries: &[(NodeId, NodeId)], depth: usize) -> Result<(), JsonError> {
        self.out.push('[');
        for (i, &(k, v)) in entries.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push('[');
            self.value(k, depth + 2)?;
            self.out.push(',');
            self.value(v, depth + 2)?;
            self.out.push(']');
        }
        self.out.push(']');
        Ok(())
    }

    fn tagged_array(&mut self, tag: &str, items: &[NodeId], depth: usize) -> Result<(), JsonError> {
        let _ = write!(self.out, "{{\"{tag}\":");
        self.array(items, depth + 1)?;
        self.out.push('}');
        Ok(())
    }

    fn tagged_base64(&mut self, tag: &str, data: &[u8]) {
        let _ = write!(self.out, "{{\"{tag}\":\"");
        base64_encode(&mut self.out, data);
        self.out.push_str("\"}");
    }
}

/// A JSON string: runs of bytes that need no escape are copied whole, and a `str` is
/// valid UTF-8, so no character is decoded.
fn write_str(out: &mut TextOut, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        // Every byte to escape is ASCII, so `run..i` and `i + 1..` are char boundaries.
        out.push_str(&s[run..i]);
        run = i + 1;
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}
