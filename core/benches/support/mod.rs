//! What the encode and decode benches share: the structure-heavy workload both measure,
//! the best-of-a-second timing loop, and the JSON line the CPython comparison scripts
//! read. Not a bench itself (a folder module, so cargo does not discover it as one).

use std::time::{Duration, Instant};

use brinery_core::{Tree, Value};

/// `[{"id": i, "name": f"user{i}", "score": i * 1.5, "tags": ["a", "b"]} for i in
/// range(10000)]`: the key and tag strs are one object each in CPython, so one node here.
pub fn structure_heavy() -> Tree {
    let mut tree = Tree::new();
    let keys = ["id", "name", "score", "tags"].map(|k| tree.push(Value::Str(k.into())));
    let (a, b) = (
        tree.push(Value::Str("a".into())),
        tree.push(Value::Str("b".into())),
    );
    let items = (0..10_000i64)
        .map(|i| {
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
            tree.push(Value::Dict(entries))
        })
        .collect();
    let root = tree.push(Value::List(items));
    tree.set_root(root);
    tree
}

/// The best time of `f` over about a second of repeats. What `f` returns is dropped
/// after the clock stops; a workload whose teardown counts drops inside `f`.
pub fn best_time<T>(mut f: impl FnMut() -> T) -> Duration {
    let mut best = Duration::MAX;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed());
        drop(out);
    }
    best
}

/// Prints `{"name": {"bytes": N, "seconds": S}, ...}` on one line.
pub fn print_report(rows: &[(&str, usize, Duration)]) {
    let fields: Vec<String> = rows
        .iter()
        .map(|(name, bytes, secs)| {
            format!(
                "\"{name}\": {{\"bytes\": {bytes}, \"seconds\": {:e}}}",
                secs.as_secs_f64()
            )
        })
        .collect();
    println!("{{{}}}", fields.join(", "));
}
