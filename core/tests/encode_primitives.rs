//! The encoder's primitive forms against CPython: ints around every width boundary,
//! floats (binary and protocol 0's `repr` text), strs (including lone surrogates and
//! protocol 0's raw-unicode-escape) and bytes, each as a whole `pickle.dumps` stream at
//! every protocol, with CPython as the oracle (one `python3` subprocess lists the cases
//! and the bytes it writes for them), and a 75 KB `LONG4` (which, unlike a bytes payload
//! that size, stays inside its frame). Also the frame layout and `take_committed`.

mod encode_support;

use brinery_core::opcode::{FRAME, FRAME_SIZE_TARGET, PROTO};
use brinery_core::{pyfmt, Encoder};
use encode_support::*;

const ORACLE: &str = r#"
import json, pickle, struct
ints = set()
for k in list(range(0, 72)) + [127, 128, 255, 256, 2039, 2040, 2041, 2047, 2048]:
    for d in (-1, 0, 1):
        ints.add(2**k + d)
        ints.add(-(2**k) + d)
floats = [0.0, -0.0, 0.1, 1.5, -2.5, 1e16, 1e15, 1e22, 1e-5, 1e-4, 5e-324, 2.2250738585072014e-308,
          1.7976931348623157e308, 9007199254740993.0, 123456789.123, 1 / 3, float("inf"),
          float("-inf"), float("nan")]
strs = ["", "a", "\x00\n\r\\\x1a", "".join(map(chr, range(256))), "\ud800", "\udfff\ud800",
        "\U0001f600", "\u20ac" * 300, "x" * 255, "x" * 256, "\xe9" * 128, "tab\there 'q' \"dq\""]
blobs = [b"", b"\x00" * 255, b"\xff" * 256, bytes(range(256)), b"latin1 \xe9"]
out = []
for p in range(6):
    for v in sorted(ints):
        out.append(["int", str(v), p, pickle.dumps(v, protocol=p).hex()])
    for v in floats:
        out.append(["float", struct.pack(">d", v).hex(), p, pickle.dumps(v, protocol=p).hex()])
    for v in strs:
        out.append(["str", v.encode("utf-8", "surrogatepass").hex(), p,
                    pickle.dumps(v, protocol=p).hex()])
    for v in blobs:
        out.append(["bytes", v.hex(), p, pickle.dumps(v, protocol=p).hex()])
        out.append(["bytearray", v.hex(), p, pickle.dumps(bytearray(v), protocol=p).hex()])
    for v in (True, False, None):
        out.append(["atom", repr(v), p, pickle.dumps(v, protocol=p).hex()])
    # LONG4 of 75 KB: written through the frame, unlike bytes and str payloads that size
    # (no decimal digits: CPython refuses to print them, and they are slow to make).
    if p >= 2:
        for v in (2**600000 - 12345, -(2**600000)):
            le = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
            out.append(["int_le", le.hex(), p, pickle.dumps(v, protocol=p).hex()])
print(json.dumps(out))
"#;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn encode_one(kind: &str, arg: &str, proto: u8) -> Vec<u8> {
    let mut enc = Encoder::new(proto).unwrap();
    enc.begin();
    enc.boundary();
    match kind {
        "int" => match arg.parse::<i64>() {
            Ok(v) => enc.int(v),
            Err(_) => enc.big_int(&pyfmt::decimal_to_le(arg.as_bytes()).unwrap()),
        },
        "int_le" => enc.big_int(&unhex(arg)),
        "float" => enc.float(f64::from_bits(u64::from_str_radix(arg, 16).unwrap())),
        "str" => {
            enc.str_utf8(&unhex(arg));
            enc.memoize();
        }
        "bytes" => {
            enc.bytes(&unhex(arg));
            enc.memoize();
        }
        "bytearray" => {
            enc.bytearray(&unhex(arg));
            enc.memoize();
        }
        "atom" => match arg {
            "True" => enc.bool(true),
            "False" => enc.bool(false),
            _ => enc.none(),
        },
        other => panic!("unknown kind {other}"),
    }
    enc.finish()
}

#[test]
fn primitives_match_cpython_at_every_protocol_subprocess() {
    let out = run_python(ORACLE, &[]);
    let cases: Vec<(String, String, u8, String)> = serde_json::from_str(&out).unwrap();
    assert!(cases.len() > 3000, "the oracle lists the cases");
    let mut failures = Vec::new();
    for (kind, arg, proto, expected) in &cases {
        let ours = encode_one(kind, arg, *proto);
        let expected = unhex(expected);
        if ours != expected {
            failures.push(format!(
                "{kind} {} at protocol {proto}: {}",
                &arg[..arg.len().min(40)],
                first_difference(&ours, &expected)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Walks a protocol 4+ stream's top level: (offset, length) of each `FRAME`'s contents,
/// stopping at the first byte that is not a frame.
fn frames(data: &[u8]) -> Vec<(usize, usize)> {
    assert_eq!(data[0], PROTO);
    let mut at = 2;
    let mut out = Vec::new();
    while at < data.len() && data[at] == FRAME {
        let len = u64::from_le_bytes(data[at + 1..at + 9].try_into().unwrap()) as usize;
        out.push((at + 9, len));
        at += 9 + len;
    }
    out
}

/// A list of `n` bytes objects of `size` bytes each, written as a host would.
fn list_of_blobs(enc: &mut Encoder, n: usize, size: usize) {
    use brinery_core::encode::Batch;
    enc.boundary();
    enc.empty_list();
    enc.memoize();
    for i in 0..n {
        enc.batch_item_begin(Batch::List, i, n);
        enc.boundary();
        enc.bytes(&vec![i as u8; size]);
        enc.memoize();
        enc.batch_item_end(Batch::List, i, n);
    }
}

#[test]
fn frames_close_at_the_first_object_boundary_past_64_kib() {
    let mut enc = Encoder::new(4).unwrap();
    enc.begin();
    list_of_blobs(&mut enc, 200, 1000);
    let data = enc.finish();
    let frames = frames(&data);
    assert_eq!(frames.len(), 4, "about 200 KB in frames of at least 64 KiB");
    let (last_start, last_len) = frames[frames.len() - 1];
    assert_eq!(
        last_start + last_len,
        data.len(),
        "every byte after PROTO is framed"
    );
    for &(start, len) in &frames[..frames.len() - 1] {
        assert!(len >= FRAME_SIZE_TARGET);
        // An item is at most 1000 + 6 bytes, so a frame overshoots by less than one item.
        assert!(len < FRAME_SIZE_TARGET + 1010, "frame of {len} bytes");
        // The next frame starts with a new object: SHORT_BINBYTES or BINBYTES.
        let next = data[start + len + 9];
        assert!(
            next == b'B' || next == b'C',
            "next frame starts with {next:#x}"
        );
    }
}

#[test]
fn large_payloads_are_written_outside_frames() {
    let mut enc = Encoder::new(5).unwrap();
    enc.begin();
    list_of_blobs(&mut enc, 3, FRAME_SIZE_TARGET);
    let data = enc.finish();
    // PROTO, then `]` MEMOIZE `(`: 3 bytes, too few for a FRAME header (CPython drops
    // frames under 4 bytes), then each header and payload unframed, then `e.` likewise.
    assert!(frames(&data).is_empty());
    assert_eq!(&data[2..5], b"]\x94(");
    let item = 5 + FRAME_SIZE_TARGET + 1;
    for i in 0..3 {
        let at = 5 + i * item;
        assert_eq!(data[at], brinery_core::opcode::BINBYTES);
        assert_eq!(data[at + 5], i as u8);
        assert_eq!(data[at + item - 1], brinery_core::opcode::MEMOIZE);
    }
    assert_eq!(&data[5 + 3 * item..], b"e.");
    // With more around it, the bytes before a large payload get their own frame.
    let mut enc = Encoder::new(4).unwrap();
    enc.begin();
    enc.boundary();
    enc.str("a small str first");
    enc.memoize();
    enc.boundary();
    enc.bytes(&vec![7; FRAME_SIZE_TARGET]);
    let data = enc.finish();
    assert_eq!(frames(&data), [(11, 20)]);
    assert_eq!(data[31], brinery_core::opcode::BINBYTES);
}

#[test]
fn take_committed_streams_the_same_bytes() {
    let whole = {
        let mut enc = Encoder::new(4).unwrap();
        enc.begin();
        list_of_blobs(&mut enc, 300, 700);
        enc.finish()
    };
    let mut enc = Encoder::new(4).unwrap();
    enc.begin();
    let mut streamed = Vec::new();
    let n = 300;
    use brinery_core::encode::Batch;
    enc.boundary();
    enc.empty_list();
    enc.memoize();
    for i in 0..n {
        enc.batch_item_begin(Batch::List, i, n);
        enc.boundary();
        streamed.extend(enc.take_committed());
        enc.bytes(&vec![i as u8; 700]);
        enc.memoize();
        enc.batch_item_end(Batch::List, i, n);
    }
    streamed.extend(enc.finish());
    assert_eq!(streamed, whole);
}

#[test]
fn fix_imports_maps_globals_below_protocol_3_unless_turned_off() {
    // `pickle.dumps(range, p)` and `pickle.Pickler(f, p, fix_imports=False)`.
    let global = |proto: u8, fix: bool| {
        let mut enc = Encoder::new(proto).unwrap();
        enc.set_fix_imports(fix);
        enc.begin();
        enc.global("builtins", "range");
        enc.finish()
    };
    for proto in 0..=2u8 {
        let header: &[u8] = if proto >= 2 { &[PROTO, 2] } else { &[] };
        assert_eq!(
            global(proto, true),
            [header, b"c__builtin__\nxrange\n."].concat()
        );
        assert_eq!(
            global(proto, false),
            [header, b"cbuiltins\nrange\n."].concat()
        );
    }
    // From protocol 3 the names are Python 3's either way.
    assert_eq!(global(3, true), b"\x80\x03cbuiltins\nrange\n.");
    assert_eq!(global(3, false), global(3, true));
}
