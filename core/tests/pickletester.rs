//! CPython's own unpickling corpus (`Lib/test/pickletester.py`, extracted by
//! `core/tests/vectors/cpython/extract.py`): DATA0-DATA4 decode, and every stream the
//! C unpickler rejects is rejected here too, with an error at an opcode of the stream.

mod common;

use brinery_core::{decode, DecodeErrorKind, DecodeOptions};
use common::{ctext, vector};

/// Streams CPython rejects only after resolving a global (`builtins.len` is not a
/// class): the inert tree cannot know, so they decode to object nodes and the host's
/// resolver rejects them.
const NEEDS_RESOLVING: &[&str] = &[
    "636275696c74696e730a6c656e0a29812e",
    "636275696c74696e730a6c656e0a297d922e",
];

fn bad_streams() -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8(vector("cpython/bad.txt")).unwrap();
    text.lines()
        .map(|line| {
            let mut parts = line.split(' ');
            let test = parts.next().unwrap().to_string();
            let hex = parts.next().unwrap();
            let data = if hex == "-" {
                Vec::new()
            } else {
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect()
            };
            (test, data)
        })
        .collect()
}

#[test]
fn data0_to_data4_decode_to_the_same_value_at_every_protocol() {
    let mut renders = Vec::new();
    for n in 0..5 {
        let data = vector(&format!("cpython/data{n}.pickle"));
        let tree = decode(&data, &DecodeOptions::new()).unwrap_or_else(|e| panic!("DATA{n}: {e}"));
        renders.push(ctext(&tree));
    }
    // The same value (pickletester's create_data()) at five protocols: protocols 0-1
    // build the C instance with copyreg._reconstructor, 2+ with NEWOBJ, and the
    // instance dict's order differs from protocol 3 on; everything else is identical.
    let plain = "[0, 1, 2.0, reduce(global(builtins.complex), (3.0, 0.0)), 1, -1, 255, -255, \
                 -256, 65535, -65535, -65536, 2147483647, -2147483647, -2147483648, \
                 #0=(#1=s\"abc\", #1#, #2=";
    for (n, r) in renders.iter().enumerate() {
        assert!(r.starts_with(plain), "DATA{n}: {r}");
        assert!(r.ends_with(", #2#), #0#, 5]"), "DATA{n}: {r}");
        let c = if n < 2 {
            "reduce(global(copyreg._reconstructor), (global(__main__.C), global(builtins.object), None)"
        } else {
            "newobj(global(__main__.C), ()"
        };
        assert!(r[plain.len()..].starts_with(c), "DATA{n}: {r}");
    }
    assert_eq!(renders[0], renders[1]);
    assert_eq!(renders[3], renders[4]);
}

#[test]
fn every_bad_stream_is_an_error() {
    let streams = bad_streams();
    assert!(streams.len() >= 180, "only {} streams", streams.len());
    let mut failures = Vec::new();
    for (test, data) in &streams {
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        match decode(data, &DecodeOptions::new()) {
            Ok(tree) if NEEDS_RESOLVING.contains(&hex.as_str()) => {
                assert!(
                    ctext(&tree).starts_with("new"),
                    "{test} {hex}: {}",
                    ctext(&tree)
                );
            }
            Ok(tree) => failures.push(format!("{test} {hex}: decoded to {}", ctext(&tree))),
            Err(e) => {
                assert!(
                    e.offset <= data.len(),
                    "{test} {hex}: offset {} past the end",
                    e.offset
                );
                // Stack and mark errors must be found where they happen, not reported as
                // the stream running out later.
                if matches!(test.as_str(), "test_bad_stack" | "test_bad_mark")
                    && matches!(e.kind, DecodeErrorKind::Truncated | DecodeErrorKind::NoStop)
                {
                    failures.push(format!("{test} {hex}: {e} (expected a stack error)"));
                }
                println!("{test:28} {hex:40} {e}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
