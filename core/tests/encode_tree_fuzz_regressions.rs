//! Inputs found by fuzzing (`bindings-c/fuzz`, target `pickle_to_json`) on which
//! decode → `encode_tree` → decode fails: the re-encoded stream does not load.
//!
//! Cause: `BUILD` on a value that is not an object (a persistent id, a global) makes a
//! `Built` object node, and `APPEND`/`SETITEM` after that add to the node's `items`/
//! `entries`. `encode_tree` used to write the items before the `BUILD`, so the decoder saw
//! `APPEND` on a persistent id or a global (`APPEND expects a list`). Fixed by writing
//! the first state before the items for `ObjectKind::Built`.

use brinery_core::{decode, encode_tree, DecodeOptions};

fn round_trips(data: &[u8]) {
    let opts = DecodeOptions::new();
    let tree = decode(data, &opts).expect("the input decodes");
    for protocol in 0..=5 {
        let again = encode_tree(&tree, protocol).expect("encodes");
        if let Err(e) = decode(&again, &opts) {
            panic!("protocol {protocol}: re-encoded stream fails: {e}");
        }
    }
}

#[test]
fn build_then_append_on_a_persistent_id() {
    // PERSID 'a'; UNICODE 's'; BUILD; UNICODE 'i'; APPEND; STOP
    round_trips(b"Pa\nVs\nbVi\na.");
}

#[test]
fn build_then_append_on_a_global() {
    round_trips(b"cmymod\nX\nVs\nbVi\na.");
}

#[test]
fn fuzz_input_8f6e628b() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/fuzz_regressions/pickle_to_json-8f6e628b.pickle"
    );
    round_trips(&std::fs::read(path).unwrap());
}

#[test]
fn build_then_append_on_a_list_still_loads() {
    // The same shape on a list re-encodes to a stream that loads (items go to the list).
    round_trips(b"]Vs\nbVi\na.");
}
