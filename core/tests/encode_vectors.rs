//! Byte-exact encoding against CPython: every plain-data case of the shared vectors,
//! rebuilt as a tree from its JSON description, must encode to exactly the bytes
//! `pickle.dumps` wrote at each protocol.

mod encode_support;

use brinery_core::{encode_tree, ValueRef};
use encode_support::*;

#[test]
fn plain_cases_encode_byte_identical_to_cpython() {
    let cases = plain_cases();
    assert!(cases.len() > 100, "the manifest lists the plain cases");
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let tree = case_tree(&case.name);
        for &p in &case.protocols {
            let expected = read(&format!("{}.p{p}.pickle", case.name));
            match encode_tree(&tree, p) {
                Ok(ours) if ours == expected => checked += 1,
                Ok(ours) => failures.push(format!(
                    "{}.p{p}: {}",
                    case.name,
                    first_difference(&ours, &expected)
                )),
                Err(e) => failures.push(format!("{}.p{p}: error {e}", case.name)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} streams differ:\n{}",
        failures.len(),
        failures.len() + checked,
        failures.join("\n")
    );
}

/// Decodes a vector stream with the decoder, for the round-trip tests.
fn decoded(name: &str, buffers: Option<usize>) -> brinery_core::Tree {
    let opts = brinery_core::DecodeOptions {
        buffers,
        ..brinery_core::DecodeOptions::new()
    };
    brinery_core::decode(&read(name), &opts).unwrap_or_else(|e| panic!("decoding {name}: {e}"))
}

#[test]
fn plain_cases_decoded_at_any_protocol_reencode_at_every_protocol() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in plain_cases() {
        for &from in &case.protocols {
            let tree = decoded(&format!("{}.p{from}.pickle", case.name), None);
            for &to in &case.protocols {
                let expected = read(&format!("{}.p{to}.pickle", case.name));
                match encode_tree(&tree, to) {
                    Ok(ours) if ours == expected => checked += 1,
                    Ok(ours) => failures.push(format!(
                        "{} p{from} -> p{to}: {}",
                        case.name,
                        first_difference(&ours, &expected)
                    )),
                    Err(e) => failures.push(format!("{} p{from} -> p{to}: {e}", case.name)),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} streams differ:\n{}",
        failures.len(),
        failures.len() + checked,
        failures.join("\n")
    );
}

#[test]
fn object_cases_decode_and_reencode_to_the_same_bytes() {
    let manifest = manifest();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in manifest["cases"].as_array().unwrap() {
        if case["plain"].as_bool() == Some(true) {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        for p in case["protocols"].as_array().unwrap() {
            let p = p.as_u64().unwrap() as u8;
            let buffers = case["buffers"][p.to_string()].as_array().map(|b| b.len());
            let file = format!("{name}.p{p}.pickle");
            let expected = read(&file);
            let tree = decoded(&file, buffers);
            match encode_tree(&tree, p) {
                Ok(ours) if ours == expected => checked += 1,
                Ok(ours) => {
                    failures.push(format!("{file}: {}", first_difference(&ours, &expected)))
                }
                Err(e) => failures.push(format!("{file}: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} streams differ:\n{}",
        failures.len(),
        failures.len() + checked,
        failures.join("\n")
    );
}

#[test]
fn plain_cases_decoded_with_their_reductions_kept_reencode_to_the_same_bytes() {
    // `keep_reductions` leaves `_codecs.encode(...)`, `set([...])` etc. as object nodes:
    // written back as reductions, they must come out as CPython wrote them.
    let opts = brinery_core::DecodeOptions {
        keep_reductions: true,
        ..brinery_core::DecodeOptions::new()
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut with_objects = 0;
    for case in plain_cases() {
        for &p in &case.protocols {
            let file = format!("{}.p{p}.pickle", case.name);
            let expected = read(&file);
            let tree = brinery_core::decode(&expected, &opts).unwrap();
            let kept = tree.iter().any(|(_, v)| matches!(v, ValueRef::Object(_)));
            with_objects += usize::from(kept);
            match encode_tree(&tree, p) {
                Ok(ours) if ours == expected => checked += 1,
                Ok(ours) => {
                    failures.push(format!("{file}: {}", first_difference(&ours, &expected)))
                }
                Err(e) => failures.push(format!("{file}: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} streams differ:\n{}",
        failures.len(),
        failures.len() + checked,
        failures.join("\n")
    );
    assert!(
        with_objects > 50,
        "reductions were kept in {with_objects} streams"
    );
}
