//! The JSON writer ([`to_json`]): a tree holding one 16 MiB `bytes`, counted in payload
//! bytes per second (nearly all of it base64, the case CPython's `base64.b64encode` is
//! the peer for; `bindings-c/benches/compare_json.py` times that peer and the whole C
//! call), and the structure-heavy list of 10,000 small dicts, in JSON text bytes per
//! second. Each call writes a fresh `String`, as the C API's `brinery_pickle_to_json`
//! does. `cargo bench -p brinery-core --features json --bench json` runs them under
//! divan.

// Only `structure_heavy` is used here; the report helpers are the other benches'.
#[allow(dead_code)]
mod support;

use brinery_core::json::to_json;
use brinery_core::{Tree, Value};
use divan::counter::BytesCount;
use support::structure_heavy;

fn one_bytes(len: usize) -> Tree {
    let mut tree = Tree::new();
    // A fixed pseudo-random payload (xorshift), so no table entry is favoured.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let data = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let root = tree.push(Value::Bytes(data));
    tree.set_root(root);
    tree
}

#[divan::bench]
fn base64_16mib(bencher: divan::Bencher) {
    let tree = one_bytes(16 << 20);
    bencher
        .counter(BytesCount::new(16usize << 20))
        .bench(|| to_json(divan::black_box(&tree), usize::MAX).unwrap());
}

#[divan::bench]
fn structure_heavy_dicts(bencher: divan::Bencher) {
    let tree = structure_heavy();
    let text_len = to_json(&tree, usize::MAX).unwrap().len();
    bencher
        .counter(BytesCount::new(text_len))
        .bench(|| to_json(divan::black_box(&tree), usize::MAX).unwrap());
}

fn main() {
    divan::main();
}
