//! Byte-exact encoding against CPython: every plain-data case of the shared vectors,
//! rebuilt as a tree from its JSON description, must encode to exactly the bytes
//! `pickle.dumps` wrote at each protocol.

mod encode_support;

use brinery_core::encode_tree;
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
