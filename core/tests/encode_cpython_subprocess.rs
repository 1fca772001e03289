//! CPython loads what we write: trees encoded at every protocol are handed to a real
//! `python3` subprocess, which unpickles them with `pickle.loads` and compares the result
//! with the expected value. Covers the plain-data vectors (against their ctext) and
//! trees of objects built by hand: reductions, `NEWOBJ`/`NEWOBJ_EX` at every protocol,
//! `OBJ`, `BUILD` state, list and dict items of objects, nested globals, extension
//! codes, persistent ids, out-of-band buffers and a list nested 100,000 deep; and the
//! Python 2-era vectors, decoded with each `encoding` and written back.

mod encode_support;

use std::path::PathBuf;

use brinery_core::{encode_tree, DecodeOptions, ObjectKind, Py2Strings, Tree, Value};
use encode_support::*;

const LOAD_PLAIN: &str = r#"
import json, pickle, sys
sys.path.insert(0, sys.argv[1])
sys.set_int_max_str_digits(0)
from ctext import ctext
bad, n = [], 0
for stream, txt in json.load(open(sys.argv[2])):
    with open(stream, "rb") as f:
        value = pickle.loads(f.read())
    with open(txt, encoding="utf-8") as f:
        expected = f.read().rstrip("\n")
    n += 1
    if ctext(value) != expected:
        bad.append(stream)
print(n, "loaded;", len(bad), "differ:", " ".join(bad))
sys.exit(1 if bad else 0)
"#;

/// Has CPython load each `(stream file, ctext file)` pair and compare the ctext.
fn cpython_loads(scratch: &std::path::Path, pairs: Vec<(PathBuf, PathBuf)>) {
    let listing: Vec<[&str; 2]> = pairs
        .iter()
        .map(|(s, t)| [s.to_str().unwrap(), t.to_str().unwrap()])
        .collect();
    let list_file = scratch.join("pairs.json");
    std::fs::write(&list_file, serde_json::to_vec(&listing).unwrap()).unwrap();
    let vectors = vectors_dir();
    let out = run_python(
        LOAD_PLAIN,
        &[vectors.to_str().unwrap(), list_file.to_str().unwrap()],
    );
    assert!(
        out.starts_with(&format!("{} loaded; 0 differ", pairs.len())),
        "{out}"
    );
}

#[test]
fn cpython_loads_every_plain_case_we_encode_subprocess() {
    let scratch = scratch_dir("plain");
    let mut pairs = Vec::new();
    for case in plain_cases() {
        let tree = case_tree(&case.name);
        for &p in &case.protocols {
            let data = encode_tree(&tree, p).unwrap();
            let file = scratch.join(format!("{}.p{p}.pickle", case.name));
            std::fs::write(&file, data).unwrap();
            pairs.push((file, vectors_dir().join(format!("{}.txt", case.name))));
        }
    }
    cpython_loads(&scratch, pairs);
    std::fs::remove_dir_all(scratch).ok();
}

/// Python 2 streams decoded with each `encoding` and written back at every protocol
/// load in CPython as what `pickle.loads(..., encoding=...)` gave for the original.
#[test]
fn cpython_loads_python2_streams_we_reencode_subprocess() {
    let scratch = scratch_dir("py2");
    let mut pairs = Vec::new();
    for case in manifest()["py2"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let data = read(case["pickle"].as_str().unwrap());
        for (encoding, strings) in [
            ("ascii", Py2Strings::Ascii),
            ("latin1", Py2Strings::Latin1),
            ("bytes", Py2Strings::Bytes),
        ] {
            let Some(txt) = case["results"][encoding]["txt"].as_str() else {
                continue;
            };
            let opts = DecodeOptions {
                py2_strings: strings,
                ..DecodeOptions::new()
            };
            let tree = brinery_core::decode(&data, &opts)
                .unwrap_or_else(|e| panic!("decoding {name} as {encoding}: {e}"));
            for p in 0..=5u8 {
                let ours = encode_tree(&tree, p)
                    .unwrap_or_else(|e| panic!("{name} ({encoding}) at protocol {p}: {e}"));
                let file = scratch.join(format!("{name}.{encoding}.p{p}.pickle"));
                std::fs::write(&file, ours).unwrap();
                pairs.push((file, vectors_dir().join(txt)));
            }
        }
    }
    assert!(pairs.len() > 100, "the manifest lists Python 2 streams");
    cpython_loads(&scratch, pairs);
    std::fs::remove_dir_all(scratch).ok();
}

const LOAD_OBJECTS: &str = r#"
import collections, copyreg, datetime, io, json, pickle, sys, types
copyreg.add_extension("collections", "OrderedDict", 0x42)
copyreg.add_extension("collections", "Counter", 300)
copyreg.add_extension("collections", "deque", 70000)

class Loader(pickle.Unpickler):
    def persistent_load(self, pid):
        return ("P", pid)

def depth(v):
    n = 0
    while isinstance(v, list) and v:
        v, n = v[0], n + 1
    return n

bad, n = [], 0
for case in json.load(open(sys.argv[1])):
    with open(case["file"], "rb") as f:
        data = f.read()
    buffers = [bytearray(b"ab"), b"cd"] if case["buffers"] else None
    value = Loader(io.BytesIO(data), buffers=buffers).load()
    n += 1
    if not eval(case["check"])(value):
        bad.append("%s: %r" % (case["file"], value))
print(n, "loaded;", len(bad), "differ:", "\n".join(bad))
sys.exit(1 if bad else 0)
"#;

struct ObjectCase {
    name: &'static str,
    tree: Tree,
    protocols: std::ops::RangeInclusive<u8>,
    /// A Python lambda that returns True for the expected value.
    check: &'static str,
}

fn object_cases() -> Vec<ObjectCase> {
    let mut cases = Vec::new();
    let mut add = |name, tree, protocols, check| {
        cases.push(ObjectCase {
            name,
            tree,
            protocols,
            check,
        })
    };

    // collections.OrderedDict([('a', 1), ('b', 2)]) by REDUCE
    let mut b = Build::new();
    let cls = b.global("collections", "OrderedDict");
    let (ka, one, kb, two) = (b.str("a"), b.int(1), b.str("b"), b.int(2));
    let (pa, pb) = (b.tuple(vec![ka, one]), b.tuple(vec![kb, two]));
    let pairs = b.list(vec![pa, pb]);
    let args = b.tuple(vec![pairs]);
    let root = b.push_object(object(ObjectKind::Reduce, cls, args));
    add(
        "reduce",
        b.finish(root),
        0..=5,
        "lambda v: v == collections.OrderedDict([('a', 1), ('b', 2)]) and type(v) is collections.OrderedDict",
    );

    // NEWOBJ with dict entries, twice the same object plus its class again
    let mut b = Build::new();
    let cls = b.global("collections", "OrderedDict");
    let cls_again = b.global("collections", "OrderedDict");
    let args = b.tuple(vec![]);
    let mut obj = object(ObjectKind::NewObj, cls, args);
    let (k, v) = (b.str("k"), b.int(5));
    obj.entries.push((k, v));
    let o = b.push_object(obj);
    let root = b.list(vec![o, o, cls_again]);
    add(
        "newobj",
        b.finish(root),
        0..=5,
        "lambda v: v[0] == collections.OrderedDict(k=5) and v[0] is v[1] and v[2] is collections.OrderedDict",
    );

    // NEWOBJ_EX with and without keyword arguments
    let mut b = Build::new();
    let cls = b.global("datetime", "timedelta");
    let one = b.int(1);
    let args = b.tuple(vec![one]);
    let (sk, sv) = (b.str("seconds"), b.int(5));
    let kwargs = b.dict(vec![(sk, sv)]);
    let mut with_kw = object(ObjectKind::NewObjEx, cls, args);
    with_kw.kwargs = Some(kwargs);
    let with_kw = b.push_object(with_kw);
    let two = b.int(2);
    let args2 = b.tuple(vec![two]);
    let without = b.push_object(object(ObjectKind::NewObjEx, cls, args2));
    let root = b.list(vec![with_kw, without]);
    add(
        "newobj_ex",
        b.finish(root),
        0..=5,
        "lambda v: v == [datetime.timedelta(1, seconds=5), datetime.timedelta(2)]",
    );

    // INST-equivalent (OBJ)
    let mut b = Build::new();
    let cls = b.global("builtins", "complex");
    let (re, im) = (b.add(Value::Float(1.0)), b.add(Value::Float(-2.5)));
    let args = b.tuple(vec![re, im]);
    let root = b.push_object(object(ObjectKind::Inst, cls, args));
    add(
        "inst",
        b.finish(root),
        0..=5,
        "lambda v: v == complex(1, -2.5)",
    );

    // BUILD state, list items of an object (1001: a final lone APPEND)
    let mut b = Build::new();
    let ns = b.global("types", "SimpleNamespace");
    let empty = b.tuple(vec![]);
    let mut obj = object(ObjectKind::Reduce, ns, empty);
    let (x, one) = (b.str("x"), b.int(1));
    let state = b.dict(vec![(x, one)]);
    obj.state.push(state);
    let with_state = b.push_object(obj);
    let ul = b.global("collections", "UserList");
    let mut obj = object(ObjectKind::Reduce, ul, empty);
    obj.items = (0..1001).map(|i| b.int(i)).collect();
    let user_list = b.push_object(obj);
    let root = b.list(vec![with_state, user_list]);
    add(
        "state_and_items",
        b.finish(root),
        0..=5,
        "lambda v: v[0] == types.SimpleNamespace(x=1) and v[1] == collections.UserList(range(1001))",
    );

    // a nested (dotted) global: getattr() below protocol 4
    let mut b = Build::new();
    let g = b.global("collections", "OrderedDict.fromkeys");
    let root = b.list(vec![g, g]);
    add(
        "dotted_global",
        b.finish(root),
        0..=5,
        "lambda v: v == [collections.OrderedDict.fromkeys] * 2",
    );

    // extension codes of each width
    let mut b = Build::new();
    let e1 = b.add(Value::Extension(0x42));
    let e2 = b.add(Value::Extension(300));
    let e4 = b.add(Value::Extension(70000));
    let root = b.list(vec![e1, e2, e4, e1]);
    add(
        "extensions",
        b.finish(root),
        2..=5,
        "lambda v: v == [collections.OrderedDict, collections.Counter, collections.deque, collections.OrderedDict]",
    );

    // persistent ids: a str (PERSID at protocol 0) and a tuple (BINPERSID)
    let mut b = Build::new();
    let s = b.str("doc:7");
    let pid = b.add(Value::PersistentId(s));
    let root = b.list(vec![pid, pid]);
    add(
        "persid_str",
        b.finish(root),
        0..=5,
        "lambda v: v == [('P', 'doc:7')] * 2",
    );
    let mut b = Build::new();
    let (doc, seven) = (b.str("doc"), b.int(7));
    let t = b.tuple(vec![doc, seven]);
    let pid = b.add(Value::PersistentId(t));
    let root = b.list(vec![pid, t]);
    add(
        "persid_tuple",
        b.finish(root),
        1..=5,
        "lambda v: v == [('P', ('doc', 7)), ('doc', 7)]",
    );

    // out-of-band buffers, the second read-only
    let mut b = Build::new();
    let b0 = b.add(Value::Buffer {
        index: 0,
        readonly: false,
    });
    let b1 = b.add(Value::Buffer {
        index: 1,
        readonly: true,
    });
    let root = b.list(vec![b0, b1, b0]);
    add(
        "buffers",
        b.finish(root),
        5..=5,
        "lambda v: [bytes(x) for x in v] == [b'ab', b'cd', b'ab'] and v[0] is v[2] and memoryview(v[1]).readonly",
    );

    // a set reached from itself through an object, below and above protocol 4
    let mut b = Build::new();
    let set = b.add(Value::Set(vec![]));
    let fs = b.global("builtins", "frozenset");
    let inner = b.list(vec![]);
    let args = b.tuple(vec![inner]);
    let frozen = b.push_object(object(ObjectKind::Reduce, fs, args));
    b.tree.set(set, Value::Set(vec![frozen]));
    let root = b.list(vec![set, set]);
    add(
        "set_of_object",
        b.finish(root),
        0..=5,
        "lambda v: v[0] == {frozenset()} and v[0] is v[1]",
    );

    // 100,000 nested lists: no stack overflow on our side
    let mut b = Build::new();
    let mut v = b.list(vec![]);
    for _ in 0..100_000 {
        v = b.list(vec![v]);
    }
    add("deep", b.finish(v), 0..=5, "lambda v: depth(v) == 100000");
    cases
}

#[test]
fn cpython_loads_object_trees_we_encode_subprocess() {
    let scratch = scratch_dir("objects");
    let mut listing = Vec::new();
    for case in object_cases() {
        for p in case.protocols.clone() {
            let data = encode_tree(&case.tree, p)
                .unwrap_or_else(|e| panic!("{} at protocol {p}: {e}", case.name));
            let file = scratch.join(format!("{}.p{p}.pickle", case.name));
            std::fs::write(&file, data).unwrap();
            listing.push(serde_json::json!({
                "file": file.to_str().unwrap(),
                "check": case.check,
                "buffers": case.name == "buffers",
            }));
        }
    }
    let list_file = scratch.join("cases.json");
    std::fs::write(&list_file, serde_json::to_vec(&listing).unwrap()).unwrap();
    let out = run_python(LOAD_OBJECTS, &[list_file.to_str().unwrap()]);
    assert!(
        out.starts_with(&format!("{} loaded; 0 differ", listing.len())),
        "{out}"
    );
    std::fs::remove_dir_all(scratch).ok();
}
