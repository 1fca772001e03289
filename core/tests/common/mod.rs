//! Helpers shared by the decoder's integration tests: the vector folder, the manifest,
//! and the ctext renderer (the canonical one-line text of a value that
//! `core/tests/vectors/README.md` defines and CPython's generator writes to `NAME.txt`).
#![allow(dead_code)]

pub mod mutate;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use brinery_core::{pyfmt, NodeId, Object, ObjectKind, Tree, ValueRef};

/// `core/tests/vectors`.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// A file under `core/tests/vectors`.
pub fn vector(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `manifest.json`, parsed.
pub fn manifest() -> serde_json::Value {
    serde_json::from_slice(&vector("manifest.json")).expect("manifest.json parses")
}

/// Every `(case name, protocol, stream)` in the manifest's `cases`.
pub fn case_streams() -> Vec<(String, u8, Vec<u8>, bool)> {
    let m = manifest();
    let mut out = Vec::new();
    for case in m["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let plain = case["plain"].as_bool().unwrap();
        for p in case["protocols"].as_array().unwrap() {
            let p = p.as_u64().unwrap() as u8;
            out.push((
                name.to_string(),
                p,
                vector(&format!("{name}.p{p}.pickle")),
                plain,
            ));
        }
    }
    out
}

/// Kinds whose nodes are shared objects in CPython's graph (and so get `#N=` labels).
fn memoizable(v: ValueRef<'_>) -> bool {
    match v {
        ValueRef::Str(_)
        | ValueRef::SurrogateStr(_)
        | ValueRef::Bytes(_)
        | ValueRef::ByteArray(_)
        | ValueRef::List(_)
        | ValueRef::Dict(_)
        | ValueRef::Set(_)
        | ValueRef::FrozenSet(_)
        | ValueRef::Object(_) => true,
        ValueRef::Tuple(items) => !items.is_empty(),
        _ => false,
    }
}

/// The children of a node in the order ctext prints them.
fn children(tree: &Tree, id: NodeId) -> Vec<NodeId> {
    match tree.get(id) {
        ValueRef::List(v) | ValueRef::Tuple(v) | ValueRef::Set(v) | ValueRef::FrozenSet(v) => {
            v.to_vec()
        }
        ValueRef::Dict(d) => d.iter().flat_map(|&(k, v)| [k, v]).collect(),
        ValueRef::PersistentId(p) => vec![p],
        ValueRef::Object(o) => object_children(o),
        _ => Vec::new(),
    }
}

fn object_children(o: &Object) -> Vec<NodeId> {
    let mut c = vec![o.callable, o.args];
    c.extend(o.kwargs);
    c.extend(&o.state);
    c.extend(&o.items);
    c.extend(o.entries.iter().flat_map(|&(k, v)| [k, v]));
    c
}

/// Renders `tree` as ctext. Non-plain nodes (globals, calls, persistent ids, buffers)
/// get a readable form that is not part of the ctext definition.
pub fn ctext(tree: &Tree) -> String {
    // First pass: how often each memoizable node is reached (depth first, a node's
    // contents walked once).
    let mut seen: HashMap<NodeId, usize> = HashMap::new();
    let mut todo = vec![tree.root()];
    while let Some(id) = todo.pop() {
        if memoizable(tree.get(id)) {
            let n = seen.entry(id).or_insert(0);
            *n += 1;
            if *n > 1 {
                continue;
            }
        }
        todo.extend(children(tree, id).into_iter().rev());
    }
    let mut r = Renderer {
        tree,
        shared: seen
            .into_iter()
            .filter(|&(_, n)| n > 1)
            .map(|(id, _)| id)
            .collect(),
        labels: HashMap::new(),
        out: String::new(),
    };
    r.node(tree.root(), 0);
    r.out
}

struct Renderer<'t> {
    tree: &'t Tree,
    shared: std::collections::HashSet<NodeId>,
    labels: HashMap<NodeId, usize>,
    out: String,
}

impl Renderer<'_> {
    fn node(&mut self, id: NodeId, depth: usize) {
        assert!(
            depth < 2000,
            "ctext: nesting too deep for the test renderer"
        );
        if self.shared.contains(&id) {
            if let Some(n) = self.labels.get(&id) {
                write!(self.out, "#{n}#").unwrap();
                return;
            }
            let n = self.labels.len();
            self.labels.insert(id, n);
            write!(self.out, "#{n}=").unwrap();
        }
        let tree = self.tree;
        match tree.get(id) {
            ValueRef::None => self.out.push_str("None"),
            ValueRef::Bool(b) => self.out.push_str(if b { "True" } else { "False" }),
            ValueRef::Int(i) => write!(self.out, "{i}").unwrap(),
            ValueRef::BigInt(le) => self.out.push_str(&pyfmt::le_to_decimal(le)),
            ValueRef::Float(f) => self.out.push_str(&pyfmt::float_repr(f)),
            ValueRef::Str(s) => str_text(&mut self.out, s.as_bytes()),
            ValueRef::SurrogateStr(w) => str_text(&mut self.out, w),
            ValueRef::Bytes(b) => bytes_text(&mut self.out, b),
            ValueRef::ByteArray(b) => {
                self.out.push_str("bytearray(");
                bytes_text(&mut self.out, b);
                self.out.push(')');
            }
            ValueRef::List(v) => self.seq("[", v, "]", depth),
            ValueRef::Tuple(v) if v.len() == 1 => self.seq("(", v, ",)", depth),
            ValueRef::Tuple(v) => self.seq("(", v, ")", depth),
            ValueRef::Set(v) => self.seq("set{", v, "}", depth),
            ValueRef::FrozenSet(v) => self.seq("frozenset{", v, "}", depth),
            ValueRef::Dict(d) => {
                self.out.push('{');
                for (i, &(k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.node(k, depth + 1);
                    self.out.push_str(": ");
                    self.node(v, depth + 1);
                }
                self.out.push('}');
            }
            ValueRef::Global { module, name } => {
                write!(self.out, "global({module}.{name})").unwrap()
            }
            ValueRef::Extension(code) => write!(self.out, "ext({code})").unwrap(),
            ValueRef::Buffer { index, readonly } => {
                write!(self.out, "buffer({index}, readonly={readonly})").unwrap()
            }
            ValueRef::PersistentId(p) => {
                self.out.push_str("persid(");
                self.node(p, depth + 1);
                self.out.push(')');
            }
            ValueRef::Object(o) => {
                let kind = match o.kind {
                    ObjectKind::Reduce => "reduce",
                    ObjectKind::NewObj => "newobj",
                    ObjectKind::NewObjEx => "newobj_ex",
                    ObjectKind::Inst => "inst",
                    ObjectKind::Built => "built",
                };
                write!(self.out, "{kind}(").unwrap();
                self.node(o.callable, depth + 1);
                self.out.push_str(", ");
                self.node(o.args, depth + 1);
                if let Some(kw) = o.kwargs {
                    self.out.push_str(", kwargs=");
                    self.node(kw, depth + 1);
                }
                for &s in &o.state {
                    self.out.push_str(", state=");
                    self.node(s, depth + 1);
                }
                if !o.items.is_empty() {
                    self.seq(", items=[", &o.items, "]", depth);
                }
                if !o.entries.is_empty() {
                    self.out.push_str(", entries={");
                    for (i, &(k, v)) in o.entries.iter().enumerate() {
                        if i > 0 {
                            self.out.push_str(", ");
                        }
                        self.node(k, depth + 1);
                        self.out.push_str(": ");
                        self.node(v, depth + 1);
                    }
                    self.out.push('}');
                }
                self.out.push(')');
            }
        }
    }

    fn seq(&mut self, open: &str, items: &[NodeId], close: &str, depth: usize) {
        self.out.push_str(open);
        for (i, &id) in items.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.node(id, depth + 1);
        }
        self.out.push_str(close);
    }
}

/// `s"…"` from generalized UTF-8.
fn str_text(out: &mut String, wtf8: &[u8]) {
    out.push_str("s\"");
    let mut i = 0;
    while i < wtf8.len() {
        let (cp, len) = pyfmt::decode_wtf8_char(&wtf8[i..]).expect("decoder gave valid WTF-8");
        i += len;
        match cp {
            0x5c => out.push_str("\\\\"),
            0x22 => out.push_str("\\\""),
            0x20..=0x7e => out.push(cp as u8 as char),
            _ => write!(out, "\\u{{{cp:x}}}").unwrap(),
        }
    }
    out.push('"');
}

/// `b"…"`.
fn bytes_text(out: &mut String, b: &[u8]) {
    out.push_str("b\"");
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(c as char),
            _ => write!(out, "\\x{c:02x}").unwrap(),
        }
    }
    out.push('"');
}
