//! The hostile streams of issue #20 (`tests/vectors/hostile/streams.json`, shared with
//! every binding) against the core decoder: each decodes to a tree or fails with an
//! error at an offset inside the stream; a wildcard allowlist never admits a dotted
//! name; an opcode running across a frame's end is refused; a DAG that a tree walk
//! would expand exponentially is measured in linear time.

use brinery_core::{decode, decode::decode_prefix, Allowlist, DecodeErrorKind as K, DecodeOptions};

struct Case {
    name: String,
    data: Vec<u8>,
    allow: Vec<String>,
    /// The least severity the scan must report.
    scan: String,
    /// The default limit the scan must report (`"depth"` or `"expands"`) and its offset.
    scan_limit: Option<(String, usize)>,
}

fn cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/hostile/streams.json"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut data = Vec::new();
            for part in c["parts"].as_array().unwrap() {
                let bytes = hex(part[0].as_str().unwrap());
                for _ in 0..part[1].as_u64().unwrap() {
                    data.extend_from_slice(&bytes);
                }
            }
            assert_eq!(data.len() as u64, c["len"].as_u64().unwrap());
            let allow = c
                .get("allow")
                .and_then(|a| a.as_array())
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            let scan_limit = c.get("scan_limit").map(|l| {
                let kind = l[0].as_str().unwrap().to_owned();
                (kind, l[1].as_u64().unwrap() as usize)
            });
            Case {
                name: c["name"].as_str().unwrap().to_owned(),
                data,
                allow,
                scan: c["scan"].as_str().unwrap().to_owned(),
                scan_limit,
            }
        })
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn case(name: &str) -> Case {
    cases().into_iter().find(|c| c.name == name).unwrap()
}

#[test]
fn every_stream_decodes_or_fails_inside_it() {
    for c in cases() {
        let mut opts = DecodeOptions::new();
        opts.limits.max_alloc = 1 << 20;
        if let Err(e) = decode(&c.data, &opts) {
            assert!(e.offset < c.data.len(), "{}: {e}", c.name);
        }
        // With only the stream's own extra names allowed (or none), every global the
        // stream names that is not lowered is refused at its opcode.
        opts.allow = Some(Allowlist::new(c.allow.iter().map(String::as_str)));
        if let Err(e) = decode(&c.data, &opts) {
            assert!(e.offset < c.data.len(), "{}: {e}", c.name);
        }
    }
}

#[test]
fn a_wildcard_never_admits_a_dotted_name() {
    let c = case("stack_global_dotted");
    let mut opts = DecodeOptions::new();
    opts.allow = Some(Allowlist::new(["uuid.*"]));
    let e = decode(&c.data, &opts).unwrap_err();
    assert_eq!(e.kind, K::Forbidden("uuid.os.system".into()));
    assert_eq!(e.offset, 19, "the offset of the STACK_GLOBAL");
}

#[test]
fn refused_globals_carry_the_offset_of_their_opcode() {
    let mut opts = DecodeOptions::new();
    opts.allow = Some(Allowlist::new(["collections.OrderedDict"]));
    let c = case("planted_setstate_bytearray");
    // bytearray is lowered when called with bytes, so it passes the opcode; the
    // decoder keeps it as a global in the value, which `check_tree` refuses.
    let (tree, used) = decode_prefix(&c.data, &opts).unwrap();
    let e = Allowlist::new(["collections.OrderedDict"])
        .check_tree(&tree, used - 1)
        .unwrap_err();
    assert_eq!(e.kind, K::Forbidden("builtins.bytearray".into()));
    let c = case("live_pydoc_locate");
    let e = decode(&c.data, &opts).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (K::Forbidden("pydoc.locate".into()), 17)
    );
}

#[test]
fn an_opcode_across_a_frame_end_is_refused() {
    let c = case("frame_hides_global");
    let e = decode(&c.data, &DecodeOptions::new()).unwrap_err();
    assert_eq!(e.kind, K::FrameCrossed);
    assert_eq!(e.offset, 11, "the BINUNICODE that runs past the frame");
}

#[test]
fn dags_are_measured_not_walked() {
    for name in ["dag_tuples", "dag_lists", "dag_tuple_dict_key"] {
        let c = case(name);
        let (tree, used) = decode_prefix(&c.data, &DecodeOptions::new()).unwrap();
        assert_eq!(tree.expanded_size(1 << 20), 1 << 20, "{name}");
        let e = tree.check_expanded(1 << 20, used - 1).unwrap_err();
        assert_eq!((e.kind, e.offset), (K::Expands(1 << 20), c.data.len() - 1));
    }
}

mod common;

use brinery_core::scan::{self, Severity, Target};
use brinery_core::Limits;
use common::case_streams;
use common::mutate::{mutate, Rng};
use proptest::prelude::*;

proptest! {
    /// `module.*` admits exactly the module's own public top-level names.
    #[test]
    fn wildcards_admit_public_top_level_names_only(
        module in "[a-z_.]{1,8}",
        name in "[a-zA-Z_.]{0,10}",
    ) {
        let list = Allowlist::new(["uuid.*"]);
        let expected =
            module == "uuid" && !name.is_empty() && !name.contains('.') && !name.starts_with('_');
        prop_assert_eq!(list.allows(&module, &name), expected);
    }
}

/// The decoder and the scanner agree on framing: on mutations of every vector, a stream
/// the decoder refuses for an opcode across a frame's end is one the scanner flags as
/// dangerous at the same offset, and a stream the scanner flags for framing does not
/// decode.
#[test]
fn decoder_and_scanner_agree_on_frames() {
    let bases: Vec<Vec<u8>> = case_streams()
        .into_iter()
        .filter(|(_, p, d, _)| *p >= 4 && d.len() <= 4096)
        .map(|(_, _, d, _)| d)
        .collect();
    let mut rng = Rng(0x0f4a_3e5c_0013);
    let (mut crossed, mut checked) = (0, 0);
    for i in 0..20_000 {
        let mut data = bases[i % bases.len()].clone();
        let other = &bases[rng.below(bases.len())];
        mutate(&mut rng, &mut data, other);
        let decoded = decode(&data, &DecodeOptions::new());
        let s = scan::scan(&data);
        let flagged = s.calls.iter().find(|f| f.target == Target::Frame);
        if let Err(e) = &decoded {
            if e.kind == K::FrameCrossed {
                crossed += 1;
                let f = flagged.unwrap_or_else(|| panic!("{data:?}: scan missed the frame"));
                assert_eq!(f.offset, e.offset, "{data:?}");
                assert_eq!(f.severity, scan::Severity::Dangerous);
            }
        }
        if flagged.is_some() {
            assert!(
                decoded.is_err(),
                "{data:?}: decodes, but the scan flags its frames"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 20_000);
    assert!(crossed > 20, "only {crossed} streams crossed a frame");
}

/// The scan rates every hostile stream at least at its manifest's severity; a stream over
/// a default limit of the safe loaders is `unknown` with that limit (the core's
/// `Limits::for_input`, the one the safe loaders use) at the offset where they refuse it,
/// and no stream under every limit reports one.
#[test]
fn the_scan_rates_every_stream_and_reports_the_limits_it_exceeds() {
    for c in cases() {
        let s = scan::scan(&c.data);
        let least = match c.scan.as_str() {
            "safe" => Severity::Safe,
            "unknown" => Severity::Unknown,
            "dangerous" => Severity::Dangerous,
            other => panic!("{}: unknown severity {other}", c.name),
        };
        assert!(s.severity() >= least, "{}: {:?}", c.name, s.severity());
        let limits = Limits::for_input(c.data.len());
        let got = s.limit.as_ref().map(|e| {
            let kind = match e.kind {
                K::TooDeep(d) if d == limits.max_depth => "depth",
                K::Expands(n) if n == limits.max_alloc => "expands",
                ref other => panic!("{}: unexpected limit {other:?}", c.name),
            };
            (kind.to_owned(), e.offset)
        });
        assert_eq!(got, c.scan_limit, "{}", c.name);
        if let Some(e) = &s.limit {
            let f = s
                .calls
                .iter()
                .find(|f| f.target == Target::Limit(e.kind.clone()))
                .unwrap_or_else(|| panic!("{}: no finding for the limit", c.name));
            assert_eq!((f.offset, f.severity), (e.offset, Severity::Unknown));
        }
    }
}
