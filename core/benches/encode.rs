//! Encoding throughput (output bytes per second) of [`encode_tree`] at protocol 4 on two
//! workloads: a data-heavy tree (64 strs and 64 bytes of 32 KiB) and a structure-heavy one
//! (a list of 10,000 small dicts). `cargo bench -p brinery-core --bench encode` runs them
//! under divan.
//!
//! `core/benches/compare_cpython.py` runs this binary with `BRINERY_ENCODE_REPORT=<dir>`
//! instead: it then times each workload itself, writes the streams to `<dir>` (the script
//! checks they equal `pickle.dumps` of the same data, so both sides do the same work) and
//! prints the timings as JSON.

use std::time::{Duration, Instant};

use brinery_core::{encode_tree, Tree, Value};
use divan::counter::BytesCount;

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

/// `[{"id": i, "name": f"user{i}", "score": i * 1.5, "tags": ["a", "b"]} for i in
/// range(10000)]`: the key and tag strs are one object each in CPython, so one node here.
fn structure_heavy() -> Tree {
    let mut tree = Tree::new();
    let keys = ["id", "name", "score", "tags"].map(|k| tree.push(Value::Str(k.into())));
    let (a, b) = (
        tree.push(Value::Str("a".into())),
        tree.push(Value::Str("b".into())),
    );
    let mut items = Vec::with_capacity(10_000);
    for i in 0..10_000i64 {
        let id = tree.push(Value::Int(i));
        let name = tree.push(Value::Str(format!("user{i}")));
        let score = tree.push(Value::Float(i as f64 * 1.5));
        let tags = tree.push(Value::List(vec![a, b]));
        let entries = vec![
            (keys[0], id),
            (keys[1], name),
            (keys[2], score),
            (keys[3], tags),
        ];
        items.push(tree.push(Value::Dict(entries)));
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

/// Best time per encode over about a second of repeats.
fn best_time(tree: &Tree) -> Duration {
    let mut best = Duration::MAX;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        let t = Instant::now();
        let out = encode_tree(std::hint::black_box(tree), PROTOCOL).unwrap();
        best = best.min(t.elapsed());
        drop(out);
    }
    best
}

fn report(dir: &str) {
    let mut fields = Vec::new();
    for (name, tree) in workloads() {
        let data = encode_tree(&tree, PROTOCOL).unwrap();
        std::fs::write(format!("{dir}/{name}.pickle"), &data).unwrap();
        let secs = best_time(&tree).as_secs_f64();
        fields.push(format!(
            "\"{name}\": {{\"bytes\": {}, \"seconds\": {secs:e}}}",
            data.len()
        ));
    }
    println!("{{{}}}", fields.join(", "));
}

fn main() {
    match std::env::var("BRINERY_ENCODE_REPORT") {
        Ok(dir) => report(&dir),
        Err(_) => divan::main(),
    }
}
