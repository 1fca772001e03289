//! Lowers the few reductions CPython itself writes for plain data back into plain
//! values: `_codecs.encode(str, 'latin1')` and `bytes(...)` (bytes below protocol 3),
//! `bytearray(...)` (below protocol 5), `set(list)`/`frozenset(list)` (below protocol
//! 4), and what Python 2 wrote for builtin containers: `list(...)`/`tuple(...)`/
//! `dict(...)` through `INST`/`OBJ`, and `copy_reg._reconstructor(set, set, [...])`.
//! These calls are pure, so evaluating them is as safe as reading a literal; anything
//! else stays an object for the host. Reads the operands through
//! [`Builder::contents`], so it works for any builder that keeps them.

use alloc::string::String;
use alloc::vec::Vec;

use super::builder::{Builder, Contents, ValueKind};

/// The plain value a pure call produces, for the machine to charge and build.
pub(crate) enum Lowered<H> {
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    List(Vec<H>),
    Tuple(Vec<H>),
    /// Flattened key, value, ...
    Dict(Vec<H>),
    Set(Vec<H>),
    FrozenSet(Vec<H>),
    /// `list(s)` (`true`) or `tuple(s)` of a str: one-character strs.
    Chars(String, bool),
    /// `list(b)` (`true`) or `tuple(b)` of bytes: ints.
    Ints(Vec<u8>, bool),
}

/// The plain value `callable(*args)` produces, when the call is one of the known pure
/// reductions with arguments of the right types; `None` leaves the call to the host.
pub(crate) fn reduce<B: Builder>(
    b: &B,
    callable: B::Handle,
    args: B::Handle,
) -> Option<Lowered<B::Handle>> {
    let Contents::Global { module, name } = b.contents(callable) else {
        return None;
    };
    if b.kind(args) != ValueKind::Tuple {
        return None;
    }
    let Contents::Items(args) = b.contents(args) else {
        return None;
    };
    if module == "copyreg" && name == "_reconstructor" && args.len() == 3 {
        // `_reconstructor(cls, base, state)` is `base.__new__(cls, state)` then
        // `base.__init__(obj, state)`: for a builtin container with cls == base that is
        // `cls(state)`.
        let (cls, base, state) = (args[0], args[1], args[2]);
        let (
            Contents::Global { module, name },
            Contents::Global {
                module: m2,
                name: n2,
            },
        ) = (b.contents(cls), b.contents(base))
        else {
            return None;
        };
        if (module, name) != (m2, n2)
            || module != "builtins"
            || !matches!(name, "set" | "frozenset" | "list" | "dict")
        {
            return None;
        }
        return builtin(b, "builtins", name, &[state]);
    }
    builtin(b, module, name, args)
}

fn builtin<B: Builder>(
    b: &B,
    module: &str,
    name: &str,
    args: &[B::Handle],
) -> Option<Lowered<B::Handle>> {
    let arg = |i: usize| args.get(i).map(|&h| (b.kind(h), b.contents(h)));
    let seq = |i: usize| match arg(i) {
        Some((
            ValueKind::List | ValueKind::Tuple | ValueKind::Set | ValueKind::FrozenSet,
            Contents::Items(v),
        )) => Some(v.to_vec()),
        _ => None,
    };
    let str_arg = |i: usize| match arg(i) {
        Some((ValueKind::Str, Contents::Str(s))) => Some(s),
        _ => None,
    };
    let bytes_arg = |i: usize| match arg(i) {
        Some((ValueKind::Bytes, Contents::Bytes(v))) => Some(v),
        _ => None,
    };
    let is_list = name == "list";
    match (module, name, args.len()) {
        ("builtins", "list" | "tuple", 1) if str_arg(0).is_some() => {
            Some(Lowered::Chars(str_arg(0)?.into(), is_list))
        }
        ("builtins", "list" | "tuple", 1) if bytes_arg(0).is_some() => {
            Some(Lowered::Ints(bytes_arg(0)?.to_vec(), is_list))
        }
        ("builtins", "list", 0) => Some(Lowered::List(Vec::new())),
        ("builtins", "tuple", 0) => Some(Lowered::Tuple(Vec::new())),
        ("builtins", "dict", 0) => Some(Lowered::Dict(Vec::new())),
        ("builtins", "list", 1) => seq(0).map(Lowered::List),
        ("builtins", "tuple", 1) => seq(0).map(Lowered::Tuple),
        ("builtins", "dict", 1) => match arg(0) {
            Some((ValueKind::Dict, Contents::Entries(d))) => {
                Some(Lowered::Dict(d.iter().flat_map(|&(k, v)| [k, v]).collect()))
            }
            _ => None,
        },
        ("_codecs", "encode", 2) => match (str_arg(0), str_arg(1)) {
            (Some(s), Some(enc)) if is_latin1_name(enc) => latin1_bytes(s).map(Lowered::Bytes),
            _ => None,
        },
        ("builtins", "bytes", 0) => Some(Lowered::Bytes(Vec::new())),
        ("builtins", "bytes", 1) => bytes_arg(0).map(|v| Lowered::Bytes(v.to_vec())),
        ("builtins", "bytearray", 0) => Some(Lowered::ByteArray(Vec::new())),
        ("builtins", "bytearray", 1) => bytes_arg(0).map(|v| Lowered::ByteArray(v.to_vec())),
        ("builtins", "bytearray", 2) => match (str_arg(0), str_arg(1)) {
            (Some(s), Some(enc)) if is_latin1_name(enc) => latin1_bytes(s).map(Lowered::ByteArray),
            _ => None,
        },
        ("builtins", "set", 0) => Some(Lowered::Set(Vec::new())),
        ("builtins", "frozenset", 0) => Some(Lowered::FrozenSet(Vec::new())),
        ("builtins", "set", 1) => seq(0).map(Lowered::Set),
        ("builtins", "frozenset", 1) => seq(0).map(Lowered::FrozenSet),
        _ => None,
    }
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
