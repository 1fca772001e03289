//! The JSON form of a value tree, both ways: [`to_json`] and [`from_json`].
//!
//! Plain JSON covers `None`, bools, ints in 64 bits, finite floats, `str`, lists and
//! dicts whose keys are all `str`. Everything else becomes an object with one `$` key
//! (a dict with a `$`-prefixed `str` key is itself written in the `$dict` form, so the
//! two never collide):
//!
//! | value | JSON |
//! |---|---|
//! | int beyond 64 bits | `{"$int": "123456789012345678901234567890"}` |
//! | nan, inf, -inf | `{"$float": "nan"}`, `"inf"`, `"-inf"` |
//! | bytes / bytearray | `{"$bytes": "<base64>"}` / `{"$bytearray": "<base64>"}` |
//! | str with lone surrogates | `{"$wtf8": "<base64 of its surrogatepass UTF-8>"}` |
//! | tuple / set / frozenset | `{"$tuple": [...]}` / `{"$set": [...]}` / `{"$frozenset": [...]}` |
//! | dict with a non-`str` or `$` key | `{"$dict": [[key, value], ...]}` |
//! | global | `{"$global": ["module", "name"]}` |
//! | call (`REDUCE`, `NEWOBJ`, ...) | `{"$object": "reduce", "callable": .., "args": .., "kwargs": .., "state": [..], "items": [..], "entries": [[k, v], ..]}` |
//! | persistent id / extension / buffer | `{"$persid": ..}` / `{"$ext": 7}` / `{"$buffer": 0, "readonly": true}` |
//! | a container reached twice | first `{"$def": 0, "value": ..}`, then `{"$ref": 0}` |
//! | a str, bytes or big int of 64 bytes or more reached twice | the same |
//!
//! `$object` kinds are `reduce`, `newobj`, `newobj_ex`, `inst`, `built`; `kwargs`,
//! `state`, `items` and `entries` are left out when absent or empty. Shared and
//! cyclic references use `$def`/`$ref` for containers, bytearrays and objects (the
//! values whose identity Python can observe) and for long strs, bytes and big ints (so
//! the text stays linear in the stream), labelled 0, 1, 2... in the order they are
//! first written; shorter immutable scalars are repeated.
//!
//! Behind the `json` feature. The writer is [`write`], the reader `read`, and both
//! share `base64`. [`decode_for_json`] decodes a pickle for the writer without
//! copying its long `str` and `bytes` payloads out of the input (`input_tree`,
//! `spans`). Not for the C API's ownership of the text: the bindings own that.

use alloc::string::String;

use crate::error::EncodeError;

mod base64;
mod input_tree;
mod read;
mod spans;
mod text_out;
mod write;

pub use input_tree::{decode_for_json, InputTree};
pub use read::from_json;
pub use write::{to_json, MIN_SHARED_SCALAR};

/// Deepest nesting [`to_json`] writes (it recurses; this bounds its stack use).
pub const MAX_WRITE_DEPTH: usize = 12_000;
/// Longest `$int` text [`from_json`] reads, and the largest int [`to_json`] writes
/// (in bytes), so a hostile value cannot make the decimal conversion quadratic-slow.
pub const MAX_INT_DIGITS: usize = 10_000;
/// Largest int (in bytes) [`to_json`] writes as `$int`.
const MAX_INT_BYTES: usize = 4_096;

/// What went wrong converting to or from JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonErrorKind {
    #[error("invalid json: {0}")]
    Syntax(String),
    #[error("not brinery's json form: {0}")]
    Form(String),
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    #[error("cannot be written as json: {0}")]
    Unrepresentable(String),
    #[error("json output larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("out of memory: the allocator refused memory for the json text")]
    OutOfMemory,
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// A JSON conversion failure, at a byte offset of the JSON text when reading it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct JsonError {
    pub kind: JsonErrorKind,
    pub offset: Option<usize>,
}

impl JsonError {
    fn form(msg: impl Into<String>) -> Self {
        JsonErrorKind::Form(msg.into()).into()
    }
}

impl From<JsonErrorKind> for JsonError {
    fn from(kind: JsonErrorKind) -> Self {
        JsonError { kind, offset: None }
    }
}

#[cfg(test)]
mod tests {
    use super::base64::{base64_decode, base64_encode, B64};
    use super::*;
    use alloc::vec::Vec;

    fn round_trip(json: &str) -> String {
        to_json(&from_json(json.as_bytes()).unwrap(), usize::MAX).unwrap()
    }

    #[test]
    fn plain_json_round_trips() {
        let text = r#"{"a":[1,-2,3.5,null,true,"x\"y\n"],"b":{}}"#;
        assert_eq!(round_trip(text), text);
    }

    #[test]
    fn tagged_forms_round_trip() {
        for text in [
            r#"{"$int":"123456789012345678901234567890"}"#,
            r#"{"$int":"-9223372036854775809"}"#,
            r#"{"$float":"nan"}"#,
            r#"{"$bytes":"AAEC/w=="}"#,
            r#"{"$bytearray":""}"#,
            r#"{"$tuple":[1,{"$set":[2]}]}"#,
            r#"{"$dict":[[1,2],["$x",3]]}"#,
            r#"{"$global":["os","system"]}"#,
            r#"{"$object":"reduce","callable":{"$global":["a","b"]},"args":{"$tuple":[]},"state":[{}]}"#,
            r#"{"$def":0,"value":[{"$ref":0}]}"#,
            r#"[{"$def":0,"value":[]},{"$ref":0},{"$def":1,"value":{"$tuple":[{"$ref":1}]}}]"#,
            r#"{"$buffer":0,"readonly":true}"#,
        ] {
            assert_eq!(round_trip(text), text);
        }
    }

    #[test]
    fn base64_matches_the_standard() {
        // Every length around the 6-bytes-at-a-time loop's edges, and around the edges
        // of the 3,072-byte parts it is encoded in.
        let lens = (0..40usize)
            .chain(3060..3085)
            .chain(6140..6150)
            .chain([10_000]);
        for len in lens {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut fast = text_out::TextOut::with_capacity(0);
            base64_encode(&mut fast, &data);
            let fast = fast.into_string().unwrap();
            let mut slow = String::new();
            for chunk in data.chunks(3) {
                let n = (chunk[0] as u32) << 16
                    | (*chunk.get(1).unwrap_or(&0) as u32) << 8
                    | *chunk.get(2).unwrap_or(&0) as u32;
                for k in 0..4 {
                    slow.push(if k <= chunk.len() {
                        B64[(n >> (18 - 6 * k) & 63) as usize] as char
                    } else {
                        '='
                    });
                }
            }
            assert_eq!(fast, slow, "length {len}");
            assert_eq!(base64_decode(&fast).unwrap(), data);
        }
        let mut s = text_out::TextOut::with_capacity(0);
        base64_encode(&mut s, b"foobar!");
        let s = s.into_string().unwrap();
        assert_eq!(s, "Zm9vYmFyIQ==");
        assert_eq!(base64_decode(&s).unwrap(), b"foobar!");
        assert!(base64_decode("Zm9=YmFy").is_none());
    }

    #[test]
    fn bad_forms_are_errors_with_offsets() {
        let e = from_json(b"[1,\n 2,]").unwrap_err();
        assert!(matches!(e.kind, JsonErrorKind::Syntax(_)));
        assert_eq!(e.offset, Some(7));
        assert!(from_json(br#"{"$ref":3}"#).is_err());
        assert!(from_json(br#"{"$set":[[1]]}"#).is_err());
        assert!(from_json(br#"{"$def":0,"value":{"$set":[{"$ref":0}]}}"#).is_err());
        assert!(from_json(br#"{"$def":0,"value":{"$dict":[[{"$ref":0},1]]}}"#).is_err());
        assert!(from_json(br#"{"$def":0,"value":{"$ref":0}}"#).is_err());
        assert!(from_json(br#"{"$nope":1}"#).is_err());
        assert!(from_json("[".repeat(100_000).as_bytes()).is_err());
    }
}
