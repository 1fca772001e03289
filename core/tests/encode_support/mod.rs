//! Helpers shared by the encoder tests: the vector folder, its manifest, and a builder
//! that turns a case's `NAME.json` object graph into a [`Tree`] without the decoder, so
//! the encoder tests do not depend on it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use brinery_core::{Tree, Value};
use serde_json::Value as Json;

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

pub fn read(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn manifest() -> Json {
    serde_json::from_slice(&read("manifest.json")).expect("manifest.json is JSON")
}

/// A plain case of the manifest.
pub struct PlainCase {
    pub name: String,
    pub protocols: Vec<u8>,
}

pub fn plain_cases() -> Vec<PlainCase> {
    manifest()["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["plain"].as_bool() == Some(true))
        .map(|c| PlainCase {
            name: c["name"].as_str().expect("name").to_owned(),
            protocols: c["protocols"]
                .as_array()
                .expect("protocols")
                .iter()
                .map(|p| p.as_u64().expect("protocol") as u8)
                .collect(),
        })
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn ids(v: &Json) -> Vec<usize> {
    v.as_array()
        .expect("node list")
        .iter()
        .map(|i| i.as_u64().expect("node index") as usize)
        .collect()
}

/// Builds the tree a case's `NAME.json` describes (format in the vectors' README).
pub fn tree_from_json(doc: &Json) -> Tree {
    let nodes = doc["nodes"].as_array().expect("nodes");
    let mut tree = Tree::with_capacity(nodes.len());
    for node in nodes {
        let kind = node[0].as_str().expect("node type");
        let arg = &node[1];
        let value = match kind {
            "none" => Value::None,
            "bool" => Value::Bool(arg.as_bool().expect("bool")),
            "int" => match node.get(2) {
                Some(le) => Value::BigInt(hex(le.as_str().expect("int bytes"))),
                None => Value::Int(arg.as_str().expect("int text").parse().expect("i64")),
            },
            "float" => {
                let bits = u64::from_str_radix(arg.as_str().expect("float bits"), 16).unwrap();
                Value::Float(f64::from_bits(bits))
            }
            "str" => Value::Str(arg.as_str().expect("str").to_owned()),
            "surrogate_str" => Value::SurrogateStr(hex(arg.as_str().expect("hex"))),
            "bytes" => Value::Bytes(hex(arg.as_str().expect("hex"))),
            "bytearray" => Value::ByteArray(hex(arg.as_str().expect("hex"))),
            "list" => Value::List(ids(arg)),
            "tuple" => Value::Tuple(ids(arg)),
            "set" => Value::Set(ids(arg)),
            "frozenset" => Value::FrozenSet(ids(arg)),
            "dict" => Value::Dict(
                arg.as_array()
                    .expect("entries")
                    .iter()
                    .map(|kv| {
                        let kv = ids(kv);
                        (kv[0], kv[1])
                    })
                    .collect(),
            ),
            other => panic!("unknown node type {other:?}"),
        };
        tree.push(value);
    }
    tree.set_root(doc["root"].as_u64().expect("root") as usize);
    tree
}

pub fn case_tree(name: &str) -> Tree {
    let doc: Json = serde_json::from_slice(&read(&format!("{name}.json"))).expect("case JSON");
    tree_from_json(&doc)
}

/// Where two streams first differ, with some context, for failure messages.
pub fn first_difference(ours: &[u8], theirs: &[u8]) -> String {
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let from = at.saturating_sub(8);
    format!(
        "lengths {} vs {}, first difference at byte {at}: ours {:02x?} cpython {:02x?}",
        ours.len(),
        theirs.len(),
        &ours[from..(at + 8).min(ours.len())],
        &theirs[from..(at + 8).min(theirs.len())],
    )
}

/// A small tree builder for tests that construct values by hand.
#[derive(Default)]
pub struct Build {
    pub tree: Tree,
}

impl Build {
    pub fn new() -> Self {
        Build { tree: Tree::new() }
    }
    pub fn add(&mut self, v: Value) -> usize {
        self.tree.push(v)
    }
    pub fn int(&mut self, v: i64) -> usize {
        self.add(Value::Int(v))
    }
    pub fn str(&mut self, s: &str) -> usize {
        self.add(Value::Str(s.into()))
    }
    pub fn list(&mut self, items: Vec<usize>) -> usize {
        self.add(Value::List(items))
    }
    pub fn tuple(&mut self, items: Vec<usize>) -> usize {
        self.add(Value::Tuple(items))
    }
    pub fn dict(&mut self, entries: Vec<(usize, usize)>) -> usize {
        self.add(Value::Dict(entries))
    }
    pub fn global(&mut self, module: &str, name: &str) -> usize {
        self.add(Value::Global {
            module: module.into(),
            name: name.into(),
        })
    }
    pub fn push_object(&mut self, obj: brinery_core::Object) -> usize {
        self.add(Value::Object(Box::new(obj)))
    }
    pub fn finish(mut self, root: usize) -> Tree {
        self.tree.set_root(root);
        self.tree
    }
}

/// An object node's contents with no kwargs, state, items or entries.
pub fn object(
    kind: brinery_core::ObjectKind,
    callable: usize,
    args: usize,
) -> brinery_core::Object {
    brinery_core::Object {
        kind,
        callable,
        args,
        kwargs: None,
        state: Vec::new(),
        items: Vec::new(),
        entries: Vec::new(),
    }
}

/// Runs `python3` on `script` with `args`; panics with its output unless it exits 0.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .env("PYTHONHASHSEED", "0")
        .output()
        .expect("python3 must be installed to check streams against CPython");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python3 failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A fresh empty directory under the system temp dir, unique to this process and `tag`.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brinery-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scratch dir");
    dir
}
