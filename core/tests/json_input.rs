//! `decode_for_json`, which leaves `str` and `bytes` payloads in the input for the JSON
//! writer: on every stream it gives the text `to_json(&decode(..))` gives, byte for
//! byte, or the same error at the same offset. Checked on the shared vectors (every cut
//! of the small ones, several option sets), on mutated copies of them, and on streams
//! made here (with payloads long enough to be left in the input, 64 bytes or more)
//! for what the borrowing must get right: payloads ending at or crossing a
//! frame's end, `BINBYTES8`/`BYTEARRAY8`, out-of-band buffers, a memoized payload
//! written twice, `BUILD` on a payload, reductions lowered from a payload, limits.

mod common;

use brinery_core::decode::decode_prefix;
use brinery_core::json::{decode_for_json, to_json};
use brinery_core::opcode::*;
use brinery_core::{DecodeOptions, Limits, Py2Strings, ValueRef};
use common::case_streams;
use common::mutate::{mutate, seeds, Rng};

/// The JSON (or the error, as text with its offset) and the length of the pickle, as
/// the tree path makes it.
fn reference(data: &[u8], opts: &DecodeOptions, limit: usize) -> Result<(String, usize), String> {
    let (tree, used) = decode_prefix(data, opts).map_err(|e| format!("{e:?}"))?;
    let text = to_json(&tree, limit).map_err(|e| format!("{e:?}"))?;
    Ok((text, used))
}

/// The same through `decode_for_json`.
fn borrowed(data: &[u8], opts: &DecodeOptions, limit: usize) -> Result<(String, usize), String> {
    let (tree, used) = decode_for_json(data, opts).map_err(|e| format!("{e:?}"))?;
    let text = tree.to_json(limit).map_err(|e| format!("{e:?}"))?;
    Ok((text, used))
}

/// Asserts both paths agree on `data` and on every cut of it; returns the whole
/// stream's JSON.
fn same_on_every_cut(data: &[u8], opts: &DecodeOptions) -> Result<String, String> {
    for end in 0..data.len() {
        let part = &data[..end];
        assert_eq!(
            borrowed(part, opts, usize::MAX),
            reference(part, opts, usize::MAX),
            "cut at {end} of {data:?}"
        );
    }
    let whole = borrowed(data, opts, usize::MAX);
    assert_eq!(whole, reference(data, opts, usize::MAX), "{data:?}");
    whole.map(|(text, _)| text)
}

fn option_sets() -> Vec<DecodeOptions> {
    let mut py2_bytes = DecodeOptions::new();
    py2_bytes.py2_strings = Py2Strings::Bytes;
    py2_bytes.buffers = Some(4);
    let mut latin1 = DecodeOptions::new();
    latin1.py2_strings = Py2Strings::Latin1;
    latin1.keep_reductions = true;
    let mut tight = DecodeOptions::new();
    tight.limits = Limits {
        max_depth: 3,
        max_memo: 4,
        max_alloc: 700,
    };
    vec![DecodeOptions::new(), py2_bytes, latin1, tight]
}

#[test]
fn every_vector_gives_the_same_json_or_error() {
    let streams = case_streams();
    assert!(streams.len() > 500);
    for (name, p, data, _) in &streams {
        for opts in option_sets() {
            if data.len() <= 1024 {
                let _ = same_on_every_cut(data, &opts);
            } else {
                assert_eq!(
                    borrowed(data, &opts, usize::MAX),
                    reference(data, &opts, usize::MAX),
                    "{name}.p{p}"
                );
            }
            // An output limit the text runs into, on either side of its length.
            if let Ok((text, _)) = reference(data, &opts, usize::MAX) {
                for limit in [text.len() / 2, text.len(), text.len() + 1] {
                    assert_eq!(
                        borrowed(data, &opts, limit),
                        reference(data, &opts, limit),
                        "{name}.p{p} limit {limit}"
                    );
                }
            }
        }
    }
}

#[test]
fn mutated_vectors_give_the_same_json_or_error() {
    let streams = seeds();
    let opts = option_sets();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..20_000 {
        let mut data = streams[round % streams.len()].clone();
        let other = &streams[rng.below(streams.len())];
        mutate(&mut rng, &mut data, other);
        let o = &opts[round % opts.len()];
        assert_eq!(
            borrowed(&data, o, usize::MAX),
            reference(&data, o, usize::MAX),
            "round {round}: {data:?}"
        );
    }
}

fn le8(n: usize) -> [u8; 8] {
    (n as u64).to_le_bytes()
}

fn le4(n: usize) -> [u8; 4] {
    (n as u32).to_le_bytes()
}

/// `n` bytes that are not all alike.
fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn stream(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn bytes8_and_bytearray8_payloads_stay_in_the_input() {
    let (a, b) = (payload(200, 1), payload(100, 2));
    let data = stream(&[
        &[PROTO, 5, BINBYTES8],
        &le8(a.len()),
        &a,
        &[BYTEARRAY8],
        &le8(b.len()),
        &b,
        &[TUPLE2, STOP],
    ]);
    let text = same_on_every_cut(&data, &DecodeOptions::new()).unwrap();
    assert!(text.starts_with(r#"{"$tuple":[{"$bytes":""#), "{text}");
    assert!(text.contains(r#"{"$bytearray":""#), "{text}");
    // The payloads are read from the input, not copied into the tree.
    let (tree, _) = decode_for_json(&data, &DecodeOptions::new()).unwrap();
    let t = tree.structure();
    let ValueRef::Tuple(items) = t.get(t.root()) else {
        panic!("a tuple")
    };
    assert_eq!(t.get(items[0]), ValueRef::Bytes(&[]));
    assert_eq!(t.get(items[1]), ValueRef::ByteArray(&[]));
}

#[test]
fn a_memoized_payload_referenced_twice_is_written_once() {
    let long = payload(100, 3);
    let data = stream(&[
        &[PROTO, 4, EMPTY_LIST, MEMOIZE, MARK, BINBYTES],
        &le4(long.len()),
        &long,
        &[MEMOIZE, BINGET, 1, SHORT_BINBYTES, 3],
        b"abc",
        &[MEMOIZE, BINGET, 2, BINUNICODE],
        &le4(70),
        &[b'x'; 70],
        &[MEMOIZE, BINGET, 3, APPENDS, STOP],
    ]);
    let text = same_on_every_cut(&data, &DecodeOptions::new()).unwrap();
    let x70 = "x".repeat(70);
    assert!(
        text.starts_with(r#"[{"$def":0,"value":{"$bytes":""#),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            r#"{{"$ref":0}},{{"$bytes":"YWJj"}},{{"$bytes":"YWJj"}},{{"$def":1,"value":"{x70}"}},{{"$ref":1}}]"#
        )),
        "{text}"
    );
}

#[test]
fn payloads_at_and_across_a_frame_end() {
    let p = payload(100, 4);
    // The payload ends exactly where its frame does; STOP is in the next frame.
    let at_end = stream(&[
        &[PROTO, 4, FRAME],
        &le8(2 + p.len()),
        &[SHORT_BINBYTES, p.len() as u8],
        &p,
        &[FRAME],
        &le8(1),
        &[STOP],
    ]);
    let text = same_on_every_cut(&at_end, &DecodeOptions::new()).unwrap();
    assert!(text.starts_with(r#"{"$bytes":""#), "{text}");
    // The payload runs one byte past its frame: an error at the opcode, both ways.
    let across = stream(&[
        &[PROTO, 4, FRAME],
        &le8(1 + p.len()),
        &[SHORT_BINBYTES, p.len() as u8],
        &p,
        &[STOP],
    ]);
    let err = same_on_every_cut(&across, &DecodeOptions::new()).unwrap_err();
    assert!(
        err.contains("FrameCrossed") && err.contains("offset: 11"),
        "{err}"
    );
}

#[test]
fn out_of_band_buffers_next_to_payloads() {
    let p = payload(90, 5);
    let data = stream(&[
        &[
            PROTO,
            5,
            NEXT_BUFFER,
            READONLY_BUFFER,
            NEXT_BUFFER,
            BINBYTES8,
        ],
        &le8(p.len()),
        &p,
        &[READONLY_BUFFER, TUPLE3, STOP],
    ]);
    let mut opts = DecodeOptions::new();
    opts.buffers = Some(2);
    let text = same_on_every_cut(&data, &opts).unwrap();
    assert!(
        text.starts_with(
            r#"{"$tuple":[{"$buffer":0,"readonly":true},{"$buffer":1,"readonly":false},{"$bytes":""#
        ),
        "{text}"
    );
    // One buffer too few: the same error either way.
    opts.buffers = Some(1);
    assert!(same_on_every_cut(&data, &opts)
        .unwrap_err()
        .contains("MissingBuffer"));
}

#[test]
fn build_on_a_payload_keeps_it() {
    let (b, s) = (payload(70, 6), "é".repeat(40));
    let data = stream(&[
        &[PROTO, 4, SHORT_BINBYTES, b.len() as u8],
        &b,
        &[
            MEMOIZE,
            EMPTY_DICT,
            BUILD,
            BINGET,
            0,
            SHORT_BINUNICODE,
            s.len() as u8,
        ],
        s.as_bytes(),
        &[NONE, BUILD, TUPLE3, STOP],
    ]);
    let text = same_on_every_cut(&data, &DecodeOptions::new()).unwrap();
    assert!(
        text.contains(r#"{"$object":"built","callable":{"$bytes":""#),
        "{text}"
    );
    assert!(
        text.contains(&format!(r#"{{"$object":"built","callable":"{s}""#)),
        "{text}"
    );
}

#[test]
fn reductions_lowered_from_payloads_in_the_input() {
    let p = payload(80, 7);
    // bytearray(b"...") as protocol 3 writes it, and a global named by two strs.
    let data = stream(&[
        &[PROTO, 3, GLOBAL],
        b"builtins\nbytearray\n",
        &[BINBYTES],
        &le4(p.len()),
        &p,
        &[TUPLE1, REDUCE, SHORT_BINUNICODE, 2],
        b"os",
        &[SHORT_BINUNICODE, 6],
        b"system",
        &[STACK_GLOBAL, EMPTY_DICT, MARK, SHORT_BINUNICODE, 2],
        b"$k",
        &[BININT1, 1, SHORT_BINUNICODE, 1],
        b"k",
        &[BININT1, 2, SETITEMS, TUPLE3, STOP],
    ]);
    let text = same_on_every_cut(&data, &DecodeOptions::new()).unwrap();
    assert!(text.starts_with(r#"{"$tuple":[{"$bytearray":""#), "{text}");
    assert!(
        text.ends_with(r#",{"$global":["os","system"]},{"$dict":[["$k",1],["k",2]]}]}"#),
        "{text}"
    );
}

#[test]
fn python2_strings_and_surrogates() {
    // Long enough to stay in the input: 75 ASCII bytes, 22 lone surrogates.
    let abc = "abc".repeat(25);
    let data = stream(&[
        &[PROTO, 2, SHORT_BINSTRING, 75],
        abc.as_bytes(),
        &[SHORT_BINSTRING, 2, 0xe9, 0xe9, BINUNICODE],
        &le4(66),
        &[0xed, 0xa0, 0x80].repeat(22),
        &[TUPLE3, STOP],
    ]);
    let (yabc, wtf8) = ("YWJj".repeat(25), "7aCA".repeat(22));
    let mut opts = DecodeOptions::new();
    for (py2, want) in [
        (
            Py2Strings::Latin1,
            format!(r#"{{"$tuple":["{abc}","éé",{{"$wtf8":"{wtf8}"}}]}}"#),
        ),
        (
            Py2Strings::Bytes,
            format!(
                r#"{{"$tuple":[{{"$bytes":"{yabc}"}},{{"$bytes":"6ek="}},{{"$wtf8":"{wtf8}"}}]}}"#
            ),
        ),
    ] {
        opts.py2_strings = py2;
        assert_eq!(same_on_every_cut(&data, &opts).unwrap(), want);
    }
    opts.py2_strings = Py2Strings::Ascii;
    assert!(same_on_every_cut(&data, &opts)
        .unwrap_err()
        .contains("NonAscii"));
}

#[test]
fn limits_hold_with_payloads_in_the_input() {
    let big = payload(5000, 8);
    let data = stream(&[&[PROTO, 4, BINBYTES], &le4(big.len()), &big, &[STOP]]);
    // The decoder's allocation limit charges the payload though nothing is copied.
    let mut opts = DecodeOptions::new();
    opts.limits.max_alloc = 4000;
    assert!(same_on_every_cut(&data, &opts)
        .unwrap_err()
        .contains("AllocLimit"));
    // The text's limit.
    let opts = DecodeOptions::new();
    for limit in [0, 100, 6000, 6700, 6720] {
        assert_eq!(
            borrowed(&data, &opts, limit),
            reference(&data, &opts, limit),
            "limit {limit}"
        );
    }
    assert!(borrowed(&data, &opts, 100)
        .unwrap_err()
        .contains("TooLarge"));
}
