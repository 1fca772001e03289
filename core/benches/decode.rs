//! Decoding throughput (input bytes per second) of [`decode`] on three protocol 4 streams:
//! a string-heavy one (20,000 strs of 30 to 450 characters, a quarter of them non-ASCII),
//! a structure-heavy one (a list of 10,000 small dicts) and an int-heavy one (a list of
//! 1,000,000 ints). Timings include dropping the tree, as CPython's include freeing. `cargo bench -p brinery-core
//! --bench decode` runs them under divan.
//!
//! `core/benches/compare_cpython.py decode` runs this binary with
//! `BRINERY_DECODE_REPORT=<dir>` instead: it then writes the streams to `<dir>` (the
//! script checks they equal `pickle.dumps` of the same data and times `pickle.loads` on
//! those very bytes), times each decode itself and prints the timings as JSON.

mod support;

use brinery_core::{decode, encode_tree, DecodeOptions, Tree, Value};
use divan::counter::BytesCount;
use support::{best_time, print_report, structure_heavy};

const PROTOCOL: u8 = 4;

/// The strs of `compare_cpython.py`'s `string_heavy()`: 20,000 of them, a
/// numbered run of "lorem ipsum dolor sit amet, " repeated 1 to 16 times, every fourth
/// ending in "caf\u00e9 \u00fcn\u00efc\u00f6d\u00e9 \u2603".
fn string_heavy() -> Tree {
    let mut tree = Tree::new();
    let items = (0..20_000)
        .map(|i| {
            let mut s = format!("{i:05} ");
            s.push_str(&"lorem ipsum dolor sit amet, ".repeat(i % 16 + 1));
            if i % 4 == 0 {
                s.push_str("caf\u{e9} \u{fc}n\u{ef}c\u{f6}d\u{e9} \u{2603}");
            }
            tree.push(Value::Str(s))
        })
        .collect();
    let root = tree.push(Value::List(items));
    tree.set_root(root);
    tree
}

/// `int_heavy()` of the script: 1,000,000 ints, a third each in the BININT1, BININT2
/// and BININT ranges.
fn int_heavy() -> Tree {
    let mut tree = Tree::new();
    let items = (0..1_000_000i64)
        .map(|i| {
            let v = match i % 3 {
                0 => i % 256,
                1 => (i * 7919) % 65536,
                _ => (i * 2_654_435_761) % (1 << 32) - (1 << 31),
            };
            tree.push(Value::Int(v))
        })
        .collect();
    let root = tree.push(Value::List(items));
    tree.set_root(root);
    tree
}

fn stream(name: &str) -> Vec<u8> {
    let tree = match name {
        "string_heavy" => string_heavy(),
        "int_heavy" => int_heavy(),
        _ => structure_heavy(),
    };
    encode_tree(&tree, PROTOCOL).expect("workload encodes")
}

#[divan::bench(args = ["string_heavy", "structure_heavy", "int_heavy"])]
fn decode_tree(bencher: divan::Bencher, name: &str) {
    let data = stream(name);
    let opts = DecodeOptions::new();
    bencher
        .counter(BytesCount::new(data.len()))
        .bench(|| decode(divan::black_box(&data), &opts).unwrap());
}

fn report(dir: &str) {
    let opts = DecodeOptions::new();
    let mut rows = Vec::new();
    for name in ["string_heavy", "structure_heavy", "int_heavy"] {
        let data = stream(name);
        std::fs::write(format!("{dir}/decode_{name}.pickle"), &data).unwrap();
        // The tree is dropped inside the timing, as CPython's figure includes freeing.
        let secs = best_time(|| drop(decode(std::hint::black_box(&data), &opts).unwrap()));
        rows.push((name, data.len(), secs));
    }
    print_report(&rows);
}

fn main() {
    match std::env::var("BRINERY_DECODE_REPORT") {
        Ok(dir) => report(&dir),
        Err(_) => divan::main(),
    }
}
