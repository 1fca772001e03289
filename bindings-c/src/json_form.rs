//! The JSON form of a value tree, both ways: [`to_json`] and [`from_json`].
//!
//! Plain JSON covers `None`, bools, ints in 64 bits, finite floats, `str`, lists and
//! dicts whose keys are all `str`. Everything else becomes an object with one `$` key
//! (a dict with a `$`-prefixed `str` key is itself written in the `$dict` form, so the
//! two never collide):
//!
//! | value | JSON |
//! |---|---|
//! | int beyond 64 bits | `{"$int": "123456789012345678901234567890"}` |
//! | nan, inf, -inf | `{"$float": "nan"}`, `"inf"`, `"-inf"` |
//! | bytes / bytearray | `{"$bytes": "<base64>"}` / `{"$bytearray": "<base64>"}` |
//! | str with lone surrogates | `{"$wtf8": "<base64 of its surrogatepass UTF-8>"}` |
//! | tuple / set / frozenset | `{"$tuple": [...]}` / `{"$set": [...]}` / `{"$frozenset": [...]}` |
//! | dict with a non-`str` or `$` key | `{"$dict": [[key, value], ...]}` |
//! | global | `{"$global": ["module", "name"]}` |
//! | call (`REDUCE`, `NEWOBJ`, ...) | `{"$object": "reduce", "callable": .., "args": .., "kwargs": .., "state": [..], "items": [..], "entries": [[k, v], ..]}` |
//! | persistent id / extension / buffer | `{"$persid": ..}` / `{"$ext": 7}` / `{"$buffer": 0, "readonly": true}` |
//! | a container reached twice | first `{"$def": 0, "value": ..}`, then `{"$ref": 0}` |
//! | a str, bytes or big int of 64 bytes or more reached twice | the same |
//!
//! `$object` kinds are `reduce`, `newobj`, `newobj_ex`, `inst`, `built`; `kwargs`,
//! `state`, `items` and `entries` are left out when absent or empty. Shared and
//! cyclic references use `$def`/`$ref` for containers, bytearrays and objects (the
//! values whose identity Python can observe) and for long strs, bytes and big ints (so
//! the text stays linear in the stream), labelled 0, 1, 2... in the order they are
//! first written; shorter immutable scalars are repeated. No C
//! types here: this belongs in the core once a second binding wants JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use brinery_core::pyfmt;
use brinery_core::{EncodeError, NodeId, Object, ObjectKind, Tree, Value, ValueRef};
use serde_json::{Map, Number, Value as Json};

/// Deepest nesting [`to_json`] writes (it recurses; this bounds its stack use).
pub const MAX_WRITE_DEPTH: usize = 12_000;
/// Longest `$int` text [`from_json`] reads, and the largest int [`to_json`] writes
/// (in bytes), so a hostile value cannot make the decimal conversion quadratic-slow.
pub const MAX_INT_DIGITS: usize = 10_000;
const MAX_INT_BYTES: usize = 4_096;

/// What went wrong converting to or from JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonErrorKind {
    #[error("invalid json: {0}")]
    Syntax(String),
    #[error("not brinery's json form: {0}")]
    Form(String),
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    #[error("cannot be written as json: {0}")]
    Unrepresentable(String),
    #[error("json output larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// A JSON conversion failure, at a byte offset of the JSON text when reading it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct JsonError {
    pub kind: JsonErrorKind,
    pub offset: Option<usize>,
}

impl JsonError {
    fn form(msg: impl Into<String>) -> Self {
        JsonErrorKind::Form(msg.into()).into()
    }
}

impl From<JsonErrorKind> for JsonError {
    fn from(kind: JsonErrorKind) -> Self {
        JsonError { kind, offset: None }
    }
}

// ---- tree to JSON ------------------------------------------------------------------

/// The tree's root as JSON text (compact, one line), at most `limit` bytes long.
///
/// The text is linear in the tree: every shared container and every shared str, bytes
/// or big int of [`MIN_SHARED_SCALAR`] bytes or more is written once (`$def`) and then
/// referred to (`$ref`), so a 16 KB stream repeating one long string through the memo
/// stays small. Values `from_json` could not read back are refused here: a dict key or
/// set item Python cannot hash, a global name with a newline.
pub fn to_json(tree: &Tree, limit: usize) -> Result<String, JsonError> {
    let shared = shared_nodes(tree);
    let mut w = Writer {
        tree,
        shared,
        labels: vec![None; tree.len()],
        next_label: 0,
        out: String::new(),
        limit,
        hashable: vec![0; tree.len()],
    };
    w.value(tree.root(), 0)?;
    Ok(w.out)
}

/// Shortest str, bytes or big int payload written once and referred to when shared:
/// shorter ones are repeated (a `$ref` would not be much shorter).
pub const MIN_SHARED_SCALAR: usize = 64;

/// Nodes with identity reached more than once from the root (the root counts once).
fn shared_nodes(tree: &Tree) -> Vec<bool> {
    let mut refs = vec![0u32; tree.len()];
    if tree.is_empty() {
        return Vec::new();
    }
    let mut todo = vec![tree.root()];
    refs[tree.root()] = 1;
    while let Some(id) = todo.pop() {
        for_each_child(tree.get(id), |child| {
            refs[child] = refs[child].saturating_add(1);
            if refs[child] == 1 {
                todo.push(child);
            }
        });
    }
    refs.iter()
        .zip(tree.iter())
        .map(|(&n, (_, v))| n > 1 && (has_identity(v) || long_scalar(v)))
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

/// Calls `f` on each child of `v`, without collecting them (this runs once per node).
fn for_each_child(v: ValueRef<'_>, mut f: impl FnMut(NodeId)) {
    match v {
        ValueRef::List(items)
        | ValueRef::Tuple(items)
        | ValueRef::Set(items)
        | ValueRef::FrozenSet(items) => items.iter().for_each(|&c| f(c)),
        ValueRef::Dict(entries) => entries.iter().for_each(|&(k, v)| {
            f(k);
            f(v);
        }),
        ValueRef::Object(o) => {
            f(o.callable);
            f(o.args);
            o.kwargs.into_iter().for_each(&mut f);
            o.state.iter().for_each(|&c| f(c));
            o.items.iter().for_each(|&c| f(c));
            o.entries.iter().for_each(|&(k, v)| {
                f(k);
                f(v);
            });
        }
        ValueRef::PersistentId(id) => f(id),
        _ => {}
    }
}

struct Writer<'t> {
    tree: &'t Tree,
    shared: Vec<bool>,
    /// The `$def` label of each shared node written so far.
    labels: Vec<Option<usize>>,
    next_label: usize,
    out: String,
    /// Most bytes of output.
    limit: usize,
    /// Per node: 0 not checked, 1 hashable, 2 not (see [`crate::builder::hashable`]).
    hashable: Vec<u8>,
}

impl Writer<'_> {
    fn value(&mut self, id: NodeId, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_WRITE_DEPTH {
            return Err(JsonErrorKind::TooDeep(MAX_WRITE_DEPTH).into());
        }
        if self.out.len() > self.limit {
            return Err(JsonErrorKind::TooLarge(self.limit).into());
        }
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
        if self.out.len() > self.limit {
            return Err(JsonErrorKind::TooLarge(self.limit).into());
        }
        Ok(())
    }

    /// Refuses a dict key or set item of `container` that Python cannot hash: the
    /// JSON would not read back.
    fn check_key(&mut self, key: NodeId, container: NodeId) -> Result<(), JsonError> {
        if self.hashable[key] == 0 {
            self.hashable[key] = if crate::builder::hashable(self.tree, key, container) {
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
            ValueRef::Str(s) => write_str(&mut self.out, s),
            ValueRef::SurrogateStr(b) => self.tagged_base64("$wtf8", b),
            ValueRef::Bytes(b) => self.tagged_base64("$bytes", b),
            ValueRef::ByteArray(b) => self.tagged_base64("$bytearray", b),
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
                    matches!(tree.get(k), ValueRef::Str(s) if !s.starts_with('$'))
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
fn write_str(out: &mut String, s: &str) {
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

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The two base64 characters of each 12-bit group, so three input bytes take two
/// lookups and no branch.
static B64_PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [B64[i >> 6], B64[i & 63]];
        i += 1;
    }
    t
};

/// Standard base64 with padding, appended to `out`.
fn base64_encode(out: &mut String, data: &[u8]) {
    let start = out.len();
    let len = data.len().div_ceil(3) * 4;
    let mut buf = std::mem::take(out).into_bytes();
    buf.resize(start + len, 0);
    let dst = &mut buf[start..];
    let whole = data.len() / 3;
    // Six bytes (two groups of three) at a time from one 8-byte load, written as one
    // 8-byte store; the last few whole groups one at a time.
    let mut i = 0;
    let mut o = 0;
    while i + 8 <= data.len() {
        let w = u64::from_be_bytes(data[i..i + 8].try_into().expect("8 bytes"));
        let pairs = [
            B64_PAIRS[(w >> 52) as usize & 0xfff],
            B64_PAIRS[(w >> 40) as usize & 0xfff],
            B64_PAIRS[(w >> 28) as usize & 0xfff],
            B64_PAIRS[(w >> 16) as usize & 0xfff],
        ];
        dst[o..o + 8].copy_from_slice(pairs.as_flattened());
        i += 6;
        o += 8;
    }
    for (src, dst) in data[i..whole * 3]
        .chunks_exact(3)
        .zip(dst[o..].chunks_exact_mut(4))
    {
        let n = (src[0] as usize) << 16 | (src[1] as usize) << 8 | src[2] as usize;
        let [a, b] = B64_PAIRS[n >> 12];
        let [c, d] = B64_PAIRS[n & 0xfff];
        dst.copy_from_slice(&[a, b, c, d]);
    }
    let tail = &data[whole * 3..];
    if !tail.is_empty() {
        let b1 = tail.get(1).copied().unwrap_or(0);
        let n = (tail[0] as usize) << 16 | (b1 as usize) << 8;
        let dst = &mut dst[whole * 4..];
        dst[0] = B64[n >> 18];
        dst[1] = B64[n >> 12 & 63];
        dst[2] = if tail.len() == 2 {
            B64[n >> 6 & 63]
        } else {
            b'='
        };
        dst[3] = b'=';
    }
    // SAFETY: `buf` was a `String` and only ASCII was appended.
    *out = unsafe { String::from_utf8_unchecked(buf) };
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let t = text.as_bytes();
    if t.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(t.len() / 4 * 3);
    for (ci, chunk) in t.chunks(4).enumerate() {
        let last = ci == t.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            let v = B64.iter().position(|&b| b == c)? as u32;
            n = n << 6 | v;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

// ---- JSON to tree ------------------------------------------------------------------

/// Reads JSON text in brinery's form into a tree.
pub fn from_json(text: &[u8]) -> Result<Tree, JsonError> {
    let json: Json = serde_json::from_slice(text).map_err(|e| {
        let kind = if e.to_string().contains("recursion limit") {
            JsonErrorKind::TooDeep(128)
        } else {
            JsonErrorKind::Syntax(e.to_string())
        };
        JsonError {
            kind,
            offset: Some(byte_offset(text, e.line(), e.column())),
        }
    })?;
    let mut r = Reader {
        tree: Tree::new(),
        defs: BTreeMap::new(),
    };
    let root = r.value(&json)?;
    r.tree.set_root(root);
    Ok(r.tree)
}

/// serde_json reports a 1-based line and column; the offset of that byte.
fn byte_offset(text: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].iter().position(|&b| b == b'\n') {
            Some(p) => start += p + 1,
            None => break,
        }
    }
    (start + column.saturating_sub(1)).min(text.len())
}

struct Reader {
    tree: Tree,
    defs: BTreeMap<u64, NodeId>,
}

impl Reader {
    fn value(&mut self, json: &Json) -> Result<NodeId, JsonError> {
        let value = match json {
            Json::Null => Value::None,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => number(n)?,
            Json::String(s) => Value::Str(s.clone()),
            Json::Array(items) => {
                let node = self.tree.push(Value::None);
                let items = self.list(items)?;
                self.tree.set(node, Value::List(items));
                return Ok(node);
            }
            Json::Object(map) => return self.object(map),
        };
        Ok(self.tree.push(value))
    }

    fn list(&mut self, items: &[Json]) -> Result<Vec<NodeId>, JsonError> {
        items.iter().map(|j| self.value(j)).collect()
    }

    fn object(&mut self, map: &Map<String, Json>) -> Result<NodeId, JsonError> {
        let Some((tag, body)) = map.iter().next().filter(|(k, _)| k.starts_with('$')) else {
            let node = self.tree.push(Value::None);
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                let key = self.tree.push(Value::Str(k.clone()));
                entries.push((key, self.value(v)?));
            }
            self.tree.set(node, Value::Dict(entries));
            return Ok(node);
        };
        let only = |expected: &[&str]| -> Result<(), JsonError> {
            match map.keys().find(|k| !expected.contains(&k.as_str())) {
                Some(k) => Err(JsonError::form(format!("unexpected key {k:?} in {tag}"))),
                None => Ok(()),
            }
        };
        let value = match tag.as_str() {
            "$int" => {
                only(&["$int"])?;
                let text = body
                    .as_str()
                    .ok_or_else(|| JsonError::form("$int wants a string"))?;
                if text.len() > MAX_INT_DIGITS {
                    return Err(JsonError::form(format!(
                        "$int longer than {MAX_INT_DIGITS}"
                    )));
                }
                let le = pyfmt::decimal_to_le(text.as_bytes())
                    .ok_or_else(|| JsonError::form("$int wants decimal digits"))?;
                Value::BigInt(le)
            }
            "$float" => {
                only(&["$float"])?;
                match body.as_str() {
                    Some("nan") => Value::Float(f64::NAN),
                    Some("inf") => Value::Float(f64::INFINITY),
                    Some("-inf") => Value::Float(f64::NEG_INFINITY),
                    _ => return Err(JsonError::form("$float wants \"nan\", \"inf\" or \"-inf\"")),
                }
            }
            "$wtf8" => {
                only(&["$wtf8"])?;
                let data = body
                    .as_str()
                    .and_then(base64_decode)
                    .filter(|b| is_wtf8(b))
                    .ok_or_else(|| JsonError::form("$wtf8 wants base64 of generalized utf-8"))?;
                match String::from_utf8(data) {
                    Ok(s) => Value::Str(s),
                    Err(e) => Value::SurrogateStr(e.into_bytes()),
                }
            }
            "$bytes" | "$bytearray" => {
                only(&[tag])?;
                let data = body
                    .as_str()
                    .and_then(base64_decode)
                    .ok_or_else(|| JsonError::form(format!("{tag} wants base64 text")))?;
                if tag == "$bytes" {
                    Value::Bytes(data)
                } else {
                    let node = self.tree.push(Value::ByteArray(data));
                    return Ok(node);
                }
            }
            "$tuple" | "$set" | "$frozenset" => {
                only(&[tag])?;
                let items = body
                    .as_array()
                    .ok_or_else(|| JsonError::form(format!("{tag} wants an array")))?;
                let node = self.tree.push(Value::None);
                let items = self.list(items)?;
                let value = match tag.as_str() {
                    "$tuple" => Value::Tuple(items),
                    "$set" => Value::Set(items),
                    _ => Value::FrozenSet(items),
                };
                self.tree.set(node, value);
                if tag != "$tuple" {
                    self.check_hashable(node)?;
                }
                return Ok(node);
            }
            "$dict" => {
                only(&["$dict"])?;
                let node = self.tree.push(Value::None);
                let entries = self.pairs(body, "$dict")?;
                self.tree.set(node, Value::Dict(entries));
                self.check_hashable(node)?;
                return Ok(node);
            }
            "$global" => {
                only(&["$global"])?;
                match body.as_array().map(Vec::as_slice) {
                    Some([Json::String(m), Json::String(n)]) => Value::Global {
                        module: m.clone(),
                        name: n.clone(),
                    },
                    _ => return Err(JsonError::form("$global wants [module, name]")),
                }
            }
            "$object" => return self.call(map, body),
            "$persid" => {
                only(&["$persid"])?;
                let pid = self.value(body)?;
                Value::PersistentId(pid)
            }
            "$ext" => {
                only(&["$ext"])?;
                let code = body
                    .as_i64()
                    .and_then(|c| i32::try_from(c).ok())
                    .ok_or_else(|| JsonError::form("$ext wants a 32-bit int"))?;
                Value::Extension(code)
            }
            "$buffer" => {
                only(&["$buffer", "readonly"])?;
                let index = body
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(|| JsonError::form("$buffer wants an index"))?;
                let readonly = map.get("readonly").and_then(Json::as_bool).unwrap_or(false);
                Value::Buffer { index, readonly }
            }
            "$def" => {
                only(&["$def", "value"])?;
                let id = body
                    .as_u64()
                    .ok_or_else(|| JsonError::form("$def wants an id"))?;
                let inner = map
                    .get("value")
                    .ok_or_else(|| JsonError::form("$def needs value"))?;
                if self.defs.contains_key(&id) {
                    return Err(JsonError::form(format!("$def {id} given twice")));
                }
                return self.definition(id, inner);
            }
            "$ref" => {
                only(&["$ref"])?;
                let id = body
                    .as_u64()
                    .ok_or_else(|| JsonError::form("$ref wants an id"))?;
                return self
                    .defs
                    .get(&id)
                    .copied()
                    .ok_or_else(|| JsonError::form(format!("$ref {id} before its $def")));
            }
            other => return Err(JsonError::form(format!("unknown tag {other:?}"))),
        };
        Ok(self.tree.push(value))
    }

    /// `{"$def": id, "value": ..}`: the id must be known before the value's children
    /// are read, so that a `$ref` inside (a cycle) finds it. Reads the value, then moves
    /// it into a node reserved first.
    fn definition(&mut self, id: u64, inner: &Json) -> Result<NodeId, JsonError> {
        if let Json::Object(m) = inner {
            if m.contains_key("$def") || m.contains_key("$ref") {
                return Err(JsonError::form("$def value cannot be a $def or $ref"));
            }
        }
        let node = self.tree.push(Value::None);
        self.defs.insert(id, node);
        let built = self.value(inner)?;
        let value = self.tree.take(built);
        self.tree.set(node, value);
        // `built` is left as an unreferenced None. Now that `node` holds the value, a set
        // or dict that contains itself through `$ref` is seen as unhashable.
        self.check_hashable(node)?;
        Ok(node)
    }

    fn call(&mut self, map: &Map<String, Json>, kind: &Json) -> Result<NodeId, JsonError> {
        if let Some(k) = map.keys().find(|k| {
            ![
                "$object", "callable", "args", "kwargs", "state", "items", "entries",
            ]
            .contains(&k.as_str())
        }) {
            return Err(JsonError::form(format!("unexpected key {k:?} in $object")));
        }
        let kind = match kind.as_str() {
            Some("reduce") => ObjectKind::Reduce,
            Some("newobj") => ObjectKind::NewObj,
            Some("newobj_ex") => ObjectKind::NewObjEx,
            Some("inst") => ObjectKind::Inst,
            Some("built") => ObjectKind::Built,
            _ => return Err(JsonError::form("unknown $object kind")),
        };
        let node = self.tree.push(Value::None);
        let field = |name: &str| {
            map.get(name)
                .ok_or_else(|| JsonError::form(format!("$object needs {name}")))
        };
        let callable = self.value(field("callable")?)?;
        let args = self.value(field("args")?)?;
        let kwargs = match map.get("kwargs") {
            Some(kw) => Some(self.value(kw)?),
            None => None,
        };
        let list_field = |r: &mut Self, name: &str| -> Result<Vec<NodeId>, JsonError> {
            match map.get(name) {
                None => Ok(Vec::new()),
                Some(Json::Array(items)) => r.list(items),
                Some(_) => Err(JsonError::form(format!("$object {name} wants an array"))),
            }
        };
        let state = list_field(self, "state")?;
        let items = list_field(self, "items")?;
        let entries = match map.get("entries") {
            None => Vec::new(),
            Some(e) => self.pairs(e, "entries")?,
        };
        let object = Object {
            kind,
            callable,
            args,
            kwargs,
            state,
            items,
            entries,
        };
        self.tree.set(node, Value::Object(Box::new(object)));
        Ok(node)
    }

    fn pairs(&mut self, json: &Json, what: &str) -> Result<Vec<(NodeId, NodeId)>, JsonError> {
        let bad = || JsonError::form(format!("{what} wants [[key, value], ...]"));
        let pairs = json.as_array().ok_or_else(bad)?;
        let mut out = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match pair.as_array().map(Vec::as_slice) {
                Some([k, v]) => {
                    let k = self.value(k)?;
                    out.push((k, self.value(v)?));
                }
                _ => return Err(bad()),
            }
        }
        Ok(out)
    }

    fn check_hashable(&self, node: NodeId) -> Result<(), JsonError> {
        let keys: Vec<NodeId> = match self.tree.get(node) {
            ValueRef::Dict(entries) => entries.iter().map(|&(k, _)| k).collect(),
            ValueRef::Set(items) | ValueRef::FrozenSet(items) => items.to_vec(),
            _ => return Ok(()),
        };
        for k in keys {
            if !crate::builder::hashable(&self.tree, k, node) {
                return Err(JsonError::form("unhashable dict key or set item"));
            }
        }
        Ok(())
    }
}

fn is_wtf8(mut b: &[u8]) -> bool {
    while !b.is_empty() {
        match pyfmt::decode_wtf8_char(b) {
            Some((_, len)) => b = &b[len..],
            None => return false,
        }
    }
    true
}

fn number(n: &Number) -> Result<Value, JsonError> {
    if let Some(i) = n.as_i64() {
        Ok(Value::Int(i))
    } else if let Some(u) = n.as_u64() {
        let mut le = u.to_le_bytes().to_vec();
        le.push(0);
        Ok(Value::BigInt(pyfmt::trim_le(&le).to_vec()))
    } else {
        n.as_f64()
            .map(Value::Float)
            .ok_or_else(|| JsonError::form("number out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: &str) -> String {
        to_json(&from_json(json.as_bytes()).unwrap(), usize::MAX).unwrap()
    }

    #[test]
    fn plain_json_round_trips() {
        let text = r#"{"a":[1,-2,3.5,null,true,"x\"y\n"],"b":{}}"#;
        assert_eq!(round_trip(text), text);
    }

    #[test]
    fn tagged_forms_round_trip() {
        for text in [
            r#"{"$int":"123456789012345678901234567890"}"#,
            r#"{"$int":"-9223372036854775809"}"#,
            r#"{"$float":"nan"}"#,
            r#"{"$bytes":"AAEC/w=="}"#,
            r#"{"$bytearray":""}"#,
            r#"{"$tuple":[1,{"$set":[2]}]}"#,
            r#"{"$dict":[[1,2],["$x",3]]}"#,
            r#"{"$global":["os","system"]}"#,
            r#"{"$object":"reduce","callable":{"$global":["a","b"]},"args":{"$tuple":[]},"state":[{}]}"#,
            r#"{"$def":0,"value":[{"$ref":0}]}"#,
            r#"[{"$def":0,"value":[]},{"$ref":0},{"$def":1,"value":{"$tuple":[{"$ref":1}]}}]"#,
            r#"{"$buffer":0,"readonly":true}"#,
        ] {
            assert_eq!(round_trip(text), text);
        }
    }

    #[test]
    fn base64_matches_the_standard() {
        // Every length around the 6-bytes-at-a-time loop's edges, against a bytewise
        // reference.
        for len in 0..40usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut fast = String::new();
            base64_encode(&mut fast, &data);
            let mut slow = String::new();
            for chunk in data.chunks(3) {
                let n = (chunk[0] as u32) << 16
                    | (*chunk.get(1).unwrap_or(&0) as u32) << 8
                    | *chunk.get(2).unwrap_or(&0) as u32;
                for k in 0..4 {
                    slow.push(if k <= chunk.len() {
                        B64[(n >> (18 - 6 * k) & 63) as usize] as char
                    } else {
                        '='
                    });
                }
            }
            assert_eq!(fast, slow, "length {len}");
            assert_eq!(base64_decode(&fast).unwrap(), data);
        }
        let mut s = String::new();
        base64_encode(&mut s, b"foobar!");
        assert_eq!(s, "Zm9vYmFyIQ==");
        assert_eq!(base64_decode(&s).unwrap(), b"foobar!");
        assert!(base64_decode("Zm9=YmFy").is_none());
    }

    #[test]
    fn bad_forms_are_errors_with_offsets() {
        let e = from_json(b"[1,\n 2,]").unwrap_err();
        assert!(matches!(e.kind, JsonErrorKind::Syntax(_)));
        assert_eq!(e.offset, Some(7));
        assert!(from_json(br#"{"$ref":3}"#).is_err());
        assert!(from_json(br#"{"$set":[[1]]}"#).is_err());
        assert!(from_json(br#"{"$def":0,"value":{"$set":[{"$ref":0}]}}"#).is_err());
        assert!(from_json(br#"{"$def":0,"value":{"$dict":[[{"$ref":0},1]]}}"#).is_err());
        assert!(from_json(br#"{"$def":0,"value":{"$ref":0}}"#).is_err());
        assert!(from_json(br#"{"$nope":1}"#).is_err());
        assert!(from_json("[".repeat(100_000).as_bytes()).is_err());
    }
}
