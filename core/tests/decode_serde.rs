//! The `serde` feature: Rust values round-trip through `to_vec`/`from_slice` at every
//! protocol, and what `to_vec` writes is what CPython's `pickle.loads` reads as the
//! matching Python data (checked in a python3 subprocess).
#![cfg(feature = "serde")]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use brinery_core::serde::{from_slice, to_vec};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Rect { w: u32, h: u32 },
    Pair(i8, String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    name: String,
    score: f64,
    big: i128,
    huge: u128,
    tags: Vec<String>,
    #[serde(with = "serde_bytes_compat")]
    blob: Vec<u8>,
    maybe: Option<bool>,
    nothing: Option<i32>,
    point: (i32, i32, i32, i32),
    shapes: Vec<Shape>,
    counts: BTreeMap<String, u32>,
}

/// `Vec<u8>` as serde bytes (pickle `bytes`) without the serde_bytes crate.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(V)
    }
}

fn record() -> Record {
    Record {
        id: u64::MAX,
        name: "caf\u{e9} \u{1f600}".into(),
        score: -1.5,
        big: i128::MIN,
        huge: u128::MAX,
        tags: (0..2500).map(|i| format!("t{i}")).collect(),
        blob: (0..=255).collect(),
        maybe: Some(true),
        nothing: None,
        point: (1, -2, 300, -70000),
        shapes: vec![
            Shape::Empty,
            Shape::Circle(2.5),
            Shape::Rect { w: 3, h: 4 },
            Shape::Pair(-1, "x".into()),
        ],
        counts: (0..1500).map(|i| (format!("k{i:04}"), i)).collect(),
    }
}

#[test]
fn records_round_trip_at_every_protocol() {
    let r = record();
    for p in 0..=5 {
        let data = to_vec(&r, p).unwrap();
        let back: Record = from_slice(&data).unwrap_or_else(|e| panic!("p{p}: {e}"));
        assert_eq!(back, r, "p{p}");
    }
}

#[test]
fn from_slice_rejects_what_has_no_serde_meaning() {
    // A global, and a list that contains itself.
    assert!(from_slice::<String>(b"cbuiltins\nlen\n.").is_err());
    assert!(from_slice::<Vec<Vec<i32>>>(b"\x80\x02]q\x00h\x00a.").is_err());
    assert!(from_slice::<u8>(b"\x80\x02K\x01").is_err());
}

#[test]
fn to_vec_output_loads_in_cpython_subprocess() {
    let r = Record {
        tags: vec!["a".into(), "b".into()],
        blob: b"\x00\xff".to_vec(),
        counts: [("one".to_string(), 1)].into(),
        ..record()
    };
    let want = "{'id': 18446744073709551615, 'name': 'caf\u{e9} \u{1f600}', 'score': -1.5, \
                'big': -170141183460469231731687303715884105728, \
                'huge': 340282366920938463463374607431768211455, 'tags': ['a', 'b'], \
                'blob': b'\\x00\\xff', 'maybe': True, 'nothing': None, \
                'point': (1, -2, 300, -70000), \
                'shapes': ['Empty', {'Circle': 2.5}, {'Rect': {'w': 3, 'h': 4}}, \
                {'Pair': (-1, 'x')}], 'counts': {'one': 1}}";
    for p in 0..=5 {
        let data = to_vec(&r, p).unwrap();
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import pickle, sys; print(repr(pickle.loads(sys.stdin.buffer.read())))",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child.stdin.take().unwrap().write_all(&data).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "p{p}: python3 failed");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim_end(),
            want,
            "p{p}"
        );
    }
}
