//! Property: for random value trees with shared references and cycles, decoding what
//! `encode_tree` wrote at protocol `p` and encoding that at protocol `q` gives the same
//! bytes as encoding the original at `q`, for every pair of protocols. So the decoder
//! keeps exactly the identity the encoder expressed, and the encoder is a function of the
//! value graph alone.

use brinery_core::{decode, encode_tree, DecodeOptions, NodeId, Tree, Value};
use proptest::prelude::*;

/// One node to build; container indexes are resolved against the nodes built so far.
#[derive(Debug, Clone)]
enum Spec {
    Atom(Value),
    Str(String),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    /// Lists and dicts may refer to any node, so cycles go through them.
    List(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    /// Tuples and sets refer only to earlier nodes: a loop through them alone is not
    /// picklable (CPython recurses without end).
    Tuple(Vec<usize>),
    Set(Vec<usize>),
    FrozenSet(Vec<usize>),
}

fn atom() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-300i64..300).prop_map(Value::Int),
        prop::collection::vec(any::<u8>(), 9..40).prop_map(|mut le| {
            // Beyond 64 bits: keep the top byte from being a redundant sign byte.
            let top = le.len() - 1;
            le[top] = 0x40 | (le[top] & 0x0f);
            Value::BigInt(le)
        }),
        any::<f64>().prop_map(Value::Float),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let idx = || prop::collection::vec(any::<prop::sample::Index>(), 0..6);
    prop_oneof![
        3 => atom().prop_map(Spec::Atom),
        2 => "\\PC{0,12}".prop_map(Spec::Str),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Spec::Bytes),
        1 => prop::collection::vec(any::<u8>(), 0..20).prop_map(Spec::ByteArray),
        2 => idx().prop_map(|v| Spec::List(v.iter().map(|i| i.index(usize::MAX)).collect())),
        2 => prop::collection::vec(any::<(prop::sample::Index, prop::sample::Index)>(), 0..5)
            .prop_map(|v| Spec::Dict(
                v.iter().map(|(k, x)| (k.index(usize::MAX), x.index(usize::MAX))).collect()
            )),
        2 => idx().prop_map(|v| Spec::Tuple(v.iter().map(|i| i.index(usize::MAX)).collect())),
        1 => idx().prop_map(|v| Spec::Set(v.iter().map(|i| i.index(usize::MAX)).collect())),
        1 => idx().prop_map(|v| Spec::FrozenSet(v.iter().map(|i| i.index(usize::MAX)).collect())),
    ]
}

/// Builds node `i` of `specs`; `any` picks among all nodes, `earlier` among nodes before
/// `i` (or an atom when there are none).
fn build(specs: &[Spec], root: prop::sample::Index) -> Tree {
    let n = specs.len();
    let mut tree = Tree::with_capacity(n + 1);
    let none = n; // an extra None node for containers with nothing earlier to point at
    for (i, s) in specs.iter().enumerate() {
        let any = |r: usize| r % n;
        let earlier = |r: usize| if i == 0 { none } else { r % i };
        let value = match s {
            Spec::Atom(v) => v.clone(),
            Spec::Str(s) => Value::Str(s.clone()),
            Spec::Bytes(b) => Value::Bytes(b.clone()),
            Spec::ByteArray(b) => Value::ByteArray(b.clone()),
            Spec::List(v) => Value::List(v.iter().map(|&r| any(r)).collect()),
            Spec::Dict(v) => Value::Dict(v.iter().map(|&(k, x)| (any(k), any(x))).collect()),
            Spec::Tuple(v) => Value::Tuple(v.iter().map(|&r| earlier(r)).collect()),
            Spec::Set(v) => Value::Set(v.iter().map(|&r| earlier(r)).collect()),
            Spec::FrozenSet(v) => Value::FrozenSet(v.iter().map(|&r| earlier(r)).collect()),
        };
        tree.push(value);
    }
    tree.push(Value::None);
    let root: NodeId = root.index(n);
    tree.set_root(root);
    tree
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn decode_then_encode_at_any_protocol_matches_direct_encoding(
        specs in prop::collection::vec(spec(), 1..40),
        root in any::<prop::sample::Index>(),
    ) {
        let tree = build(&specs, root);
        let direct: Vec<Vec<u8>> = (0..=5u8)
            .map(|q| encode_tree(&tree, q).expect("a tree without tuple-only loops encodes"))
            .collect();
        for p in 0..=5u8 {
            let decoded = decode(&direct[p as usize], &DecodeOptions::new())
                .map_err(|e| TestCaseError::fail(format!("decoding protocol {p}: {e}")))?;
            for q in 0..=5u8 {
                let again = encode_tree(&decoded, q).unwrap();
                prop_assert!(
                    again == direct[q as usize],
                    "protocol {} -> {}: {:?}\nvs {:?}", p, q, again, direct[q as usize]
                );
            }
        }
    }
}
