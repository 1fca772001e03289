//! Differential test against CPython, run in a python3 subprocess: thousands of mutated
//! vector streams go to both `decode` and `pickle.loads` (through an unpickler that only
//! loads the globals CPython writes for plain data, see
//! `decode_cpython_subprocess.py`). Where CPython returns plain data we must return the
//! same value; where CPython rejects the stream we must not return plain data for it,
//! unless CPython's reason is a `TypeError` (unhashable keys: the tree keeps them).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use brinery_core::{decode, DecodeErrorKind, DecodeOptions, Tree, ValueRef};
use common::mutate::{mutate, Rng};
use common::{case_streams, ctext};

/// True when every node is plain data (no globals, calls, persistent ids, buffers).
fn plain(tree: &Tree) -> bool {
    tree.iter().all(|(_, v)| {
        !matches!(
            v,
            ValueRef::Global { .. }
                | ValueRef::Object(_)
                | ValueRef::PersistentId(_)
                | ValueRef::Extension(_)
                | ValueRef::Buffer { .. }
        )
    })
}

fn cpython_results(streams: &[Vec<u8>]) -> Vec<String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/decode_cpython_subprocess.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut input = Vec::new();
    for s in streams {
        input.extend_from_slice(&(s.len() as u32).to_le_bytes());
        input.extend_from_slice(s);
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "the python3 peer failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), streams.len());
    lines
}

/// The characters of a ctext, sorted: equal for two renderings that differ only in the
/// order of set items.
fn sorted(text: &str) -> Vec<char> {
    let mut c: Vec<char> = text.chars().collect();
    c.sort_unstable();
    c
}

#[test]
fn mutated_streams_decode_like_cpython_subprocess() {
    let bases: Vec<Vec<u8>> = case_streams()
        .into_iter()
        .filter(|(_, _, d, plain)| *plain && d.len() <= 2048)
        .map(|(_, _, d, _)| d)
        .collect();
    let mut rng = Rng(0x0dec_0ded_5eed_0001);
    let mut streams = bases.clone();
    for i in 0..6000 {
        let mut data = bases[i % bases.len()].clone();
        let other = &bases[rng.below(bases.len())];
        mutate(&mut rng, &mut data, other);
        streams.push(data);
    }
    let theirs = cpython_results(&streams);
    let opts = DecodeOptions::new();
    let (mut same, mut both_reject, mut not_lowered, mut set_order) = (0, 0, 0, 0);
    let (mut type_errors, mut frame_crossed) = (0, 0);
    let mut failures = Vec::new();
    for (data, theirs) in streams.iter().zip(&theirs) {
        let ours = decode(data, &opts);
        // CPython's memo is an array indexed by key: a huge LONG_BINPUT key makes it
        // allocate gigabytes, which the peer's address-space limit turns into
        // MemoryError. We keep such keys in a map, so there is nothing to compare.
        if theirs == "OBJECT" || theirs == "ERROR MemoryError" {
            continue;
        }
        match (theirs.strip_prefix("ERROR "), ours) {
            (None, Ok(tree)) if !plain(&tree) => not_lowered += 1,
            (None, Ok(tree)) => {
                let text = ctext(&tree);
                if &text == theirs {
                    same += 1;
                } else if theirs.contains("set{") && sorted(&text) == sorted(theirs) {
                    // CPython iterates sets in hash order, we keep stream order.
                    set_order += 1;
                } else {
                    failures.push(format!("{data:?}\n  ours   {text}\n  python {theirs}"));
                }
            }
            // An opcode running across its frame's end means one thing to
            // `pickle.loads` and another to `pickle.load(file)`: refused on purpose.
            (None, Err(e)) if e.kind == DecodeErrorKind::FrameCrossed => frame_crossed += 1,
            (None, Err(e)) => failures.push(format!("{data:?}\n  ours   {e}\n  python {theirs}")),
            (Some(_), Err(_)) => both_reject += 1,
            (Some(_), Ok(tree)) if !plain(&tree) => {}
            // Python's type errors come from semantics the inert tree does not model on
            // purpose (a list as a dict key or set item is unhashable): any tree the
            // encoder can write must decode, so such streams decode here.
            (Some("TypeError"), Ok(_)) => type_errors += 1,
            (Some(exc), Ok(tree)) => failures.push(format!(
                "{data:?}\n  ours   {}\n  python {exc}",
                ctext(&tree)
            )),
        }
    }
    println!(
        "same value {same}, same up to set order {set_order}, both reject {both_reject}, \
         left as calls {not_lowered}, python type errors {type_errors}, \
         frames crossed {frame_crossed}"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        same > 500 && both_reject > 1000,
        "same {same}, both reject {both_reject}"
    );
}
