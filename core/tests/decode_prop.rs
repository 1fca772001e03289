//! Property test: a random value tree, encoded with `encode_tree` at a random protocol
//! and decoded again, is the same value (compared as ctext, so sharing counts too).

mod common;

use brinery_core::{decode, encode_tree, pyfmt, DecodeOptions, NodeId, Tree, Value};
use common::ctext;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum P {
    None,
    Bool(bool),
    Int(i64),
    Big(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    List(Vec<P>),
    Tuple(Vec<P>),
    Dict(Vec<(P, P)>),
    Set(Vec<i64>),
    FrozenSet(Vec<String>),
}

fn key() -> impl Strategy<Value = P> {
    prop_oneof![
        any::<i64>().prop_map(P::Int),
        "[a-z\u{e9}\u{2603}]{0,6}".prop_map(P::Str),
    ]
}

fn leaf() -> impl Strategy<Value = P> {
    prop_oneof![
        Just(P::None),
        any::<bool>().prop_map(P::Bool),
        any::<i64>().prop_map(P::Int),
        (-300i64..300).prop_map(P::Int),
        proptest::collection::vec(any::<u8>(), 9..24).prop_map(P::Big),
        any::<f64>().prop_map(P::Float),
        any::<String>().prop_map(P::Str),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(P::Bytes),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(P::ByteArray),
        proptest::collection::vec(any::<i64>(), 0..6).prop_map(P::Set),
        proptest::collection::vec("[a-z]{0,3}", 0..6).prop_map(P::FrozenSet),
    ]
}

fn value() -> impl Strategy<Value = P> {
    leaf().prop_recursive(4, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(P::List),
            proptest::collection::vec(inner.clone(), 0..5).prop_map(P::Tuple),
            proptest::collection::vec((key(), inner), 0..6).prop_map(P::Dict),
        ]
    })
}

fn build(tree: &mut Tree, p: &P) -> NodeId {
    let v = match p {
        P::None => Value::None,
        P::Bool(b) => Value::Bool(*b),
        P::Int(i) => Value::Int(*i),
        P::Big(le) => {
            let le = pyfmt::trim_le(le);
            if le.len() <= 8 {
                Value::Int(pyfmt::le_to_i64(le))
            } else {
                Value::BigInt(le.to_vec())
            }
        }
        P::Float(f) => Value::Float(*f),
        P::Str(s) => Value::Str(s.clone()),
        P::Bytes(b) => Value::Bytes(b.clone()),
        P::ByteArray(b) => Value::ByteArray(b.clone()),
        P::List(items) => Value::List(items.iter().map(|i| build(tree, i)).collect()),
        P::Tuple(items) => Value::Tuple(items.iter().map(|i| build(tree, i)).collect()),
        P::Dict(entries) => Value::Dict(
            entries
                .iter()
                .map(|(k, v)| (build(tree, k), build(tree, v)))
                .collect(),
        ),
        P::Set(items) => Value::Set(items.iter().map(|&i| tree.push(Value::Int(i))).collect()),
        P::FrozenSet(items) => Value::FrozenSet(
            items
                .iter()
                .map(|s| tree.push(Value::Str(s.clone())))
                .collect(),
        ),
    };
    tree.push(v)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_identity(v in value(), protocol in 0u8..=5, shared in any::<bool>()) {
        let mut tree = Tree::new();
        let node = build(&mut tree, &v);
        // The same node twice: a shared reference the round trip must keep.
        let items = if shared { vec![node, node] } else { vec![node] };
        let root = tree.push(Value::List(items));
        tree.set_root(root);
        let data = encode_tree(&tree, protocol).expect("plain trees encode");
        let back = decode(&data, &DecodeOptions::new())
            .map_err(|e| TestCaseError::fail(format!("p{protocol}: {e}")))?;
        prop_assert_eq!(ctext(&back), ctext(&tree), "protocol {}", protocol);
    }
}
