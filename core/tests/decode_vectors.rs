//! Decodes every shared vector CPython wrote (`core/tests/vectors/manifest.json`) and
//! compares the value, rendered as ctext, with what CPython says it is.

mod common;

use brinery_core::{decode, DecodeOptions, Py2Strings};
use common::{ctext, manifest, vector};

fn buffers_for(case: &serde_json::Value, p: u8) -> Option<usize> {
    case.get("buffers")
        .and_then(|b| b.get(p.to_string()))
        .and_then(|list| list.as_array())
        .map(|list| list.len())
}

#[test]
fn every_case_decodes_to_its_ctext() {
    let m = manifest();
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in m["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let plain = case["plain"].as_bool().unwrap();
        let expected = plain.then(|| {
            String::from_utf8(vector(&format!("{name}.txt")))
                .unwrap()
                .trim_end_matches('\n')
                .to_string()
        });
        for p in case["protocols"].as_array().unwrap() {
            let p = p.as_u64().unwrap() as u8;
            let data = vector(&format!("{name}.p{p}.pickle"));
            let mut opts = DecodeOptions::new();
            opts.buffers = buffers_for(case, p);
            match (decode(&data, &opts), &expected) {
                (Ok(tree), Some(want)) => {
                    let got = ctext(&tree);
                    if &got != want {
                        failures.push(format!("{name}.p{p}:\n  got  {got}\n  want {want}"));
                    }
                }
                (Ok(_), None) => {}
                (Err(e), _) => failures.push(format!("{name}.p{p}: {e}")),
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 500, "only {checked} streams");
}

#[test]
fn python2_streams_decode_per_encoding() {
    let m = manifest();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in m["py2"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let data = vector(case["pickle"].as_str().unwrap());
        for (enc, result) in case["results"].as_object().unwrap() {
            let mut opts = DecodeOptions::new();
            opts.py2_strings = match enc.as_str() {
                "ascii" => Py2Strings::Ascii,
                "latin1" => Py2Strings::Latin1,
                "bytes" => Py2Strings::Bytes,
                other => panic!("unknown encoding {other}"),
            };
            let got = decode(&data, &opts);
            checked += 1;
            if let Some(txt) = result.get("txt") {
                let want = String::from_utf8(vector(txt.as_str().unwrap())).unwrap();
                let want = want.trim_end_matches('\n');
                match got {
                    Ok(tree) if ctext(&tree) == want => {}
                    Ok(tree) => failures.push(format!(
                        "{name} ({enc}):\n  got  {}\n  want {want}",
                        ctext(&tree)
                    )),
                    Err(e) => failures.push(format!("{name} ({enc}): {e}")),
                }
            } else if result.get("error").is_some() {
                if let Ok(tree) = got {
                    failures.push(format!("{name} ({enc}): decoded to {}", ctext(&tree)));
                }
            } else if let Err(e) = got {
                failures.push(format!("{name} ({enc}): {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 17, "only {checked} checks");
}
