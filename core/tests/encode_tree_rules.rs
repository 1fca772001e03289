//! `encode_tree` on trees CPython has no stream for, or that cannot be written: the
//! exact opcodes of the forms it chooses (checked with `dis`-free byte patterns), and
//! a specific error, never a panic, for each tree it refuses.

mod encode_support;

use brinery_core::{encode_tree, EncodeError, ObjectKind, Value};
use encode_support::*;

fn one(value: Value) -> brinery_core::Tree {
    let mut b = Build::new();
    let root = b.add(value);
    b.finish(root)
}

#[test]
fn refuses_what_cannot_be_written_with_an_error() {
    let ext = one(Value::Extension(1));
    assert_eq!(
        encode_tree(&ext, 1),
        Err(EncodeError::NeedsProtocol("extension codes", 2))
    );
    assert!(matches!(
        encode_tree(&one(Value::Extension(0)), 2),
        Err(EncodeError::Invalid(_))
    ));

    let buf = one(Value::Buffer {
        index: 0,
        readonly: false,
    });
    assert_eq!(
        encode_tree(&buf, 4),
        Err(EncodeError::NeedsProtocol("out-of-band buffers", 5))
    );
    let late = one(Value::Buffer {
        index: 1,
        readonly: false,
    });
    assert!(
        matches!(encode_tree(&late, 5), Err(EncodeError::Invalid(m)) if m.contains("buffer 1"))
    );

    let mut b = Build::new();
    let (doc, seven) = (b.str("doc"), b.int(7));
    let t = b.tuple(vec![doc, seven]);
    let pid = b.add(Value::PersistentId(t));
    let tree = b.finish(pid);
    assert!(matches!(
        encode_tree(&tree, 0),
        Err(EncodeError::Invalid(_))
    ));
    assert!(encode_tree(&tree, 1).is_ok());

    let global = one(Value::Global {
        module: "m\u{e9}".into(),
        name: "X".into(),
    });
    assert!(matches!(
        encode_tree(&global, 2),
        Err(EncodeError::Invalid(_))
    ));
    assert!(encode_tree(&global, 3).is_ok());
    assert!(encode_tree(&global, 4).is_ok());

    let mut b = Build::new();
    let dangling = b.list(vec![42]);
    let tree = b.finish(dangling);
    assert!(matches!(encode_tree(&tree, 2), Err(EncodeError::Invalid(m)) if m.contains("42")));

    let mut b = Build::new();
    let cls = b.global("builtins", "complex");
    let not_a_tuple = b.int(1);
    let obj = b.push_object(object(ObjectKind::Inst, cls, not_a_tuple));
    let tree = b.finish(obj);
    assert!(matches!(
        encode_tree(&tree, 2),
        Err(EncodeError::Invalid(_))
    ));

    assert_eq!(
        encode_tree(&one(Value::None), 6),
        Err(EncodeError::UnsupportedProtocol(6))
    );
}

#[test]
fn a_shared_global_is_written_once_then_fetched() {
    let mut b = Build::new();
    let g1 = b.global("builtins", "len");
    let g2 = b.global("builtins", "len");
    let root = b.list(vec![g1, g2, g1]);
    let tree = b.finish(root);
    assert_eq!(
        encode_tree(&tree, 2).unwrap(),
        b"\x80\x02]q\x00(c__builtin__\nlen\nq\x01h\x01h\x01e."
    );
}

#[test]
fn build_on_a_plain_value_fetches_that_value_on_later_visits() {
    let mut b = Build::new();
    let d = b.dict(vec![]);
    let (k, v) = (b.str("k"), b.int(1));
    let state = b.dict(vec![(k, v)]);
    let mut built = object(ObjectKind::Built, d, d);
    built.state.push(state);
    let built = b.push_object(built);
    let root = b.list(vec![built, built]);
    let tree = b.finish(root);
    // list, MARK, the dict (memo 1), its state, BUILD, then GET 1 for the second visit.
    assert_eq!(
        encode_tree(&tree, 2).unwrap(),
        b"\x80\x02]q\x00(}q\x01}q\x02X\x01\x00\x00\x00kq\x03K\x01sbh\x01e."
    );
}

#[test]
fn a_tuple_reached_from_itself_is_written_again_then_popped() {
    // t = ([t],): the inner visit writes t (memo 1), the outer one pops and fetches it.
    let mut b = Build::new();
    let list = b.list(vec![]);
    let t = b.tuple(vec![list]);
    b.tree.set(list, Value::List(vec![t]));
    let tree = b.finish(t);
    assert_eq!(
        encode_tree(&tree, 2).unwrap(),
        b"\x80\x02]q\x00h\x00\x85q\x01a0h\x01."
    );
    assert_eq!(
        encode_tree(&tree, 1).unwrap(),
        b"(]q\x00(h\x00tq\x01a1h\x01."
    );
}

#[test]
fn loops_without_a_memoized_node_are_refused_not_followed_forever() {
    // t = (t,) and an object whose arguments hold it: CPython recurses without end.
    let mut b = Build::new();
    let t = b.tuple(vec![]);
    b.tree.set(t, Value::Tuple(vec![t]));
    let tree = b.finish(t);
    assert!(matches!(encode_tree(&tree, 2), Err(EncodeError::Invalid(m)) if m.contains("itself")));

    let mut b = Build::new();
    let cls = b.global("collections", "OrderedDict");
    let args = b.tuple(vec![]);
    let obj = b.push_object(object(ObjectKind::Reduce, cls, args));
    b.tree.set(args, Value::Tuple(vec![obj]));
    let tree = b.finish(obj);
    for p in 0..=5 {
        assert!(matches!(
            encode_tree(&tree, p),
            Err(EncodeError::Invalid(_))
        ));
    }

    // A frozenset holding a tuple holding the frozenset, and a persistent id whose id
    // holds it.
    let mut b = Build::new();
    let fs = b.add(Value::FrozenSet(vec![]));
    let t = b.tuple(vec![fs]);
    b.tree.set(fs, Value::FrozenSet(vec![t]));
    let pid = b.add(Value::PersistentId(t));
    b.tree.set(t, Value::Tuple(vec![fs, pid]));
    let tree = b.finish(fs);
    for p in 0..=5 {
        assert!(encode_tree(&tree, p).is_err());
    }

    // Through a list the same shapes are fine: the list is memoized before its items.
    let mut b = Build::new();
    let cls = b.global("collections", "OrderedDict");
    let list = b.list(vec![]);
    let args = b.tuple(vec![list]);
    let obj = b.push_object(object(ObjectKind::Reduce, cls, args));
    b.tree.set(list, Value::List(vec![obj]));
    let tree = b.finish(obj);
    for p in 0..=5 {
        assert!(encode_tree(&tree, p).is_ok());
    }
}
