//! The malicious corpus (`core/tests/vectors/malicious/`, made by its `generate.py`):
//! the scanner reports the payload's global as dangerous (or as code construction) at
//! the offset of the opcode that imports it, for every stream, including the one cut
//! before `STOP`.

use std::path::PathBuf;

use brinery_core::scan::{scan, Severity};

fn corpus() -> Vec<(serde_json::Value, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/malicious");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let data = std::fs::read(dir.join(format!("{}.pickle", c["name"].as_str().unwrap())));
            (c.clone(), data.unwrap())
        })
        .collect()
}

#[test]
fn every_payload_is_flagged_with_its_global_and_offset() {
    let cases = corpus();
    assert!(cases.len() >= 20);
    for (case, data) in cases {
        let name = case["name"].as_str().unwrap();
        let want = case["dangerous"].as_str().unwrap();
        let level = match case["severity"].as_str().unwrap() {
            "code" => Severity::Code,
            _ => Severity::Dangerous,
        };
        let s = scan(&data);
        assert!(
            s.severity() >= level,
            "{name}: {:?}",
            s.flagged(Severity::Unknown)
        );
        let hit = s
            .flagged(level)
            .into_iter()
            .find(|f| f.target.to_string() == want)
            .unwrap_or_else(|| {
                panic!(
                    "{name}: {want} not flagged in {:?}",
                    s.flagged(Severity::Unknown)
                )
            });
        // The offset points at an opcode that names the global or calls it.
        let op = data[hit.offset];
        assert!(
            matches!(
                op,
                b'c' | b'i' | b'o' | b'R' | b'b' | 0x81 | 0x82 | 0x83 | 0x84 | 0x92 | 0x93
            ),
            "{name}: offset {} holds 0x{op:02x}",
            hit.offset
        );
    }
}

#[test]
fn the_truncated_payload_reports_up_to_the_cut() {
    let (_, data) = corpus()
        .into_iter()
        .find(|(c, _)| c["name"] == "truncated_after_payload")
        .unwrap();
    let s = scan(&data);
    assert!(s.error.is_some());
    assert_eq!(s.end, None);
    assert!(s.offset_of("posix", "system").is_some());
    assert_eq!(s.severity(), Severity::Dangerous);
}
