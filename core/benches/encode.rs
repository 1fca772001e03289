//! Encoding throughput (output bytes per second) of [`encode_tree`] at protocol 4 on two
//! workloads: a data-heavy tree (64 strs and 64 bytes of 32 KiB) and a structure-heavy one
//! (a list of 10,000 small dicts). `cargo bench -p brinery-core --bench encode` runs them
//! under divan.
//!
//! `core/benches/compare_cpython.py` runs this binary with `BRINERY_ENCODE_REPORT=<dir>`
//! instead: it then times each workload itself, writes the streams to `<dir>` (the script
//! checks they equal `pickle.dumps` of the same data, so both sides do the same work) and
//! prints the timings as JSON.

mod support;

use brinery_core::{encode_tree, Tree, Value};
use divan::counter::BytesCount;
use support::{best_time, print_report, structure_heavy};

const PROTOCOL: u8 = 4;

/// `[("s%04d" % i) * 6554 for i in range(64)] + [bytes([i]) * 32768 for i in range(64)]`
fn data_heavy() -> Tree {
    let mut tree = Tree::new();
    let mut items = Vec::new();
    for i in 0..64 {
        items.push(tree.push(Value::Str(format!("s{i:04}").repeat(6554))));
    }
    for i in 0..64u8 {
        items.push(tree.push(Value::Bytes(vec![i; 32768])));
    }
    let root = tree.push(Value::List(items));
    tree.set_root(root);
    tree
}

fn workloads() -> [(&'static str, Tree); 2] {
    [
        ("data_heavy", data_heavy()),
        ("structure_heavy", structure_heavy()),
    ]
}

#[divan::bench(args = ["data_heavy", "structure_heavy"])]
fn encode(bencher: divan::Bencher, name: &str) {
    let tree = match name {
        "data_heavy" => data_heavy(),
        _ => structure_heavy(),
    };
    let len = encode_tree(&tree, PROTOCOL).unwrap().len();
    bencher
        .counter(BytesCount::new(len))
        .bench(|| encode_tree(divan::black_box(&tree), PROTOCOL).unwrap());
}

fn report(dir: &str) {
    let mut rows = Vec::new();
    for (name, tree) in workloads() {
        let data = encode_tree(&tree, PROTOCOL).unwrap();
        std::fs::write(format!("{dir}/{name}.pickle"), &data).unwrap();
        let secs = best_time(|| encode_tree(std::hint::black_box(&tree), PROTOCOL).unwrap());
        rows.push((name, data.len(), secs));
    }
    print_report(&rows);
}

fn main() {
    match std::env::var("BRINERY_ENCODE_REPORT") {
        Ok(dir) => report(&dir),
        Err(_) => divan::main(),
    }
}
