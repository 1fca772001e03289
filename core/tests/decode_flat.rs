//! `decode::flat`: flat messages written with the encoder read back as written, what
//! CPython's pickler writes for the same values (memo opcodes removed by
//! `pickletools.optimize`) reads the same, and on mutated streams the flat reader never
//! accepts a stream the full machine reads differently or refuses; truncated streams are
//! refused without a panic.

mod common;

use std::process::Command;

use brinery_core::decode::flat::{read_flat_tuple, Item, Scalar};
use brinery_core::{decode, DecodeOptions, Encoder, Tree, ValueRef};
use common::mutate::{mutate, Rng};

fn write_scalar(enc: &mut Encoder, s: &Scalar<'_>) {
    match *s {
        Scalar::None => enc.none(),
        Scalar::Bool(b) => enc.bool(b),
        Scalar::Int(v) => enc.int(v),
        Scalar::Float(v) => enc.float(v),
        Scalar::Str(u) => enc.str_utf8(u),
    }
}

/// The flat message of `items`, lists in runs of `batch` (`MARK ... APPENDS`), or with
/// `APPEND` after each item when `batch` is 1.
fn write(proto: u8, items: &[Item<'_>], batch: usize) -> Vec<u8> {
    let mut enc = Encoder::new(proto).unwrap();
    enc.begin_unframed();
    enc.tuple_begin(items.len());
    for item in items {
        match item {
            Item::Scalar(s) => write_scalar(&mut enc, s),
            Item::List(list) => {
                enc.empty_list();
                for run in list.chunks(batch) {
                    if batch == 1 {
                        write_scalar(&mut enc, &run[0]);
                        enc.append();
                    } else {
                        enc.mark();
                        run.iter().for_each(|s| write_scalar(&mut enc, s));
                        enc.appends();
                    }
                }
            }
        }
    }
    enc.tuple_end(items.len());
    enc.finish()
}

fn scalars() -> Vec<Scalar<'static>> {
    let mut out = vec![Scalar::None, Scalar::Bool(true), Scalar::Bool(false)];
    for v in [
        0i64,
        1,
        255,
        256,
        65535,
        65536,
        -1,
        -256,
        i32::MAX as i64,
        i32::MIN as i64,
        i32::MAX as i64 + 1,
        i32::MIN as i64 - 1,
        1 << 40,
        -(1 << 40),
        i64::MAX,
        i64::MIN,
    ] {
        out.push(Scalar::Int(v));
    }
    for v in [0.0, -0.0, 1.5, f64::INFINITY, f64::MIN_POSITIVE, 1e300] {
        out.push(Scalar::Float(v));
    }
    let long: &'static [u8] = Box::leak(vec![b'x'; 300].into_boxed_slice());
    out.extend([
        Scalar::Str(b""),
        Scalar::Str("é€𝄞".as_bytes()),
        Scalar::Str(&long[..255]),
        Scalar::Str(long),
        // a lone surrogate (U+D800), as `surrogatepass` writes it
        Scalar::Str(b"a\xed\xa0\x80"),
    ]);
    out
}

#[test]
fn messages_written_flat_read_back_as_written() {
    let all = scalars();
    let many: Vec<Scalar<'_>> = (0..2500).map(|i| all[i % all.len()]).collect();
    let shapes: Vec<Vec<Item<'_>>> = vec![
        vec![],
        vec![Item::Scalar(Scalar::Bool(true)), Item::List(all.clone())],
        vec![
            Item::Scalar(Scalar::Int(3)),
            Item::Scalar(Scalar::Int(7)),
            Item::List(many.clone()),
        ],
        vec![
            Item::List(vec![]),
            Item::List(all.clone()),
            Item::List(many),
            Item::Scalar(Scalar::None),
        ],
        all.iter().map(|s| Item::Scalar(*s)).collect(),
    ];
    for proto in 2..=5 {
        for items in &shapes {
            for batch in [1, 7, 1000] {
                let data = write(proto, items, batch);
                assert_eq!(
                    read_flat_tuple(&data).as_ref(),
                    Some(items),
                    "protocol {proto}, batch {batch}"
                );
                // The full machine reads the same values.
                let tree = decode(&data, &DecodeOptions::default()).unwrap();
                assert_eq!(from_tree(&tree).as_ref(), Some(items));
                // Cut anywhere: refused, no panic (every cut of the short ones).
                for cut in (0..data.len()).step_by(data.len() / 400 + 1) {
                    assert_eq!(read_flat_tuple(&data[..cut]), None);
                }
            }
        }
    }
}

/// The flat items of a decoded tree, or None if it is not a flat message's value.
fn from_tree(tree: &Tree) -> Option<Vec<Item<'_>>> {
    let scalar = |id| {
        Some(match tree.get(id) {
            ValueRef::None => Scalar::None,
            ValueRef::Bool(b) => Scalar::Bool(b),
            ValueRef::Int(v) => Scalar::Int(v),
            ValueRef::Float(v) => Scalar::Float(v),
            ValueRef::Str(s) => Scalar::Str(s.as_bytes()),
            ValueRef::SurrogateStr(s) => Scalar::Str(s),
            _ => return None,
        })
    };
    let ValueRef::Tuple(items) = tree.get(tree.root()) else {
        return None;
    };
    items
        .iter()
        .map(|&id| match tree.get(id) {
            ValueRef::List(list) => list
                .iter()
                .map(|&i| scalar(i))
                .collect::<Option<_>>()
                .map(Item::List),
            _ => scalar(id).map(Item::Scalar),
        })
        .collect()
}

#[test]
fn what_cpython_writes_for_flat_values_reads_the_same() {
    // Memo opcodes removed, and no frames (protocols 2 and 3; `optimize` frames 4+).
    let script = r#"
import pickle, pickletools, sys
values = [
    (True, [0, 1, 255, 256, 65535, 65536, -1, 2**31, -2**31 - 1, 2**63 - 1, -2**63, 1.5, -0.0, None, False, "", "é€𝄞", "x" * 300]),
    (1, 2, list(range(-2000, 2000, 3))),
    (None, "a", [], 2.5),
]
for proto in (2, 3):
    for v in values:
        sys.stdout.write(pickletools.optimize(pickle.dumps(v, proto)).hex() + "\n")
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let streams: Vec<Vec<u8>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect();
    assert_eq!(streams.len(), 6);
    for data in &streams {
        let tree = decode(data, &DecodeOptions::default()).unwrap();
        let expected = from_tree(&tree).expect("a flat value");
        assert_eq!(read_flat_tuple(data), Some(expected), "{data:02x?}");
    }
    let first = read_flat_tuple(&streams[0]).unwrap();
    assert_eq!(first[0], Item::Scalar(Scalar::Bool(true)));
    let Item::List(list) = &first[1] else {
        panic!("a list")
    };
    assert_eq!(list[9], Scalar::Int(i64::MAX));
    assert_eq!(list[10], Scalar::Int(i64::MIN));
    assert_eq!(list[16], Scalar::Str("é€𝄞".as_bytes()));
}

#[test]
fn a_flat_reader_never_accepts_what_the_machine_reads_otherwise() {
    let all = scalars();
    let seeds: Vec<Vec<u8>> = vec![
        write(
            5,
            &[Item::Scalar(Scalar::Bool(true)), Item::List(all.clone())],
            1000,
        ),
        write(
            4,
            &[
                Item::Scalar(Scalar::Int(9)),
                Item::Scalar(Scalar::None),
                Item::List(all.clone()),
            ],
            3,
        ),
        write(
            2,
            &all.iter().map(|s| Item::Scalar(*s)).collect::<Vec<_>>(),
            1,
        ),
    ];
    let mut rng = Rng(0x5eed_f1a7);
    let mut accepted = 0;
    for round in 0..20_000 {
        let mut data = seeds[round % seeds.len()].clone();
        mutate(&mut rng, &mut data, &seeds[(round + 1) % seeds.len()]);
        if let Some(items) = read_flat_tuple(&data) {
            accepted += 1;
            let tree = decode(&data, &DecodeOptions::default()).unwrap_or_else(|e| {
                panic!("flat reader accepted what the machine refuses ({e}): {data:02x?}")
            });
            // (as text: a mutated float may be a NaN, unequal to itself)
            assert_eq!(
                format!("{:?}", from_tree(&tree)),
                format!("{:?}", Some(items)),
                "{data:02x?}"
            );
        }
    }
    // (the mutations keep a good share of streams flat: the check above ran)
    assert!(accepted > 1000, "only {accepted} mutated streams were flat");
}

#[test]
fn anything_else_is_refused() {
    let ok = write(
        5,
        &[
            Item::Scalar(Scalar::Bool(true)),
            Item::List(vec![Scalar::Int(1)]),
        ],
        1000,
    );
    assert!(read_flat_tuple(&ok).is_some());
    let refused: Vec<Vec<u8>> = vec![
        // protocol 1, no PROTO, trailing bytes, nothing after PROTO
        b"\x80\x01\x88].".to_vec(),
        b"\x88]\x86.".to_vec(),
        [&ok[..], b"."].concat(),
        b"\x80\x05".to_vec(),
        // a frame, a memo opcode, a nested tuple, bytes, a tuple of the wrong size
        b"\x95\x05\x00\x00\x00\x00\x00\x00\x00\x80\x05\x88\x85.".to_vec(),
        b"\x80\x05\x88\x94\x85.".to_vec(),
        b"\x80\x05\x88\x85\x85.".to_vec(),
        b"\x80\x05C\x01x\x85.".to_vec(),
        b"\x80\x05\x88\x88\x85.".to_vec(),
        // LONG1 of nine bytes, a list run into a scalar, APPEND without a list
        b"\x80\x05\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01\x85.".to_vec(),
        b"\x80\x05K\x01(K\x02e\x86.".to_vec(),
        b"\x80\x05K\x01K\x02a\x85.".to_vec(),
        // a string longer than the stream, one that is not UTF-8
        b"\x80\x05X\xff\xff\xff\xff\x85.".to_vec(),
        b"\x80\x05\x8c\x01\xff\x85.".to_vec(),
    ];
    for data in &refused {
        assert_eq!(read_flat_tuple(data), None, "{data:02x?}");
    }
}
