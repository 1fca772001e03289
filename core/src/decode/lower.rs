//! Lowers the few reductions CPython itself writes for plain data back into plain
//! values: `_codecs.encode(str, 'latin1')` and `bytes(...)` (bytes below protocol 3),
//! `bytearray(...)` (below protocol 5), `set(list)`/`frozenset(list)` (below protocol
//! 4), and what Python 2 wrote for builtin containers: `list(...)`/`tuple(...)`/
//! `dict(...)` through `INST`/`OBJ`, and `copy_reg._reconstructor(set, set, [...])`.
//! These calls are pure, so evaluating them is as safe as reading a literal; anything
//! else stays an [`Object`](crate::value::Object) node for the host.

use alloc::vec::Vec;

use crate::value::{NodeId, Tree, Value};

/// The plain value `callable(*args)` produces, when the call is one of the known pure
/// reductions with arguments of the right types; `None` leaves the call to the host.
/// May add nodes to the tree (the characters of `list("ab")`).
pub(crate) fn reduce(tree: &mut Tree, callable: NodeId, args: NodeId) -> Option<Value> {
    let Value::Global { module, name } = tree.get(callable) else {
        return None;
    };
    let Value::Tuple(args) = tree.get(args) else {
        return None;
    };
    if module == "copyreg" && name == "_reconstructor" && args.len() == 3 {
        // `_reconstructor(cls, base, state)` is `base.__new__(cls, state)` then
        // `base.__init__(obj, state)`: for a builtin container with cls == base that is
        // `cls(state)`.
        let (cls, base, state) = (args[0], args[1], args[2]);
        if tree.get(cls) != tree.get(base) {
            return None;
        }
        let Value::Global { module, name } = tree.get(cls) else {
            return None;
        };
        if module != "builtins" || !matches!(name.as_str(), "set" | "frozenset" | "list" | "dict") {
            return None;
        }
        let name = name.clone();
        return builtin(tree, "builtins", &name, &[state]);
    }
    let (module, name, args) = (module.clone(), name.clone(), args.clone());
    builtin(tree, &module, &name, &args)
}

fn builtin(tree: &mut Tree, module: &str, name: &str, args: &[NodeId]) -> Option<Value> {
    let arg = |i: usize| args.get(i).map(|&id| tree.get(id));
    let seq = |i: usize| match arg(i) {
        Some(Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v)) => {
            Some(v.clone())
        }
        _ => None,
    };
    match (module, name, args.len()) {
        ("builtins", "list" | "tuple", 1)
            if matches!(arg(0), Some(Value::Str(_) | Value::Bytes(_))) =>
        {
            let items = elements(tree, args[0]);
            Some(if name == "list" {
                Value::List(items)
            } else {
                Value::Tuple(items)
            })
        }
        ("builtins", "list", 0) => Some(Value::List(Vec::new())),
        ("builtins", "tuple", 0) => Some(Value::Tuple(Vec::new())),
        ("builtins", "dict", 0) => Some(Value::Dict(Vec::new())),
        ("builtins", "list", 1) => seq(0).map(Value::List),
        ("builtins", "tuple", 1) => seq(0).map(Value::Tuple),
        ("builtins", "dict", 1) => match arg(0) {
            Some(Value::Dict(d)) => Some(Value::Dict(d.clone())),
            _ => None,
        },
        ("_codecs", "encode", 2) => match (arg(0), arg(1)) {
            (Some(Value::Str(s)), Some(Value::Str(enc))) if is_latin1_name(enc) => {
                latin1_bytes(s).map(Value::Bytes)
            }
            _ => None,
        },
        ("builtins", "bytes", 0) => Some(Value::Bytes(Vec::new())),
        ("builtins", "bytes", 1) => match arg(0) {
            Some(Value::Bytes(b)) => Some(Value::Bytes(b.clone())),
            _ => None,
        },
        ("builtins", "bytearray", 0) => Some(Value::ByteArray(Vec::new())),
        ("builtins", "bytearray", 1) => match arg(0) {
            Some(Value::Bytes(b)) => Some(Value::ByteArray(b.clone())),
            _ => None,
        },
        ("builtins", "bytearray", 2) => match (arg(0), arg(1)) {
            (Some(Value::Str(s)), Some(Value::Str(enc))) if is_latin1_name(enc) => {
                latin1_bytes(s).map(Value::ByteArray)
            }
            _ => None,
        },
        ("builtins", "set", 0) => Some(Value::Set(Vec::new())),
        ("builtins", "frozenset", 0) => Some(Value::FrozenSet(Vec::new())),
        ("builtins", "set", 1) => seq(0).map(Value::Set),
        ("builtins", "frozenset", 1) => seq(0).map(Value::FrozenSet),
        _ => None,
    }
}

/// The items of iterating a str (one-character strs) or bytes (ints), as new nodes.
fn elements(tree: &mut Tree, id: NodeId) -> Vec<NodeId> {
    let values: Vec<Value> = match tree.get(id) {
        Value::Str(s) => s.chars().map(|c| Value::Str(c.into())).collect(),
        Value::Bytes(b) => b.iter().map(|&c| Value::Int(c as i64)).collect(),
        _ => Vec::new(),
    };
    values.into_iter().map(|v| tree.push(v)).collect()
}

fn is_latin1_name(enc: &str) -> bool {
    matches!(
        enc,
        "latin1" | "latin-1" | "latin_1" | "iso-8859-1" | "iso8859-1"
    )
}

/// The Latin-1 encoding of `s`, or `None` when a character is beyond U+00FF.
fn latin1_bytes(s: &str) -> Option<Vec<u8>> {
    if s.is_ascii() {
        return Some(s.as_bytes().to_vec());
    }
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}
