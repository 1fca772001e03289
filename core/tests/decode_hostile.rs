//! Truncated, corrupted and hostile streams: each fails with a specific error at an
//! offset inside the stream, never a panic, a hang or an unbounded allocation.

mod common;

use brinery_core::{decode, DecodeErrorKind as K, DecodeOptions, Limits};
use common::{case_streams, ctext};

fn opts() -> DecodeOptions {
    DecodeOptions::new()
}

#[test]
fn every_truncation_of_every_vector_is_an_error() {
    let mut prefixes = 0;
    for (name, p, data, _) in case_streams() {
        let mut o = opts();
        o.buffers = Some(16);
        // Every prefix of small streams; of big ones the first 512 bytes, the last 32
        // and 64 more spread over the middle (all prefixes of 3 MB is quadratic).
        let len = data.len();
        let cuts: Vec<usize> = if len <= 1024 {
            (0..len).collect()
        } else {
            (0..512)
                .chain((512..len - 32).step_by(len / 64))
                .chain(len - 32..len)
                .collect()
        };
        for n in cuts {
            // The last byte is STOP: every shorter prefix lacks it.
            match decode(&data[..n], &o) {
                Ok(tree) => panic!("{name}.p{p}[..{n}] decoded to {}", ctext(&tree)),
                Err(e) => {
                    assert!(
                        e.offset <= n,
                        "{name}.p{p}[..{n}]: offset {} > {n}",
                        e.offset
                    );
                    assert!(
                        matches!(e.kind, K::Truncated | K::NoStop | K::BadFrame),
                        "{name}.p{p}[..{n}]: {e}"
                    );
                }
            }
            prefixes += 1;
        }
    }
    assert!(prefixes > 10_000, "only {prefixes} prefixes");
}

#[test]
fn every_truncation_of_python2_and_cpython_streams_is_an_error() {
    let m = common::manifest();
    let mut streams: Vec<Vec<u8>> = m["py2"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| common::vector(c["pickle"].as_str().unwrap()))
        .collect();
    streams.extend((0..5).map(|n| common::vector(&format!("cpython/data{n}.pickle"))));
    for data in &streams {
        for n in 0..data.len() {
            let e = decode(&data[..n], &opts()).unwrap_err();
            assert!(e.offset <= n, "{data:?}[..{n}]: {e}");
        }
    }
}

#[test]
fn huge_length_claims_fail_before_allocating() {
    // 4 GiB claimed by every counted opcode, in streams of a few bytes.
    let claims: [&[u8]; 8] = [
        b"\x80\x04\x8d\x00\x00\x00\x00\x01\x00\x00\x00abc.",
        b"\x80\x04\x8e\x00\x00\x00\x00\x01\x00\x00\x00abc.",
        b"\x80\x05\x96\x00\x00\x00\x00\x01\x00\x00\x00abc.",
        b"\x80\x03X\xff\xff\xff\xffabc.",
        b"\x80\x03B\xff\xff\xff\xffabc.",
        b"\x80\x02T\xff\xff\xff\x7fabc.",
        b"\x80\x02\x8b\xff\xff\xff\x7fabc.",
        b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xffN.",
    ];
    for data in claims {
        assert!(data.len() <= 20);
        let e = decode(data, &opts()).unwrap_err();
        assert_eq!(e.offset, 2, "{data:?}: {e}");
        assert!(
            matches!(e.kind, K::Truncated | K::BadFrame),
            "{data:?}: {e}"
        );
    }
    // A negative signed length is its own error.
    let e = decode(b"T\xff\xff\xff\xff.", &opts()).unwrap_err();
    assert_eq!((e.kind, e.offset), (K::BadLength, 0));
}

#[test]
fn allocation_limit_is_enforced() {
    let mut o = opts();
    o.limits.max_alloc = 1000;
    let mut data = b"\x80\x04]\x94(".to_vec();
    for _ in 0..100 {
        data.extend_from_slice(b"\x8c\x10abcdefghijklmnop");
    }
    data.extend_from_slice(b"e.");
    let e = decode(&data, &o).unwrap_err();
    assert!(matches!(e.kind, K::AllocLimit(_)), "{e}");
    assert!(e.offset > 5 && e.offset < data.len());
    assert!(decode(&data, &opts()).is_ok());
}

#[test]
fn allocation_limit_stops_a_run_of_ints_at_the_int_that_crosses_it() {
    // A list of ints is decoded in runs (one dispatch for many opcodes): the limit
    // must still fail at the very opcode that crosses it, as one opcode at a time would.
    let mut data = b"\x80\x04](".to_vec();
    let first = data.len();
    let mut starts = Vec::new();
    for i in 0..300u32 {
        starts.push(data.len());
        match i % 3 {
            0 => data.extend_from_slice(&[b'K', i as u8]),
            1 => data.extend_from_slice(&[b'M', 1, 2]),
            _ => data.extend_from_slice(&[b'J', 0xff, 0xff, 0xff, 0xff]),
        }
    }
    starts.push(data.len()); // APPENDS charges for the list's items
    data.extend_from_slice(b"e.");
    let all = decode(&data, &opts()).unwrap();
    let cost = |limit: usize| {
        let mut o = opts();
        o.limits.max_alloc = limit;
        decode(&data, &o)
    };
    // The smallest limit that passes (a bisection: passing is monotonic in the limit),
    // then limits short of it, each failing at the int that crosses it.
    let (mut lo, mut hi) = (0, 1 << 20);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if cost(mid).is_ok() {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let enough = lo;
    assert_eq!(cost(enough).unwrap(), all);
    let mut offsets = Vec::new();
    for limit in (0..enough).step_by(16) {
        let e = cost(limit).unwrap_err();
        assert!(matches!(e.kind, K::AllocLimit(_)), "{e}");
        assert!(e.offset == 2 || e.offset == 3 || e.offset >= first, "{e}");
        offsets.push(e.offset);
    }
    // Each failing int is reported at its own opcode, later for a higher limit, and
    // every int of the run is where some limit fails (a step of 16 bytes is less than
    // what one value costs).
    for &o in offsets.iter().filter(|&&o| o >= first) {
        assert!(starts.contains(&o), "offset {o} is not an opcode");
    }
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
    let reached: std::collections::BTreeSet<_> = offsets.iter().copied().collect();
    assert!(starts.iter().all(|o| reached.contains(o)), "{reached:?}");
}

fn nested_lists(depth: usize, proto: u8) -> Vec<u8> {
    // What CPython writes for [[[...]]]: each list memoized, one item appended.
    let mut data = Vec::new();
    if proto >= 2 {
        data.extend_from_slice(&[0x80, proto]);
    }
    for i in 0..depth {
        if proto == 0 {
            data.extend_from_slice(format!("(lp{i}\n").as_bytes());
        } else {
            data.push(b']');
            data.push(b'r');
            data.extend_from_slice(&(i as u32).to_le_bytes());
        }
    }
    data.extend(vec![b'a'; depth - 1]);
    data.push(b'.');
    data
}

#[test]
fn lists_nested_100_000_deep_decode_without_recursion() {
    for proto in [0, 2] {
        let data = nested_lists(100_000, proto);
        let tree = decode(&data, &opts()).unwrap_or_else(|e| panic!("p{proto}: {e}"));
        // Walk down iteratively: 100,000 levels, the last one empty.
        let mut id = tree.root();
        let mut depth = 1;
        while let brinery_core::ValueRef::List(items) = tree.get(id) {
            match items {
                [] => break,
                [child] => {
                    id = *child;
                    depth += 1;
                }
                _ => panic!("unexpected shape"),
            }
        }
        assert_eq!(depth, 100_000);
    }
}

#[test]
fn marks_nested_too_deep_are_too_deep() {
    // Protocol 0 tuples nest marks: ((((...)))).
    let depth = 100_000;
    let mut data = vec![b'('; depth];
    data.extend(vec![b't'; depth]);
    data.push(b'.');
    let e = decode(&data, &opts()).unwrap_err();
    let max = Limits::default().max_depth;
    assert_eq!((e.kind.clone(), e.offset), (K::TooDeep(max), max), "{e}");
    let mut o = opts();
    o.limits = Limits::unlimited();
    let tree = decode(&data, &o).unwrap();
    assert_eq!(tree.len(), depth);
}

#[test]
fn memo_flood_hits_the_memo_limit() {
    let mut o = opts();
    o.limits.max_memo = 1000;
    let mut data = b"\x80\x04N".to_vec();
    data.extend([0x94u8; 5000]); // MEMOIZE the same None 5000 times
    data.push(b'.');
    let e = decode(&data, &o).unwrap_err();
    assert_eq!((e.kind, e.offset), (K::MemoLimit(1000), 3 + 1000));
    // Far-apart LONG_BINPUT keys do not allocate a dense table up to the key.
    let mut data = b"N".to_vec();
    for k in 0..1000u32 {
        data.push(b'r');
        data.extend_from_slice(&(k.wrapping_mul(4_000_037)).to_le_bytes());
    }
    data.push(b'.');
    assert!(decode(&data, &opts()).is_ok());
}

#[test]
fn specific_errors_at_the_failing_opcode() {
    let cases: &[(&[u8], K, usize)] = &[
        (b"\x80\x06N.", K::UnsupportedProtocol(6), 0),
        (b"N\xff.", K::UnknownOpcode(0xff), 1),
        (b"\x80\x05\x97.", K::NoBuffers, 2),
        (b"\x80\x04h\x05.", K::MemoKeyMissing(5), 2),
        (b"\x80\x04\x8c\x02\xff\xfe.", K::BadUtf8, 2),
        (b"U\x02\xe9t.", K::NonAscii, 0),
        (
            b"\x80\x04K\x01K\x02\x93.",
            K::WrongType("STACK_GLOBAL", "str"),
            6,
        ),
        (b"\x80\x02K\x01K\x02a.", K::WrongType("APPEND", "list"), 6),
        (b"\x80\x02}K\x01(K\x02u.", K::OddItems, 8),
        (b"\x80\x02N)R.", K::WrongType("REDUCE", "callable"), 4),
        (
            b"\x82\x00.",
            K::BadArgument("EXT specifies code <= 0".into()),
            0,
        ),
        (b"N", K::NoStop, 1),
    ];
    for (data, kind, offset) in cases {
        let e = decode(data, &opts()).unwrap_err();
        assert_eq!((&e.kind, e.offset), (kind, *offset), "{data:?}: {e}");
    }
    let mut o = opts();
    o.buffers = Some(1);
    let e = decode(b"\x80\x05\x97\x97t.", &o).unwrap_err();
    assert_eq!((e.kind, e.offset), (K::MissingBuffer(1, 1), 3));
}
